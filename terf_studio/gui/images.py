"""numpy images <-> QImage (via qimage2ndarray). Core images are float in [0, 1] or uint16."""

from __future__ import annotations

import os

os.environ.setdefault("QT_DRIVER", "PySide6")  # qimage2ndarray picks its binding at import

import numpy as np
import qimage2ndarray
from PySide6.QtGui import QImage

from terf_studio.regions import Mask


def to_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return ((image.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    return np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def image_to_qimage(image: np.ndarray) -> QImage:
    """A grey (H,W) or RGB (H,W,3) image as an RGB32 QImage (owns its pixels)."""
    pixels = to_uint8(image)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    return qimage2ndarray.array2qimage(np.ascontiguousarray(pixels)).copy()


def mask_to_qimage(mask: Mask) -> QImage:
    """The mask as a premultiplied-alpha colour layer: its colour where the mask is 1."""
    h, w = mask.shape
    rgba = np.empty((h, w, 4), np.uint8)
    rgba[..., :3] = mask.colour
    rgba[..., 3] = to_uint8(mask.data)
    return qimage2ndarray.array2qimage(rgba).copy()
