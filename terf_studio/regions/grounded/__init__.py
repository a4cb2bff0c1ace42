"""Learned regions: GroundingDINO (text -> boxes) + Segment Anything / MobileSAM (boxes and
clicks -> masks), the paper's eq. 3 cascade.

Optional: it needs the ``[grounding]`` extra and model files the user adds
(``terf-studio models add``). Importing this package is cheap: it imports neither torch nor
torchvision nor the model libraries. The finder, the model builders and loaders are loaded
on first access (``grounded.GroundedFinder`` imports torch); the models themselves load when
first used.

* :func:`grounded_status` says what is present and what is missing, with how to add it.
* :func:`register_grounded_if_available` puts a :class:`GroundedFinder` first in
  :func:`terf_studio.regions.find_region` when the packages and weights are present.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from terf_studio.errors import TerfError
from terf_studio.regions.grounded.deps import INSTALL_HINT, missing_packages, require_packages
from terf_studio.regions.grounded.names import (
    BERT_MODEL,
    DINO_MODEL,
    FINDER_NAME,
    SAM_MODELS,
    present_sam_model,
    split_phrase,
)
from terf_studio.weights import registry

if TYPE_CHECKING:
    from terf_studio.regions.grounded.finder import GroundedFinder

# Names loaded on first access, from the submodule that defines them (these import torch).
_LAZY = {
    "Detection": "dino",
    "GroundingDetector": "dino",
    "build_grounding_model": "dino",
    "load_grounding_model": "dino",
    "GroundedFinder": "finder",
    "GroundedResult": "finder",
    "SAM_ARCHS": "sam",
    "SamArch": "sam",
    "SamSegmenter": "sam",
    "build_sam": "sam",
    "image_key": "sam",
    "load_sam_model": "sam",
}

__all__ = [
    "BERT_MODEL",
    "DINO_MODEL",
    "FINDER_NAME",
    "INSTALL_HINT",
    "SAM_ARCHS",
    "SAM_MODELS",
    "Detection",
    "GroundedFinder",
    "GroundedResult",
    "GroundingDetector",
    "SamArch",
    "SamSegmenter",
    "build_grounding_model",
    "build_sam",
    "grounded_status",
    "image_key",
    "load_grounding_model",
    "load_sam_model",
    "missing_packages",
    "present_sam_model",
    "register_grounded_if_available",
    "require_packages",
    "split_phrase",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def grounded_status(sam: str | None = None, text: bool = True) -> dict:
    """What the grounded finder needs and what is missing, without loading anything.

    ``text`` False asks only for what clicks and boxes need (a SAM-family model and its
    packages, not GroundingDINO). Returns ``{"ready": bool, "sam": name or None,
    "missing": [one line per missing item]}``; each line says how to add the item.
    """
    missing = []
    chosen = sam if sam is not None else present_sam_model()
    packages = (missing_packages("dino") if text else []) + missing_packages(
        "mobile-sam" if chosen == "mobile-sam" else "sam")
    if packages:
        missing.append(f"packages {', '.join(dict.fromkeys(packages))}: {INSTALL_HINT}")
    for name in (DINO_MODEL, BERT_MODEL) if text else ():
        if registry.find_model(name) is None:
            missing.append(f"model {name}: {registry.get_spec(name).how_to_get}")
    if chosen is None:
        how = registry.get_spec("sam-vit-h").how_to_get
        missing.append(f"a Segment Anything model ({', '.join(SAM_MODELS)}): {how}")
    elif registry.find_model(chosen) is None:
        missing.append(f"model {chosen}: {registry.get_spec(chosen).how_to_get}")
    return {"ready": not missing, "sam": chosen, "missing": missing}


def register_grounded_if_available(
    sam: str | None = None, device: str = "auto", **options: Any
) -> GroundedFinder | None:
    """Register a :class:`GroundedFinder` first in :mod:`terf_studio.regions` when its packages
    and model files are present; return it (models load on first use), or None when something
    is missing (see :func:`grounded_status`). ``options`` go to :class:`GroundedFinder`."""
    from terf_studio.regions import register_finder

    try:
        status = grounded_status(sam)
    except TerfError:
        return None
    if not status["ready"]:
        return None
    from terf_studio.regions.grounded.finder import GroundedFinder

    finder = GroundedFinder(sam=status["sam"], device=device, **options)
    register_finder(finder, first=True)
    return finder
