"""Training the fast engines once, offline (``terf-studio train-engine``).

Data: the RoadScene *train* split (never its test split) and the MSRS samples, read from a data
folder laid out as ``DATA/roadscene/{vi,ir,split.json}`` and ``DATA/msrs-samples/{vi,ir}``.
Every run has a wall-clock budget (``minutes``); the weights file is rewritten every
``save_every`` steps and at the end, and a CSV log line is written at each save, so a run that
is stopped early still leaves usable weights. Each run is seeded and uses ``threads`` CPU threads.

- :func:`train_inclination`: FiLM layers on the frozen ``lite`` fusion network, random lambda
  maps (constant, one feathered blob, or two blobs of opposite sign), loss of
  :func:`~terf_studio.tuning.engines.conditioned.inclination_loss`.
- :func:`train_illumination`: the paper's Retinex units on crops of fused images (the lite
  network's fusion of every training pair, and the MSRS samples fused by lite and full) with
  brightness and gamma augmentation, loss eq. 14-17 per crop.
- :func:`train_denoiser`: the noise-conditioned denoiser on visible crops with Gaussian noise of
  sigma uniform in [0, 55]/255 (clipped to [0, 1], as a saved image would be), MSE loss.
"""

from __future__ import annotations

import csv
import math
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from terf_studio.errors import TerfError
from terf_studio.fusion.training import list_pairs, load_pairs, random_crop, seed_everything
from terf_studio.tuning.engines.conditioned import ConditionedFusion, inclination_loss, save_conditioned
from terf_studio.tuning.engines.denoiser import NoiseConditionedDenoiser, save_denoiser
from terf_studio.tuning.engines.retinex import save_units
from terf_studio.tuning.illumination import ILLUMINATION_BIAS, RetinexLoss, RetinexUnits
from terf_studio.tuning.units import xavier_init

ENGINES = ("inclination", "illumination", "denoise")
MAX_SIGMA = 55.0 / 255.0


@dataclass
class EngineTrainOptions:
    engine: str
    data: Path  # the folder holding roadscene/ (and optionally msrs-samples/)
    out: Path
    minutes: float = 20.0
    steps: int | None = None  # stop after this many steps (else only the budget stops it)
    batch_size: int = 8
    crop: int = 128
    lr: float = 1e-3
    seed: int = 0
    threads: int | None = None
    save_every: int = 50
    limit: int | None = None  # first N training pairs only (quick runs, tests)
    resume: bool = False  # start from the weights already in ``out`` (the optimiser starts afresh)
    prior_units: bool = True  # illumination: Retinex units with the max-RGB prior (the fast engine)
    base: str = "lite"  # inclination: the (CPU) fusion network whose shipped weights the layers modulate


