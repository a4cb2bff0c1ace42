"""Types shared by every way of turning a target into a mask: the images a finder sees,
what it returns, the finder protocol and the error for "nothing found"."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from terf_studio.errors import PairMismatchError, TerfError
from terf_studio.imaging.io import to_float
from terf_studio.regions.mask import Mask


class NoRegionFound(TerfError):
    """No finder could locate the target; the user should click, draw a box or paint it."""

    def __init__(self, phrase: str, detail: str = "") -> None:
        self.phrase = phrase
        self.detail = detail
        super().__init__(no_region_message(phrase))


def no_region_message(phrase: str) -> str:
    """The one-line message the UI shows when a target cannot be found."""
    return f"no region found for '{phrase}': click, draw a box or paint it"


def _float_image(image: np.ndarray, name: str) -> np.ndarray:
    array = to_float(np.asarray(image), clip=True)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)):
        raise ValueError(f"{name}: expected an (H, W) or (H, W, 3) image, got shape {array.shape}")
    return np.ascontiguousarray(array)


def _grey(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)  # BT.601 luma on float32


class ImageSet:
    """The visible, infrared and fused images of one pair, as float32 in [0, 1],
    with derived images computed once and shared by the finders.

    ``fused`` is optional; where a finder wants "the image the user sees" it gets
    the fused image when there is one, else the visible image.
    """

    def __init__(self, vi: np.ndarray, ir: np.ndarray, fused: np.ndarray | None = None) -> None:
        self.vi = _float_image(vi, "visible image")
        ir_f = _float_image(ir, "infrared image")
        self.ir = _grey(ir_f)
        self.fused = None if fused is None else _float_image(fused, "fused image")
        # Finders keep what they derive from these images here (per-image caches,
        # e.g. saliency maps or a model's image embedding), keyed by their own names.
        self.cache: dict = {}
        shapes = {"visible": self.vi.shape[:2], "infrared": self.ir.shape[:2]}
        if self.fused is not None:
            shapes["fused"] = self.fused.shape[:2]
        if len(set(shapes.values())) != 1:
            sizes = ", ".join(f"{k} {w}x{h}" for k, (h, w) in shapes.items())
            raise PairMismatchError(f"images differ in size: {sizes}")

    @property
    def shape(self) -> tuple[int, int]:
        return self.ir.shape

    @property
    def has_colour(self) -> bool:
        """True when the visible image is RGB (colour cues are available)."""
        return self.vi.ndim == 3

    @cached_property
    def view(self) -> np.ndarray:
        """The fused image if given, else the visible image."""
        return self.fused if self.fused is not None else self.vi

    @cached_property
    def vi_grey(self) -> np.ndarray:
        return _grey(self.vi)

    @cached_property
    def vi_lab(self) -> np.ndarray | None:
        """CIE Lab of the visible image (L 0..100), None for a grey visible image."""
        if self.vi.ndim != 3:
            return None
        return cv2.cvtColor(self.vi, cv2.COLOR_RGB2Lab)

    @cached_property
    def view_lab(self) -> np.ndarray:
        """Lab of :attr:`view`; a grey view gives a = b = 0."""
        v = self.view
        if v.ndim == 2:
            lab = np.zeros(v.shape + (3,), np.float32)
            lab[:, :, 0] = v * 100.0
            return lab
        return cv2.cvtColor(v, cv2.COLOR_RGB2Lab)


@dataclass(frozen=True)
class RegionResult:
    """A mask for a target phrase, the finder that produced it and its confidence in [0, 1].

    ``detail`` is a short human-readable note ("2 warm objects", "sky seeded from the top rows").
    """

    mask: Mask
    finder: str
    confidence: float
    detail: str = ""


@runtime_checkable
class RegionFinder(Protocol):
    """Anything that turns a target phrase into a mask.

    ``find`` returns a :class:`RegionResult` or raises :class:`NoRegionFound` when it
    cannot find (or does not understand) the phrase, so the next finder can try.
    A learned finder (text -> boxes -> masks) implements the same two members.
    """

    name: str

    def find(self, phrase: str, images: ImageSet) -> RegionResult: ...


@runtime_checkable
class PromptSegmenter(Protocol):
    """A finder that also segments clicks and boxes (the grounded finder, with SAM).

    ``positives``/``negatives`` are (x, y) pixel clicks; ``box`` is (x0, y0, x1, y1).
    """

    name: str

    def point_mask(self, images: ImageSet | np.ndarray, positives: Sequence[tuple[float, float]],
                   negatives: Sequence[tuple[float, float]] = (), label: str = "") -> Mask: ...

    def box_mask(self, images: ImageSet | np.ndarray, box: tuple[float, float, float, float],
                 positives: Sequence[tuple[float, float]] = (), negatives: Sequence[tuple[float, float]] = (),
                 label: str = "") -> Mask: ...
