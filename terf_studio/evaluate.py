"""Quality evaluation of fused images over a folder of visible/infrared pairs.

What ``terf-studio eval`` (:mod:`terf_studio.cli.eval`) computes. The fused images come from
exactly one source:

* ``--fused-dir D``: images already fused (matched to the pairs by file stem,
  so ``a.jpg`` pairs with ``a.png``);
* ``--arch lite|full``: our fusion network, run here (and timed);
* ``--method mean|max``: reference rows, the pixel mean / pixel maximum of the
  two *grey* sources.

Conventions (see :mod:`terf_studio.metrics`): every metric is computed on the
grey level (0.299 R + 0.587 G + 0.114 B) on a 0-255 float scale; SSIM is the
sum over the two sources (divide by 2 for the paper's Table 1), MI in bits.
Fused images made here (``--arch``, ``--method``) are first rounded to 8-bit
levels, as if written to a PNG, so ``--arch`` gives the same numbers as
fusing to files and evaluating them with ``--fused-dir``. ``std`` is the
population standard deviation over the pairs. Model time is the mean
wall-clock time of one ``Fuser.fuse`` call (reading and metrics excluded; on
CUDA one untimed warm-up call is made first).

Progress goes to stderr, so ``--json`` output on stdout stays parseable.
"""

from __future__ import annotations

import csv
import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from terf_studio.errors import ImageReadError, PairMismatchError, TerfError
from terf_studio.imaging.folders import Pair
from terf_studio.metrics import METRIC_NAMES, compute_all, to_grey255

FuseFn = Callable[[np.ndarray, np.ndarray], np.ndarray]



# --------------------------------------------------------------------------
# names
# --------------------------------------------------------------------------

def _split_names_spec(spec: str) -> tuple[Path, str | None]:
    """``FILE.json:KEY`` -> (FILE.json, KEY); ``FILE.json`` -> (FILE.json, None)."""
    head, sep, tail = spec.rpartition(":")
    if sep and head and tail and not any(c in tail for c in "/\\"):
        return Path(head), tail
    return Path(spec), None


def load_names(spec: str) -> list[str]:
    """The list of file names given by ``FILE.json:KEY`` (or a bare JSON list file)."""
    path, key = _split_names_spec(spec)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TerfError(f"names file not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TerfError(f"cannot read names file {path}: {exc}") from None
    if key is not None:
        if not isinstance(data, dict) or key not in data:
            keys = sorted(data) if isinstance(data, dict) else []
            raise TerfError(f"names file {path} has no key {key!r} (keys: {', '.join(keys) or 'none'})")
        data = data[key]
    if not isinstance(data, list) or not all(isinstance(n, str) for n in data):
        where = f"{path}:{key}" if key else str(path)
        raise TerfError(f"{where} must be a list of file names")
    if not data:
        raise TerfError(f"{spec} lists no names")
    return data




# --------------------------------------------------------------------------
# fusing
# --------------------------------------------------------------------------

def as_saved_8bit(img: np.ndarray) -> np.ndarray:
    """Round a float [0, 1] image to 8-bit levels (``rint(255 x) / 255``), as a PNG stores it."""
    return np.rint(np.clip(img, 0.0, 1.0) * 255.0) / 255.0


def reference_fusion(method: str) -> FuseFn:
    """Pixel ``mean`` or ``max`` of the grey sources, as a float [0, 1] grey image."""
    combine: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
        "mean": lambda a, b: (a + b) / 2.0,
        "max": np.maximum,
    }
    if method not in combine:
        raise TerfError(f"unknown reference method {method!r} (use mean or max)")

    def fuse(vi: np.ndarray, ir: np.ndarray) -> np.ndarray:
        return as_saved_8bit(combine[method](to_grey255(vi), to_grey255(ir)) / 255.0)

    return fuse


# --------------------------------------------------------------------------
# evaluating
# --------------------------------------------------------------------------

