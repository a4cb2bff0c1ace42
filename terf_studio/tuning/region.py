"""Masks and the region an optimisation works on.

A mask is a float32 (H, W) array in [0, 1]; its *support* is where it is above zero, which is
where the composite (eq. 5) may change a pixel. The tasks optimise only on the support's
bounding box plus a margin (the convolutions near the region need some context), so the cost
follows the size of the region, not of the image.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from terf_studio.errors import TerfError
from terf_studio.imaging.io import to_float


@dataclass(frozen=True)
class Box:
    """Rows ``top:bottom`` and columns ``left:right`` (bottom and right exclusive)."""

    top: int
    left: int
    bottom: int
    right: int

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def area(self) -> int:
        return self.height * self.width

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.top, self.bottom), slice(self.left, self.right)

    def crop(self, image: np.ndarray) -> np.ndarray:
        """A C-contiguous copy of the box's pixels (any trailing channel axis is kept)."""
        return np.ascontiguousarray(image[self.slices])

    def contains(self, other: Box) -> bool:
        return (
            self.top <= other.top
            and self.left <= other.left
            and self.bottom >= other.bottom
            and self.right >= other.right
        )

    def to_tuple(self) -> tuple[int, int, int, int]:
        return (self.top, self.left, self.bottom, self.right)

    @classmethod
    def full(cls, height: int, width: int) -> Box:
        return cls(0, 0, height, width)


def check_mask(mask: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """Validate a mask for an image of ``shape``; ``None`` means the whole image: all ones, as a
    read-only view of one value (no memory for the image's size)."""
    if mask is None:
        return np.broadcast_to(np.float32(1.0), tuple(shape))
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[..., 0]
    if mask.shape != tuple(shape):
        raise TerfError(f"mask of size {mask.shape[1::-1]} does not match the image size {tuple(shape)[::-1]}")
    if not np.issubdtype(mask.dtype, np.floating):
        return to_float(mask)
    mask = mask.astype(np.float32, copy=False)
    if not np.all(np.isfinite(mask)):
        raise TerfError("mask holds NaN or infinite values")
    if mask.min() < 0.0 or mask.max() > 1.0:  # clip only when needed: no copy of a valid mask
        mask = np.clip(mask, 0.0, 1.0)
    return mask


def _grow(lo: int, hi: int, size: int, want: int) -> tuple[int, int]:
    """Widen [lo, hi) to ``want`` (at most ``size``) pixels, staying inside [0, size)."""
    want = min(want, size)
    while hi - lo < want:
        if hi < size:
            hi += 1
        if hi - lo < want and lo > 0:
            lo -= 1
    return lo, hi


def bounding_box(mask: np.ndarray, margin: int = 16, *, multiple: int = 2, min_size: int = 32) -> Box | None:
    """The bounding box of ``mask > 0`` grown by ``margin`` pixels on every side, clipped to the image.

    Each side is then widened (inside the image) to at least ``min_size`` pixels and to a
    multiple of ``multiple`` where the image allows, so the fusion network and the 2x2
    down-sampling of the denoiser see even sizes. Returns ``None`` for an empty mask.
    """
    support = np.asarray(mask) > 0
    if support.ndim != 2:
        raise TerfError(f"a mask must be two-dimensional, got shape {support.shape}")
    rows = np.flatnonzero(support.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(support.any(axis=0))
    h, w = support.shape
    margin = max(0, int(margin))
    top, bottom = max(0, rows[0] - margin), min(h, rows[-1] + 1 + margin)
    left, right = max(0, cols[0] - margin), min(w, cols[-1] + 1 + margin)
    top, bottom = _grow(top, bottom, h, max(min_size, bottom - top))
    left, right = _grow(left, right, w, max(min_size, right - left))
    m = max(1, int(multiple))
    top, bottom = _grow(top, bottom, h, -(-(bottom - top) // m) * m)
    left, right = _grow(left, right, w, -(-(right - left) // m) * m)
    return Box(int(top), int(left), int(bottom), int(right))


def support_bits(mask: np.ndarray) -> np.ndarray:
    """The support ``mask > 0`` packed to bits (1/8 byte per pixel), for region identity."""
    return np.packbits(np.asarray(mask) > 0, axis=None)


def support_iou(bits_a: np.ndarray, bits_b: np.ndarray) -> float:
    """Intersection over union of two packed supports of the same image size."""
    if bits_a.shape != bits_b.shape:
        return 0.0
    inter = int(np.unpackbits(bits_a & bits_b).sum())
    union = int(np.unpackbits(bits_a | bits_b).sum())
    return 1.0 if union == 0 else inter / union


def fingerprint(*arrays: np.ndarray) -> str:
    """A short content hash of arrays (shape, dtype and bytes), to recognise the same image pair."""
    digest = hashlib.sha1()
    for a in arrays:
        a = np.ascontiguousarray(a)
        digest.update(f"{a.shape}{a.dtype}".encode())
        digest.update(a.data)  # the array's own buffer: no copy of a large image
    return digest.hexdigest()[:16]