def training_pairs(data: Path, limit: int | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(ir, vi) tensors of the RoadScene train split, then the MSRS samples when present."""
    roadscene = data / "roadscene"
    if not roadscene.is_dir():
        raise TerfError(f"'{data}' has no roadscene/ folder (expected the shared data layout)")
    pairs = list_pairs(roadscene, "train")[:limit]
    msrs = data / "msrs-samples"
    if msrs.is_dir() and limit is None:
        pairs += list_pairs(msrs, None)
    return load_pairs(pairs)


def random_lambda(size: int, rng: random.Random) -> np.ndarray:
    """A lambda map for training: constant (a sixth of them at the full -1 or 1 that a whole-image
    command of strength 1 asks for), one feathered ellipse, or two of opposite sign."""
    kind = rng.random()
    if kind < 0.1:
        return np.full((size, size), rng.choice((-1.0, 1.0)), np.float32)
    if kind < 0.35:
        return np.full((size, size), rng.uniform(-1.0, 1.0), np.float32)
    out = np.zeros((size, size), np.float32)
    blobs = 1 if kind < 0.8 else 2
    sign = 1.0 if rng.random() < 0.5 else -1.0
    for b in range(blobs):
        m = np.zeros((size, size), np.uint8)
        centre = (rng.randint(0, size - 1), rng.randint(0, size - 1))
        axes = (rng.randint(size // 8, size // 2), rng.randint(size // 8, size // 2))
        cv2.ellipse(m, centre, axes, rng.uniform(0, 180), 0, 360, 1, -1)
        soft = cv2.GaussianBlur(m.astype(np.float32), (0, 0), rng.uniform(1.0, 6.0))
        value = rng.uniform(0.2, 1.0) * (sign if b == 0 else -sign)
        out += value * soft
    return np.clip(out, -1.0, 1.0)


class _Run:
    """Budget, steps, log and periodic saving shared by the three trainings."""

    def __init__(self, opts: EngineTrainOptions, save: Callable[[dict], None], log_name: str,
                 done: dict | None = None) -> None:
        self.opts, self.save = opts, save
        self.start = time.perf_counter()
        self.step = 0
        #: Steps and seconds of the run being resumed (so the log and the model card add up).
        self.earlier_steps = int(done.get("steps", 0)) if done else 0
        self.earlier_seconds = float(done.get("seconds", 0.0)) if done else 0.0
        self.losses: list[float] = []
        self.log_path = opts.out.with_name(log_name)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if not (done and self.log_path.is_file()):
            with self.log_path.open("w", newline="") as f:
                csv.writer(f).writerow(["step", "loss", "seconds"])

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start

    def going(self) -> bool:
        if self.opts.steps is not None and self.step >= self.opts.steps:
            return False
        return self.seconds < self.opts.minutes * 60.0

    def done_step(self, loss: float) -> None:
        self.step += 1
        self.losses.append(loss)
        if self.step % self.opts.save_every == 0:
            self.checkpoint()

    def checkpoint(self) -> dict:
        recent = self.losses[-self.opts.save_every:]
        mean = float(np.mean(recent)) if recent else float("nan")
        steps, seconds = self.earlier_steps + self.step, self.earlier_seconds + self.seconds
        with self.log_path.open("a", newline="") as f:
            csv.writer(f).writerow([steps, f"{mean:.6f}", f"{seconds:.1f}"])
        meta = {"steps": steps, "seconds": round(seconds, 1), "final_loss": mean,
                "batch_size": self.opts.batch_size, "crop": self.opts.crop, "lr": self.opts.lr,
                "seed": self.opts.seed, "data": "RoadScene train split + MSRS samples"}
        self.save(meta)
        return meta


def _resume(opts: EngineTrainOptions, module: torch.nn.Module, engine: str) -> dict | None:
    """With ``opts.resume``, load the trainable weights saved in ``opts.out`` into ``module`` and
    return the saved run's meta (steps, seconds); else None."""
    from terf_studio.tuning.engines.weights import read_engine

    if not opts.resume:
        return None
    payload = read_engine(opts.out, engine)
    missing = module.load_state_dict(payload["state_dict"], strict=False)
    if missing.unexpected_keys or any(not k.startswith("base.") for k in missing.missing_keys):
        raise TerfError(f"'{opts.out}' does not fit the {engine} engine being trained")
    return dict(payload.get("meta", {}))


def _setup(opts: EngineTrainOptions) -> random.Random:
    if opts.threads:
        torch.set_num_threads(opts.threads)
    seed_everything(opts.seed)
    return random.Random(opts.seed)


def _lr_at(opts: EngineTrainOptions, run: _Run) -> float:
    """Constant, then cosine down to a tenth over the last 30% of the budget (time or steps)."""
    frac = run.seconds / (opts.minutes * 60.0)
    if opts.steps:
        frac = max(frac, run.step / opts.steps)
    if frac < 0.7:
        return opts.lr
    t = min(1.0, (frac - 0.7) / 0.3)
    return opts.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))


def _optimise(
    opts: EngineTrainOptions, params: Iterable[torch.nn.Parameter], batch_loss: Callable[[], torch.Tensor], run: _Run
) -> dict:
    optimiser = torch.optim.Adam(params, lr=opts.lr)
    while run.going():
        for group in optimiser.param_groups:
            group["lr"] = _lr_at(opts, run)
        loss = batch_loss()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        run.done_step(float(loss.detach()))
    return run.checkpoint()


def train_inclination(opts: EngineTrainOptions) -> dict:
    from terf_studio.fusion.inference import load_fuser

    rng = _setup(opts)
    pairs = training_pairs(opts.data, opts.limit)
    base = load_fuser(opts.base, device="cpu").net.to(memory_format=torch.contiguous_format)
    net = ConditionedFusion(base)
    done = _resume(opts, net, "inclination")
    net.train()

    def batch_loss() -> torch.Tensor:
        crops = [random_crop(torch.cat(pairs[rng.randrange(len(pairs))], 0), opts.crop, rng)
                 for _ in range(opts.batch_size)]
        x = torch.stack(crops)
        ir, vi = x[:, :1], x[:, 1:]
        lam = torch.from_numpy(np.stack([random_lambda(opts.crop, rng) for _ in crops]))[:, None]
        return inclination_loss(net(ir, vi, lam), ir, vi, lam)

    run = _Run(opts, lambda meta: save_conditioned(opts.out, net, meta), opts.out.stem + "-train-log.csv", done)
    return _optimise(opts, net.film_parameters(), batch_loss, run)