@dataclass
class EvalResult:
    """Per-image metrics of one evaluation run."""

    method: str
    names: list[str] = field(default_factory=list)
    rows: list[dict[str, float]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def means(self) -> dict[str, float]:
        """Mean of each metric over the pairs."""
        return {k: float(np.mean([r[k] for r in self.rows])) for k in METRIC_NAMES}

    def stds(self) -> dict[str, float]:
        """Population standard deviation of each metric over the pairs."""
        return {k: float(np.std([r[k] for r in self.rows])) for k in METRIC_NAMES}

    def seconds_per_pair(self) -> float | None:
        """Mean fusion time per pair, or None when no model ran."""
        return float(np.mean(self.seconds)) if self.seconds else None

    def to_json_dict(self) -> dict[str, object]:
        """``{"method", "pairs", "metrics", "std", "seconds_per_pair"}``."""
        return {
            "method": self.method,
            "pairs": len(self.rows),
            "metrics": _finite(self.means()),
            "std": _finite(self.stds()),
            "seconds_per_pair": self.seconds_per_pair(),
        }


def _finite(values: dict[str, float]) -> dict[str, float | None]:
    """Non-finite numbers (PSNR of identical images) become null in JSON."""
    return {k: (v if math.isfinite(v) else None) for k, v in values.items()}


def _read_pair(pair: Pair) -> tuple[np.ndarray, np.ndarray]:
    from terf_studio.imaging import read_pair

    try:
        return read_pair(pair.vi, pair.ir, resize_ir=False)
    except TerfError:
        raise
    except (OSError, ValueError) as exc:
        raise ImageReadError(f"cannot read pair {pair.name}: {exc}") from None


def _read_fused(path: Path) -> np.ndarray:
    from terf_studio.imaging import read_image

    try:
        return read_image(path)
    except TerfError:
        raise
    except (OSError, ValueError) as exc:
        raise ImageReadError(f"cannot read {path}: {exc}") from None


def _check_size(fused: np.ndarray, vi: np.ndarray, name: str) -> None:
    if fused.shape[:2] != vi.shape[:2]:
        raise PairMismatchError(
            f"fused image of {name} is {fused.shape[1]}x{fused.shape[0]}, "
            f"its sources are {vi.shape[1]}x{vi.shape[0]}")


def _progress(pairs: Sequence[Pair]) -> Iterable[Pair]:
    """Progress bar on stderr (only when stderr is a terminal)."""
    try:
        from tqdm import tqdm
    except ImportError:
        return pairs
    return tqdm(pairs, desc="eval", unit="pair", file=sys.stderr, disable=None)


def evaluate_pairs(pairs: Sequence[Pair], method: str, fuse: FuseFn | None = None,
                   timed: bool = False, warm_up: bool = False) -> EvalResult:
    """Compute all metrics for each pair.

    The fused image is ``pair.fused`` read from disk when ``fuse`` is None,
    else ``fuse(vi, ir)`` rounded to 8 bits. With ``timed`` the wall-clock
    time of each ``fuse`` call is recorded; ``warm_up`` makes one untimed call
    on the first pair first.
    """
    result = EvalResult(method)
    for index, pair in enumerate(_progress(pairs)):
        vi, ir = _read_pair(pair)
        if fuse is None:
            assert pair.fused is not None
            fused = _read_fused(pair.fused)
        else:
            if warm_up and index == 0:
                fuse(vi, ir)
            start = time.perf_counter()
            fused = fuse(vi, ir)
            if timed:
                result.seconds.append(time.perf_counter() - start)
            fused = as_saved_8bit(fused)
        _check_size(fused, vi, pair.name)
        result.names.append(pair.name)
        result.rows.append(compute_all(fused, ir, vi))
    return result


# --------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------

def format_table(result: EvalResult) -> str:
    """Plain-text table: metric, mean, std (and the model's seconds per pair)."""
    means, stds = result.means(), result.stds()
    lines = [f"method: {result.method}   pairs: {len(result.rows)}",
             f"{'metric':<8}{'mean':>12}{'std':>12}"]
    lines += [f"{k:<8}{means[k]:>12.4f}{stds[k]:>12.4f}" for k in METRIC_NAMES]
    lines.append("(SSIM is the sum over ir and vi; MI in bits; grey = 0.299R+0.587G+0.114B)")
    seconds = result.seconds_per_pair()
    if seconds is not None:
        lines.append(f"seconds per pair (fusion only, mean): {seconds:.4f}")
    return "\n".join(lines)


def format_comparison(results: Sequence[EvalResult]) -> str:
    """Several methods side by side: one row each (means over the same pairs), metrics as columns."""
    width = max(12, *(len(r.method) + 2 for r in results))
    lines = [f"pairs: {len(results[0].rows) if results else 0}",
             f"{'method':<{width}}" + "".join(f"{k:>9}" for k in METRIC_NAMES) + f"{'s/pair':>9}"]
    for r in results:
        means, seconds = r.means(), r.seconds_per_pair()
        lines.append(f"{r.method:<{width}}" + "".join(f"{means[k]:>9.3f}" for k in METRIC_NAMES)
                     + (f"{seconds:>9.3f}" if seconds is not None else f"{'-':>9}"))
    lines.append("(SSIM and VIF are sums over ir and vi; MI in bits; grey = 0.299R+0.587G+0.114B)")
    return "\n".join(lines)


def write_csv(result: EvalResult, path: Path) -> None:
    """One row per image (``name`` + metrics [+ ``seconds``]) and a final ``mean`` row."""
    columns = ["name", *METRIC_NAMES] + (["seconds"] if result.seconds else [])
    try:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            for i, (name, row) in enumerate(zip(result.names, result.rows)):
                extra = [f"{result.seconds[i]:.6f}"] if result.seconds else []
                writer.writerow([name, *(f"{row[k]:.6f}" for k in METRIC_NAMES), *extra])
            means = result.means()
            extra = [f"{result.seconds_per_pair():.6f}"] if result.seconds else []
            writer.writerow(["mean", *(f"{means[k]:.6f}" for k in METRIC_NAMES), *extra])
    except OSError as exc:
        raise TerfError(f"cannot write CSV file {path}: {exc.strerror or exc}") from None
