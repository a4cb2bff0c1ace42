"""Fast edits on a large work box, streamed tile by tile into the new image.

Brighten, darken (the trained Retinex units, then a gamma) and blur are local: a pixel's result
depends on a few pixels around it. On a large box (a whole large image) :func:`run_task` would
hold float copies of the box, the decomposition (40 bytes a pixel) and the result at once; here
each tile of the box is read with the context the task needs (:func:`margin_for`), edited, and
its core composited through the mask straight into a copy of the image in its own type, so
memory is one image copy plus a tile. The result equals the unstreamed one (same arithmetic on
every core pixel; tests check it).

Infrared and visible (the conditioned fusion network) are not local: the network's channel
attention sums over the whole box. They run through the same staged tiles as an unstreamed large
box (:func:`terf_studio.fusion.tiled.run_staged_tiles`), but read the pair's 16-bit pixels and the
mask's lambda a window at a time and composite each core as it comes out. Denoise takes its noise
level from the whole box first (a band at a time), then denoises each window with 16 pixels of
context a pass; in visible mode those windows feed the staged fusion (so each is denoised once per
fusion pass: some more seconds, no whole-box array).

What is given up: no continuation state is kept (a repeat starts from the edited image, where a
small edit reapplies its gamma to the kept decomposition) and the fast illumination cache is not
used (it holds images up to 16 MP only, below :data:`STREAM_MIN_PIXELS`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np
import torch

from terf_studio.imaging import store
from terf_studio.imaging.color import LUMA_WEIGHTS
from terf_studio.imaging.io import to_float
from terf_studio.imaging.tiles import tile_grid
from terf_studio.tuning import blur as blur_mod
from terf_studio.tuning import illumination as illum_mod
from terf_studio.tuning.composite import blend
from terf_studio.tuning.control import CancelToken, ProgressFn, report, step_check
from terf_studio.tuning.region import Box

#: Tasks that can be streamed on the fast engine.
STREAMED_TASKS = ("brighten", "darken", "blur", "infrared", "visible", "denoise")
#: Boxes above this many pixels are streamed: above the illumination cache's limit, so a box that
#: could come from the cache is never streamed.
STREAM_MIN_PIXELS = 16_000_000
#: Core side of a streamed tile.
STREAM_TILE = 1024


def streams(task: str, engine: str, box: Box, continuing: bool) -> bool:
    """Whether :func:`run_task` streams this edit (blur is the same on every engine)."""
    return (task in STREAMED_TASKS and (engine == "fast" or task == "blur") and not continuing
            and box.area > STREAM_MIN_PIXELS)


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
    vi: np.ndarray,
    ir: np.ndarray,
    fused: np.ndarray,
    mask: np.ndarray,
    box: Box,
    units: torch.nn.Module | None,
    device: torch.device,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    tile: int | None = None,
    fusion_net: Any = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The edited image (``fused``'s type and size) and the task's parameters.

    ``units`` are the fast engine's module (Retinex units for brighten/darken, the conditioned
    fusion for infrared/visible; None for blur); ``mask`` is the full-size mask, whose support lies
    inside ``box``.
    """
    from terf_studio.tuning.engines.retinex import decompose_fast

    if task == "denoise":
        step_check(cancel)
        assert mode is not None
        return _denoise_streamed(mode, strength, vi, ir, fused, mask, box, units, fusion_net, device, progress, cancel)
    if task in ("infrared", "visible"):
        step_check(cancel)
        image, count = _incline_streamed(task, strength, vi, ir, fused, mask, box, units, device)
        report(progress, 1, 1, 0.0)
        return image, {"lambda": round(min(1.0, strength), 4), "streamed_tiles": count}
    edit: Callable[[np.ndarray, tuple[slice, slice]], np.ndarray]
    params: dict[str, Any]
    if task == "blur":
        assert mode is not None
        blur_mode, amount = mode, blur_mod.blur_amount(mode, strength)
        params = {"sigma" if mode == "gaussian" else "cell": amount}

        def edit(window: np.ndarray, where: tuple[slice, slice]) -> np.ndarray:
            return blur_mod.apply_blur(window, blur_mode, amount, origin=(where[0].start, where[1].start))
    else:
        assert isinstance(units, illum_mod.RetinexUnits)
        retinex, gamma = units, illum_mod.gamma_for(task, strength)
        params = {"gamma": gamma, "gamma_step": gamma, "cached": False}

        def edit(window: np.ndarray, where: tuple[slice, slice]) -> np.ndarray:
            return illum_mod.relight(decompose_fast(retinex, window, device), gamma)
    out, params["streamed_tiles"] = local_streamed(fused, mask, box, margin_for(task, mode, strength), edit,
                                                    tile or STREAM_TILE, progress, cancel)
    return out, params


