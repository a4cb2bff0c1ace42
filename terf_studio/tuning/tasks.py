"""One entry point for every fine-tuning task (paper eq. 4) with the composite (eq. 5).

``run_task`` takes the pair, the current fused image and a mask, runs the task on the mask's
bounding box plus a margin, composites the result through the mask onto ``fused`` and returns
a :class:`TaskResult` with the new image and an opaque :class:`TaskState`. Passing that state
back with the same task and (nearly) the same region continues the task (paper 2.4.4):

- ``infrared`` / ``visible``: the fine-tuned network is reloaded and trained for more epochs;
- ``brighten`` / ``darken``: the same decomposition, gamma applied again (no optimisation);
- ``denoise``: the unit is reloaded and trained for more iterations on the same noisy input;
- ``blur``: the source region is blurred more strongly.

A state for a different task, mode, pair or region is ignored and the task starts afresh
(:func:`continues` says which will happen). States are never modified; a cancelled or failed
call leaves the one passed in as it was.

Iteration counts per command (strength 1; for ``infrared``/``visible``/``denoise`` the count is
multiplied by the strength, for ``brighten``/``darken`` the strength sets gamma instead):

==================  =====  ====================================================================
task                exact  quick (default)
==================  =====  ====================================================================
infrared / visible  50     45 epochs
brighten / darken   500    400 iterations, units trained at half resolution (about 1/5 the cost)
  warm start        200    100 iterations at full resolution, lr 2e-4, from the fast units
denoise             100    80 iterations
blur                -      - (nothing is trained)
==================  =====  ====================================================================

How the quick numbers were chosen: the quick result was compared with the exact one (mean
absolute difference inside the mask, in grey levels of 255) on the lite network's fusion of
RoadScene test pairs. Adam's path does not depend on the total count, so one exact run with
snapshots gives every shorter count.

- Inclination, 30/35/40/45 epochs against 50, on three regions (FLIR_00211: rows 130-280 x
  cols 200-448 and rows 95-245 x cols 124-372; FLIR_00977: rows 95-245 x cols 124-372), each
  of them about a quarter of the image: infrared 1.25/0.85/0.42/0.35, 3.23/2.30/1.58/0.55,
  5.60/4.01/2.59/1.23; visible 1.31/0.92/0.93/0.35 and 1.71/1.22/0.80/0.41. The effect is
  still growing at epoch 50 (the region moves 11-30 grey levels), so every epoch left out
  weakens it; 45 is the shortest count within 1.3 grey levels on all five. A larger learning
  rate for fewer epochs is no substitute: 10 epochs at 4e-4 ended 10.4 grey levels away.
- Illumination (128x160 crop of FLIR_00211, gamma 0.625 / 1.6): full resolution 200/300/400
  iterations: 1.24/0.29/0.09 and 1.70/0.45/0.16; half resolution 300/400/500: 1.18/0.95/0.69
  and 1.68/1.31/0.93 (gamma 0.39, a repeated brighten, 1.59 at 400). 400 half-resolution
  iterations cost about as much as 100 full-resolution ones. Applying the half-resolution
  units to the full-resolution image was closer than upsampling their half-resolution ``S``
  (0.57 against 1.25 grey levels from the full-resolution run at 200 iterations, gamma 1.6,
  zero-bias start). lr 1e-3 for 200-250 iterations was as
  close but not monotone (1.18, 1.00, 1.38 at 200, 225, 250), so the paper's lr stays.
- Denoise (visible mode, sigma 25/255 on the visible image, FLIR_00211 quarter region):
  60/70/80/90 iterations against 100: 2.14/1.53/1.02/0.52 grey levels (second region: 80 ->
  1.13). Fewer iterations denoise less (fused PSNR against the clean fusion 32.4/33.1/33.7/34.3
  dB against 34.8 dB after 100; 29.9 dB noisy); repeating the command trains further.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np
import torch

from terf_studio.errors import ModelError, TerfError
from terf_studio.fusion.inference import Fuser
from terf_studio.fusion.network import FusionNet
from terf_studio.imaging.color import LUMA_WEIGHTS
from terf_studio.imaging.io import to_float
from terf_studio.tuning import blur as blur_mod
from terf_studio.tuning.budget import trains_whole
from terf_studio.tuning.composite import paste
from terf_studio.tuning.control import CancelToken, ProgressFn, report, step_check
from terf_studio.tuning.region import (
    Box,
    bounding_box,
    check_mask,
    fingerprint,
    support_bits,
    support_iou,
)
from terf_studio.tuning.runners import FAST_RUNNERS, RUNNERS, TaskInput, fast_module
from terf_studio.tuning.runners import LAMBDA_PER_STRENGTH as LAMBDA_PER_STRENGTH  # re-exported
from terf_studio.tuning.runners import QUICK_ILLUMINATION_SCALE as QUICK_ILLUMINATION_SCALE  # re-exported
from terf_studio.tuning.sampled import run_sampled
from terf_studio.tuning.specs import TASK_SPECS, TaskSpec, check_engine, get_spec
from terf_studio.tuning.streamed import run_streamed, streams
from terf_studio.tuning.units import as_device

TASKS: tuple[str, ...] = tuple(TASK_SPECS)

#: The paper's iteration counts per command (section 3.1.2).
EXACT_ITERATIONS: dict[str, int] = {n: spec.exact_iterations for n, spec in TASK_SPECS.items()}
#: The fine-tuning engine's shortened counts (see the module docstring for how they were chosen).
QUICK_ITERATIONS: dict[str, int] = {n: spec.quick_iterations for n, spec in TASK_SPECS.items()}
DEFAULT_MODES: dict[str, str | None] = {n: spec.default_mode for n, spec in TASK_SPECS.items()}
MODES: dict[str, tuple[str | None, ...]] = {n: spec.modes for n, spec in TASK_SPECS.items()}


STATE_FORMAT = "terf-task-state/1"

#: Default context around the mask's bounding box, in pixels.
DEFAULT_MARGIN = 16
#: Two supports with at least this intersection over union count as the same region.
SAME_REGION_IOU = 0.9


def task_name(task: Any) -> str:
    """The task's name from a ``str`` or a str Enum such as ``terf_studio.language.plan.Task``."""
    value = task.value if isinstance(task, Enum) else task
    return get_spec(value).name


