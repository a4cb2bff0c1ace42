"""Regions: text, clicks, boxes and paint to editable masks (no Qt).

* :class:`Mask` and its operations, :class:`Stroke` for brush and eraser edits.
* :func:`point_region` and :func:`box_region`: masks from clicks and boxes.
* :func:`find_region`: a mask for a target phrase from the registered finders,
  tried in order; the weight-free :class:`BuiltinFinder` is registered by default.
  A learned finder (text -> boxes -> masks) implements :class:`RegionFinder` and is
  added with :func:`register_finder`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from terf_studio.regions.base import (
    ImageSet,
    NoRegionFound,
    RegionFinder,
    RegionResult,
    no_region_message,
)
from terf_studio.regions.builtin_finder import BuiltinFinder, parse_target, warm_objects
from terf_studio.regions.interactive import box_region, point_region
from terf_studio.regions.mask import Mask, overlay
from terf_studio.regions.strokes import Stroke, apply_strokes

__all__ = [
    "BuiltinFinder",
    "ImageSet",
    "Mask",
    "NoRegionFound",
    "RegionFinder",
    "RegionResult",
    "Stroke",
    "apply_strokes",
    "box_region",
    "find_region",
    "finders",
    "no_region_message",
    "overlay",
    "parse_target",
    "point_region",
    "register_finder",
    "unregister_finder",
    "warm_objects",
]

_FINDERS: list[RegionFinder] = [BuiltinFinder()]


def finders() -> list[RegionFinder]:
    """The registered finders, in the order :func:`find_region` tries them."""
    return list(_FINDERS)


def register_finder(finder: RegionFinder, first: bool = True) -> None:
    """Add ``finder`` (replacing one of the same name); by default it is tried first,
    so a learned finder takes precedence over the builtin one it falls back to."""
    if not isinstance(finder, RegionFinder):
        raise TypeError("a finder needs a 'name' and a 'find(phrase, images)' method")
    unregister_finder(finder.name)
    if first:
        _FINDERS.insert(0, finder)
    else:
        _FINDERS.append(finder)


def unregister_finder(name: str) -> None:
    """Remove the finder called ``name`` (no error if there is none)."""
    _FINDERS[:] = [f for f in _FINDERS if f.name != name]


def find_region(
    phrase: str,
    vi: np.ndarray | ImageSet,
    ir: np.ndarray | None = None,
    fused: np.ndarray | None = None,
    *,
    finder: str | None = None,
    finder_list: Sequence[RegionFinder] | None = None,
) -> RegionResult:
    """A mask for ``phrase`` from the first finder that finds it.

    ``vi``, ``ir`` and ``fused`` are float images in [0, 1] (or pass an
    :class:`ImageSet` as ``vi``, which keeps per-image caches across calls).
    ``finder`` picks one registered finder by name ("builtin"); ``finder_list``
    replaces the registered list. Raises :class:`NoRegionFound` with the message
    "no region found for 'X': click, draw a box or paint it" when none finds it.
    """
    if isinstance(vi, ImageSet):
        images = vi
    elif ir is None:
        raise ValueError("give the infrared image (or an ImageSet)")
    else:
        images = ImageSet(vi, ir, fused)
    candidates = list(finder_list) if finder_list is not None else finders()
    if finder is not None:
        candidates = [f for f in candidates if f.name == finder]
        if not candidates:
            known = ", ".join(f.name for f in finders()) or "none"
            raise ValueError(f"unknown finder '{finder}' (registered: {known})")
    details = []
    for candidate in candidates:
        try:
            return candidate.find(phrase, images)
        except NoRegionFound as exc:
            if exc.detail:
                details.append(f"{candidate.name}: {exc.detail}")
    raise NoRegionFound(phrase, "; ".join(details))
