"""Fast local edits on a large work box, streamed tile by tile into the new image.

Brighten, darken (the trained Retinex units, then a gamma) and blur are local: a pixel's result
depends on a few pixels around it. On a large box (a whole large image) :func:`run_task` would
hold float copies of the box, the decomposition (40 bytes a pixel) and the result at once; here
each tile of the box is read with the context the task needs (:func:`margin_for`), edited, and
its core composited through the mask straight into a copy of the image in its own type, so
memory is one image copy plus a tile. The result equals the unstreamed one (same arithmetic on
every core pixel; tests check it).

What is given up: no continuation state is kept (a repeat starts from the edited image, where a
small edit reapplies its gamma to the kept decomposition) and the fast illumination cache is not
used (it holds images up to 16 MP only, below :data:`STREAM_MIN_PIXELS`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from terf_studio.imaging.io import to_float
from terf_studio.imaging.tiles import tile_grid
from terf_studio.tuning import blur as blur_mod
from terf_studio.tuning import illumination as illum_mod
from terf_studio.tuning.composite import blend
from terf_studio.tuning.control import CancelToken, ProgressFn, report, step_check
from terf_studio.tuning.region import Box

#: Tasks that can be streamed (purely local on the fast engine).
STREAMED_TASKS = ("brighten", "darken", "blur")
#: Boxes above this many pixels are streamed: above the illumination cache's limit, so a box that
#: could come from the cache is never streamed.
STREAM_MIN_PIXELS = 16_000_000
#: Core side of a streamed tile.
STREAM_TILE = 1024


def streams(task: str, engine: str, box: Box, continuing: bool) -> bool:
    """Whether :func:`run_task` streams this edit."""
    return task in STREAMED_TASKS and engine == "fast" and not continuing and box.area > STREAM_MIN_PIXELS


def margin_for(task: str, mode: str | None, strength: float) -> int:
    """Context a tile needs around its core for the core to match the unstreamed result."""
    if task == "blur":
        assert mode is not None
        amount = blur_mod.blur_amount(mode, strength)
        return max(8, blur_mod.context_needed(mode, amount), int(round(amount)))
    from terf_studio.tuning.engines.retinex import RETINEX_MARGIN

    return RETINEX_MARGIN


def run_streamed(
    task: str,
    mode: str | None,
    strength: float,
    fused: np.ndarray,
    mask: np.ndarray,
    box: Box,
    units: torch.nn.Module | None,
    device: torch.device,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    tile: int | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The edited image (``fused``'s type and size) and the task's parameters.

    ``units`` are the fast Retinex units for brighten/darken (None for blur); ``mask`` is the
    full-size mask, whose support lies inside ``box``.
    """
    from terf_studio.tuning.engines.retinex import decompose_fast

    margin = margin_for(task, mode, strength)
    params: dict[str, Any]
    if task == "blur":
        assert mode is not None
        amount = blur_mod.blur_amount(mode, strength)
        params = {"sigma" if mode == "gaussian" else "cell": amount}
    else:
        gamma = illum_mod.gamma_for(task, strength)
        params = {"gamma": gamma, "gamma_step": gamma, "cached": False}
    out = fused.copy()
    tiles = tile_grid(box.height, box.width, tile or STREAM_TILE, margin, align=1)
    for i, t in enumerate(tiles):
        step_check(cancel)
        outer = Box(box.top + t.outer.y0, box.left + t.outer.x0, box.top + t.outer.y1, box.left + t.outer.x1)
        core = Box(box.top + t.core.y0, box.left + t.core.x0, box.top + t.core.y1, box.left + t.core.x1)
        core_mask = mask[core.slices]
        if core_mask.max() <= 0:  # nothing of the region here
            continue
        window = np.array(to_float(fused[outer.slices]), dtype=np.float32)
        if task == "blur":
            assert mode is not None
            edited = blur_mod.apply_blur(window, mode, amount, origin=(outer.top, outer.left))
        else:
            assert isinstance(units, illum_mod.RetinexUnits)
            edited = illum_mod.relight(decompose_fast(units, window, device), gamma)
        inner = t.inner
        out[core.slices] = blend(fused[core.slices], edited[inner.slices], core_mask)
        report(progress, i + 1, len(tiles), 0.0)
    params["streamed_tiles"] = len(tiles)
    return out, params