def _in_image(box: Box, rows: slice, cols: slice) -> tuple[slice, slice]:
    """Rows and columns given in ``box``'s coordinates, in the image's."""
    return (slice(box.top + rows.start, box.top + rows.stop), slice(box.left + cols.start, box.left + cols.stop))


def local_streamed(fused: np.ndarray, mask: np.ndarray, box: Box, margin: int,
                    edit: Callable[[np.ndarray, tuple[slice, slice]], np.ndarray], tile: int,
                    progress: ProgressFn | None, cancel: CancelToken | None) -> tuple[np.ndarray, int]:
    """A local edit over ``box``, tile by tile: ``edit(window, where)`` gets each tile's float32
    window of ``fused`` (its core plus ``margin``; ``where`` its place in the image) and returns
    the edited window, whose core is composited through the mask into a copy of ``fused``.
    Returns that copy and the number of tiles."""
    out = store.copy_of(fused)
    tiles = tile_grid(box.height, box.width, tile, margin, align=2)  # even: the denoiser's 2x2 cells
    for i, t in enumerate(tiles):
        step_check(cancel)
        core = _in_image(box, *t.core.slices)
        core_mask = mask[core]
        if core_mask.max() > 0:  # some of the region is here
            outer = _in_image(box, *t.outer.slices)
            edited = edit(np.array(to_float(fused[outer]), dtype=np.float32), outer)
            out[core] = blend(fused[core], edited[t.inner.slices], core_mask)
        report(progress, i + 1, len(tiles), 0.0)
    return out, len(tiles)


class BoxView:
    """``image`` seen from ``box``: ``view[rows, cols]`` (box coordinates) is a float32 window,
    scaled by ``factor`` and clipped to [-1, 1] when ``factor`` is given (the lambda map of a mask)."""

    def __init__(self, image: np.ndarray, box: Box, factor: float | None = None, grey: bool = False) -> None:
        self.image, self.box, self.factor, self.grey = image, box, factor, grey
        self.shape = (box.height, box.width) + (() if grey else tuple(image.shape[2:]))

    def __getitem__(self, window: tuple[slice, slice]) -> np.ndarray:
        part = self.image[_in_image(self.box, *window)]
        if self.grey and part.ndim == 3:  # an RGB infrared image: its luma, as the crops take it
            part = to_float(part)
            part = part[..., 0] if part.shape[2] == 1 else part @ np.asarray(LUMA_WEIGHTS, dtype=np.float32)
        if self.factor is None:
            return np.ascontiguousarray(part)
        return np.clip(np.float32(self.factor) * part, -1.0, 1.0).astype(np.float32)


class BlendSink:
    """Where the staged tiles store their cores: each core is composited through the mask into
    ``out`` at once (the same arithmetic as :func:`~terf_studio.tuning.composite.paste`)."""

    dtype = np.dtype(np.float32)
    ndim = 3

    def __init__(self, out: np.ndarray, fused: np.ndarray, mask: np.ndarray, box: Box) -> None:
        self.out, self.fused, self.mask, self.box = out, fused, mask, box

    def __setitem__(self, window: tuple[slice, slice], values: np.ndarray) -> None:
        where = _in_image(self.box, *window)
        self.out[where] = blend(self.fused[where], values, self.mask[where])


def _incline_streamed(task: str, strength: float, vi: np.ndarray, ir: np.ndarray, fused: np.ndarray,
                      mask: np.ndarray, box: Box, net: torch.nn.Module | None,
                      device: torch.device) -> tuple[np.ndarray, int]:
    from terf_studio.tuning.engines.conditioned import INCLINATION_TILE, ConditionedFusion
    from terf_studio.tuning.runners import LAMBDA_PER_STRENGTH

    assert isinstance(net, ConditionedFusion)
    sign = 1.0 if task == "infrared" else -1.0
    lam = BoxView(mask, box, sign * LAMBDA_PER_STRENGTH * strength)
    inputs: list[Any] = [BoxView(ir, box, grey=True), BoxView(vi, box), lam]
    return staged_into(net, inputs, fused, mask, box, device, INCLINATION_TILE)


