"""Blur a region for redaction (the public code's "blur the target" effect); nothing is trained.

``gaussian``: a Gaussian blur with ``sigma = 6 * strength`` pixels.
``pixelate``: the mean of square cells of ``max(2, round(10 * strength))`` pixels, laid on the
image's own grid (cells are aligned to multiples of the size in image coordinates, so a crop
pixelates exactly as the whole image would). Repeating blurs further: the Gaussian sigmas add
in quadrature (two blurs of sigma a and b are one of sqrt(a^2 + b^2)) and cell sizes add up.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from terf_studio.errors import TerfError

MODES = ("gaussian", "pixelate")
SIGMA_PER_STRENGTH = 6.0
CELL_PER_STRENGTH = 10.0


def blur_amount(mode: str, strength: float) -> float:
    """Sigma (gaussian) or cell size (pixelate) of one command with this strength."""
    if strength <= 0 or not math.isfinite(strength):
        raise TerfError(f"strength must be a positive number, got {strength!r}")
    if mode == "gaussian":
        return SIGMA_PER_STRENGTH * strength
    if mode == "pixelate":
        return float(max(2, round(CELL_PER_STRENGTH * strength)))
    raise TerfError(f"unknown blur mode {mode!r}: use {' or '.join(MODES)}")


def combine_amounts(mode: str, previous: float, new: float) -> float:
    return math.hypot(previous, new) if mode == "gaussian" else previous + new


def context_needed(mode: str, amount: float) -> int:
    """Pixels of context a region needs around it for the blur to match the whole-image one."""
    return math.ceil(4 * amount) if mode == "gaussian" else int(amount)


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0:
        return np.array(image, dtype=np.float32)
    ksize = 2 * math.ceil(4 * sigma) + 1
    return cv2.GaussianBlur(
        np.asarray(image, dtype=np.float32), (ksize, ksize), sigma, borderType=cv2.BORDER_REFLECT_101
    )


def pixelate(image: np.ndarray, cell: int, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Replace each cell of the image grid by its mean; ``origin`` is the crop's (top, left)."""
    cell = int(cell)
    image = np.asarray(image, dtype=np.float32)
    if cell <= 1:
        return image.copy()
    h, w = image.shape[:2]
    rows = (np.arange(h) + origin[0]) // cell
    cols = (np.arange(w) + origin[1]) // cell
    rows -= rows[0]
    cols -= cols[0]
    nr, nc = int(rows[-1]) + 1, int(cols[-1]) + 1
    flat = image.reshape(h, w, -1)
    sums = np.zeros((nr, nc, flat.shape[2]), dtype=np.float64)
    counts = np.zeros((nr, nc), dtype=np.float64)
    np.add.at(sums, (rows[:, None], cols[None, :]), flat)
    np.add.at(counts, (rows[:, None], cols[None, :]), 1.0)
    means = (sums / counts[..., None]).astype(np.float32)
    return means[rows[:, None], cols[None, :]].reshape(image.shape)


def apply_blur(image: np.ndarray, mode: str, amount: float, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    if mode == "gaussian":
        return gaussian_blur(image, amount)
    if mode == "pixelate":
        return pixelate(image, round(amount), origin)
    raise TerfError(f"unknown blur mode {mode!r}: use {' or '.join(MODES)}")
