"""Denoise: one unit trained zero-shot on the noisy image itself (ZS-N2N, paper 2.4.3).

Two fixed 2x2 stride-2 kernels split the image into two half-size images whose noise is
(nearly) independent: ``D1 = [[0, .5], [.5, 0]]`` and ``D2 = [[.5, 0], [0, .5]]``. The unit
``f`` predicts the noise; it is trained (Adam, lr 1e-3, 100 iterations in the paper) on

    L_res  = |D1(x) - f(D1(x)) - D2(x)|^2 + |D2(x) - f(D2(x)) - D1(x)|^2            (eq. 18)
    L_cons = |D1(x) - f(D1(x)) - D1(x - f(x))|^2 + |D2(x) - f(D2(x)) - D2(x - f(x))|^2 (eq. 19)
    L = L_res + L_cons                                                               (eq. 20)

(mean squared errors, each pair halved as in ZS-N2N) and the result is ``x - f(x)``.
The unit is ZS-N2N's: 3x3 conv c -> 48, 3x3 48 -> 48 (LeakyReLU 0.2 after each), 1x1 48 -> c.

Two ways to use it (paper Table 2): ``visible`` (VII) denoises the visible image and fuses it
with the fusion network; ``fused`` (VI) denoises the fused image directly.
A repeated command reloads the unit and trains it further on the same noisy input
(paper 2.4.4); the optimiser starts afresh.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from terf_studio.imaging.color import to_numpy, to_tensor
from terf_studio.tuning.control import CancelToken, ProgressFn
from terf_studio.tuning.units import as_device, cpu_state, fit, xavier_init

LR = 1e-3
EXACT_ITERATIONS = 100
MODES = ("visible", "fused")


class N2NUnit(nn.Module):
    """Predicts the noise of an image with ``channels`` channels."""

    def __init__(self, channels: int = 3, width: int = 48) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, width, 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def pair_downsample(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The two diagonal half-size images D1(x), D2(x) of a (B, C, H, W) batch."""
    c = x.shape[1]
    k1 = x.new_tensor([[0.0, 0.5], [0.5, 0.0]])[None, None].repeat(c, 1, 1, 1)
    k2 = x.new_tensor([[0.5, 0.0], [0.0, 0.5]])[None, None].repeat(c, 1, 1, 1)
    return F.conv2d(x, k1, stride=2, groups=c), F.conv2d(x, k2, stride=2, groups=c)


def n2n_loss(unit: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Eq. 18-20 for one noisy batch."""
    d1, d2 = pair_downsample(x)
    p1 = d1 - unit(d1)
    p2 = d2 - unit(d2)
    l_res = 0.5 * (F.mse_loss(p1, d2) + F.mse_loss(p2, d1))
    c1, c2 = pair_downsample(x - unit(x))
    l_cons = 0.5 * (F.mse_loss(p1, c1) + F.mse_loss(p2, c2))
    return l_res + l_cons


@dataclass(frozen=True)
class Denoised:
    image: np.ndarray  # x - f(x), clipped to [0, 1], same shape as the input
    weights: dict[str, torch.Tensor]  # the unit's state_dict, on the CPU
    loss: float
    iterations: int


def denoise(
    noisy: np.ndarray,
    *,
    iterations: int = EXACT_ITERATIONS,
    lr: float = LR,
    weights: Mapping[str, torch.Tensor] | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Denoised:
    """Train the unit on ``noisy`` ((H, W) or (H, W, 3), from ``weights`` when given) and apply it."""
    dev = as_device(device)
    x = to_tensor(noisy).to(dev)
    unit = N2NUnit(x.shape[1])
    if weights is not None:
        unit.load_state_dict(weights)
    else:
        xavier_init(unit, seed)
    unit.to(dev).train()
    loss_value = fit(unit.parameters(), lambda _: n2n_loss(unit, x), iterations, lr, progress, cancel)
    unit.eval()
    with torch.no_grad():
        clean = (x - unit(x)).clamp(0.0, 1.0)
    return Denoised(image=to_numpy(clean), weights=cpu_state(unit), loss=loss_value, iterations=iterations)
