"""Fusing a pair with trained weights: padding, device choice, numpy in and out."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from terf_studio.device import resolve_device
from terf_studio.errors import TerfError
from terf_studio.fusion.checkpoint import load_network
from terf_studio.fusion.network import FusionNet
from terf_studio.fusion.tiled import FUSION_MARGIN, run_staged_tiles, visible_as_rgb
from terf_studio.imaging.color import to_numpy, to_tensor
from terf_studio.imaging.tiles import needs_tiles
from terf_studio.weights.registry import require_model


def pad_to_multiple(t: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad the bottom and right so both sides are multiples of ``multiple``."""
    h, w = t.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if h > ph and w > pw else "replicate"
        t = F.pad(t, (0, pw, 0, ph), mode=mode)
    return t, (h, w)


def run_network(net: FusionNet, ir: torch.Tensor, vi: torch.Tensor) -> torch.Tensor:
    """Any-size forward pass: pad, fuse, crop back, clamp to [0, 1]. ``vi`` may be grey."""
    if vi.shape[1] == 1:
        vi = vi.expand(-1, 3, -1, -1)
    multiple = net.config.multiple
    ir_p, (h, w) = pad_to_multiple(ir, multiple)
    vi_p, _ = pad_to_multiple(vi, multiple)
    return net(ir_p, vi_p)[..., :h, :w].clamp(0.0, 1.0)


#: Core side of a fusion tile per layout. Measured on 2 CPU threads, tiling adds about 500 MB
#: with ``lite`` at 768 (635 MB at 1024, 322 MB at 640 but 20% slower); ``full`` holds 3.2 kB per
#: pixel of its window (640 x 640: about 1.3 GB). 640x480 images still run in one pass.
FUSION_TILES = {"lite": 768, "student": 768, "full": 560}


class Fuser:
    """A loaded fusion network on a device; ``fuse`` takes and returns numpy images.

    Images larger than one tile (``tile``, in pixels a side) are fused in overlapping tiles
    (:mod:`terf_studio.fusion.tiled`): the result equals the whole-image pass, and memory is that
    of one tile plus the output, whatever the image size.
    """

    def __init__(self, net: FusionNet, device: torch.device, weights_path: Path | None = None,
                 tile: int | None = None) -> None:
        # Channels-last makes oneDNN's CPU convolutions ~30% faster for these narrow layers.
        self.memory_format = torch.channels_last if device.type == "cpu" else torch.contiguous_format
        # torch's stub for Module.to lacks memory_format, which Module.to accepts (and passes to each tensor).
        self.net = net.to(device, memory_format=self.memory_format).eval()  # type: ignore[call-overload]
        self.device = device
        self.weights_path = weights_path
        self.tile = tile or FUSION_TILES.get(net.config.name, FUSION_TILES["full"])

    @property
    def arch(self) -> str:
        return self.net.config.name

    @torch.inference_mode()
    def fuse(self, vi: np.ndarray, ir: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """vi (H,W,3) or (H,W) and ir (H,W) -> fused (H,W,3) float32 in [0, 1].

        Inputs may be float in [0, 1], uint8 or uint16 (converted a tile at a time). ``out``, an
        (H,W,3) float32, uint8 or uint16 array, receives the result instead of a new array.
        """
        h, w = ir.shape[:2]
        if out is not None and out.shape != (h, w, 3):
            raise TerfError(f"the output array has shape {out.shape}, expected {(h, w, 3)}")
        if needs_tiles(h, w, self.tile, FUSION_MARGIN):
            target = out if out is not None else np.empty((h, w, 3), np.float32)
            return run_staged_tiles(self.net, [ir, vi], target, self.tile, FUSION_MARGIN, self.device,
                                    self.memory_format, prepare=visible_as_rgb)
        fused = self._fuse_whole(vi, ir)
        if out is None:
            return fused
        out[...] = fused if out.dtype == np.float32 else np.rint(fused * np.iinfo(out.dtype).max)
        return out

    def _fuse_whole(self, vi: np.ndarray, ir: np.ndarray) -> np.ndarray:
        vi_t = to_tensor(vi).to(self.device, memory_format=self.memory_format)
        ir_t = to_tensor(ir).to(self.device, memory_format=self.memory_format)
        return to_numpy(run_network(self.net, ir_t, vi_t).float().cpu())


def load_fuser(arch: str | None = "lite", weights: str | os.PathLike | None = None, device: str = "auto") -> Fuser:
    """Load the registered weights for ``arch`` (or the given file) onto ``device``.

    With ``weights`` given, ``arch`` None takes the network the file describes; an ``arch``
    that differs from it is a ModelError, never a silent run of the other network."""
    path = Path(weights) if weights is not None else require_model(f"fusion-{arch or 'lite'}")
    net, _ = load_network(path, arch=arch)
    return Fuser(net, resolve_device(device), path)
