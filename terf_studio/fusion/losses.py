"""Fusion losses (paper eq. 6-9) and the inclination variants (eq. 10-13).

All images are (B, C, H, W) tensors in [0, 1]; RGB is converted to YCrCb with kornia.
``||.||_1`` is the mean absolute error over pixels (so the terms do not scale with image size).
The gradient operator is the Sobel magnitude |Gx| + |Gy| on the Y channel.
"""

from __future__ import annotations

import kornia
import torch
import torch.nn.functional as F
from torch import nn

from terf_studio.imaging.color import grey_to_rgb, rgb_to_ycrcb

_SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def sobel_magnitude(y: torch.Tensor) -> torch.Tensor:
    """|Sobel_x| + |Sobel_y| of a one-channel batch, replicate-padded to keep the size."""
    kx = _SOBEL_X.to(y)[None, None]
    ky = kx.transpose(-1, -2)
    padded = F.pad(y, (1, 1, 1, 1), mode="replicate")
    return F.conv2d(padded, kx).abs() + F.conv2d(padded, ky).abs()


def ssim(a: torch.Tensor, b: torch.Tensor, window: int = 11) -> torch.Tensor:
    """Mean SSIM (Gaussian window, sigma 1.5, data range 1) of two batches with equal channels."""
    return kornia.metrics.ssim(a, b, window, max_val=1.0, padding="same").mean()


def _as_rgb(t: torch.Tensor) -> torch.Tensor:
    return grey_to_rgb(t) if t.shape[1] == 1 else t


def intensity_loss(y_f: torch.Tensor, y_ir: torch.Tensor, y_vi: torch.Tensor, target: str = "max") -> torch.Tensor:
    """First term of eq. 6 (``max``), eq. 10 (``visible``) or eq. 12 (``infrared``)."""
    reference = {"max": lambda: torch.maximum(y_ir, y_vi), "infrared": lambda: y_ir, "visible": lambda: y_vi}[target]()
    return (y_f - reference).abs().mean()


def gradient_loss(y_f: torch.Tensor, y_ir: torch.Tensor, y_vi: torch.Tensor) -> torch.Tensor:
    """Second term of eq. 6: keep the larger source gradient everywhere."""
    return (sobel_magnitude(y_f) - torch.maximum(sobel_magnitude(y_ir), sobel_magnitude(y_vi))).abs().mean()


def color_loss(crcb_f: torch.Tensor, crcb_vi: torch.Tensor) -> torch.Tensor:
    """Eq. 7: ||Cr_f - Cr_vi||_1 + ||Cb_f - Cb_vi||_1 (inputs are the (B, 2, H, W) Cr/Cb planes)."""
    return (crcb_f - crcb_vi).abs().mean(dim=(0, 2, 3)).sum()


class FusionLoss(nn.Module):
    """L = alpha L_Y + beta L_color + eta L_ssim (eq. 9).

    ``mode`` selects the paper's variants: ``fuse`` (eq. 6-8), ``infrared`` (eq. 12-13) or
    ``visible`` (eq. 10-11); the gradient and colour terms are the same in all three.
    ``forward`` returns the total and a dict of the terms (detached floats) for logging.
    """

    def __init__(self, alpha: float = 1.0, beta: float = 1.0, eta: float = 0.1, mode: str = "fuse") -> None:
        super().__init__()
        if mode not in ("fuse", "infrared", "visible"):
            raise ValueError(f"unknown loss mode {mode!r}")
        self.alpha, self.beta, self.eta, self.mode = alpha, beta, eta, mode

    def forward(self, fused: torch.Tensor, ir: torch.Tensor, vi: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        vi = _as_rgb(vi)
        ycc_f = rgb_to_ycrcb(fused)
        ycc_vi = rgb_to_ycrcb(vi)
        y_f, y_vi, y_ir = ycc_f[:, :1], ycc_vi[:, :1], ir[:, :1]
        target = {"fuse": "max", "infrared": "infrared", "visible": "visible"}[self.mode]
        l_int = intensity_loss(y_f, y_ir, y_vi, target)
        l_grad = gradient_loss(y_f, y_ir, y_vi)
        l_color = color_loss(ycc_f[:, 1:], ycc_vi[:, 1:])
        ssim_vi = 1 - ssim(fused, vi)
        ssim_ir = 1 - ssim(y_f, y_ir)
        l_ssim = {"fuse": ssim_vi + ssim_ir, "infrared": ssim_ir, "visible": ssim_vi}[self.mode]
        total = self.alpha * (l_int + l_grad) + self.beta * l_color + self.eta * l_ssim
        terms = {"intensity": l_int, "gradient": l_grad, "color": l_color, "ssim": l_ssim, "total": total}
        return total, {k: float(v.detach()) for k, v in terms.items()}
