"""Denoise in one forward pass: a small noise-level-conditioned network (FFDNet-style).

The exact engine (:mod:`terf_studio.tuning.denoise`, ZS-N2N) trains a unit on the noisy image
itself for every command. This one is trained once (on visible images with synthetic Gaussian
noise over a range of sigmas, :func:`terf_studio.tuning.engines.training.train_denoiser`):

- the image is split into its four 2x2 polyphase sub-images (pixel unshuffle), so the body runs
  at half resolution (a quarter of the pixels) with a 4x larger receptive field;
- a noise-level map (sigma in [0, 1] units, constant or per pixel) is a fifth input plane, so
  one network covers every noise level and the user's strength scales the level it removes;
- it predicts, per pixel, weights that mix the image with three Gaussian blurs of it (see
  :class:`NoiseConditionedDenoiser` for why it does not predict the noise itself).

When no level is given it is estimated from the image: the median absolute value of the finest
diagonal Haar coefficients divided by 0.6745 (Donoho's MAD estimator), per colour channel and
averaged. Texture makes it read a little high on clean images (about 1-3 grey levels here).
"""

from __future__ import annotations

import math
import os

import kornia
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from terf_studio.imaging.color import to_numpy, to_tensor
from terf_studio.imaging.io import to_float
from terf_studio.imaging.tiles import map_tiles, needs_tiles
from terf_studio.tuning.engines.weights import load_state, read_engine, save_engine

ENGINE = "denoise"
DEFAULT_WIDTH = 32
DEFAULT_DEPTH = 6


