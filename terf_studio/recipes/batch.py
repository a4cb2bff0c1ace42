"""Running a recipe over many pairs: the per-pair function, and the run that keeps the books.

:func:`run_pair` is the whole job for one pair (read, fuse, apply the steps, encode the
outputs) and never raises for a bad pair: it returns a :class:`PairResult` that says which step
failed and why. It takes and returns bytes, not paths, so the same function runs in this
process, in a process pool, or as a Ray task on another machine; only :func:`run_batch`, in
the calling process, reads inputs and writes outputs (atomically).

The output folder holds ``terf-batch.json`` (which pair was made by which recipe and options):
a pair whose output exists and whose fingerprint matches is skipped when the run is started
again, so a stopped run resumes. ``batch-report.json`` and ``batch-report.csv`` list every
pair: done, skipped or failed (with the step and the reason).
"""

from __future__ import annotations

import csv
import json
import os
import socket
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from terf_studio.errors import TerfError
from terf_studio.imaging.folders import Pair
from terf_studio.recipes.recipe import Recipe

MANIFEST = "terf-batch.json"
REPORT_JSON = "batch-report.json"
REPORT_CSV = "batch-report.csv"
MANIFEST_FORMAT = "terf-batch/1"


@dataclass(frozen=True)
class BatchOptions:
    """What every pair's outputs look like (part of the resume fingerprint, except ``device``)."""

    ext: str = "png"
    bit_depth: int = 8
    engine: str | None = None  # overrides the recipe's per-step engines
    weights: str | None = None
    device: str = "cpu"
    resize_ir: bool = False
    save_projects: bool = False
    masks: bool = False

    def fingerprint(self, recipe: Recipe) -> str:
        fields = {k: v for k, v in asdict(self).items() if k != "device"}
        return recipe.hash() + ":" + json.dumps(fields, sort_keys=True)


@dataclass(frozen=True)
class PairJob:
    """One pair's work, self-contained (it may travel to another process or machine)."""

    name: str
    vi_name: str
    vi_data: bytes
    ir_name: str
    ir_data: bytes
    recipe: Recipe  # plain dataclasses and numpy masks: pickled to a process or a Ray worker
    options: BatchOptions
    vi_path: str = ""  # where the sources were read (recorded in a saved project)
    ir_path: str = ""


@dataclass
class PairResult:
    name: str
    status: str  # "done" or "failed"
    seconds: float = 0.0
    output: bytes | None = None
    project: bytes | None = None
    masks: dict[str, bytes] = field(default_factory=dict)
    step: int | None = None  # the failing step (1-based), when one failed
    reason: str = ""
    worker: str = ""


# -- one pair ----------------------------------------------------------------------------------
_FUSERS: dict[tuple[str, str | None, str], Any] = {}


def cached_fuser(arch: str, weights: str | None, device: str) -> Any:
    """The fusion network, loaded once per process (a pool worker or a Ray worker keeps it)."""
    key = (arch, weights, device)
    if key not in _FUSERS:
        from terf_studio.fusion import load_fuser

        _FUSERS[key] = load_fuser(arch, weights, device)
    return _FUSERS[key]


def run_pair(job: PairJob) -> PairResult:
    """Read, fuse and edit one pair; a failure is reported in the result, never raised."""
    from terf_studio.recipes.apply import StepFailed

    start = time.perf_counter()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    try:
        result = _run_pair(job)
    except StepFailed as exc:
        return PairResult(job.name, "failed", time.perf_counter() - start, step=exc.step, reason=exc.reason,
                          worker=worker)
    except TerfError as exc:
        return PairResult(job.name, "failed", time.perf_counter() - start, reason=str(exc), worker=worker)
    except Exception as exc:  # noqa: BLE001 - one pair never stops the run
        return PairResult(job.name, "failed", time.perf_counter() - start,
                          reason=f"{type(exc).__name__}: {' '.join(str(exc).split())}", worker=worker)
    result.seconds, result.worker = time.perf_counter() - start, worker
    return result


