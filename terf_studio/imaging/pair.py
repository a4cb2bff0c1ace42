"""Visible + infrared pairs: one size, infrared as a single grey channel.

Pairs are float32 in [0, 1] by default; ``stored=True`` keeps the samples as the files store them
(uint8 or uint16: 4 or 2 bytes per pixel for the pair instead of 16), for the fusion of large
images, which converts a tile at a time (:meth:`terf_studio.fusion.Fuser.fuse`).
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from terf_studio.errors import PairMismatchError
from terf_studio.imaging import store
from terf_studio.imaging.color import rgb_to_grey_np
from terf_studio.imaging.io import read_image_stored, to_float
from terf_studio.imaging.luma import LUMA_WEIGHTS

#: Rows converted at a time when a stored colour infrared image is reduced to its luma.
_BAND_ROWS = 256


def check_pair(
    vi: np.ndarray,
    ir: np.ndarray,
    resize_ir: bool = False,
    vi_name: str = "visible",
    ir_name: str = "infrared",
    stored: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (vi, ir) as float32 with ir (H, W) at the visible size.

    A colour infrared image is reduced to its luma. Sizes that differ raise
    :class:`PairMismatchError` unless ``resize_ir`` is true, in which case the
    infrared is resized to the visible size (its aspect ratio is not kept).
    ``vi_name`` and ``ir_name`` (usually file names) appear in the message.
    With ``stored``, uint8 and uint16 images keep their type (the infrared's luma and
    resizing rounded to it) and no float copy of either image is made.
    """
    if not stored or not all(a.dtype in (np.uint8, np.uint16) for a in (vi, ir)):
        vi, ir = to_float(vi), to_float(ir)
    for role, image in (("visible", vi), ("infrared", ir)):
        if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
            raise ValueError(f"the {role} image must be (H, W) or (H, W, 3), got {image.shape}")
    ir = rgb_to_grey_np(ir) if ir.dtype == np.float32 else _stored_luma(ir)
    height, width = vi.shape[:2]
    if ir.shape != (height, width):
        if not resize_ir:
            raise PairMismatchError(
                f"{_describe('visible', vi_name)} is {width}x{height} but "
                f"{_describe('infrared', ir_name)} is {ir.shape[1]}x{ir.shape[0]}; "
                "pass --resize-ir to resize the infrared to the visible size"
            )
        shrinking = height * width < ir.shape[0] * ir.shape[1]
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
        ir = cv2.resize(ir, (width, height), interpolation=interpolation)
        if ir.dtype == np.float32:  # integers saturate in OpenCV
            ir = np.clip(ir, 0, 1)
    return vi, ir


def read_pair(
    vi_path: str | os.PathLike, ir_path: str | os.PathLike, resize_ir: bool = False, stored: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Read and check a pair; errors name the files. ``stored``: keep uint8/uint16 samples
    (see :func:`check_pair`)."""
    vi = read_image_stored(vi_path)
    if not stored:
        vi = to_float(vi)
    ir = read_image_stored(ir_path)
    return check_pair(vi, ir, resize_ir=resize_ir, vi_name=os.fspath(vi_path), ir_name=os.fspath(ir_path),
                      stored=stored)


def _stored_luma(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8/uint16 to its (H, W) luma of the same type, rounded; a band of rows at a
    time, so no float copy of the whole image is made. A 2-D image is returned unchanged."""
    if image.ndim == 2:
        return image
    scale = np.float32(np.iinfo(image.dtype).max)
    weights = np.asarray(LUMA_WEIGHTS, dtype=np.float32)
    grey = store.empty(image.shape[:2], image.dtype)
    for y0 in range(0, image.shape[0], _BAND_ROWS):
        band = to_float(image[y0 : y0 + _BAND_ROWS]) @ weights
        grey[y0 : y0 + _BAND_ROWS] = np.rint(np.clip(band, 0.0, 1.0) * scale)
    return grey


def _describe(role: str, name: str) -> str:
    return role if name == role else f"{role} '{name}'"