#: Standard deviations of the fixed Gaussian blurs the network mixes (pixels).
BLUR_SIGMAS: tuple[float, ...] = (0.8, 1.6, 3.2)


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Replicate-padded Gaussian blur over 3 sigma either side (kornia's separable filter)."""
    size = 2 * max(1, int(round(3 * sigma))) + 1
    return kornia.filters.gaussian_blur2d(x, (size, size), (sigma, sigma), border_type="replicate")


class NoiseConditionedDenoiser(nn.Module):
    """(B, C, H, W) noisy image and (B, 1, H, W) sigma map -> denoised image (H, W even).

    The body (at half resolution, after a pixel unshuffle, with the noise map as an input plane)
    predicts per pixel how to mix the image with three Gaussian blurs of it (softmax weights);
    the result is that mix, so every output is a convex combination of smoothed copies: it
    cannot invent structure, only decide where and how much to smooth (edges kept, flat areas
    smoothed in proportion to the noise level). Why not predict the noise (FFDNet, DnCNN): such a
    body trained from scratch on two CPU cores did not beat the identity after 800 steps here,
    while the mixing weights are learnt in minutes.
    """

    def __init__(self, channels: int = 3, width: int = DEFAULT_WIDTH, depth: int = DEFAULT_DEPTH) -> None:
        super().__init__()
        self.channels, self.width, self.depth = channels, width, depth
        outputs = 1 + len(BLUR_SIGMAS)
        layers: list[nn.Module] = [nn.Conv2d(4 * channels + 1, width, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(width, 4 * outputs, 3, padding=1))
        self.body = nn.Sequential(*layers)
        last = self.body[-1]
        assert isinstance(last, nn.Conv2d) and last.bias is not None
        nn.init.zeros_(last.weight)
        with torch.no_grad():  # start as the identity: the unblurred image weighted far above the blurs
            last.bias.zero_()
            last.bias.view(outputs, 4)[0].fill_(4.0)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        stem = torch.cat((F.pixel_unshuffle(x - 0.5, 2), F.avg_pool2d(sigma, 2) * 10.0), 1)
        weights = torch.softmax(F.pixel_shuffle(self.body(stem), 2), dim=1)  # (B, 1 + blurs, H, W)
        candidates = [x] + [_gaussian_blur(x, s) for s in BLUR_SIGMAS]
        out = weights[:, :1] * x
        for i, c in enumerate(candidates[1:], 1):
            out = out + weights[:, i : i + 1] * c
        return out

    def config(self) -> dict:
        return {"channels": self.channels, "width": self.width, "depth": self.depth, "kind": "blend"}


def save_denoiser(path: str | os.PathLike, net: NoiseConditionedDenoiser, meta: dict | None = None) -> None:
    save_engine(path, ENGINE, net, net.config(), meta)


def load_denoiser(path: str | os.PathLike) -> NoiseConditionedDenoiser:
    payload = read_engine(path, ENGINE)
    cfg = payload.get("config", {})
    net = NoiseConditionedDenoiser(int(cfg.get("channels", 3)), int(cfg.get("width", DEFAULT_WIDTH)),
                                   int(cfg.get("depth", DEFAULT_DEPTH)))
    return load_state(net, payload, path)


def estimate_sigma(image: np.ndarray) -> float:
    """Gaussian noise level of ``image`` ((H, W) or (H, W, C): float in [0, 1], or uint8/uint16 as
    stored) in [0, 1] units. Read a band of rows at a time: only the finest diagonal Haar
    coefficients are held (a quarter of the pixels), never a float copy of a large image."""
    image = np.asarray(image)
    h, w = (image.shape[0] // 2) * 2, (image.shape[1] // 2) * 2
    if h < 2 or w < 2:
        return 0.0
    channels = 1 if image.ndim == 2 else image.shape[2]
    hh = np.empty((h // 2, w // 2, channels), np.float32)
    for y0 in range(0, h, 512):
        x = np.asarray(to_float(image[y0 : min(h, y0 + 512), :w]), dtype=np.float32)
        x = x[..., None] if x.ndim == 2 else x
        hh[y0 // 2 : (y0 + x.shape[0]) // 2] = (x[0::2, 0::2] - x[0::2, 1::2] - x[1::2, 0::2] + x[1::2, 1::2]) / 2.0
    per_channel = [float(np.median(np.abs(hh[..., c]))) / 0.6745 for c in range(channels)]
    return float(np.mean(per_channel))


#: Context around a tile: the receptive radius is 13 pixels (six 3x3 convolutions at half
#: resolution, the 2x2 unshuffle; the widest blur reaches 10).
DENOISE_MARGIN = 16
#: Core side of a tile: the network holds about 190 bytes per pixel of window while it runs.
DENOISE_TILE = 1024


@torch.inference_mode()
def denoise_fast(net: NoiseConditionedDenoiser, noisy: np.ndarray, sigma: float,
                 device: torch.device | str = "cpu", tile: int = DENOISE_TILE) -> np.ndarray:
    """``noisy`` (H, W) or (H, W, 3) in [0, 1], noise level ``sigma`` (same units) -> denoised.

    An image larger than one ``tile`` runs in overlapping tiles with the same result.
    """
    dev = torch.device(device)
    net = net.to(dev)
    h, w = noisy.shape[:2]
    if needs_tiles(h, w, tile, DENOISE_MARGIN):
        out = np.empty(noisy.shape, np.float32)
        return map_tiles(lambda x: _denoise_tensor(net, x, sigma), [noisy], out, tile, DENOISE_MARGIN, 2, dev)
    return to_numpy(_denoise_tensor(net, to_tensor(noisy).to(dev), sigma).float().cpu())


#: The most passes a fast denoise of high strength runs (strength is clipped to this).
MAX_PASSES = 4


def passes_for(strength: float) -> int:
    """How many passes :func:`denoise_with_strength` runs at ``strength`` (each reads
    :data:`DENOISE_MARGIN` pixels of context, so a window needs that much context per pass)."""
    return max(1, math.ceil(min(max(float(strength), 0.0), float(MAX_PASSES)) - 1e-6))


def denoise_with_strength(net: NoiseConditionedDenoiser, noisy: np.ndarray, sigma: float, strength: float,
                          device: torch.device | str = "cpu") -> np.ndarray:
    """What a fast denoise of ``strength`` gives on ``noisy`` (noise level ``sigma``).

    The shipped network hardly reads its noise-level input: it judges the noise from the image
    itself (measured on three bench regions: the same output for 0 to 3 times the estimated
    level, at noise sigma 8 and 20 grey levels). So the strength acts on its output: below 1 a
    blend of the image and one pass (0.5 is half way), above 1 further passes on its own output
    (a repeat smooths further), at most :data:`MAX_PASSES`.
    """
    strength = min(max(float(strength), 0.0), float(MAX_PASSES))
    source = np.asarray(noisy, dtype=np.float32)
    out = denoise_fast(net, source, sigma, device)
    if strength < 1.0:
        return (source + np.float32(strength) * (out - source)).astype(np.float32)
    rest = strength - 1.0
    while rest > 1e-6:
        step = min(rest, 1.0)
        again = denoise_fast(net, out, sigma, device)
        out = (out + np.float32(step) * (again - out)).astype(np.float32)
        rest -= step
    return out


def _denoise_tensor(net: NoiseConditionedDenoiser, x: torch.Tensor, sigma: float) -> torch.Tensor:
    grey = x.shape[1] == 1
    if grey:
        x = x.expand(-1, 3, -1, -1)
    h, w = x.shape[-2:]
    ph, pw = h % 2, w % 2
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
    sigma_map = torch.full_like(x[:, :1], float(max(sigma, 0.0)))
    out = net(x, sigma_map)[..., :h, :w].clamp(0.0, 1.0)
    if grey:
        out = out.mean(1, keepdim=True)
    return out