def staged_into(net: Any, inputs: list[Any], fused: np.ndarray, mask: np.ndarray, box: Box,
                device: torch.device, tile: int | None = None) -> tuple[np.ndarray, int]:
    """``net`` (a fusion network, run in staged tiles of ``tile``; default: its architecture's
    fusion tile) on ``inputs`` (views of ``box``), each core composited through the mask into a
    copy of ``fused``. Returns that copy and the number of tiles."""
    from terf_studio.fusion.inference import FUSION_TILES
    from terf_studio.fusion.tiled import FUSION_MARGIN, run_staged_tiles, visible_as_rgb

    tile = tile or FUSION_TILES.get(net.config.name, FUSION_TILES["full"])
    out = store.copy_of(fused)
    with torch.inference_mode():
        run_staged_tiles(net, inputs, cast(np.ndarray, BlendSink(out, fused, mask, box)), tile, FUSION_MARGIN,
                         device, prepare=visible_as_rgb)
    return out, len(tile_grid(box.height, box.width, tile, FUSION_MARGIN, align=2))


def float_rgb(window: np.ndarray) -> np.ndarray:
    """A stored window as a new float32 RGB array: a grey one as three equal channels."""
    window = np.array(to_float(window), dtype=np.float32)
    return np.repeat(window[..., None], 3, axis=2) if window.ndim == 2 else window


class DenoisedView:
    """Windows of ``source[box]`` as the fast denoise leaves them: each window is denoised with
    enough context around it (16 pixels a pass) to equal the whole box's denoise inside it."""

    def __init__(self, source: np.ndarray, box: Box, denoise: Callable[[np.ndarray], np.ndarray],
                 context: int) -> None:
        self.source, self.box, self.denoise, self.context = source, box, denoise, context
        self.shape = (box.height, box.width, 3)

    def __getitem__(self, window: tuple[slice, slice]) -> np.ndarray:
        rows, cols = window
        c, b = self.context, self.box
        y0, x0 = max(0, rows.start - c), max(0, cols.start - c)
        y1, x1 = min(b.height, rows.stop + c), min(b.width, cols.stop + c)
        out = self.denoise(float_rgb(self.source[_in_image(b, slice(y0, y1), slice(x0, x1))]))
        return np.ascontiguousarray(out[rows.start - y0 : rows.stop - y0, cols.start - x0 : cols.stop - x0])


def _denoise_streamed(mode: str, strength: float, vi: np.ndarray, ir: np.ndarray, fused: np.ndarray,
                      mask: np.ndarray, box: Box, net: torch.nn.Module | None, fusion_net: Any,
                      device: torch.device, progress: ProgressFn | None,
                      cancel: CancelToken | None) -> tuple[np.ndarray, dict[str, Any]]:
    """Denoise the visible image and fuse it again (``visible``), or denoise the image (``fused``)."""
    from terf_studio.tuning.engines.denoiser import (
        DENOISE_MARGIN,
        NoiseConditionedDenoiser,
        denoise_with_strength,
        estimate_sigma,
        passes_for,
    )
    from terf_studio.tuning.runners import fusion_net_on

    assert isinstance(net, NoiseConditionedDenoiser)
    denoiser = net
    source = vi if mode == "visible" else fused
    sigma = estimate_sigma(source[box.slices])  # a grey visible image: as its three equal channels
    context = DENOISE_MARGIN * passes_for(strength)
    params: dict[str, Any] = {"sigma": round(sigma * 255.0, 2), "strength_total": round(strength, 4)}

    def denoise(window: np.ndarray, where: Any = None) -> np.ndarray:
        return denoise_with_strength(denoiser, window, sigma, strength, device)

    if mode == "fused":
        out, params["streamed_tiles"] = local_streamed(fused, mask, box, context, denoise, STREAM_TILE,
                                                        progress, cancel)
        return out, params
    base = fusion_net_on(fusion_net, device)
    inputs: list[Any] = [BoxView(ir, box, grey=True), DenoisedView(source, box, denoise, context)]
    out, params["streamed_tiles"] = staged_into(base, inputs, fused, mask, box, device)
    report(progress, 1, 1, 0.0)
    return out, params
