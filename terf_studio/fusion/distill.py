"""Distilling the ``full`` fusion network into a CPU-sized student, with heavy augmentation.

The teacher fuses every training pair once, whole (its fusions are cached as 16-bit PNGs under
``~/.cache/terf-studio/teacher/NAME-SHA/``, keyed by the teacher file's hash, so a stopped
preparation resumes and a retrained teacher gets a new folder). The student then trains on
random crops with two losses: the paper's (eq. 9, against the sources) and the distance to the
teacher's fusion of the same crop (L1 on RGB plus L1 on the Sobel gradient of Y, so edges count
as much as levels). An optional texture term (``texture`` > 0) also matches the one-pixel
differences of Y and their energy (the spatial frequency): the Sobel filter smooths over three
pixels, and a student trained without this term has a lower SF than its teacher.

Augmentation, so that the student holds on cameras it never saw:

- geometry: crops at several scales (a window 1 to ``max_scale`` times the crop, reduced to the
  crop by area averaging) and flips; the teacher's fusion is cropped and reduced with the
  sources, so its target stays valid;
- the visible image's photometry: brightness, gamma and contrast changes, grey visible images,
  sensor noise. The teacher never saw those inputs, so a sample changed this way is trained on
  the paper's loss alone (its distillation weight is 0).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from terf_studio.imaging.folders import Pair

#: Probability that a sample's visible image gets a photometric change.
PHOTOMETRIC_P = 0.5


def teacher_cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "terf-studio" / "teacher"


def teacher_cache_dir(weights: Path, root: Path | None = None) -> Path:
    from terf_studio.weights.integrity import sha256_of

    return (root or teacher_cache_root()) / f"{weights.stem}-{sha256_of(weights)[:12]}"


def prepare_targets(pairs: Sequence[Pair], teacher: str, device: str = "auto", root: Path | None = None,
                    progress: Callable[[int, int, str], None] | None = None) -> Path:
    """Fuse every pair with the ``teacher`` network (a registered arch or a weights file) into
    the cache, skipping those already there; returns the cache folder."""
    from terf_studio.fusion import load_fuser
    from terf_studio.imaging import read_pair, write_image

    is_file = Path(teacher).suffix == ".pt"
    fuser = load_fuser(None if is_file else teacher, teacher if is_file else None, device)
    assert fuser.weights_path is not None  # load_fuser always loads a file
    folder = teacher_cache_dir(fuser.weights_path, root)
    for i, pair in enumerate(pairs, 1):
        target = folder / f"{pair.name}.png"
        if not target.is_file():
            vi, ir = read_pair(pair.vi, pair.ir, stored=True)
            out = np.empty((*ir.shape[:2], 3), np.uint16)
            write_image(target, fuser.fuse(vi, ir, out=out), bit_depth=16, in_place=True)
        if progress is not None:
            progress(i, len(pairs), pair.name)
    return folder


def load_targets(pairs: Sequence[Pair], folder: Path) -> list[torch.Tensor]:
    """The cached teacher fusions of ``pairs`` as (3, H, W) float tensors."""
    from terf_studio.errors import TerfError
    from terf_studio.imaging import read_image
    from terf_studio.imaging.color import to_tensor

    missing = [p.name for p in pairs if not (folder / f"{p.name}.png").is_file()]
    if missing:
        raise TerfError(f"{len(missing)} teacher fusions are missing in {folder} (e.g. {missing[0]}): "
                        "prepare them first (terf-studio train ... --prepare-teacher)")
    return [to_tensor(read_image(folder / f"{p.name}.png"))[0] for p in pairs]


@dataclass
class Sample:
    ir: torch.Tensor  # (1, c, c)
    vi: torch.Tensor  # (3, c, c)
    target: torch.Tensor  # (3, c, c) the teacher's fusion of the same window
    weight: float  # 1: distil on it; 0: its visible image was changed, the paper's loss only


def random_sample(ir: torch.Tensor, vi: torch.Tensor, target: torch.Tensor, crop: int, rng: random.Random,
                  max_scale: float = 2.0, photometric_p: float = PHOTOMETRIC_P) -> Sample:
    """One augmented crop of a pair and its teacher fusion (see the module notes)."""
    stack = torch.cat((ir, vi, target), 0)
    h, w = stack.shape[-2:]
    size = min(int(round(crop * rng.uniform(1.0, max_scale))), h, w)
    size = max(size, min(crop, h, w))
    if h < crop or w < crop:
        stack = F.pad(stack[None], (0, max(0, crop - w), 0, max(0, crop - h)), mode="replicate")[0]
        h, w = stack.shape[-2:]
        size = crop
    top, left = rng.randint(0, h - size), rng.randint(0, w - size)
    window = stack[:, top : top + size, left : left + size]
    if size != crop:
        window = F.interpolate(window[None], size=(crop, crop), mode="area")[0]
    if rng.random() < 0.5:
        window = window.flip(-1)
    if rng.random() < 0.5:
        window = window.flip(-2)
    ir_c, vi_c, target_c = window[:1], window[1:4], window[4:]
    weight = 1.0
    if rng.random() < photometric_p:
        vi_c = change_visible(vi_c, rng)
        weight = 0.0
    return Sample(ir_c.contiguous(), vi_c.contiguous(), target_c.contiguous(), weight)


def change_visible(vi: torch.Tensor, rng: random.Random) -> torch.Tensor:
    """Brightness, gamma, contrast, grey and noise changes of a visible crop, each by chance."""
    out = vi
    grey_camera = rng.random() < 0.3
    if grey_camera:
        grey = 0.299 * out[0] + 0.587 * out[1] + 0.114 * out[2]
        out = grey.expand(3, -1, -1)
    if rng.random() < 0.6 or not grey_camera:  # at least one change: a gamma away from 1
        out = out.clamp(0, 1) ** (rng.uniform(0.5, 0.85) if rng.random() < 0.5 else rng.uniform(1.2, 2.0))
    if rng.random() < 0.6:
        mean = out.mean()
        out = (out - mean) * rng.uniform(0.6, 1.4) + mean * rng.uniform(0.6, 1.4)
    if rng.random() < 0.3:
        generator = torch.Generator().manual_seed(rng.randrange(2**31))
        out = out + torch.randn(out.shape, generator=generator) * rng.uniform(0.005, 0.04)
    return out.clamp(0.0, 1.0)


def batch_of(samples: Sequence[Sample]) -> tuple[torch.Tensor, ...]:
    """(ir, vi, target, weight) batches."""
    return (torch.stack([s.ir for s in samples]), torch.stack([s.vi for s in samples]),
            torch.stack([s.target for s in samples]), torch.tensor([s.weight for s in samples]))


def distill_loss(student: torch.Tensor, target: torch.Tensor, weight: torch.Tensor,
                 texture: float = 0.0) -> torch.Tensor:
    """Per-sample L1 to the teacher's fusion plus L1 between the Sobel gradients of their Y
    (plus ``texture`` x ``texture_distance``), weighted by ``weight`` (B,) and averaged over the
    samples that count."""
    from terf_studio.fusion.losses import sobel_magnitude
    from terf_studio.imaging.color import rgb_to_ycrcb

    level = (student - target).abs().mean(dim=(1, 2, 3))
    y_s, y_t = rgb_to_ycrcb(student)[:, :1], rgb_to_ycrcb(target)[:, :1]
    edges = (sobel_magnitude(y_s) - sobel_magnitude(y_t)).abs().mean(dim=(1, 2, 3))
    per_sample = level + edges
    if texture:
        per_sample = per_sample + texture * texture_distance(y_s, y_t)
    weight = weight.to(student)
    return (per_sample * weight).sum() / weight.sum().clamp_min(1.0)


def texture_distance(y_s: torch.Tensor, y_t: torch.Tensor) -> torch.Tensor:
    """Per sample: L1 between the one-pixel differences (rows and columns) of two Y batches plus
    the gap between their spatial frequencies (sqrt of the mean squared difference)."""
    dx_s, dx_t = y_s.diff(dim=-1), y_t.diff(dim=-1)
    dy_s, dy_t = y_s.diff(dim=-2), y_t.diff(dim=-2)
    signed = (dx_s - dx_t).abs().mean(dim=(1, 2, 3)) + (dy_s - dy_t).abs().mean(dim=(1, 2, 3))

    def frequency(dx: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
        return (dx.square().mean(dim=(1, 2, 3)) + dy.square().mean(dim=(1, 2, 3)) + 1e-12).sqrt()

    return signed + (frequency(dx_s, dy_s) - frequency(dx_t, dy_t)).abs()


def make_batch(pairs: Sequence[tuple[torch.Tensor, torch.Tensor]], targets: Sequence[torch.Tensor],
               indices: Sequence[int], crop: int, rng: random.Random, max_scale: float = 2.0,
               photometric_p: float = PHOTOMETRIC_P) -> tuple[torch.Tensor, ...]:
    return batch_of([random_sample(pairs[i][0], pairs[i][1], targets[i], crop, rng, max_scale, photometric_p)
                     for i in indices])
