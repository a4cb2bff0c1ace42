"""numpy images <-> QImage (via qimage2ndarray). Core images are float in [0, 1] or uint16."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable

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
#: zoomed in past the reduction, the part in view is shown again from the image itself at the
#: screen's resolution (``region_renderer``, ``gui.detail``).
DISPLAY_MAX_PIXELS = 16_000_000
#: The QImage text key under which a reduced image records the size it stands for ("WxH").
FULL_SIZE_KEY = "terf-full-size"


def display_factor(height: int, width: int, max_pixels: int | None = None) -> int:
    limit = DISPLAY_MAX_PIXELS if max_pixels is None else max_pixels  # read now: tests lower it
    return max(1, math.ceil(math.sqrt(height * width / limit)))


#: Draws the region x0 <= x < x1, y0 <= y < y1 of a layer's image reduced by a whole ``step``.
Render = Callable[[int, int, int, int, int], QImage]


def _reduced(image: np.ndarray, max_pixels: int | None) -> tuple[np.ndarray, tuple[int, int] | None]:
    """``image`` reduced for display, and the (width, height) it stands for (None: not reduced)."""
    h, w = image.shape[:2]
    factor = display_factor(h, w, max_pixels)
    if factor == 1:
        return image, None
    return _reduce_by(image, factor), (w, h)


def _reduce_by(image: np.ndarray, factor: int) -> np.ndarray:
    """Area average over ``factor`` x ``factor`` cells (a partial last cell is dropped)."""
    if factor == 1:
        return image
    if image.dtype == bool:
        image = image.astype(np.uint8) * np.uint8(255)
    h, w = image.shape[:2]
    size = (max(1, w // factor), max(1, h // factor))
    return cv2.resize(np.ascontiguousarray(image), size, interpolation=cv2.INTER_AREA)


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


def image_to_qimage(image: np.ndarray, max_pixels: int | None = None) -> QImage:
    """A grey (H,W) or RGB (H,W,3) image as an RGB32 QImage (owns its pixels); reduced for
    display above ``max_pixels`` (see :data:`DISPLAY_MAX_PIXELS`)."""
    image, full = _reduced(image, max_pixels)
    pixels = to_uint8(image)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    return _mark(qimage2ndarray.array2qimage(np.ascontiguousarray(pixels)).copy(), full)


def mask_to_qimage(mask: Mask, max_pixels: int | None = None) -> QImage:
    """The mask as a premultiplied-alpha colour layer: its colour where the mask is 1 (reduced
    for display as :func:`image_to_qimage` is)."""
    data, full = _reduced(mask.data, max_pixels)
    return _mark(_coloured(data, mask.colour), full)


def _coloured(data: np.ndarray, colour: tuple[int, int, int]) -> QImage:
    h, w = data.shape
    rgba = np.empty((h, w, 4), np.uint8)
    rgba[..., :3] = colour
    rgba[..., 3] = to_uint8(data)
    return qimage2ndarray.array2qimage(rgba).copy()


def region_renderer(image: np.ndarray) -> Render:
    """How the canvas shows a region of a (reduced) image layer at a finer step (``gui.detail``).
    Only the region is read: a 179 MP image is never converted whole for it."""

    def render(x0: int, y0: int, x1: int, y1: int, step: int) -> QImage:
        return image_to_qimage(_reduce_by(image[y0:y1, x0:x1], step), max_pixels=sys.maxsize)

    return render


def mask_region_renderer(mask: Mask) -> Render:
    """:func:`region_renderer` for a mask overlay."""

    def render(x0: int, y0: int, x1: int, y1: int, step: int) -> QImage:
        return _coloured(_reduce_by(mask.data[y0:y1, x0:x1], step), mask.colour)

    return render
