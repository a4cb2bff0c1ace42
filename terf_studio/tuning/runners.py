"""The tasks on a crop: one runner per task and engine, called by :func:`terf_studio.tuning.run_task`.

Each runner takes a :class:`TaskInput` (the crops of the pair, image and mask, the strength, the
payload being continued) and returns a :class:`RunOutput`; it never modifies ``inp.previous``.
``RUNNERS`` are the fine-tuning engines (quick and exact differ only in their counts and, for
brighten/darken, the training resolution), ``FAST_RUNNERS`` the trained ones.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import torch

from terf_studio.errors import TerfError
from terf_studio.fusion.inference import Fuser
from terf_studio.fusion.network import FusionConfig, FusionNet
from terf_studio.fusion.tiled import fuse_arrays
from terf_studio.tuning import blur as blur_mod
from terf_studio.tuning import denoise as denoise_mod
from terf_studio.tuning import illumination as illum_mod
from terf_studio.tuning import inclination as incl_mod
from terf_studio.tuning.control import CancelToken, ProgressFn, report, step_check
from terf_studio.tuning.region import Box
from terf_studio.tuning.specs import TaskSpec

#: Quick brighten / darken train the units at half resolution (a quarter of the cost).
QUICK_ILLUMINATION_SCALE = 2

#: A fast inclination command of strength s adds ``s * LAMBDA_PER_STRENGTH`` (signed) to the
#: lambda map inside its mask (lambda is clipped to [-1, 1], the range it was trained on, so a repeat
#: after strength 1 cannot lean further); how it was chosen: models/README.md.
LAMBDA_PER_STRENGTH = 1.0


def fusion_net_of(fusion_net: FusionNet | Fuser | None) -> FusionNet:
    if isinstance(fusion_net, Fuser):
        return fusion_net.net
    if isinstance(fusion_net, FusionNet):
        return fusion_net
    if fusion_net is None:
        from terf_studio.fusion.inference import load_fuser

        return load_fuser("lite", device="cpu").net
    raise TerfError(f"fusion_net must be a FusionNet or a Fuser, not {type(fusion_net).__name__}")


@dataclass(frozen=True, eq=False)
class TaskInput:
    """What a runner gets: the task, its engine, and the crops of the pair, image and mask.

    ``vi``, ``ir`` and ``fused`` are float32 crops made on first use from ``crops`` (a function of
    which one: "vi", "ir" or "fused"), so a task that reads only the image being edited (brighten,
    blur) never converts the pair's crops: on a whole large image those are gigabytes."""

    spec: TaskSpec
    mode: str | None
    engine: str
    crops: Callable[[str], np.ndarray]
    mask: np.ndarray  # (h, w) crop of the mask
    whole: np.ndarray  # the whole image being edited (the fast illumination cache is keyed by it)
    box: Box
    strength: float
    iterations: int
    previous: Mapping[str, Any] | None  # the payload being continued, never modified
    fusion_net: FusionNet | Fuser | None
    device: torch.device
    progress: ProgressFn | None
    cancel: CancelToken | None
    seed: int
    exact: bool
    start: torch.nn.Module | None = None  # the fast engine's module a fine-tuning run starts from

    @cached_property
    def vi(self) -> np.ndarray:
        """(h, w, 3) float32 crop of the visible image."""
        return self.crops("vi")

    @cached_property
    def ir(self) -> np.ndarray:
        """(h, w) float32 crop of the infrared image."""
        return self.crops("ir")

    @cached_property
    def fused(self) -> np.ndarray:
        """(h, w, 3) float32 crop of the image being edited."""
        return self.crops("fused")


@dataclass(frozen=True, eq=False)
class RunOutput:
    raw: np.ndarray  # the task's output on the box
    payload: dict[str, Any]  # what a continuation needs (CPU tensors, numbers)
    loss: float | None
    params: dict[str, Any]


def fast_module(spec: TaskSpec, inp_device: torch.device, fusion_net: FusionNet | Fuser | None) -> torch.nn.Module:
    from terf_studio.tuning.engines.loader import fast_engine

    assert spec.fast_model is not None
    if spec.fast_model != "fast-inclination":
        return fast_engine(spec.fast_model, inp_device)
    # The inclination layers fit one fusion network: the one for the network in use.
    base = fusion_net_of(fusion_net)
    return fast_engine(f"fast-inclination-{base.config.name}", inp_device, base=base)


def _tensor(array: np.ndarray) -> torch.Tensor:
    """A CPU tensor holding its own copy of ``array`` (payloads hold tensors so they serialise)."""
    return torch.from_numpy(np.array(array, dtype=np.float32, copy=True))


