"""The fusion networks on overlapping tiles, equal to the whole-image pass.

Everything in the fusion network is a convolution (local: a 31-pixel receptive radius for both
layouts, 32 for the student) except the channel attention of each transformer block, whose
C x C matrix comes from ``q k^T`` and the norms of ``q`` and ``k`` summed over *every* pixel of
the image. A tile alone would get a different matrix (and a visibly different image). So the
tiles are run in passes:

1. for each transformer block in turn, every tile is run up to that block (earlier blocks with
   their whole-image matrices) and the block's sums are added up over the tiles' cores;
2. a last pass runs each tile through the whole network with the whole-image matrices and keeps
   its core.

With one transformer block (the ``lite`` layout) that is two passes, the first one stopping
before the decoder; memory is that of one tile plus the output array, at any image size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from terf_studio.fusion.network import FusionNet
from terf_studio.imaging.color import to_numpy, to_tensor
from terf_studio.imaging.tiles import Tile, needs_tiles, store, tile_grid, window_tensor

#: Context around each tile's core: at least the networks' receptive radius (31 pixels; a test
#: checks that a change to one pixel reaches no further), rounded up with some slack.
FUSION_MARGIN = 40


class StagedNetwork(Protocol):
    """A network split at its transformer blocks (:class:`~terf_studio.fusion.network.FusionNet`)."""

    @property
    def blocks(self) -> Sequence[Any]: ...

    @property
    def encode(self) -> Callable[..., tuple[torch.Tensor, Any]]:
        """``encode(*inputs) -> (input of the first block, context)``"""

    @property
    def decode(self) -> Callable[..., torch.Tensor]:
        """``decode(output of the last block, context) -> output``"""


def _pad_even(t: torch.Tensor, mode: str) -> torch.Tensor:
    """Pad the bottom and right to even sides, as the whole-image pass pads the whole image."""
    h, w = t.shape[-2:]
    ph, pw = h % 2, w % 2
    if not (ph or pw):
        return t
    if mode == "reflect" and not (h > ph and w > pw):
        mode = "replicate"
    return F.pad(t, (0, pw, 0, ph), mode=mode)


def run_staged_tiles(
    net: StagedNetwork,
    inputs: Sequence[np.ndarray],
    out: np.ndarray,
    tile: int,
    margin: int = FUSION_MARGIN,
    device: torch.device | str = "cpu",
    memory_format: torch.memory_format = torch.contiguous_format,
    prepare: Callable[[list[torch.Tensor]], list[torch.Tensor]] | None = None,
    pad_mode: str = "reflect",
) -> np.ndarray:
    """``net`` on ``inputs`` (numpy images of one size, each converted a window at a time) into
    ``out`` (H, W, C), the result clamped to [0, 1]. ``prepare`` adjusts each window's tensors
    (e.g. a grey visible image to three channels) before they are padded to even sides."""
    height, width = inputs[0].shape[:2]
    tiles = tile_grid(height, width, tile, margin, align=2)
    blocks = list(net.blocks)

    def window_inputs(t: Tile) -> list[torch.Tensor]:
        tensors = [window_tensor(a, t.outer, device, memory_format) for a in inputs]
        if prepare is not None:
            tensors = prepare(tensors)
        return [_pad_even(x, pad_mode) for x in tensors]

    matrices: list[torch.Tensor] = []
    for k, block in enumerate(blocks):
        sums: list[torch.Tensor] | None = None
        for t in tiles:
            tensors = window_inputs(t)
            g, _ = net.encode(*tensors)
            for j in range(k):
                g = blocks[j](g, matrices[j])
            scale = tensors[0].shape[-2] // g.shape[-2]  # 2 for the half-resolution body
            inner = t.inner
            # The core in feature coordinates; at the bottom and right the padded row/column
            # belongs to the core, as it does to the whole padded image.
            rows = slice(inner.y0 // scale, -(-inner.y1 // scale))
            cols = slice(inner.x0 // scale, -(-inner.x1 // scale))
            part = block.statistics(g, rows, cols)
            sums = list(part) if sums is None else [a + b for a, b in zip(sums, part)]
        assert sums is not None
        matrices.append(block.attn.matrix(*sums))

    for t in tiles:
        tensors = window_inputs(t)
        g, context = net.encode(*tensors)
        for block, matrix in zip(blocks, matrices):
            g = block(g, matrix)
        inner = t.inner
        y = net.decode(g, context)[..., inner.y0 : inner.y1, inner.x0 : inner.x1]
        store(out, t.core, y.clamp(0.0, 1.0))
    return out


@torch.inference_mode()
def fuse_arrays(net: FusionNet, vi: np.ndarray, ir: np.ndarray, device: torch.device | str = "cpu",
                tile: int | None = None) -> np.ndarray:
    """Fuse numpy images with ``net`` as it is (no device or layout change): one pass when the
    image fits in one tile, else overlapping tiles. (H, W, 3) float32 in [0, 1]."""
    from terf_studio.fusion.inference import FUSION_TILES, run_network

    tile = tile or FUSION_TILES.get(net.config.name, FUSION_TILES["full"])
    h, w = ir.shape[:2]
    if needs_tiles(h, w, tile, FUSION_MARGIN):
        out = np.empty((h, w, 3), np.float32)
        return run_staged_tiles(net, [ir, vi], out, tile, FUSION_MARGIN, device, prepare=visible_as_rgb)
    fused = run_network(net, to_tensor(ir).to(device), to_tensor(vi).to(device))
    return to_numpy(fused.float())


def visible_as_rgb(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    """(ir, vi, ...) with a grey visible window repeated to three channels."""
    tensors = list(tensors)
    if tensors[1].shape[1] == 1:
        tensors[1] = tensors[1].expand(-1, 3, -1, -1)
    return tensors
