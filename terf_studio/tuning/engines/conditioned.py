"""Inclination as a condition: the fusion network with FiLM layers fed a per-pixel lambda map.

Loss-conditional training ("You Only Train Once", Dosovitskiy & Djolonga, ICLR 2020): instead
of fine-tuning the fusion network on every pair for every command (paper 2.4.1), one network
learns the whole family of inclined fusions at once. ``lambda`` is a map in [-1, 1] per pixel:
negative leans towards the visible image, positive towards the infrared, 0 is the plain fusion.

The frozen fusion network is modulated at four points (the extraction features, the refined
features, the integrated features and the head's hidden layer) by

    f <- f * (1 + lambda * scale(lambda)) + lambda * shift(lambda)

where ``scale`` and ``shift`` come per pixel from a small 1x1-convolution network of
``(lambda, lambda^2)``. Both terms are multiplied by ``lambda``, so ``lambda = 0`` gives back the
plain fusion exactly (the base weights never change), and a map with several regions and signs
composes in one forward pass without seams (the map itself is feathered). After the head, a small
full-resolution :class:`Correction` adds ``lambda * g(Y_out, Y_ir, Y_vi, lambda)`` to the
luminance: FiLM alone (the first shipped engine) saturated at a correlation with the infrared of
0.925 where the fine-tuning reaches 0.990, because rescaling frozen features cannot bring back
source detail the network had already mixed away.

Training (:func:`terf_studio.tuning.engines.training.train_inclination`) samples lambda maps and
minimises the paper's losses weighted per pixel (:func:`inclination_loss`): with
``p = max(lambda, 0)``, ``n = max(-lambda, 0)`` and ``z = 1 - |lambda|``, the intensity target is
``z * max(Y_ir, Y_vi)`` (eq. 6) ``+ p * Y_ir`` (eq. 12) ``+ n * Y_vi`` (eq. 10) and the SSIM terms
mix the same way (eq. 8, 11, 13); the gradient and colour terms stay those of eq. 6-7.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, cast

import kornia
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from terf_studio.errors import ModelError
from terf_studio.fusion.inference import pad_to_multiple
from terf_studio.fusion.losses import color_loss, gradient_loss
from terf_studio.fusion.network import FusionConfig, FusionNet
from terf_studio.fusion.tiled import FUSION_MARGIN, run_staged_tiles, visible_as_rgb
from terf_studio.imaging.color import rgb_to_ycrcb, to_numpy, to_tensor
from terf_studio.imaging.tiles import needs_tiles
from terf_studio.tuning.engines.weights import load_state, read_engine, save_engine

ENGINE = "inclination"
FILM_HIDDEN = 16
#: Width of the full-resolution correction (0: FiLM layers only, as files saved before it).
CORRECTION_WIDTH = 16


class FiLM(nn.Module):
    """Per-pixel scale and shift of ``channels`` features from a lambda map; identity at lambda = 0."""

    def __init__(self, channels: int, hidden: int = FILM_HIDDEN) -> None:
        super().__init__()
        first = nn.Conv2d(2, hidden, 1)  # built in this order: seeded initialisation stays the same
        out = nn.Conv2d(hidden, 2 * channels, 1)
        self.net = nn.Sequential(first, nn.SiLU(), out)
        assert out.bias is not None
        nn.init.zeros_(out.weight)
        nn.init.zeros_(out.bias)

    def forward(self, f: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        scale, shift = self.net(torch.cat((lam, lam * lam), 1)).chunk(2, dim=1)
        return f * (1.0 + lam * scale) + lam * shift


class Correction(nn.Module):
    """A full-resolution luminance correction ``lambda * g(Y_out, Y_ir, Y_vi, lambda)`` added to R, G
    and B alike (so chroma stays). FiLM alone rescales the frozen network's features and saturates
    short of the infrared (or visible) luminance that eq. 10-13 ask for at |lambda| = 1; this branch
    sees both sources' luminance, so the lean can reach them. Zero at lambda = 0, zero at start."""

    def __init__(self, width: int = CORRECTION_WIDTH) -> None:
        super().__init__()
        out = nn.Conv2d(width, 1, 3, padding=1)
        self.net = nn.Sequential(nn.Conv2d(4, width, 3, padding=1), nn.SiLU(),
                                 nn.Conv2d(width, width, 3, padding=1), nn.SiLU(), out)
        assert out.bias is not None
        nn.init.zeros_(out.weight)
        nn.init.zeros_(out.bias)

    def forward(self, out: torch.Tensor, x: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        y_out = rgb_to_ycrcb(out)[:, :1]
        y_vi = rgb_to_ycrcb(x[:, 1:])[:, :1]
        delta = self.net(torch.cat((y_out, x[:, :1], y_vi, lam), 1))
        return out + lam * delta


class ConditionedFusion(nn.Module):
    """A frozen :class:`FusionNet` (half-resolution layout) plus FiLM layers and a full-resolution
    correction: F(ir, vi, lambda)."""

    def __init__(self, base: FusionNet, hidden: int = FILM_HIDDEN, correction: int = CORRECTION_WIDTH) -> None:
        super().__init__()
        if not base.config.half_resolution:
            raise ModelError("the conditioned fusion network is built on the half-resolution ('lite') layout")
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        c, h = base.config.features, base.config.head_features
        self.film_extract = FiLM(c, hidden)
        self.film_refine = FiLM(c, hidden)
        self.film_integrate = FiLM(h, hidden)
        self.film_head = FiLM(h, hidden)
        self.correction = Correction(correction) if correction else None

    @property
    def config(self) -> FusionConfig:
        return self.base.config

    def film_parameters(self) -> list[nn.Parameter]:
        return [p for name, p in self.named_parameters() if not name.startswith("base.")]

    def forward(self, ir: torch.Tensor, vi: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        g, context = self.encode(ir, vi, lam)
        return self.decode(self.base.refine(g), context)

    # Split at the transformer blocks as FusionNet is, so it runs in tiles (terf_studio.fusion.tiled).
    @property
    def blocks(self) -> list[nn.Module]:
        return list(self.base.refine)

    def encode(self, ir: torch.Tensor, vi: torch.Tensor,
               lam: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        b = self.base
        lam_half = F.avg_pool2d(lam, 2)
        x = torch.cat((ir, vi), 1)
        f0 = self.film_extract(b.extract(F.pixel_unshuffle(x, 2)), lam_half)
        feats = []
        f = f0
        for block in b.dense_blocks:
            f = block(f)
            feats.append(f)
        return b.global_fusion(torch.cat(feats, 1)), (x, f0, lam, lam_half)

    def decode(self, refined: torch.Tensor, context: tuple[torch.Tensor, ...]) -> torch.Tensor:
        b = self.base
        x, f0, lam, lam_half = context
        f = self.film_refine(refined + f0, lam_half)
        up = self.film_integrate(b.integrate(f), lam)
        head = cast(nn.Sequential, b.head)  # the half-resolution head: conv, act, [conv, act]..., out
        hidden = torch.cat((up, x), 1)
        for layer in list(head)[:-1]:
            hidden = layer(hidden)
        out = head[-1](self.film_head(hidden, lam))
        return self.correction(out, x, lam) if self.correction is not None else out

    def film_state(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.state_dict().items() if not k.startswith("base.")}


#: Core side of an inclination tile: as the lite fusion's (see fusion.inference.FUSION_TILES).
INCLINATION_TILE = 768


def _ssim_map(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return kornia.metrics.ssim(a, b, 11, max_val=1.0, padding="same").mean(1, keepdim=True)


def inclination_loss(fused: torch.Tensor, ir: torch.Tensor, vi: torch.Tensor, lam: torch.Tensor,
                     eta: float = 0.1) -> torch.Tensor:
    """The fusion / inclination losses (eq. 6-13) mixed per pixel by ``lam`` (B, 1, H, W)."""
    p, n = lam.clamp(min=0.0), (-lam).clamp(min=0.0)
    z = 1.0 - p - n
    ycc_f, ycc_vi = rgb_to_ycrcb(fused), rgb_to_ycrcb(vi)
    y_f, y_vi, y_ir = ycc_f[:, :1], ycc_vi[:, :1], ir[:, :1]
    target = z * torch.maximum(y_ir, y_vi) + p * y_ir + n * y_vi
    l_int = (y_f - target).abs().mean()
    l_grad = gradient_loss(y_f, y_ir, y_vi)
    l_color = color_loss(ycc_f[:, 1:], ycc_vi[:, 1:])
    d_vi = 1.0 - _ssim_map(fused, vi)
    d_ir = 1.0 - _ssim_map(y_f, y_ir)
    l_ssim = (z * (d_vi + d_ir) + p * d_ir + n * d_vi).mean()
    return l_int + l_grad + l_color + eta * l_ssim


def weights_digest(net: nn.Module) -> str:
    """A content hash of a network's parameters and buffers (names, shapes and values)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(net.state_dict().items()):
        t = tensor.detach().to("cpu", torch.float32).contiguous()
        digest.update(name.encode())
        digest.update(str(tuple(t.shape)).encode())
        digest.update(t.numpy().tobytes())
    return digest.hexdigest()[:16]


def save_conditioned(path: str | os.PathLike, net: ConditionedFusion, meta: dict[str, Any] | None = None) -> None:
    """Only the FiLM layers are stored, with the base configuration and a digest of the base
    weights they were trained on (FiLM layers fit one set of base weights, not any of that shape)."""
    module = nn.Module()
    for name, child in net.named_children():
        if name != "base":
            module.add_module(name, child)
    correction = net.correction
    config = {"base": net.config.to_dict(), "hidden": FILM_HIDDEN, "base_digest": weights_digest(net.base),
              "correction": correction.net[0].out_channels if correction is not None else 0}
    save_engine(path, ENGINE, module, config, meta)


def _same_network(saved: object, config: FusionConfig) -> bool:
    """Whether a saved base configuration (a dict, from a file that may predate newer fields,
    which then have their defaults) is ``config``."""
    if not isinstance(saved, dict):
        return False
    try:
        return FusionConfig(**saved) == config
    except TypeError:  # fields this version does not know
        return False


def load_conditioned(path: str | os.PathLike, base: FusionNet) -> ConditionedFusion:
    """FiLM layers from ``path`` on top of ``base``; the file must name ``base``'s configuration.

    The base weights themselves are not in the file: they are the fusion network the user has
    loaded, which must be the one the layers were trained on (its configuration is checked).
    """
    payload = read_engine(path, ENGINE)
    config = payload.get("config", {})
    if not _same_network(config.get("base"), base.config):
        raise ModelError(
            f"'{Path(path).name}' was trained for the '{config.get('base', {}).get('name')}' fusion network, "
            f"not '{base.config.name}'"
        )
    if config.get("base_digest") != weights_digest(base):
        raise ModelError(f"'{Path(path).name}' was trained on other '{base.config.name}' fusion weights than the "
                         "ones loaded (retrain it with `terf-studio train-engine inclination`)")
    net = ConditionedFusion(base, int(config.get("hidden", FILM_HIDDEN)), int(config.get("correction", 0)))
    shell = nn.Module()
    for name, child in net.named_children():
        if name != "base":
            shell.add_module(name, child)
    load_state(shell, payload, path)
    return net.eval()


@torch.inference_mode()
def incline_fast(net: ConditionedFusion, vi: np.ndarray, ir: np.ndarray, lam: np.ndarray,
                 device: torch.device | str = "cpu", tile: int = INCLINATION_TILE) -> np.ndarray:
    """One forward pass: ``vi`` (H, W, 3), ``ir`` (H, W), ``lam`` (H, W) in [-1, 1] -> (H, W, 3).

    Where ``lam`` is 0 everywhere this equals the plain fusion of the base network. A crop larger
    than one ``tile`` runs in overlapping tiles with the same result.
    """
    dev = torch.device(device)
    h, w = ir.shape[:2]
    if needs_tiles(h, w, tile, FUSION_MARGIN):
        lam = np.clip(np.asarray(lam, np.float32), -1.0, 1.0)
        out = np.empty((h, w, 3), np.float32)
        if bool(np.any(lam != 0)):
            return run_staged_tiles(net, [ir, vi, lam], out, tile, FUSION_MARGIN, dev, prepare=visible_as_rgb)
        return run_staged_tiles(net.base, [ir, vi], out, tile, FUSION_MARGIN, dev, prepare=visible_as_rgb)
    vi_t = to_tensor(vi).to(dev)
    if vi_t.shape[1] == 1:
        vi_t = vi_t.expand(-1, 3, -1, -1)
    ir_t = to_tensor(ir).to(dev)
    lam_t = torch.from_numpy(np.clip(np.asarray(lam, np.float32), -1.0, 1.0))[None, None].to(dev)
    h, w = ir_t.shape[-2:]
    m = net.config.multiple
    ir_p, _ = pad_to_multiple(ir_t, m)
    vi_p, _ = pad_to_multiple(vi_t, m)
    lam_p, _ = pad_to_multiple(lam_t, m)
    if not bool(lam_t.abs().amax() > 0):
        out = net.base(ir_p, vi_p)
    else:
        out = net(ir_p, vi_p, lam_p)
    return to_numpy(out[..., :h, :w].clamp(0.0, 1.0).float().cpu())