def _mode(task: str, mode: str | None) -> str | None:
    return get_spec(task).check_mode(mode)


def _fine_tuning(exact: bool) -> str:
    """The fine-tuning engine: the paper's counts (``exact``) or the shortened ones (``quick``)."""
    return "exact" if exact else "quick"


def resolve_engine(engine: str | None, exact: bool, device: torch.device) -> str:
    """``auto`` -> ``fast`` on a CPU, fine-tuning elsewhere; ``None`` -> fine-tuning (by ``exact``)."""
    if engine is None:
        return _fine_tuning(exact)
    check_engine(engine)
    if engine == "auto":
        return "fast" if device.type == "cpu" else _fine_tuning(exact)
    return engine


@dataclass(frozen=True, eq=False)
class TaskState:
    """What a task needs to continue: opaque to callers apart from :func:`continues`.

    ``payload`` holds CPU tensors / numpy arrays and is never modified after creation.
    """

    task: str
    mode: str | None
    shape: tuple[int, int]
    box: Box
    region: np.ndarray  # packed support bits of the mask the state was made for
    pair: str  # fingerprint of (vi, ir)
    steps: int  # commands applied so far (1 after the first)
    iterations: int  # optimisation iterations so far, all commands together
    payload: Mapping[str, Any] = field(default_factory=dict)
    engine: str = "quick"  # the engine that made it: a continuation uses the same engine

    @property
    def key(self) -> tuple:
        """Task, mode, engine, image size, region box and pair: what must match for a continuation."""
        return (self.task, self.mode, self.engine, self.shape, self.box.to_tuple(), self.pair)

    def to_dict(self) -> dict[str, Any]:
        """Plain dicts, lists, numbers, strings and CPU tensors only, so that
        ``torch.save`` / ``torch.load(..., weights_only=True)`` round-trip it."""
        return {
            "format": STATE_FORMAT,
            "task": self.task,
            "mode": self.mode,
            "shape": list(self.shape),
            "box": list(self.box.to_tuple()),
            "region": torch.from_numpy(self.region.copy()),
            "pair": self.pair,
            "steps": self.steps,
            "iterations": self.iterations,
            "payload": dict(self.payload),
            "engine": self.engine,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskState:
        if not isinstance(data, Mapping) or data.get("format") != STATE_FORMAT:
            raise TerfError(f"not a task state (expected format {STATE_FORMAT})")
        try:
            return cls(
                task=task_name(data["task"]),
                mode=data["mode"],
                shape=(int(data["shape"][0]), int(data["shape"][1])),
                box=Box(*(int(v) for v in data["box"])),
                region=np.asarray(data["region"].numpy(), dtype=np.uint8),
                pair=str(data["pair"]),
                steps=int(data["steps"]),
                iterations=int(data["iterations"]),
                payload=dict(data["payload"]),
                engine=str(data.get("engine", "quick")),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise TerfError(f"damaged task state: {exc}") from None


@dataclass(frozen=True, eq=False)
class TaskResult:
    image: np.ndarray  # (H, W, 3) in ``fused``'s type: ``raw`` composited through ``mask`` onto ``fused``
    raw: np.ndarray  # the task's output on ``box`` (the whole image when not cropped); empty when streamed
    box: Box  # where ``raw`` lies in the image
    state: TaskState | None  # pass back to continue; None when the mask was empty
    task: str
    mode: str | None
    continued: bool  # True when ``state`` was continued, False when the task started afresh
    iterations: int  # optimisation iterations run by this call
    seconds: float
    optimised_pixels: int  # pixels the task worked on (the box)
    total_pixels: int
    loss: float | None  # last optimisation loss, None when nothing was optimised
    params: Mapping[str, Any] = field(default_factory=dict)  # e.g. gamma, sigma, epochs


def _check_pair(vi: np.ndarray, ir: np.ndarray, fused: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three images as they are (no copy): their types and sizes checked. Only the crops a
    task works on are turned into floats (:func:`_crops`), so an edit's memory follows its region."""
    vi, ir, fused = np.asarray(vi), np.asarray(ir), np.asarray(fused)
    for image in (vi, ir, fused):
        if image.dtype not in (np.uint8, np.uint16) and not np.issubdtype(image.dtype, np.floating):
            raise TerfError(f"unsupported image type {image.dtype}; expected uint8, uint16 or float")
    if not (vi.ndim == 2 or (vi.ndim == 3 and vi.shape[2] == 3)) or fused.ndim != 3 or fused.shape[2] != 3:
        raise TerfError("expected an RGB visible image and an RGB fused image")
    if not (ir.ndim == 2 or (ir.ndim == 3 and ir.shape[2] in (1, 3))):
        raise TerfError("expected a grey or RGB infrared image")
    if vi.shape[:2] != ir.shape[:2] or fused.shape[:2] != ir.shape[:2]:
        raise TerfError(
            f"image sizes differ: visible {vi.shape[1::-1]}, infrared {ir.shape[1::-1]}, fused {fused.shape[1::-1]}"
        )
    return vi, ir, fused


def _crops(box: Box, vi: np.ndarray, ir: np.ndarray, fused: np.ndarray) -> Callable[[str], np.ndarray]:
    """A function giving the float32 crop on ``box`` of "vi" or "fused" (h, w, 3) or "ir" (h, w)
    (each made when a runner first asks for it; see :class:`~terf_studio.tuning.runners.TaskInput`)."""

    def own(image: np.ndarray) -> np.ndarray:
        """The box of ``image`` as float32, in an array of its own (runners may keep it)."""
        part = image[box.slices]
        c = to_float(part)
        return np.array(c, dtype=np.float32) if np.may_share_memory(c, part) else np.ascontiguousarray(c)

    def crop(which: str) -> np.ndarray:
        if which == "fused":
            return own(fused)
        if which == "vi":
            vi_c = own(vi)
            return np.repeat(vi_c[..., None], 3, axis=2) if vi_c.ndim == 2 else vi_c
        ir_c = own(ir)
        if ir_c.ndim == 3:
            ir_c = ir_c[..., 0].copy() if ir_c.shape[2] == 1 else ir_c @ np.asarray(LUMA_WEIGHTS, dtype=np.float32)
        return ir_c

    return crop


def continues(
    state: TaskState | None,
    task: Any,
    mask: np.ndarray | None,
    *,
    mode: str | None = None,
    vi: np.ndarray | None = None,
    ir: np.ndarray | None = None,
    iou: float = SAME_REGION_IOU,
    engine: str | None = None,
) -> bool:
    """Whether ``run_task`` with this state, task and mask continues (True) or starts afresh.

    It continues when the task and mode match, the mask's support overlaps the state's with an
    intersection over union of at least ``iou`` and lies inside the state's box, and (when
    ``vi`` and ``ir`` are given) the pair is the same; with ``engine`` given, the state must
    have been made by that engine.
    """
    if state is None:
        return False
    name = task_name(task)
    if state.task != name or state.mode != _mode(name, mode):
        return False
    if engine is not None and state.engine != engine:
        return False
    shape = state.shape if mask is None else tuple(np.shape(mask)[:2])
    if shape != state.shape:
        return False
    m = check_mask(mask, shape)
    box = bounding_box(m, 0, multiple=1, min_size=1)
    if box is None or not state.box.contains(box):
        return False
    if support_iou(support_bits(m), state.region) < iou:
        return False
    if vi is not None and ir is not None:
        vi_c, ir_c, _ = _check_pair(vi, ir, np.broadcast_to(np.float32(0), shape + (3,)))
        if fingerprint(vi_c, ir_c) != state.pair:
            return False
    return True


def _iterations(spec: TaskSpec, iterations: int | None, engine: str, strength: float, warm: bool = False) -> int:
    if not spec.trains or engine == "fast":
        return 0
    if iterations is not None:
        if iterations < 0:
            raise TerfError("iterations must be zero or more")
        return int(iterations)
    if warm and spec.warm_model is not None:
        base = spec.warm_exact_iterations if engine == "exact" else spec.warm_quick_iterations
    else:
        base = spec.exact_iterations if engine == "exact" else spec.quick_iterations
    if spec.iterations_scale_with_strength:
        return max(1, round(base * strength))
    return base


def _choose_engine(spec: TaskSpec, engine: str, exact: bool, device: torch.device,
                   fusion_net: FusionNet | Fuser | None) -> tuple[str, str | None]:
    """The engine that will run and a one-line notice when the fast one cannot (missing weights)."""
    if engine != "fast" or not spec.trains:
        return engine, None
    try:
        fast_module(spec, device, fusion_net)
    except ModelError as exc:
        fallback = _fine_tuning(exact)
        return fallback, f"{exc}; used the fine-tuning engine ({fallback}) instead"
    return engine, None


def _warm_start(spec: TaskSpec, engine: str, device: torch.device,
                fusion_net: FusionNet | Fuser | None) -> torch.nn.Module | None:
    """The trained module a fine-tuning engine starts from, or None (no warm start for this task,
    or its weights are missing: then it starts from scratch, as the paper does)."""
    from terf_studio.tuning.engines.loader import fast_engine

    if engine == "fast" or spec.warm_model is None:
        return None
    try:
        return fast_engine(spec.warm_model, device)
    except ModelError:
        return None


def _check_strength(strength: object) -> None:
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not math.isfinite(strength):
        raise TerfError(f"strength must be a number, got {strength!r}")
    if strength < 0:
        raise TerfError(f"strength must be zero or positive, got {strength!r}")


def _work_box(name: str, mode: str | None, mask: np.ndarray, strength: float, margin: int) -> Box:
    """The mask's bounding box plus the context the task needs (blur needs its kernel's reach)."""
    context = margin
    if name == "blur":
        assert mode is not None  # blur always has a mode (its spec's default when none was given)
        context = max(margin, blur_mod.context_needed(mode, blur_mod.blur_amount(mode, strength)))
    grown = bounding_box(mask, context)
    assert grown is not None  # callers check that the mask has support
    return grown


def _result_in_place(spec: TaskSpec, mode: str | None, image: np.ndarray, params: dict[str, Any], box: Box,
                     shape: tuple[int, int], used: str, notice: str | None, start: float, iterations: int = 0,
                     loss: float | None = None) -> TaskResult:
    """The result of an edit that went straight into ``image`` (streamed or sampled): ``raw`` is
    empty and there is no continuation state (a repeat starts from the edited image)."""
    params["engine"] = used
    if notice:
        params["notice"] = notice
    return TaskResult(
        image=image, raw=np.zeros((0, 0, 3), np.float32), box=box, state=None, task=spec.name, mode=mode,
        continued=False, iterations=iterations, seconds=time.perf_counter() - start, optimised_pixels=box.area,
        total_pixels=shape[0] * shape[1], loss=loss, params=params,
    )


def _streamed_result(spec: TaskSpec, mode: str | None, strength: float,
                     images: tuple[np.ndarray, np.ndarray, np.ndarray],
                     m: np.ndarray, box: Box, dev: torch.device, fusion_net: FusionNet | Fuser | None,
                     progress: ProgressFn | None, cancel: CancelToken | None, used: str, notice: str | None,
                     start: float) -> TaskResult:
    """A fast local edit on a large box, tile by tile (:mod:`terf_studio.tuning.streamed`)."""
    vi, ir, fused = images
    units = None if spec.name == "blur" else fast_module(spec, dev, fusion_net)
    image, params = run_streamed(spec.name, mode, strength, vi, ir, fused, m, box, units, dev, progress, cancel,
                                 fusion_net=fusion_net)
    return _result_in_place(spec, mode, image, params, box, ir.shape[:2], used, notice, start)


def run_task(
    task: Any,
    *,
    vi: np.ndarray,
    ir: np.ndarray,
    fused: np.ndarray,
    mask: np.ndarray | None,
    strength: float = 1.0,
    fusion_net: FusionNet | Fuser | None = None,
    state: TaskState | None = None,
    iterations: int | None = None,
    exact: bool = False,
    engine: str | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    device: str | torch.device = "cpu",
    mode: str | None = None,
    margin: int = DEFAULT_MARGIN,
    crop: bool = True,
    seed: int = 0,
    pair_id: str | None = None,
) -> TaskResult:
    """Run one task on the region ``mask`` of ``fused`` and composite the result (eq. 4-5).

    ``vi`` (H, W, 3) or (H, W), ``ir`` (H, W) and ``fused`` (H, W, 3) are float in [0, 1], or
    uint8 / uint16 as stored; only the crops the task works on are turned into float32, and the
    result ``image`` has ``fused``'s type (a uint16 image gets the float result rounded to 16 bits
    inside the mask). ``mask`` (H, W) float in [0, 1] (soft edges allowed: feather it first with
    :func:`terf_studio.tuning.composite.feather`), or ``None`` for the whole image.
    Pixels where the mask is 0 are returned bit-identical to ``fused``; a strength of 0 returns
    ``fused`` unchanged (and ``state`` as it was). ``pair_id`` is :func:`fingerprint` of
    ``(vi, ir)`` when the caller keeps it (hashing a large pair on every call takes time).
    A fast edit (any task, and blur on any engine) on a box above 16 MP is streamed tile by tile
    (:mod:`terf_studio.tuning.streamed`): same image, no state to continue. A quick or exact
    fine-tuning whose whole-box need exceeds the budget (:mod:`terf_studio.tuning.budget`) trains
    on crops and is applied in tiles (:mod:`terf_studio.tuning.sampled`), also without state.

    ``engine`` (see :mod:`terf_studio.tuning.specs`): ``fast``, ``quick``, ``exact`` or ``auto``;
    by default ``exact`` when ``exact`` is true, else ``quick``. When the fast engine's weights are
    missing (or do not fit ``fusion_net``) the fine-tuning engine runs instead and
    ``params["notice"]`` says why. ``fusion_net`` (a FusionNet or Fuser; the shipped ``lite``
    weights when None) is used by ``infrared``/``visible`` (fine-tuned copy or conditioned) and
    ``denoise`` in ``visible`` mode; it is never modified. ``iterations`` overrides the
    fine-tuning count (used as given, not scaled by strength). ``mode``: ``denoise`` takes
    ``visible`` (default: denoise the visible image, then fuse) or ``fused``; ``blur`` takes
    ``gaussian`` (default) or ``pixelate``. ``crop=False`` works on the whole image.
    """
    start = time.perf_counter()
    spec = get_spec(task_name(task))
    name = spec.name
    mode = _mode(name, mode)
    _check_strength(strength)
    vi, ir, fused = _check_pair(vi, ir, fused)
    h, w = ir.shape
    m = check_mask(mask, (h, w))
    dev = as_device(device)
    used, notice = _choose_engine(spec, resolve_engine(engine, exact, dev), exact, dev, fusion_net)
    step_check(cancel)

    support_box = bounding_box(m, 0, multiple=1, min_size=1)
    if support_box is None or strength == 0:  # nothing to do
        report(progress, 1, 1, 0.0)
        return TaskResult(
            image=fused.copy(), raw=np.zeros((0, 0, 3), np.float32), box=Box(0, 0, 0, 0),
            state=state if strength == 0 else None, task=name, mode=mode, continued=False, iterations=0,
            seconds=time.perf_counter() - start, optimised_pixels=0, total_pixels=h * w, loss=None,
            params={"engine": used},
        )

    pair = pair_id or fingerprint(vi, ir)
    go_on = (state is not None and continues(state, name, m, mode=mode, engine=used) and state.pair == pair)
    if go_on:
        assert state is not None
        box = state.box
    else:
        box = _work_box(name, mode, m, strength, margin) if crop else Box.full(h, w)
    warm = None if go_on else _warm_start(spec, used, dev, fusion_net)
    if name in ("brighten", "darken") and go_on:
        n_iter = 0  # the same decomposition, gamma applied again
    else:
        n_iter = _iterations(spec, iterations, used, strength, warm=warm is not None)

    if used != "fast" and spec.trains and not go_on and not trains_whole(name, box, on_gpu=dev.type != "cpu"):
        image, loss, params = run_sampled(name, mode, strength, n_iter, vi, ir, fused, m, box, fusion_net=fusion_net,
                                          start=warm, device=dev, seed=seed, progress=progress, cancel=cancel)
        return _result_in_place(spec, mode, image, params, box, (h, w), used, notice, start, n_iter,
                                loss if n_iter else None)
    if streams(name, used, box, go_on):
        return _streamed_result(spec, mode, strength, (vi, ir, fused), m, box, dev, fusion_net, progress, cancel,
                                used, notice, start)

    inp = TaskInput(
        spec=spec, mode=mode, engine=used, crops=_crops(box, vi, ir, fused),
        mask=box.crop(m), whole=fused, box=box, strength=strength, iterations=n_iter,
        previous=state.payload if go_on and state is not None else None, fusion_net=fusion_net, device=dev,
        progress=progress, cancel=cancel, seed=seed, exact=exact, start=warm,
    )
    runners = FAST_RUNNERS if used == "fast" else RUNNERS
    out = runners[name](inp)
    step_check(cancel)
    image = paste(fused, out.raw, box, m)
    params = dict(out.params, engine=used)
    if notice:
        params["notice"] = notice
    new_state = TaskState(
        task=name,
        mode=mode,
        shape=(h, w),
        box=box,
        region=state.region if go_on and state is not None else support_bits(m),
        pair=pair,
        steps=(state.steps + 1) if go_on and state is not None else 1,
        iterations=(state.iterations if go_on and state is not None else 0) + n_iter,
        payload=out.payload,
        engine=used,
    )
    return TaskResult(
        image=image,
        raw=out.raw,
        box=box,
        state=new_state,
        task=name,
        mode=mode,
        continued=go_on,
        iterations=n_iter,
        seconds=time.perf_counter() - start,
        optimised_pixels=box.area,
        total_pixels=h * w,
        loss=out.loss,
        params=params,
    )
