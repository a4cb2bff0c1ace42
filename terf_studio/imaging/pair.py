"""Visible + infrared pairs: one size, infrared as a single grey channel."""

from __future__ import annotations

import os

import cv2
import numpy as np

from terf_studio.errors import PairMismatchError
from terf_studio.imaging.color import rgb_to_grey_np
from terf_studio.imaging.io import read_image, to_float


def check_pair(
    vi: np.ndarray,
    ir: np.ndarray,
    resize_ir: bool = False,
    vi_name: str = "visible",
    ir_name: str = "infrared",
) -> tuple[np.ndarray, np.ndarray]:
    """Return (vi, ir) as float32 with ir (H, W) at the visible size.

    A colour infrared image is reduced to its luma. Sizes that differ raise
    :class:`PairMismatchError` unless ``resize_ir`` is true, in which case the
    infrared is resized to the visible size (its aspect ratio is not kept).
    ``vi_name`` and ``ir_name`` (usually file names) appear in the message.
    """
    vi, ir = to_float(vi), to_float(ir)
    for role, image in (("visible", vi), ("infrared", ir)):
        if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
            raise ValueError(f"the {role} image must be (H, W) or (H, W, 3), got {image.shape}")
    ir = rgb_to_grey_np(ir)
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
        ir = np.clip(cv2.resize(ir, (width, height), interpolation=interpolation), 0, 1)
    return vi, ir


def read_pair(
    vi_path: str | os.PathLike, ir_path: str | os.PathLike, resize_ir: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Read and check a pair; errors name the files."""
    return check_pair(
        read_image(vi_path),
        read_image(ir_path),
        resize_ir=resize_ir,
        vi_name=os.fspath(vi_path),
        ir_name=os.fspath(ir_path),
    )


def _describe(role: str, name: str) -> str:
    return role if name == role else f"{role} '{name}'"