def _run_pair(job: PairJob) -> PairResult:
    from terf_studio.document.project import save_project
    from terf_studio.document.session import EditSession
    from terf_studio.imaging import read_pair, write_image
    from terf_studio.recipes.apply import apply_recipe

    recipe, options = job.recipe, job.options
    with tempfile.TemporaryDirectory(prefix="terf-batch-") as tmp:
        folder = Path(tmp)
        # Each under its own name in its own folder: messages name the pair's files.
        vi_file, ir_file = folder / "vi" / Path(job.vi_name).name, folder / "ir" / Path(job.ir_name).name
        for path, data in ((vi_file, job.vi_data), (ir_file, job.ir_data)):
            path.parent.mkdir()
            path.write_bytes(data)
        vi, ir = read_pair(vi_file, ir_file, resize_ir=options.resize_ir, stored=True)
        fuser = cached_fuser(recipe.arch, options.weights, options.device)
        session = EditSession(vi, ir, fuser, vi_path=job.vi_path or job.vi_name, ir_path=job.ir_path or job.ir_name)
        apply_recipe(session, recipe, engine=options.engine)
        out_file = folder / f"out.{options.ext}"
        write_image(out_file, session.current16, bit_depth=options.bit_depth)
        result = PairResult(job.name, "done", output=out_file.read_bytes())
        if options.save_projects:
            project = save_project(session, folder / "project.terf")
            result.project = project.read_bytes()
        if options.masks:
            for n, step in enumerate(session.steps, 1):
                for m, applied in enumerate(step.edits, 1):
                    mask = applied.mask
                    if mask is not None:
                        result.masks[f"{job.name}-step{n}-edit{m}.png"] = mask.to_png_bytes(bit_depth=8)
    return result


# -- executors ---------------------------------------------------------------------------------
class Executor(Protocol):
    """Runs :func:`run_pair` on jobs and yields the results as they finish (in any order)."""

    name: str
    workers: int

    def run(self, jobs: Iterator[PairJob], should_stop: Callable[[], bool]) -> Iterator[PairResult]: ...

    def close(self) -> None: ...


# -- the run -----------------------------------------------------------------------------------
@dataclass
class PairRecord:
    """One line of the report."""

    pair: str
    status: str  # done, skipped, failed, cancelled
    output: str = ""
    step: int | None = None
    reason: str = ""
    seconds: float = 0.0
    worker: str = ""


@dataclass
class BatchSummary:
    recipe_hash: str
    executor: str
    workers: int
    records: list[PairRecord]
    seconds: float
    cancelled: bool = False

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.records)

    @property
    def pairs_per_second(self) -> float:
        done = self.count("done")
        return done / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        parts = [f"{self.count(s)} {s}" for s in ("done", "skipped", "failed", "cancelled") if self.count(s)]
        return (f"{', '.join(parts) or 'nothing to do'} in {self.seconds:.1f} s "
                f"({self.pairs_per_second:.2f} pairs/s, {self.executor} executor, {self.workers} worker(s))")


#: progress(pairs finished (skipped included), of, the latest record)
BatchProgress = Callable[[int, int, PairRecord], None]


def output_paths(out_dir: Path, name: str, options: BatchOptions) -> dict[str, Path]:
    """Where a pair's files go: the image, and the project when asked for."""
    paths = {"output image": out_dir / f"{name}.{options.ext}"}
    if options.save_projects:
        paths["project"] = out_dir / f"{name}.terf"
    return paths


