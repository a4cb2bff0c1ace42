"""Brighten / darken: Retinex decomposition of the fused image, then gamma on the illumination.

Paper section 2.4.2 (after RRDNet): three fine-tuning units split the fused image ``I`` into an
illumination map ``S`` (one channel, sigmoid), a reflectance ``R`` (RGB, sigmoid) and a noise
map ``N`` (RGB, tanh), trained from scratch on this image with Adam (lr 5e-4, 500 iterations in
the paper) on

    L = L_r + lambda_t * L_t + lambda_n * L_n                                  (eq. 17)
    L_r = |I - (R * S + N)|_1 + |S - S0|_1 + |R - I / S|_1                     (eq. 14)
    L_t = sum_d | (grad_d S)^2 / (G * (grad_d Y)^2 + eps) |_1,  d = x, y       (eq. 15)
    L_n = |S * N|_F                                                            (eq. 16, first term)

with ``S0`` the per-pixel maximum of RGB, ``G`` a 5x5 Gaussian (sigma 3), ``grad`` the Sobel
operators and ``Y`` the luma of ``I``; ``lambda_t = 1`` and ``lambda_n = 5000``. As in the public
code, the noise norm is weighted by ``S`` (the paper's text writes ``I_f``) and the reflectance
smoothness of eq. 16 (gradients of ``R`` weighted by a [0, 1]-normalised ``1 / (S * |grad_x Y|
* |grad_y Y| + eps)``) is added with weight 1; ``S`` and the weights are held fixed (detached)
inside the targets ``I / S`` and ``w``. Norms are sums as in the code, and the total is divided
by the pixel count only so the logged loss does not grow with the region (Adam does not care).

The result, as in the public code, keeps the reconstruction exact::

    result = S^gamma * (I - N) / S = (I - N) * S^(gamma - 1)

so ``gamma = 1`` gives back the image less its (tiny) estimated noise, ``gamma < 1`` brightens
(dark pixels, with small ``S``, the most) and ``gamma > 1`` darkens. Using the network's ``R``
directly (``R * S^gamma``) would change the image even at ``gamma = 1``, because ``R * S`` only
approximates ``I``; an editor should not do that.

Initialisation. The units are Xavier-initialised as in the paper, except that the illumination
head's bias starts at 3 (``S`` about 0.95). With a zero bias ``S`` starts near 0.5, below the
image, so the reflectance target ``I / S`` exceeds 1 and the sigmoid of ``R`` saturates at 1;
measured on a 128x160 RoadScene crop, the decomposition then stayed degenerate (``R`` = 1,
reconstruction error 0.07-0.1) for 300 iterations and left that state somewhere between
iterations 300 and 400 (at half resolution it had not left it after 500), so the result of
"500 iterations" depended on when that happened. Starting bright, ``R`` stays below 1 and the
loss falls smoothly (0.47 after 100, 0.34 after 200, 0.30 after 400 iterations, lower than the
zero-bias run's 0.35 after 500).

Quick mode (``train_scale=2``, used by default through ``run_task``) trains the units on the
image reduced 2x and applies them to the full-resolution image; the units are convolutional and
learn a mostly local mapping, so this lands within about 1-1.3 grey levels of full-resolution
training at a quarter of the cost per iteration (numbers in ``terf_studio.tuning.tasks``).

Warm start. When ``models/illumination-start.pt`` (the paper's units trained once over many fused
images) is installed, quick and exact start from a copy of it (lr 2e-4, 100 / 200 iterations at
full resolution) instead of from scratch. Measured on the bench regions FLIR_00977 trees and MSRS
00858N (night), each reduced 2x (103x142 and 136x176): from scratch the paper's 500 iterations
end at a loss of 0.343 and 0.403; the warm start begins at 0.321 and 0.709 and reaches 0.319 /
0.427 after 100 and 0.306 / 0.363 after 200 iterations (lr 1e-4: 0.311 / 0.384 after 200; lr
5e-4: 0.304 / 0.361, with a larger bump over the first 25 iterations). Its brightened result lies
0.37 and 0.85 grey levels from the 500-iteration scratch result (mean absolute difference), at
40% of the iterations. The fast engine's units (``prior=True``) are not used as the start: from
them 200 iterations reached only 0.435 / 0.819.

Strength -> gamma: brighten ``gamma = 1 / (1 + 0.6 * strength)`` (0.625 at strength 1),
darken ``gamma = 1 + 0.6 * strength`` (1.6 at strength 1). Repeating multiplies the gammas
(``(S^g1)^g2 = S^(g1 g2)``) on the same decomposition, without optimising again (paper 2.4.4).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from terf_studio.errors import TerfError
from terf_studio.imaging.color import LUMA_WEIGHTS, to_numpy, to_tensor
from terf_studio.tuning.control import CancelToken, ProgressFn
from terf_studio.tuning.units import as_device, conv_stack, fit, xavier_init

LR = 5e-4
EXACT_ITERATIONS = 500
#: A warm start (from the fast engine's trained units, see the module docstring): a smaller
#: step, so Adam's first steps do not throw away what the units learnt, and fewer iterations.
WARM_LR = 2e-4
WARM_QUICK_ITERATIONS = 100
WARM_EXACT_ITERATIONS = 200
LAMBDA_T = 1.0
LAMBDA_N = 5000.0
GAMMA_SLOPE = 0.6
EPS = 1e-4
#: Initial bias of the illumination head: S starts at sigmoid(3) = 0.95, above nearly every pixel.
ILLUMINATION_BIAS = 3.0
#: The max-RGB prior of a prior unit is clipped to [PRIOR_EPS, 1 - PRIOR_EPS] before its logit.
PRIOR_EPS = 0.02

_SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


class RetinexUnits(nn.Module):
    """Three independent units: illumination (3->1), reflectance (3->3), noise (3->3).

    ``prior=True`` (the fast engine's units, :mod:`terf_studio.tuning.engines.retinex`) adds the
    logit of the max-RGB prior ``S0`` to the illumination unit's output, so the unit learns a
    correction of ``S0`` rather than ``S`` itself; the paper's units (``prior=False``) are what
    the fine-tuning engines train from scratch.
    """

    def __init__(self, prior: bool = False) -> None:
        super().__init__()
        self.prior = prior
        self.illumination = conv_stack(3, 1)
        self.reflectance = conv_stack(3, 3)
        self.noise = conv_stack(3, 3)

    def set_illumination_bias(self, value: float) -> None:
        """Fill the bias of the illumination unit's last convolution (its starting brightness)."""
        last = self.illumination[-1]
        assert isinstance(last, nn.Conv2d) and last.bias is not None
        with torch.no_grad():
            last.bias.fill_(value)

    def zero_illumination_head(self) -> None:
        """Start a prior unit at ``S = S0``: its last convolution outputs 0."""
        last = self.illumination[-1]
        assert isinstance(last, nn.Conv2d) and last.bias is not None
        with torch.no_grad():
            last.weight.zero_()
            last.bias.zero_()

    def illumination_map(self, image: torch.Tensor) -> torch.Tensor:
        logits = self.illumination(image)
        if self.prior:
            s0 = image.amax(dim=1, keepdim=True).clamp(PRIOR_EPS, 1.0 - PRIOR_EPS)
            logits = logits + torch.logit(s0)
        return torch.sigmoid(logits)

    def noise_map(self, image: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.noise(image))

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.illumination_map(image), torch.sigmoid(self.reflectance(image)), self.noise_map(image)


def _gaussian_kernel(size: int = 5, sigma: float = 3.0) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


def _sobel(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Horizontal and vertical Sobel responses per channel, replicate-padded."""
    c = t.shape[1]
    kx = _SOBEL_X.to(t)[None, None].repeat(c, 1, 1, 1)
    ky = kx.transpose(-1, -2)
    padded = F.pad(t, (1, 1, 1, 1), mode="replicate")
    return F.conv2d(padded, kx, groups=c), F.conv2d(padded, ky, groups=c)


class RetinexLoss(nn.Module):
    """Eq. 14-17 for one image (B = 1); the targets that depend only on ``I`` are precomputed."""

    def __init__(self, image: torch.Tensor, lambda_t: float = LAMBDA_T, lambda_n: float = LAMBDA_N) -> None:
        super().__init__()
        self.lambda_t, self.lambda_n = lambda_t, lambda_n
        self.image = image
        self.s0 = image.amax(dim=1, keepdim=True)
        y = (image * image.new_tensor(LUMA_WEIGHTS)[None, :, None, None]).sum(1, keepdim=True)
        gx, gy = _sobel(y)
        g = _gaussian_kernel().to(image)
        self.wx = 1.0 / (F.conv2d(F.pad(gx**2, (2, 2, 2, 2), mode="replicate"), g) + EPS)
        self.wy = 1.0 / (F.conv2d(F.pad(gy**2, (2, 2, 2, 2), mode="replicate"), g) + EPS)
        self.grad_product = gx.abs() * gy.abs()
        self.pixels = image.shape[-1] * image.shape[-2]

    def forward(self, s: torch.Tensor, r: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        i = self.image
        s_fixed = s.detach()
        l_r = (i - (r * s + n)).abs().sum() + (s - self.s0).abs().sum() + (r - i / s_fixed).abs().sum()
        sx, sy = _sobel(s)
        l_t = (sx**2 * self.wx).sum() + (sy**2 * self.wy).sum()
        w = 1.0 / (s_fixed * self.grad_product + EPS)
        w = (w - w.min()) / (w.max() - w.min() + 1e-12)
        rx, ry = _sobel(r)
        l_refl = (w * rx**2).sum() + (w * ry**2).sum()
        l_n = torch.linalg.vector_norm(s * n)
        return (l_r + self.lambda_t * l_t + l_refl + self.lambda_n * l_n) / self.pixels


@dataclass(frozen=True)
class Decomposition:
    """``S`` (H, W), ``R`` (H, W, 3), ``N`` (H, W, 3) of ``source`` (H, W, 3), all float32."""

    source: np.ndarray
    illumination: np.ndarray
    reflectance: np.ndarray
    noise: np.ndarray
    loss: float
    iterations: int


def gamma_for(task: str, strength: float = 1.0) -> float:
    """Gamma of one brighten / darken command: ``1 / (1 + 0.6 s)`` or ``1 + 0.6 s``."""
    if strength <= 0 or not math.isfinite(strength):
        raise TerfError(f"strength must be a positive number, got {strength!r}")
    if task == "brighten":
        return 1.0 / (1.0 + GAMMA_SLOPE * strength)
    if task == "darken":
        return 1.0 + GAMMA_SLOPE * strength
    raise TerfError(f"gamma is defined for brighten and darken, not {task!r}")


def starting_units(start: RetinexUnits | None, seed: int) -> RetinexUnits:
    """What a fine-tuning starts from: a copy of ``start`` (a warm start; ``start`` itself is
    never modified), else fresh units (Xavier from ``seed``, the illumination head starting bright)."""
    if start is not None:
        return copy.deepcopy(start)
    units = xavier_init(RetinexUnits(), seed)
    units.set_illumination_bias(ILLUMINATION_BIAS)
    return units


def decompose(
    image: np.ndarray,
    *,
    iterations: int = EXACT_ITERATIONS,
    lr: float = LR,
    seed: int = 0,
    train_scale: int = 1,
    device: str | torch.device = "cpu",
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    start: RetinexUnits | None = None,
) -> Decomposition:
    """Train units on ``image`` (H, W, 3) and return its decomposition.

    The units start from a copy of ``start`` when given (a warm start from the fast engine's
    trained units; ``start`` itself is not modified), else fresh (Xavier, ``seed``).

    ``train_scale`` > 1 trains on the image reduced by that factor (area average), which costs
    ``1 / train_scale^2`` per iteration; the trained units are then applied to the image at full
    resolution (they are convolutional, so they take any size).
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise TerfError(f"the illumination task needs an RGB image, got shape {image.shape}")
    dev = as_device(device)
    x = to_tensor(image).to(dev)
    x_train = x
    if train_scale > 1 and min(x.shape[-2:]) >= 16 * train_scale:
        x_train = F.avg_pool2d(x, train_scale, ceil_mode=True)
    units = starting_units(start, seed).to(dev)
    units.train()
    criterion = RetinexLoss(x_train)
    loss_value = fit(units.parameters(), lambda _: criterion(*units(x_train)), iterations, lr, progress, cancel)
    with torch.no_grad():
        s, r, n = units(x)
    return Decomposition(
        source=np.array(image, dtype=np.float32),
        illumination=to_numpy(s),
        reflectance=to_numpy(r),
        noise=to_numpy(n),
        loss=loss_value,
        iterations=iterations,
    )


def relight(decomposition: Decomposition, gamma: float, *, remove_noise: bool = True) -> np.ndarray:
    """``(I - N) * S^(gamma - 1)`` clipped to [0, 1]; ``remove_noise=False`` keeps ``N`` in."""
    # in place on one new array: a whole large image would otherwise hold several float copies
    out = decomposition.source - decomposition.noise if remove_noise else decomposition.source.copy()
    s = np.maximum(decomposition.illumination, 1e-4)
    np.power(s, np.float32(gamma - 1.0), out=s)
    out *= s[..., None]
    np.clip(out, 0.0, 1.0, out=out)
    return out.astype(np.float32, copy=False)