def fusion_net_on(fusion_net: FusionNet | Fuser | None, device: torch.device) -> FusionNet:
    """The fusion network on ``device`` (a copy when it lives elsewhere; the caller's is not moved)."""
    net = fusion_net_of(fusion_net)
    if next(net.parameters()).device != device:
        net = copy.deepcopy(net).to(device)
    return net


def _fuse_crop(
    fusion_net: FusionNet | Fuser | None, ir: np.ndarray, vi: np.ndarray, device: torch.device
) -> np.ndarray:
    return fuse_arrays(fusion_net_on(fusion_net, device), vi, ir, device)  # in tiles on a large crop


# --- the tasks on a crop ---------------------------------------------------------------------
# Each returns a RunOutput and never modifies ``inp.previous``.


def _run_inclination(inp: TaskInput) -> RunOutput:
    if inp.previous is not None:
        net = FusionNet(FusionConfig(**inp.previous["config"]))
        weights = inp.previous["weights"]
    else:
        net = fusion_net_of(inp.fusion_net)
        weights = None
    out = incl_mod.incline(
        net, inp.vi, inp.ir, towards=inp.spec.name, epochs=inp.iterations, weights=weights, device=inp.device,
        progress=inp.progress, cancel=inp.cancel,
    )
    payload = {"config": net.config.to_dict(), "weights": out.weights}
    return RunOutput(out.image, payload, out.loss if inp.iterations else None,
                     {"epochs": inp.iterations, "lr": incl_mod.LR})


def _run_inclination_fast(inp: TaskInput) -> RunOutput:
    from terf_studio.tuning.engines.conditioned import ConditionedFusion, incline_fast

    net = fast_module(inp.spec, inp.device, inp.fusion_net)
    assert isinstance(net, ConditionedFusion)
    sign = 1.0 if inp.spec.name == "infrared" else -1.0
    lam = inp.previous["lambda"].numpy() if inp.previous is not None else np.zeros(inp.mask.shape, np.float32)
    lam = np.clip(lam + sign * LAMBDA_PER_STRENGTH * inp.strength * inp.mask, -1.0, 1.0).astype(np.float32)
    step_check(inp.cancel)
    raw = incline_fast(net, inp.vi, inp.ir, lam, inp.device)
    report(inp.progress, 1, 1, 0.0)
    return RunOutput(raw, {"lambda": _tensor(lam)}, None, {"lambda": round(float(np.abs(lam).max()), 4)})


def _shared_tensor(array: np.ndarray) -> torch.Tensor:
    """A CPU tensor on ``array``'s own memory. For decompositions only: they are never modified
    after they are made (by the engines, the cache or a payload), so a state may share one with
    the cache instead of holding a copy (40 bytes a pixel of a whole large image)."""
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def _illumination_output(decomposition: illum_mod.Decomposition, gamma: float, gamma_step: float,
                         loss: float | None, params: dict[str, Any]) -> RunOutput:
    raw = illum_mod.relight(decomposition, gamma)
    payload = {
        "source": _shared_tensor(decomposition.source),
        "illumination": _shared_tensor(decomposition.illumination),
        "reflectance": _shared_tensor(decomposition.reflectance),
        "noise": _shared_tensor(decomposition.noise),
        "loss": decomposition.loss,
        "iterations": decomposition.iterations,
        "gamma": gamma,
    }
    return RunOutput(raw, payload, loss, {"gamma": gamma, "gamma_step": gamma_step, **params})


def decomposition_from_payload(previous: Mapping[str, Any]) -> illum_mod.Decomposition:
    """The decomposition a brighten/darken state keeps (see ``_illumination_output``)."""
    return illum_mod.Decomposition(
        source=previous["source"].numpy(),
        illumination=previous["illumination"].numpy(),
        reflectance=previous["reflectance"].numpy(),
        noise=previous["noise"].numpy(),
        loss=previous["loss"],
        iterations=previous["iterations"],
    )


def _relight_again(inp: TaskInput, gamma_step: float) -> RunOutput:
    """A repeated brighten/darken (any engine): the kept decomposition, gamma applied again."""
    assert inp.previous is not None
    report(inp.progress, 1, 1, 0.0)
    return _illumination_output(decomposition_from_payload(inp.previous), inp.previous["gamma"] * gamma_step,
                                gamma_step, None, {})


