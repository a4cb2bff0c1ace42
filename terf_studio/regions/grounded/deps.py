"""Which optional packages the grounded finder needs, checked without importing them.

The GroundingDINO + Segment Anything path needs the ``[grounding]`` extra (torch 2.14.1 with
torchvision 0.29.1, transformers 4.x, timm, addict, yapf, matplotlib, pycocotools,
segment-anything, mobilesam-mirror) and ``groundingdino-py`` installed without its
dependencies: its package metadata also pulls in opencv-python (whose cv2 would overwrite the
opencv-python-headless one the app uses) and supervision 0.6, which only its demo helpers use.
transformers stays below 5: GroundingDINO's BERT wrapper calls BertModel internals
(``get_head_mask``, the encoder's ``past_key_values`` arguments) of the 4.x series.
"""

from __future__ import annotations

import importlib
import importlib.util
import warnings
from types import ModuleType

from terf_studio.errors import ModelError

INSTALL_HINT = (
    "install the [grounding] extra: pip install -e '.[grounding]' && "
    "pip install --no-deps groundingdino-py==0.4.0 (or run packaging/setup-grounding.sh)"
)

# module name -> the distribution that provides it
_COMMON = {"torchvision": "torchvision", "timm": "timm"}
_DINO = {
    "groundingdino": "groundingdino-py",
    "transformers": "transformers",
    "addict": "addict",
    "yapf": "yapf",
    # imported by groundingdino.models through its visualiser module
    "matplotlib": "matplotlib",
    "pycocotools": "pycocotools",
}
_SAM = {"segment_anything": "segment-anything"}
_MOBILE_SAM = {"mobile_sam": "mobilesam-mirror"}


def _absent(modules: dict[str, str]) -> list[str]:
    missing = []
    for module, dist in modules.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(dist)
    return missing


def missing_packages(part: str = "all") -> list[str]:
    """Distributions that are not installed for ``part``: "dino", "sam", "mobile-sam" or "all"."""
    wanted = dict(_COMMON)
    if part in ("dino", "all"):
        wanted |= _DINO
    if part in ("sam", "all"):
        wanted |= _SAM
    if part in ("mobile-sam", "all"):
        wanted |= _MOBILE_SAM
    if part not in ("dino", "sam", "mobile-sam", "all"):
        raise ValueError(f"unknown part '{part}'")
    return _absent(wanted)


def require_packages(part: str, what: str) -> None:
    """Raise a :class:`ModelError` naming the missing packages and how to install them."""
    missing = missing_packages(part)
    if missing:
        raise ModelError(f"{what} needs the packages {', '.join(missing)}, which are not installed; {INSTALL_HINT}")


def import_quietly(module: str) -> ModuleType:
    """Import a model library without the deprecation chatter its imports print (timm's
    moved-module FutureWarnings, MobileSAM re-registering timm's TinyViT names)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", message=r"Overwriting tiny_vit")
        return importlib.import_module(module)
