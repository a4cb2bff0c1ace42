"""Colour conversions.

Tensors are (B, C, H, W) float in [0, 1]; numpy images are (H, W) or (H, W, 3)
float32 in [0, 1], as returned by :func:`terf_studio.imaging.io.read_image`.
Luma uses the BT.601 weights 0.299, 0.587, 0.114 everywhere (as OpenCV and kornia).
"""

from __future__ import annotations

import kornia.color
import numpy as np
import torch

from terf_studio.imaging.io import to_float
from terf_studio.imaging.luma import LUMA_WEIGHTS

_SWAP_CR_CB = [0, 2, 1]  # kornia orders Y, Cb, Cr; this module uses Y, Cr, Cb


def rgb_to_ycrcb(t: torch.Tensor) -> torch.Tensor:
    """RGB to YCrCb with channels in the order Y, Cr, Cb (as OpenCV's YCrCb).

    Cr and Cb are offset by 0.5, so all three channels lie in [0, 1].
    """
    return kornia.color.rgb_to_ycbcr(t)[..., _SWAP_CR_CB, :, :]


def ycrcb_to_rgb(t: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_ycrcb`; the result is clamped to [0, 1].

    Out-of-gamut combinations, such as a fused Y with the visible Cr/Cb, are
    clamped rather than returned outside [0, 1].
    """
    return kornia.color.ycbcr_to_rgb(t[..., _SWAP_CR_CB, :, :])


def rgb_to_y(t: torch.Tensor) -> torch.Tensor:
    """Luma (B, 1, H, W); a one-channel input is returned unchanged."""
    if t.shape[-3] == 1:
        return t
    return kornia.color.rgb_to_grayscale(t, rgb_weights=t.new_tensor(LUMA_WEIGHTS))


def grey_to_rgb(t: torch.Tensor) -> torch.Tensor:
    """Repeat one channel to three; a three-channel input is returned unchanged."""
    if t.shape[-3] == 3:
        return t
    if t.shape[-3] != 1:
        raise ValueError(f"expected 1 or 3 channels, got shape {tuple(t.shape)}")
    return torch.cat([t, t, t], dim=-3)


def rgb_to_grey_np(img: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB to (H, W) float32 luma; a 2-D image is returned unchanged."""
    if img.ndim == 2:
        return img
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {img.shape}")
    return to_float(img) @ np.asarray(LUMA_WEIGHTS, dtype=np.float32)


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """(H, W) to (1, 1, H, W) or (H, W, 3) to (1, 3, H, W), float32, as a copy."""
    img = to_float(img)
    if img.ndim == 2:
        chw = img[None]
    elif img.ndim == 3 and img.shape[2] == 3:
        chw = img.transpose(2, 0, 1)
    else:
        raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {img.shape}")
    return torch.from_numpy(np.array(chw, dtype=np.float32, order="C"))[None]


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """Inverse of :func:`to_tensor` for a batch of one: (H, W) or (H, W, 3) float32."""
    if t.ndim != 4 or t.shape[0] != 1 or t.shape[1] not in (1, 3):
        raise ValueError(f"expected a (1, 1, H, W) or (1, 3, H, W) tensor, got {tuple(t.shape)}")
    chw = t.detach().to(device="cpu", dtype=torch.float32)[0]
    hwc = chw[0] if chw.shape[0] == 1 else chw.permute(1, 2, 0)
    return np.array(hwc.numpy(), order="C")
