"""Fine-tuning (quick, exact) on a box too large to train on whole: crops to train, tiles to apply.

The paper's fine-tuning optimises networks on the whole region, and its autograd graph takes far
more memory than the image (about 1.6-2.5 GB a megapixel on the CPU, see
:mod:`terf_studio.tuning.budget`). Above the fine-tuning budget the same networks, from the same
start, with the same losses, learning rates and counts, are trained instead on a random crop of
the box at each step (at most :data:`CROP_SIDE` pixels a side, centred on a part of the box
where the region is), and the trained network is then applied to the whole box the way the fast
engines stream theirs (:mod:`terf_studio.tuning.streamed`): brighten/darken and denoise tile by
tile with the units' context around each tile, infrared/visible through the fusion network's
staged tiles. Memory is one image copy plus a crop's graph and a tile.

What differs from whole-box fine-tuning: each step sees a crop rather than the whole box (a
stochastic version of the same optimisation), the brighten/darken units are trained at full
resolution (quick does not halve the image: a crop already bounds the cost), and no
continuation state is kept: a repeat starts from the edited image, as a streamed fast edit does.
With crops as large as the box, the result equals whole-box fine-tuning (tests check it).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

from terf_studio.fusion.inference import pad_to_multiple
from terf_studio.fusion.losses import FusionLoss
from terf_studio.imaging.color import to_numpy, to_tensor
from terf_studio.imaging.io import to_float
from terf_studio.tuning import denoise as denoise_mod
from terf_studio.tuning import illumination as illum_mod
from terf_studio.tuning import inclination as incl_mod
from terf_studio.tuning.control import CancelToken, ProgressFn
from terf_studio.tuning.region import Box
from terf_studio.tuning.streamed import STREAM_TILE, BoxView, DenoisedView, float_rgb, local_streamed, staged_into
from terf_studio.tuning.units import fit, xavier_init

#: The largest side of a training crop (0.26 MP: about 0.9 GB of graph for brighten).
CROP_SIDE = 512
#: Side of the blocks a crop's centre is drawn from (those where the region is).
BLOCK = 32
#: Context around a tile for the denoising unit (receptive radius 2: two 3x3 convolutions).
DENOISE_UNIT_MARGIN = 8


class CropSampler:
    """Random crops of ``box`` (windows in the box's coordinates, even-aligned, at most ``side``
    a side), each centred on a random block of :data:`BLOCK` pixels a side where ``mask`` is
    above 0 (the whole box when the mask is empty there)."""

    def __init__(self, box: Box, mask: np.ndarray, side: int, seed: int) -> None:
        self.box = box
        self.height = min(box.height, side) // 2 * 2 or box.height
        self.width = min(box.width, side) // 2 * 2 or box.width
        self.rng = np.random.default_rng(seed)
        self.blocks = _blocks_with_support(mask, box)

    def window(self) -> tuple[slice, slice]:
        b = self.box
        if len(self.blocks):
            by, bx = self.blocks[int(self.rng.integers(len(self.blocks)))]
            y = min(b.height - 1, int(by) * BLOCK + int(self.rng.integers(BLOCK)))
            x = min(b.width - 1, int(bx) * BLOCK + int(self.rng.integers(BLOCK)))
        else:
            y, x = int(self.rng.integers(b.height)), int(self.rng.integers(b.width))
        top = min(max(0, y - self.height // 2), b.height - self.height) // 2 * 2
        left = min(max(0, x - self.width // 2), b.width - self.width) // 2 * 2
        return slice(top, top + self.height), slice(left, left + self.width)


def _blocks_with_support(mask: np.ndarray, box: Box) -> np.ndarray:
    """(row, column) of each BLOCK x BLOCK block of ``box`` where ``mask`` is above 0, read a band
    of rows at a time (a large mask may be on disk)."""
    columns = -(-box.width // BLOCK)
    found = []
    for top in range(0, box.height, BLOCK):
        band = np.asarray(mask[box.top + top : min(box.bottom, box.top + top + BLOCK), box.left : box.right]) > 0
        padded = np.zeros((band.shape[0], columns * BLOCK), bool)
        padded[:, : box.width] = band
        hit = np.flatnonzero(padded.reshape(band.shape[0], columns, BLOCK).any(axis=(0, 2)))
        found.append(np.stack([np.full(hit.shape, top // BLOCK), hit], axis=1))
    return np.concatenate(found) if found else np.zeros((0, 2), np.int64)


def run_sampled(
    task: str,
    mode: str | None,
    strength: float,
    iterations: int,
    vi: np.ndarray,
    ir: np.ndarray,
    fused: np.ndarray,
    mask: np.ndarray,
    box: Box,
    *,
    fusion_net: Any,
    start: torch.nn.Module | None,
    device: torch.device,
    seed: int = 0,
    side: int | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> tuple[np.ndarray, float, dict[str, Any]]:
    """The edited image (``fused``'s type and size), the last training loss and the parameters.

    ``mask`` is the full-size mask, whose support lies inside ``box``; ``start`` the warm start
    of brighten/darken (or None); ``fusion_net`` the FusionNet infrared/visible fine-tune a copy
    of, and denoise's visible mode fuses with."""
    sampler = CropSampler(box, mask, side or CROP_SIDE, seed)
    params: dict[str, Any] = {"sampled_crop": f"{sampler.width}x{sampler.height}", "sampled_steps": iterations}
    if task in ("brighten", "darken"):
        out, loss = _relight_sampled(task, strength, iterations, fused, mask, box, sampler, start, device, seed,
                                     progress, cancel)
        params.update(gamma=illum_mod.gamma_for(task, strength), warm_start=start is not None)
    elif task in ("infrared", "visible"):
        out, loss = _incline_sampled(task, iterations, vi, ir, fused, mask, box, sampler, fusion_net, device,
                                     progress, cancel)
        params.update(epochs=iterations, lr=incl_mod.LR)
    elif task == "denoise":
        assert mode is not None
        out, loss = _denoise_sampled(mode, iterations, vi, ir, fused, mask, box, sampler, fusion_net, device, seed,
                                     progress, cancel)
        params.update(iterations=iterations)
    else:
        raise ValueError(f"{task} does not fine-tune")
    return out, loss, params


def _crop_of(image: np.ndarray, box: Box, window: tuple[slice, slice], device: torch.device) -> torch.Tensor:
    return to_tensor(float_rgb(BoxView(image, box)[window])).to(device)


def _relight_sampled(task: str, strength: float, iterations: int, fused: np.ndarray, mask: np.ndarray, box: Box,
                     sampler: CropSampler, start: torch.nn.Module | None, device: torch.device, seed: int,
                     progress: ProgressFn | None, cancel: CancelToken | None) -> tuple[np.ndarray, float]:
    from terf_studio.tuning.engines.retinex import RETINEX_MARGIN, decompose_fast

    warm = start if isinstance(start, illum_mod.RetinexUnits) else None
    units = illum_mod.starting_units(warm, seed).to(device).train()

    def loss_at(_: int) -> torch.Tensor:
        crop = _crop_of(fused, box, sampler.window(), device)
        return illum_mod.RetinexLoss(crop)(*units(crop))

    lr = illum_mod.WARM_LR if warm is not None else illum_mod.LR
    loss = fit(units.parameters(), loss_at, iterations, lr, progress, cancel)
    units.eval()
    gamma = illum_mod.gamma_for(task, strength)

    def edit(window: np.ndarray, where: Any) -> np.ndarray:
        with torch.no_grad():
            return illum_mod.relight(decompose_fast(units, window, device), gamma)

    out, _ = local_streamed(fused, mask, box, RETINEX_MARGIN, edit, STREAM_TILE, None, cancel)
    return out, loss


def _incline_sampled(task: str, epochs: int, vi: np.ndarray, ir: np.ndarray, fused: np.ndarray, mask: np.ndarray,
                     box: Box, sampler: CropSampler, fusion_net: Any, device: torch.device,
                     progress: ProgressFn | None, cancel: CancelToken | None) -> tuple[np.ndarray, float]:
    from terf_studio.tuning.runners import fusion_net_of

    model = copy.deepcopy(fusion_net_of(fusion_net)).to(device).train()
    for p in model.parameters():
        p.requires_grad_(True)
    criterion = FusionLoss(mode=task)
    infrared, visible = BoxView(ir, box, grey=True), BoxView(vi, box)

    def loss_at(_: int) -> torch.Tensor:
        window = sampler.window()
        ir_t = to_tensor(np.asarray(to_float(infrared[window]), dtype=np.float32)).to(device)
        vi_t = to_tensor(float_rgb(visible[window])).to(device)
        h, w = ir_t.shape[-2:]
        ir_p = pad_to_multiple(ir_t, model.config.multiple)[0]
        vi_p = pad_to_multiple(vi_t, model.config.multiple)[0]
        return criterion(model(ir_p, vi_p)[..., :h, :w], ir_t, vi_t)[0]

    loss = fit(model.parameters(), loss_at, epochs, incl_mod.LR, progress, cancel)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return staged_into(model, [infrared, visible], fused, mask, box, device)[0], loss


def _denoise_sampled(mode: str, iterations: int, vi: np.ndarray, ir: np.ndarray, fused: np.ndarray,
                     mask: np.ndarray, box: Box, sampler: CropSampler, fusion_net: Any, device: torch.device,
                     seed: int, progress: ProgressFn | None, cancel: CancelToken | None) -> tuple[np.ndarray, float]:
    from terf_studio.tuning.runners import fusion_net_on

    source = vi if mode == "visible" else fused
    unit = xavier_init(denoise_mod.N2NUnit(3), seed).to(device).train()

    def loss_at(_: int) -> torch.Tensor:
        return denoise_mod.n2n_loss(unit, _crop_of(source, box, sampler.window(), device))

    loss = fit(unit.parameters(), loss_at, iterations, denoise_mod.LR, progress, cancel)
    unit.eval()

    def clean(window: np.ndarray, where: Any = None) -> np.ndarray:
        with torch.no_grad():
            x = to_tensor(float_rgb(window)).to(device)
            return to_numpy((x - unit(x)).clamp(0.0, 1.0).cpu())

    if mode == "fused":
        out, _ = local_streamed(fused, mask, box, DENOISE_UNIT_MARGIN, clean, STREAM_TILE, None, cancel)
        return out, loss
    inputs: list[Any] = [BoxView(ir, box, grey=True), DenoisedView(source, box, clean, DENOISE_UNIT_MARGIN)]
    return staged_into(fusion_net_on(fusion_net, device), inputs, fused, mask, box, device)[0], loss
