"""numpy images <-> QImage (via qimage2ndarray). Core images are float in [0, 1] or uint16."""

from __future__ import annotations

import math
import os

os.environ.setdefault("QT_DRIVER", "PySide6")  # qimage2ndarray picks its binding at import

import cv2
import numpy as np
import qimage2ndarray
from PySide6.QtGui import QImage

from terf_studio.regions import Mask

#: Images above this many pixels are shown reduced by a whole factor (area average): a 179 MP
#: image then holds about 45 MB per layer in the window instead of 716 MB, and an 8000x6000
#: layer converts in 3.1 s instead of 10.1 s (2 busy CPU cores). The canvas scales such a layer
#: back to the image's size, so scene coordinates (clicks, strokes, boxes) stay the image's pixels;
#: zoomed in past the reduction the layer looks coarser (no full-resolution tiles yet).
DISPLAY_MAX_PIXELS = 16_000_000
#: The QImage text key under which a reduced image records the size it stands for ("WxH").
FULL_SIZE_KEY = "terf-full-size"


def display_factor(height: int, width: int, max_pixels: int = DISPLAY_MAX_PIXELS) -> int:
    return max(1, math.ceil(math.sqrt(height * width / max_pixels)))


def _reduced(image: np.ndarray, max_pixels: int) -> tuple[np.ndarray, tuple[int, int] | None]:
    """``image`` reduced for display, and the (width, height) it stands for (None: not reduced)."""
    h, w = image.shape[:2]
    factor = display_factor(h, w, max_pixels)
    if factor == 1:
        return image, None
    if image.dtype == bool:
        image = image.astype(np.uint8) * np.uint8(255)
    size = (max(1, w // factor), max(1, h // factor))
    return cv2.resize(np.ascontiguousarray(image), size, interpolation=cv2.INTER_AREA), (w, h)


def _mark(qimage: QImage, full: tuple[int, int] | None) -> QImage:
    if full is not None:
        qimage.setText(FULL_SIZE_KEY, f"{full[0]}x{full[1]}")
    return qimage


def to_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return ((image.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    return np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def image_to_qimage(image: np.ndarray, max_pixels: int = DISPLAY_MAX_PIXELS) -> QImage:
    """A grey (H,W) or RGB (H,W,3) image as an RGB32 QImage (owns its pixels); reduced for
    display above ``max_pixels`` (see :data:`DISPLAY_MAX_PIXELS`)."""
    image, full = _reduced(image, max_pixels)
    pixels = to_uint8(image)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    return _mark(qimage2ndarray.array2qimage(np.ascontiguousarray(pixels)).copy(), full)


def mask_to_qimage(mask: Mask, max_pixels: int = DISPLAY_MAX_PIXELS) -> QImage:
    """The mask as a premultiplied-alpha colour layer: its colour where the mask is 1 (reduced
    for display as :func:`image_to_qimage` is)."""
    data, full = _reduced(mask.data, max_pixels)
    h, w = data.shape
    rgba = np.empty((h, w, 4), np.uint8)
    rgba[..., :3] = mask.colour
    rgba[..., 3] = to_uint8(data)
    return _mark(qimage2ndarray.array2qimage(rgba).copy(), full)