def _run_illumination(inp: TaskInput) -> RunOutput:
    gamma_step = illum_mod.gamma_for(inp.spec.name, inp.strength)
    if inp.previous is not None:
        return _relight_again(inp, gamma_step)
    start = inp.start if isinstance(inp.start, illum_mod.RetinexUnits) else None
    # A warm start trains at full resolution (quick differs from exact by its count); from
    # scratch, quick trains at half resolution.
    train_scale = 1 if inp.engine == "exact" or start is not None else QUICK_ILLUMINATION_SCALE
    decomposition = illum_mod.decompose(
        inp.fused, iterations=inp.iterations, seed=inp.seed, device=inp.device, progress=inp.progress,
        cancel=inp.cancel, train_scale=train_scale, start=start,
        lr=illum_mod.WARM_LR if start is not None else illum_mod.LR,
    )
    return _illumination_output(decomposition, gamma_step, gamma_step, decomposition.loss,
                                {"train_scale": train_scale, "warm_start": start is not None})


def _run_illumination_fast(inp: TaskInput) -> RunOutput:
    from terf_studio.tuning.engines.retinex import decomposition_for

    gamma_step = illum_mod.gamma_for(inp.spec.name, inp.strength)
    if inp.previous is not None:
        return _relight_again(inp, gamma_step)
    units = fast_module(inp.spec, inp.device, inp.fusion_net)
    assert isinstance(units, illum_mod.RetinexUnits)
    decomposition, cached = decomposition_for(units, inp.fused, inp.box, inp.device, whole=inp.whole)
    report(inp.progress, 1, 1, 0.0)
    return _illumination_output(decomposition, gamma_step, gamma_step, None, {"cached": cached})


def _run_denoise(inp: TaskInput) -> RunOutput:
    if inp.previous is not None:
        source = inp.previous["source"].numpy()
        weights = inp.previous["weights"]
    else:
        source = inp.vi if inp.mode == "visible" else inp.fused
        weights = None
    out = denoise_mod.denoise(
        source, iterations=inp.iterations, weights=weights, seed=inp.seed, device=inp.device,
        progress=inp.progress, cancel=inp.cancel,
    )
    raw = _fuse_crop(inp.fusion_net, inp.ir, out.image, inp.device) if inp.mode == "visible" else out.image
    payload = {"source": _tensor(source), "weights": out.weights}
    return RunOutput(raw, payload, out.loss if inp.iterations else None,
                     {"iterations": inp.iterations, "denoised": out.image})


def _run_denoise_fast(inp: TaskInput) -> RunOutput:
    from terf_studio.tuning.engines.denoiser import NoiseConditionedDenoiser, denoise_with_strength, estimate_sigma

    net = fast_module(inp.spec, inp.device, inp.fusion_net)
    assert isinstance(net, NoiseConditionedDenoiser)
    if inp.previous is not None:
        source = inp.previous["source"].numpy()
        sigma, total = float(inp.previous["sigma"]), float(inp.previous["strength"]) + inp.strength
    else:
        source = inp.vi if inp.mode == "visible" else inp.fused
        sigma, total = estimate_sigma(source), inp.strength
    step_check(inp.cancel)
    denoised = denoise_with_strength(net, source, sigma, total, inp.device)
    raw = _fuse_crop(inp.fusion_net, inp.ir, denoised, inp.device) if inp.mode == "visible" else denoised
    report(inp.progress, 1, 1, 0.0)
    payload = {"source": _tensor(source), "sigma": sigma, "strength": total}
    params = {"sigma": round(sigma * 255.0, 2), "strength_total": round(total, 4), "denoised": denoised}
    return RunOutput(raw, payload, None, params)


def _run_blur(inp: TaskInput) -> RunOutput:
    assert inp.mode is not None  # blur always has a mode (its spec's default when none was given)
    amount = blur_mod.blur_amount(inp.mode, inp.strength)
    if inp.previous is not None:
        source = inp.previous["source"].numpy()
        amount = blur_mod.combine_amounts(inp.mode, inp.previous["amount"], amount)
    else:
        source = inp.fused
    raw = blur_mod.apply_blur(source, inp.mode, amount, origin=(inp.box.top, inp.box.left))
    report(inp.progress, 1, 1, 0.0)
    return RunOutput(raw, {"source": _tensor(source), "amount": amount}, None,
                     {"sigma" if inp.mode == "gaussian" else "cell": amount})


RUNNERS: dict[str, Callable[[TaskInput], RunOutput]] = {
    "infrared": _run_inclination,
    "visible": _run_inclination,
    "brighten": _run_illumination,
    "darken": _run_illumination,
    "denoise": _run_denoise,
    "blur": _run_blur,
}
FAST_RUNNERS: dict[str, Callable[[TaskInput], RunOutput]] = {
    "infrared": _run_inclination_fast,
    "visible": _run_inclination_fast,
    "brighten": _run_illumination_fast,
    "darken": _run_illumination_fast,
    "denoise": _run_denoise_fast,
    "blur": _run_blur,
}