def fused_training_images(data: Path, limit: int | None = None) -> list[torch.Tensor]:
    """Fused images (3, H, W): lite's fusion of every training pair, and the MSRS samples fused by
    lite and (when its weights are present) full."""
    from terf_studio.fusion.inference import load_fuser, run_network
    from terf_studio.weights.registry import find_model

    pairs = training_pairs(data, limit)
    images = []
    nets = [load_fuser("lite", device="cpu").net]
    with torch.inference_mode():
        for ir, vi in pairs:
            images.append(run_network(nets[0], ir[None], vi[None])[0].clone())
        msrs = data / "msrs-samples"
        if msrs.is_dir() and limit is None and find_model("fusion-full") is not None:
            full = load_fuser("full", device="cpu").net
            for ir, vi in load_pairs(list_pairs(msrs, None)):
                images.append(run_network(full, ir[None], vi[None])[0].clone())
    return images


def train_illumination(opts: EngineTrainOptions) -> dict:
    rng = _setup(opts)
    images = fused_training_images(opts.data, opts.limit)
    # The prior units start at S = max RGB (see RetinexUnits): the paper's plain units, trained
    # over many images, settled on a nearly constant S (0.74-0.82 on every bench image, night
    # ones included), so fast brightening hardly moved dark images.
    # The paper's plain units (prior_units=False) are what the fine-tuning engines start from
    # (models/illumination-start.pt): a good start, but a poor fast engine on their own.
    units = xavier_init(RetinexUnits(prior=opts.prior_units), opts.seed)
    if opts.prior_units:
        units.zero_illumination_head()
    else:
        units.set_illumination_bias(ILLUMINATION_BIAS)
    done = _resume(opts, units, "illumination")
    units.train()

    def batch_loss() -> torch.Tensor:
        total = torch.zeros(())
        for _ in range(opts.batch_size):
            x = random_crop(images[rng.randrange(len(images))], opts.crop, rng)
            # Brightness and gamma augmentation: the units must hold on dark and bright images.
            x = (x.clamp(1e-4, 1.0) ** rng.uniform(0.6, 1.6) * rng.uniform(0.5, 1.3)).clamp(0.0, 1.0)[None]
            total = total + RetinexLoss(x)(*units(x))
        return total / opts.batch_size

    run = _Run(opts, lambda meta: save_units(opts.out, units, meta), opts.out.stem + "-train-log.csv", done)
    return _optimise(opts, units.parameters(), batch_loss, run)


def train_denoiser(opts: EngineTrainOptions) -> dict:
    rng = _setup(opts)
    visibles = [vi for _, vi in training_pairs(opts.data, opts.limit)]
    net = NoiseConditionedDenoiser()
    done = _resume(opts, net, "denoise")
    net.train()
    crop = opts.crop - opts.crop % 2

    def batch_loss() -> torch.Tensor:
        clean = torch.stack([random_crop(visibles[rng.randrange(len(visibles))], crop, rng)
                             for _ in range(opts.batch_size)])
        sigma = torch.tensor([rng.uniform(0.0, MAX_SIGMA) for _ in range(opts.batch_size)])[:, None, None, None]
        noisy = (clean + torch.randn_like(clean) * sigma).clamp(0.0, 1.0)
        return F.mse_loss(net(noisy, sigma.expand(-1, 1, crop, crop)), clean)

    run = _Run(opts, lambda meta: save_denoiser(opts.out, net, meta), opts.out.stem + "-train-log.csv", done)
    return _optimise(opts, net.parameters(), batch_loss, run)


def train_engine(opts: EngineTrainOptions) -> dict:
    trainers = {"inclination": train_inclination, "illumination": train_illumination, "denoise": train_denoiser}
    if opts.engine not in trainers:
        raise TerfError(f"unknown engine {opts.engine!r}; choose one of {', '.join(ENGINES)}")
    if opts.minutes <= 0:
        raise TerfError("the time budget must be positive")
    return trainers[opts.engine](opts)
