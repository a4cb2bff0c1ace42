"""Test images for the band decoders (imaging.png_bands, imaging.tiff_bands)."""

from __future__ import annotations

import numpy as np


def noisy(shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """Smooth ramps plus noise, each channel scaled differently: every band differs, and the
    encoders' predictors have something to predict (OpenCV's PNG encoder writes them with the
    Sub filter alone; the PNG tests make the other filter types themselves)."""
    top = np.iinfo(dtype).max
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    ramp = ((x * 7 + y * 3) % 256) / 255 * top
    if len(shape) == 3:
        ramp = np.repeat(ramp[..., None], shape[2], axis=2) * np.linspace(0.4, 1.0, shape[2])
    noise = np.random.default_rng(0).integers(0, max(top // 40, 2), shape)
    return np.clip(ramp + noise, 0, top).astype(dtype)