def run_batch(recipe: Recipe, pairs: Sequence[Pair], out_dir: str | os.PathLike, options: BatchOptions,
              executor: Executor, *, progress: BatchProgress | None = None,
              should_stop: Callable[[], bool] | None = None) -> BatchSummary:
    """Run ``recipe`` on every pair with ``executor``; outputs and reports go to ``out_dir``.

    Pairs already made by the same recipe and options are skipped. ``should_stop`` is polled
    between results: once it is true no new pair starts, the ones running finish and are
    written, and the rest are reported as cancelled.
    """
    from terf_studio.imaging.io import atomic_write_bytes

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stop = should_stop or (lambda: False)
    fingerprint = options.fingerprint(recipe)
    manifest = _read_manifest(out)
    records: dict[str, PairRecord] = {}
    todo: list[Pair] = []
    for pair in pairs:
        made = manifest.get(pair.name)
        paths = output_paths(out, pair.name, options)
        if made and made.get("fingerprint") == fingerprint and all(p.is_file() for p in paths.values()):
            records[pair.name] = PairRecord(pair.name, "skipped", paths["output image"].name,
                                            reason="made by this recipe already")
        else:
            todo.append(pair)
    total, finished = len(pairs), len(records)
    for record in records.values():
        finished_record = record
        if progress is not None:
            progress(finished, total, finished_record)
    start = time.perf_counter()

    def jobs() -> Iterator[PairJob]:
        for pair in todo:
            if stop():
                return
            yield PairJob(pair.name, pair.vi.name, pair.vi.read_bytes(), pair.ir.name, pair.ir.read_bytes(),
                          recipe, options, vi_path=str(pair.vi.resolve()), ir_path=str(pair.ir.resolve()))

    try:
        for result in executor.run(jobs(), stop):
            record = _write_result(out, result, options, atomic_write_bytes)
            records[result.name] = record
            if result.status == "done":
                manifest[result.name] = {"fingerprint": fingerprint, "output": record.output}
                _write_manifest(out, manifest, atomic_write_bytes)
            finished += 1
            if progress is not None:
                progress(finished, total, record)
    finally:
        executor.close()
    cancelled = False
    for pair in pairs:
        if pair.name not in records:
            cancelled = True
            records[pair.name] = PairRecord(pair.name, "cancelled", reason="the run was stopped before this pair")
    summary = BatchSummary(recipe.hash(), executor.name, executor.workers, [records[p.name] for p in pairs],
                           time.perf_counter() - start, cancelled)
    write_reports(out, summary, atomic_write_bytes)
    return summary


def _write_result(out: Path, result: PairResult, options: BatchOptions,
                  write: Callable[[Path, bytes], None]) -> PairRecord:
    if result.status != "done" or result.output is None:
        return PairRecord(result.name, "failed", step=result.step, reason=result.reason,
                          seconds=round(result.seconds, 3), worker=result.worker)
    paths = output_paths(out, result.name, options)
    try:
        write(paths["output image"], result.output)
        if result.project is not None:
            write(paths["project"], result.project)
        for name, data in result.masks.items():
            write(out / "masks" / Path(name).name, data)
    except TerfError as exc:
        return PairRecord(result.name, "failed", reason=str(exc),
                          seconds=round(result.seconds, 3), worker=result.worker)
    return PairRecord(result.name, "done", paths["output image"].name, seconds=round(result.seconds, 3),
                      worker=result.worker)


def _read_manifest(out: Path) -> dict[str, dict[str, Any]]:
    """The pairs made before (an unreadable or foreign manifest counts as none: all are made again)."""
    try:
        data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT or not isinstance(data.get("pairs"), dict):
        return {}
    return {k: v for k, v in data["pairs"].items() if isinstance(v, dict)}


def _write_manifest(out: Path, pairs: dict[str, dict[str, Any]], write: Callable[[Path, bytes], None]) -> None:
    write(out / MANIFEST, json.dumps({"format": MANIFEST_FORMAT, "pairs": pairs}, indent=1).encode())


def write_reports(out: Path, summary: BatchSummary, write: Callable[[Path, bytes], None]) -> None:
    """``batch-report.json`` (the summary and every pair) and ``batch-report.csv`` (every pair)."""
    rows = [asdict(r) for r in summary.records]
    data = {"recipe": summary.recipe_hash, "executor": summary.executor, "workers": summary.workers,
            "seconds": round(summary.seconds, 3), "pairs_per_second": round(summary.pairs_per_second, 4),
            "done": summary.count("done"), "skipped": summary.count("skipped"), "failed": summary.count("failed"),
            "cancelled": summary.count("cancelled"), "pairs": rows}
    write(out / REPORT_JSON, json.dumps(data, indent=1).encode())
    lines = _csv_text(["pair", "status", "output", "step", "reason", "seconds", "worker"], rows)
    write(out / REPORT_CSV, lines.encode())


def _csv_text(columns: list[str], rows: list[dict[str, Any]]) -> str:
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    return buffer.getvalue()
