"""Training the fusion network on a folder of aligned pairs (RoadScene layout).

The data folder holds ``vi/NAME`` and ``ir/NAME`` with the same names and, optionally,
``split.json`` (``{"train": [...], "test": [...]}``). A few training pairs are held out for
validation (never the test split); with a teacher, validation measures the loss trained on,
distance to the teacher included. ``init`` starts from existing weights (a fine-tuning; weights of
an older, smaller head of the same network grow into it, ``fusion.grow``). Every
epoch writes ``last.pt`` (network, optimiser, epoch, random states) so ``--resume`` continues
exactly, appends a line to ``log.csv`` and, when the validation loss improves, writes the
shipped-format weights ``fusion-ARCH.pt``.

``max_minutes`` is a wall-clock budget for one call (loading included): an epoch is started only
when the time used so far plus the longest epoch of this call still fits, so a run ends between
epochs with everything written, and ``--resume`` can continue it later.
"""

from __future__ import annotations

import csv
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from terf_studio.errors import CancelledError, TerfError
from terf_studio.fusion.checkpoint import read_checkpoint, save_weights
from terf_studio.fusion.inference import run_network
from terf_studio.fusion.losses import FusionLoss
from terf_studio.fusion.network import FusionNet, build_network
from terf_studio.imaging import read_pair
from terf_studio.imaging.color import to_tensor
from terf_studio.imaging.folders import Pair, find_pairs


@dataclass
class TrainOptions:
    data: Path
    out: Path
    arch: str = "lite"
    split: str = "train"
    epochs: int = 100
    batch_size: int = 8
    crop: int = 128
    crops_per_pair: int = 1
    lr: float = 3e-4
    val_pairs: int = 6
    seed: int = 0
    resume: bool = False
    device: str = "cpu"
    limit: int | None = None
    max_minutes: float | None = None
    #: Distillation (terf_studio.fusion.distill): the teacher network (arch or weights file), the
    #: weight of its loss beside the paper's, and the largest crop window (x the crop) to reduce.
    teacher: str | None = None
    teacher_weight: float = 1.0
    #: Weight, inside the distillation loss, of matching the teacher's one-pixel texture.
    texture_weight: float = 0.0
    max_scale: float = 2.0
    #: Start from these weights (same network) instead of a random initialisation.
    init: Path | None = None


def list_pairs(data: Path, split: str | None) -> list[Pair]:
    """Pairs of ``vi/`` and ``ir/``, restricted to ``split`` when ``split.json`` has it."""
    split_file = data / "split.json"
    names = None
    if split and split_file.is_file():
        chosen = json.loads(split_file.read_text())
        if split not in chosen:
            raise TerfError(f"split '{split}' not in {split_file} (it has {', '.join(chosen)})")
        names = chosen[split]
    if not (data / "vi").is_dir() or not (data / "ir").is_dir():
        raise TerfError(f"'{data}' must contain the folders vi/ and ir/")
    return find_pairs(data / "vi", data / "ir", names)


