"""The composite of region edits (paper eq. 5) and soft mask edges.

Eq. 5 writes the final image as ``sum_i M_i * I_S^i + (1 - M_i) * I_f``; with several masks the
edits are applied *in order*, each onto the result of the previous ones::

    I <- M_i * E_i + (1 - M_i) * I        for i = 1..N, starting from I = I_f

which is eq. 5 for one mask and, for disjoint masks, the same as the sum. Pixels where a mask is
exactly 0 are copied from the base unchanged (bit-identical); where it is exactly 1 they are the
edit's; in between they are a convex blend, so a feathered mask leaves no seam.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import cv2
import numpy as np

from terf_studio.errors import TerfError
from terf_studio.imaging import store
from terf_studio.imaging.io import to_float, to_uint8, to_uint16
from terf_studio.tuning.region import Box


def feather(mask: np.ndarray, radius: float) -> np.ndarray:
    """Soften the edge of a mask over a band of ``radius`` pixels either side of its boundary.

    The mask is binarised at 0.5; the result is a smoothstep of the signed Euclidean distance
    to the boundary: 1 deeper than ``radius`` inside, 0 at ``radius`` or more outside (so the
    support grows by at most ``radius`` pixels and is exactly 0 beyond it), 0.5 on the boundary.
    ``radius <= 0`` returns the mask clipped to [0, 1] (a float32 copy).
    """
    mask = np.asarray(mask, dtype=np.float32)
    if mask.ndim != 2:
        raise TerfError(f"a mask must be two-dimensional, got shape {mask.shape}")
    if radius <= 0:
        return np.clip(mask, 0.0, 1.0).astype(np.float32, copy=True)
    inside = (mask >= 0.5).astype(np.uint8)
    if not inside.any():
        return np.zeros_like(mask)
    if inside.all():
        return np.ones_like(mask)
    # Distance of each inside pixel to the nearest outside pixel and vice versa (pixel centres).
    d_in = cv2.distanceTransform(inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    d_out = cv2.distanceTransform(1 - inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    signed = np.where(inside > 0, d_in - 0.5, 0.5 - d_out)
    t = np.clip((signed + radius) / (2.0 * radius), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


#: Rows blended at a time.
_BAND = 256


def _to_type(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Float values in [0, 1] in an image type: uint8/uint16 rounded to their grid, float cast."""
    if dtype == np.uint8:
        return to_uint8(values)
    if dtype == np.uint16:
        return to_uint16(values)
    return values.astype(dtype)


def blend(base: np.ndarray, edited: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``mask * edited + (1 - mask) * base`` on the support of ``mask``; elsewhere a copy of ``base``.

    ``edited`` (float in [0, 1]) has the shape of ``base``; ``mask`` is (H, W) in [0, 1]. A uint8
    or uint16 ``base`` is blended as floats in [0, 1] and the result rounded back to its grid.
    """
    base = np.asarray(base)
    edited = np.asarray(edited)
    out = store.copy_of(base)
    for y0 in range(0, base.shape[0], _BAND):  # a band of rows at a time: temporaries stay small
        rows = slice(y0, y0 + _BAND)
        support = mask[rows] > 0
        if not support.any():
            continue
        m = mask[rows][support]
        if base.ndim == 3:
            m = m[:, None]
        b = to_float(base[rows][support])
        e = edited[rows][support].astype(np.float32)
        mixed = np.where(m >= 1.0, e, m * e + (1.0 - m) * b)
        out[rows][support] = _to_type(mixed, base.dtype)
    return out


def _reaches_outside(mask: np.ndarray, box: Box) -> bool:
    """Whether ``mask`` has support outside ``box`` (looked at band by band, no copy)."""
    bands = (mask[: box.top], mask[box.bottom :], mask[box.top : box.bottom, : box.left],
             mask[box.top : box.bottom, box.right :])
    return any(band.size and band.max() > 0 for band in bands)


def paste(base: np.ndarray, patch: np.ndarray, box: Box | None, mask: np.ndarray) -> np.ndarray:
    """Composite a patch that covers ``box`` of ``base`` through the full-size ``mask``.

    The mask's support must lie inside the box (pixels of the support outside it would have no
    edited value). ``box`` None means the patch is full size. The result has ``base``'s type.
    """
    if box is None:
        return blend(base, patch, mask)
    if _reaches_outside(mask, box):
        raise TerfError("the mask reaches outside the edited region")
    out = store.copy_of(base)
    out[box.slices] = blend(base[box.slices], patch, mask[box.slices])
    return out


Layer = Sequence  # (edited, mask) or (edited, mask, box)


def composite(base: np.ndarray, edits: Iterable[Layer]) -> np.ndarray:
    """Eq. 5 over several edits, applied in order onto ``base``.

    Each item is ``(edited, mask)`` with ``edited`` the size of ``base``, or
    ``(edited, mask, box)`` with ``edited`` covering only ``box`` (a :class:`Box`). Masks are
    full-size float (H, W) in [0, 1]. ``base`` itself is never modified.
    """
    base = np.asarray(base)
    out = store.copy_of(base)
    for item in edits:
        if len(item) == 2:
            edited, mask = item
            box = None
        elif len(item) == 3:
            edited, mask, box = item
        else:
            raise TerfError("an edit is (edited, mask) or (edited, mask, box)")
        mask = np.asarray(mask, dtype=np.float32)
        if mask.shape != base.shape[:2]:
            raise TerfError(f"mask of shape {mask.shape} does not fit an image of shape {base.shape[:2]}")
        expected = base.shape if box is None else (box.height, box.width) + base.shape[2:]
        if np.shape(edited) != expected:
            raise TerfError(f"edited image of shape {np.shape(edited)} where {expected} was expected")
        out = paste(out, edited, box, mask)
    return out
