"""Overlapping tiles for running convolutional networks on images of any size in bounded memory.

A network whose output at a pixel depends only on inputs within ``r`` pixels (its receptive
radius) gives the same value on a window of the image as on the whole image, at every pixel at
least ``r`` pixels inside the window (or on an edge the window shares with the image, where the
padding is the same). So each tile is run on its *outer* window (the core plus ``margin`` pixels
of context, clipped to the image) and only its *core* is kept: the cores partition the image,
there is nothing to blend and there are no seams. Cores and windows start on multiples of
``align`` so pixel (un)shuffles and 2x pooling see the same 2x2 blocks as on the whole image.

Global operations (a statistic over the whole image) are the caller's business: see
:mod:`terf_studio.fusion.tiled` for the channel attention of the fusion network.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from terf_studio.imaging.color import to_tensor

#: Core side of a tile in pixels when the caller does not choose one.
DEFAULT_TILE = 1024


@dataclass(frozen=True)
class Window:
    """Rows ``y0:y1`` and columns ``x0:x1`` of an image."""

    y0: int
    y1: int
    x0: int
    x1: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def width(self) -> int:
        return self.x1 - self.x0


@dataclass(frozen=True)
class Tile:
    """The part of the image a tile writes (``core``) and the part it reads (``outer``)."""

    core: Window
    outer: Window

    @property
    def inner(self) -> Window:
        """The core in the coordinates of the outer window."""
        o = self.outer
        c = self.core
        return Window(c.y0 - o.y0, c.y1 - o.y0, c.x0 - o.x0, c.x1 - o.x0)


def _starts(n: int, tile: int) -> list[int]:
    return list(range(0, n, tile)) if n > 0 else []


def tile_grid(height: int, width: int, tile: int = DEFAULT_TILE, margin: int = 32, align: int = 2) -> list[Tile]:
    """Tiles whose cores (``tile`` x ``tile``, smaller at the bottom and right) cover the image once."""
    if tile <= 0 or margin < 0 or align <= 0:
        raise ValueError("tile must be positive, margin non-negative and align positive")
    tile = max(align, tile - tile % align)
    margin = margin + (-margin) % align
    tiles = []
    for y0 in _starts(height, tile):
        y1 = min(y0 + tile, height)
        for x0 in _starts(width, tile):
            x1 = min(x0 + tile, width)
            outer = Window(max(0, y0 - margin), min(height, y1 + margin), max(0, x0 - margin), min(width, x1 + margin))
            tiles.append(Tile(Window(y0, y1, x0, x1), outer))
    return tiles


def needs_tiles(height: int, width: int, tile: int, margin: int) -> bool:
    """Whether an image is larger than one tile with its context (smaller ones run whole)."""
    return height * width > (tile + 2 * margin) ** 2


def window_tensor(image: np.ndarray, window: Window, device: torch.device | str = "cpu",
                  memory_format: torch.memory_format = torch.contiguous_format) -> torch.Tensor:
    """``image[window]`` as a (1, C, h, w) float32 tensor in [0, 1] (uint8, uint16 or float input):
    only the window is ever converted, never the whole image."""
    return to_tensor(image[window.slices]).to(device, memory_format=memory_format)


def store(out: np.ndarray, window: Window, values: torch.Tensor) -> None:
    """Write a (1, C, h, w) tensor in [0, 1] into ``out[window]`` (float, uint8 or uint16 ``out``)."""
    chw = values.detach().to("cpu", torch.float32)[0]
    hwc = chw[0] if out.ndim == 2 else chw.permute(1, 2, 0)
    array = hwc.numpy()
    if out.dtype == np.uint8:
        array = np.rint(np.clip(array, 0.0, 1.0) * 255.0)
    elif out.dtype == np.uint16:
        array = np.rint(np.clip(array, 0.0, 1.0) * 65535.0)
    out[window.slices] = array


def map_tiles(forward: Callable[..., torch.Tensor], inputs: Sequence[np.ndarray], out: np.ndarray,
              tile: int, margin: int, align: int = 2, device: torch.device | str = "cpu",
              memory_format: torch.memory_format = torch.contiguous_format) -> np.ndarray:
    """Run a purely local ``forward(*tensors) -> (1, C, h, w)`` over overlapping tiles into ``out``.

    ``margin`` must be at least ``forward``'s receptive radius; then ``out`` equals the untiled
    result up to float rounding. ``forward`` must accept any window size (pad inside if needed).
    """
    height, width = inputs[0].shape[:2]
    for t in tile_grid(height, width, tile, margin, align):
        tensors = [window_tensor(a, t.outer, device, memory_format) for a in inputs]
        inner = t.inner
        store(out, t.core, forward(*tensors)[..., inner.y0 : inner.y1, inner.x0 : inner.x1])
    return out