def load_pairs(pairs: list[Pair]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """All pairs as (ir (1,H,W), vi (3,H,W)) tensors in memory (RoadScene is ~40 MB as float)."""
    loaded = []
    for pair in pairs:
        vi, ir = read_pair(pair.vi, pair.ir)
        vi_t = to_tensor(vi)[0]
        if vi_t.shape[0] == 1:
            vi_t = vi_t.expand(3, -1, -1).contiguous()
        loaded.append((to_tensor(ir)[0], vi_t))
    return loaded


def random_batch(
    pairs: list[tuple[torch.Tensor, torch.Tensor]], indices: list[int], crop: int, rng: random.Random
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random crops (reflect-padded when a pair is smaller than the crop) with random flips."""
    irs, vis = [], []
    for i in indices:
        ir, vi = pairs[i]
        x = random_crop(torch.cat((ir, vi), 0), crop, rng)
        irs.append(x[:1])
        vis.append(x[1:])
    return torch.stack(irs), torch.stack(vis)


def random_crop(x: torch.Tensor, crop: int, rng: random.Random) -> torch.Tensor:
    """A random ``crop`` x ``crop`` window of (C, H, W) with random flips (replicate-padded when
    the image is smaller than the crop)."""
    h, w = x.shape[-2:]
    if h < crop or w < crop:
        x = torch.nn.functional.pad(x[None], (0, max(0, crop - w), 0, max(0, crop - h)), mode="replicate")[0]
        h, w = x.shape[-2:]
    top, left = rng.randint(0, h - crop), rng.randint(0, w - crop)
    x = x[:, top : top + crop, left : left + crop]
    if rng.random() < 0.5:
        x = x.flip(-1)
    if rng.random() < 0.5:
        x = x.flip(-2)
    return x


def split_pairs(opts: TrainOptions) -> tuple[list[Pair], list[Pair]]:
    """(training pairs, validation pairs): ``val_pairs`` of the split held out by ``seed``."""
    pairs = list_pairs(Path(opts.data), opts.split)[: opts.limit]
    held_idx = set(random.Random(opts.seed).sample(range(len(pairs)), min(opts.val_pairs, max(0, len(pairs) - 1))))
    return ([p for i, p in enumerate(pairs) if i not in held_idx], [p for i, p in enumerate(pairs) if i in held_idx])


def _target_progress(i: int, n: int, name: str) -> None:
    tqdm.write(f"teacher fusion {i}/{n}: {name}")


def prepare_teacher(opts: TrainOptions, progress: bool = True) -> Path:
    """Only the teacher's fusions of the training and validation pairs (the slow part of a
    distillation, resumable)."""
    from terf_studio.fusion.distill import prepare_targets

    if not opts.teacher:
        raise TerfError("--prepare-teacher needs --teacher")
    train_set, held = split_pairs(opts)
    return prepare_targets(train_set + held, opts.teacher, opts.device, progress=_target_progress if progress else None)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _start_from(path: Path, net: FusionNet) -> FusionNet:
    """``net`` with the weights in ``path``: the same network, or one whose head grows into
    ``net``'s (``fusion.grow``: the same output, more capacity)."""
    from terf_studio.fusion.checkpoint import load_network
    from terf_studio.fusion.grow import grow_head

    start, _ = load_network(path, arch=net.config.name)  # another network is refused there
    return start if start.config == net.config else grow_head(start, net.config)


@torch.no_grad()
def validate(net: FusionNet, criterion: FusionLoss, pairs: list, device: torch.device,
             targets: list[torch.Tensor] | None = None, teacher_weight: float = 1.0,
             texture_weight: float = 0.0) -> tuple[float, float]:
    """(mean loss, mean distillation distance) on whole held-out images (any size, padded by
    run_network). With the teacher's fusions of those images, the loss is the one trained on
    (paper + ``teacher_weight`` x distance), so the best save is the best student, not the
    network that fits the paper's loss best; without them the distance is NaN."""
    from terf_studio.fusion.distill import distill_loss

    net.eval()
    losses, distances = [], []
    for i, (ir, vi) in enumerate(pairs):
        ir_b, vi_b = ir[None].to(device), vi[None].to(device)
        fused = run_network(net, ir_b, vi_b)
        loss, _ = criterion(fused, ir_b, vi_b)
        if targets is not None:
            distance = distill_loss(fused, targets[i][None].to(device), torch.ones(1), texture_weight)
            distances.append(float(distance))
            loss = loss + teacher_weight * distance
        losses.append(float(loss))
    net.train()
    mean = float(np.mean(losses)) if losses else float("nan")
    return mean, float(np.mean(distances)) if distances else float("nan")


def train(
    opts: TrainOptions,
    progress: bool = True,
    should_stop: Callable[[], bool] | None = None,
) -> dict:
    """Train (or resume) and return a summary dict; writes everything under ``opts.out``."""
    from terf_studio.device import resolve_device

    started = time.perf_counter()
    if opts.max_minutes is not None and opts.max_minutes <= 0:
        raise TerfError("max_minutes must be positive")
    device = resolve_device(opts.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed crop size: let cuDNN pick its fastest kernels
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    train_set, held = split_pairs(opts)
    names = {"train": [p.vi.name for p in train_set], "validation": [p.vi.name for p in held]}
    (out / "pairs.json").write_text(json.dumps(names, indent=1))

    seed_everything(opts.seed)
    last_path = out / "last.pt"
    net = build_network(opts.arch)
    if opts.init is not None and not opts.resume:
        net = _start_from(opts.init, net)
    net = net.to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=opts.lr)
    criterion = FusionLoss()
    start_epoch, best_val, elapsed = 0, float("inf"), 0.0
    if opts.resume and last_path.is_file():
        state = read_checkpoint(last_path)
        net.load_state_dict(state["state_dict"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch, best_val, elapsed = state["epoch"], state["best_val"], state["elapsed"]
        torch.set_rng_state(state["torch_rng"])
    elif opts.resume:
        raise TerfError(f"nothing to resume: '{last_path}' does not exist")

    train_pairs = load_pairs(train_set)
    val_pairs = load_pairs(held)
    targets = val_targets = None
    if opts.teacher:
        from terf_studio.fusion.distill import load_targets, prepare_targets

        every = train_set + held
        folder = prepare_targets(every, opts.teacher, opts.device, progress=_target_progress if progress else None)
        targets, val_targets = load_targets(train_set, folder), load_targets(held, folder)
    log_path = out / "log.csv"
    if start_epoch == 0:
        with log_path.open("w", newline="") as f:
            csv.writer(f).writerow(
                ["epoch", "train_loss", "intensity", "gradient", "color", "ssim", "val_loss", "seconds",
                 "distill", "val_distill"]
            )

    net.train()
    budget = None if opts.max_minutes is None else opts.max_minutes * 60.0
    longest, done, stopped = 0.0, start_epoch, None
    for epoch in range(start_epoch, opts.epochs):
        t0 = time.perf_counter()
        if budget is not None and (t0 - started) + longest > budget:
            stopped = f"time budget of {opts.max_minutes:g} min reached"
            break
        rng = random.Random(opts.seed * 100_003 + epoch)  # per-epoch stream: a resumed run draws the same crops
        order = [i for i in range(len(train_pairs)) for _ in range(opts.crops_per_pair)]
        rng.shuffle(order)
        batches = [order[i : i + opts.batch_size] for i in range(0, len(order), opts.batch_size)]
        sums: dict[str, float] = {}
        bar = tqdm(batches, desc=f"epoch {epoch + 1}/{opts.epochs}", disable=None if progress else True, leave=False)
        for batch in bar:
            if should_stop is not None and should_stop():
                raise CancelledError(f"training cancelled during epoch {epoch + 1}; '{last_path}' holds the last epoch")
            if targets is None:
                ir, vi = random_batch(train_pairs, batch, opts.crop, rng)
                ir, vi = ir.to(device), vi.to(device)
                loss, terms = criterion(net(ir, vi), ir, vi)
            else:
                from terf_studio.fusion.distill import distill_loss, make_batch

                ir, vi, target, weight = (t.to(device) for t in make_batch(train_pairs, targets, batch, opts.crop, rng,
                                                                             max_scale=opts.max_scale))
                fused = net(ir, vi)
                loss, terms = criterion(fused, ir, vi)
                distill = distill_loss(fused, target, weight, opts.texture_weight)
                loss = loss + opts.teacher_weight * distill
                terms = {**terms, "distill": float(distill.detach()), "total": float(loss.detach())}
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + v
            bar.set_postfix(loss=f"{terms['total']:.4f}")
        means = {k: v / len(batches) for k, v in sums.items()}
        val, val_distill = validate(net, criterion, val_pairs, device, val_targets, opts.teacher_weight,
                                    opts.texture_weight)
        seconds = time.perf_counter() - t0
        elapsed += seconds
        longest = max(longest, seconds)
        with log_path.open("a", newline="") as f:
            row = [
                epoch + 1, means["total"], means["intensity"], means["gradient"], means["color"], means["ssim"],
                val, seconds, means.get("distill", float("nan")), val_distill,
            ]
            csv.writer(f).writerow([f"{v:.6f}" if isinstance(v, float) else v for v in row])
        meta = {"data": str(opts.data), "split": opts.split, "epochs": epoch + 1, "val_loss": val, "seconds": elapsed}
        if val < best_val:
            best_val = val
            save_weights(out / f"fusion-{opts.arch}.pt", net, {**meta, "best_epoch": epoch + 1})
        save_weights(
            last_path,
            net,
            meta,
            optimizer=optimizer.state_dict(),
            epoch=epoch + 1,
            best_val=best_val,
            elapsed=elapsed,
            torch_rng=torch.get_rng_state(),
        )
        done = epoch + 1
        if progress:
            tqdm.write(f"epoch {epoch + 1}: train {means['total']:.4f}  val {val:.4f}  ({seconds:.0f} s)")
    return {"epochs": done, "best_val": best_val, "seconds": elapsed, "weights": str(out / f"fusion-{opts.arch}.pt"),
            "stopped": stopped}
