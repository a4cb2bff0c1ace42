"""``terf-studio bench segment``: seconds per mask, per finder and prompt.

Built-in rows:

- ``builtin`` point and box on RoadScene test pairs resized to 640x480 (the aspect ratio is
  not kept; timing is what is measured). Each pair's prompts come from its largest warm
  object (:func:`terf_studio.regions.warm_objects`): a click on the object pixel nearest its
  centroid, and its bounding box grown by 10% on each side; a pair without one gets a click
  at the image centre and the central third as box. The prompts are found before timing.
  "first click" times a click on a freshly opened pair (per-image features are computed);
  "next click" a second click on the same pair (they are cached).
- ``builtin`` text finder for "person", "sky" and "road" on the MSRS samples (640x480),
  with how many pairs it found the target in and the mean confidence of those masks.

Each timing is the median over pairs x repeats after one untimed warm-up call; the target
for point and box masks is under 0.5 s. The machine's load average is reported beside the
numbers, since other work on the CPU slows them down.

More rows (learned finders, e.g. GroundingDINO/SAM with random weights) are added by listing
a ``"module:function"`` in :data:`ROW_FUNCTIONS` or calling :func:`add_row_function`; the
function takes a :class:`BenchData` and returns a list of row dicts (use :func:`timing_row`).
A module that cannot be imported gives a row saying it was skipped and why.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import numpy as np

from terf_studio.paths import SHARED_DATA

WIDTH, HEIGHT = 640, 480
TARGET_SECONDS = 0.5
TEXT_TARGETS = ("person", "sky", "road")
ROADSCENE = SHARED_DATA / "roadscene"
MSRS = SHARED_DATA / "msrs-samples"

RowFunction = Callable[["BenchData"], list[dict]]
_P = ParamSpec("_P")
_T = TypeVar("_T")

# Row producers, run in order: "module:function" names, imported when the bench runs.
ROW_FUNCTIONS: list[str | RowFunction] = [
    "terf_studio.bench.segment:builtin_prompt_rows",
    "terf_studio.bench.segment:builtin_text_rows",
]


def add_row_function(function: str | RowFunction) -> None:
    """Add a row producer (a callable or "module:function") unless it is listed already."""
    if function not in ROW_FUNCTIONS:
        ROW_FUNCTIONS.append(function)


@dataclass
class Pair:
    name: str
    vi: np.ndarray  # float32 in [0, 1], (H, W, 3) or (H, W)
    ir: np.ndarray  # float32 in [0, 1], (H, W)
    point: tuple[float, float] | None = None
    box: tuple[float, float, float, float] | None = None
    prompt_from: str = ""


@dataclass
class BenchData:
    """The pairs every row function measures on, loaded once."""

    roadscene: list[Pair] = field(default_factory=list)  # 640x480, with point and box prompts
    msrs: list[Pair] = field(default_factory=list)  # 640x480 as published
    repeats: int = 3
    roadscene_note: str = ""
    msrs_note: str = ""


def _read_pair(vi_path: Path, ir_path: Path, name: str, resize: bool) -> Pair:
    import cv2

    from terf_studio.imaging import read_image
    from terf_studio.imaging.color import rgb_to_grey_np

    vi, ir = read_image(vi_path), read_image(ir_path)
    if ir.ndim == 3:
        ir = rgb_to_grey_np(ir)
    if resize:
        vi = cv2.resize(vi, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
        ir = cv2.resize(ir, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
    return Pair(name, np.ascontiguousarray(vi, np.float32), np.ascontiguousarray(ir, np.float32))


def _prompts(pair: Pair) -> None:
    """Point and box for ``pair`` from its largest warm object, else the image centre."""
    from terf_studio.regions import ImageSet, warm_objects

    objects = warm_objects(ImageSet(pair.vi, pair.ir))
    h, w = pair.ir.shape
    if objects:
        obj = max(objects, key=lambda o: o.area)
        ys, xs = np.nonzero(obj.mask)
        cx, cy = obj.centroid
        i = int(np.argmin((xs - cx) ** 2 + (ys - cy) ** 2))
        pair.point = (float(xs[i]), float(ys[i]))
        x0, y0, x1, y1 = obj.bbox
        mx, my = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
        pair.box = (max(x0 - mx, 0.0), max(y0 - my, 0.0), min(x1 + mx, float(w)), min(y1 + my, float(h)))
        pair.prompt_from = "warm object"
    else:
        pair.point = (w / 2.0, h / 2.0)
        pair.box = (w / 3.0, h / 3.0, 2 * w / 3.0, 2 * h / 3.0)
        pair.prompt_from = "centre"


def load_bench_data(pairs: int = 10, repeats: int = 3, roadscene: Path = ROADSCENE, msrs: Path = MSRS) -> BenchData:
    """The first ``pairs`` RoadScene test pairs (640x480, with prompts) and the MSRS samples."""
    from terf_studio.errors import TerfError

    data = BenchData(repeats=max(int(repeats), 1))
    split = Path(roadscene) / "split.json"
    if split.is_file():
        names = json.loads(split.read_text())["test"][: max(int(pairs), 0)]
        for name in names:
            pair = _read_pair(Path(roadscene) / "vi" / name, Path(roadscene) / "ir" / name, name, resize=True)
            _prompts(pair)
            data.roadscene.append(pair)
        warm = sum(p.prompt_from == "warm object" for p in data.roadscene)
        data.roadscene_note = (f"RoadScene test, first {len(data.roadscene)} pairs at {WIDTH}x{HEIGHT}; prompts from "
                               f"the largest warm object ({warm}) or the centre ({len(data.roadscene) - warm})")
    folder = Path(msrs)
    if (folder / "vi").is_dir():
        for vi_path in sorted((folder / "vi").glob("*.png")):
            data.msrs.append(_read_pair(vi_path, folder / "ir" / vi_path.name, vi_path.stem, resize=False))
        data.msrs_note = f"MSRS samples, {len(data.msrs)} pairs ({', '.join(p.name for p in data.msrs)})"
    if not data.roadscene and not data.msrs:
        raise TerfError(f"no benchmark data: neither {split} nor {folder / 'vi'} exists")
    return data


def timing_row(finder: str, prompt: str, data_note: str, seconds: list[float], target: float | None = None,
               **extra: Any) -> dict:
    """One result row: median, min and max seconds of ``seconds`` and whether the median
    meets ``target`` (when given)."""
    row = {
        "finder": finder,
        "prompt": prompt,
        "data": data_note,
        "runs": len(seconds),
        "seconds_median": round(statistics.median(seconds), 4) if seconds else None,
        "seconds_min": round(min(seconds), 4) if seconds else None,
        "seconds_max": round(max(seconds), 4) if seconds else None,
        "target_seconds": target,
        "meets_target": (statistics.median(seconds) < target) if (seconds and target) else None,
    }
    row.update(extra)
    return row


def _timed(function: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> tuple[float, _T]:
    t0 = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - t0, result


def _point_and_box(pair: Pair) -> tuple[tuple[float, float], tuple[float, float, float, float]]:
    """The prompts :func:`load_bench_data` gave a RoadScene pair."""
    assert pair.point is not None and pair.box is not None, f"{pair.name} has no prompts"
    return pair.point, pair.box


def builtin_prompt_rows(data: BenchData) -> list[dict]:
    """Point (first and next click) and box masks of the builtin code on RoadScene."""
    from terf_studio.regions import ImageSet, box_region, point_region

    if not data.roadscene:
        return []
    first = data.roadscene[0]
    point, box = _point_and_box(first)
    point_region(ImageSet(first.vi, first.ir), positives=[point])  # warm-up (untimed)
    box_region(ImageSet(first.vi, first.ir), box=box)
    times: dict[str, list[float]] = {"first": [], "next": [], "box": []}
    areas: dict[str, list[float]] = {"first": [], "box": []}
    for _ in range(data.repeats):
        for pair in data.roadscene:
            images = ImageSet(pair.vi, pair.ir)
            point, box = _point_and_box(pair)
            seconds, mask = _timed(point_region, images, positives=[point])
            times["first"].append(seconds)
            areas["first"].append(mask.area / mask.data.size)
            x, y = point
            nudged = (min(x + 2, WIDTH - 1), y)
            times["next"].append(_timed(point_region, images, positives=[nudged])[0])
            seconds, mask = _timed(box_region, ImageSet(pair.vi, pair.ir), box=box)
            times["box"].append(seconds)
            areas["box"].append(mask.area / mask.data.size)
    note = data.roadscene_note
    return [
        timing_row("builtin", "point (first click on a pair)", note, times["first"], TARGET_SECONDS,
                   mean_area_fraction=round(float(np.mean(areas["first"])), 4)),
        timing_row("builtin", "point (next click, same pair)", note, times["next"], TARGET_SECONDS),
        timing_row("builtin", "box (GrabCut)", note, times["box"], TARGET_SECONDS,
                   mean_area_fraction=round(float(np.mean(areas["box"])), 4)),
    ]


def builtin_text_rows(data: BenchData) -> list[dict]:
    """The builtin text finder for each of :data:`TEXT_TARGETS` on the MSRS samples."""
    from terf_studio.regions import ImageSet, NoRegionFound, find_region

    if not data.msrs:
        return []
    first = data.msrs[0]
    try:  # warm-up (untimed)
        find_region(TEXT_TARGETS[0], ImageSet(first.vi, first.ir), finder="builtin")
    except NoRegionFound:
        pass
    rows = []
    for phrase in TEXT_TARGETS:
        seconds, found, confidences = [], set(), []
        for rep in range(data.repeats):
            for pair in data.msrs:
                images = ImageSet(pair.vi, pair.ir)
                t0 = time.perf_counter()
                try:
                    result = find_region(phrase, images, finder="builtin")
                except NoRegionFound:
                    result = None
                seconds.append(time.perf_counter() - t0)
                if result is not None and rep == 0:
                    found.add(pair.name)
                    confidences.append(result.confidence)
        rows.append(timing_row("builtin", f"text '{phrase}'", data.msrs_note, seconds, None,
                               found=f"{len(found)}/{len(data.msrs)}", found_in=sorted(found),
                               mean_confidence=round(float(np.mean(confidences)), 3) if confidences else None))
    return rows


def _resolve(function: str | RowFunction) -> RowFunction:
    if callable(function):
        return function
    module, _, name = function.partition(":")
    return getattr(importlib.import_module(module), name)


def bench_segment(data: BenchData, functions: list[str | RowFunction] | None = None) -> list[dict]:
    """Run every row function on ``data``; one that cannot be imported gives a 'skipped' row."""
    rows = []
    for function in functions if functions is not None else ROW_FUNCTIONS:
        try:
            produce = _resolve(function)
        except (ImportError, AttributeError) as exc:
            rows.append({"finder": str(function), "skipped": f"{type(exc).__name__}: {exc}"})
            continue
        rows.extend(produce(data))
    return rows


def machine() -> dict:
    import platform

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_1_5_15_min": [round(v, 2) for v in load] if load else None,
    }


def format_segment_table(report: dict) -> str:
    m = report["machine"]
    load = m["load_average_1_5_15_min"]
    lines = [f"{m['cpu_count']} CPUs, load average {load[0]:.2f} (1 min) when the bench ended" if load
             else f"{m['cpu_count']} CPUs"]
    header = f"{'finder':<10} {'prompt':<32} {'median s':>9} {'max s':>7} {'runs':>5}  notes"
    lines.append(header)
    notes_seen = []
    for row in report["rows"]:
        if "skipped" in row:
            lines.append(f"{row['finder']:<10} skipped: {row['skipped']}")
            continue
        notes = []
        if row["target_seconds"]:
            notes.append(f"target <{row['target_seconds']} s: {'yes' if row['meets_target'] else 'NO'}")
        if row.get("found"):
            notes.append(f"found in {row['found']}")
        if row.get("mean_confidence") is not None:
            notes.append(f"mean confidence {row['mean_confidence']:.2f}")
        if row["data"] not in notes_seen:
            notes_seen.append(row["data"])
        notes.append(f"[{notes_seen.index(row['data']) + 1}]")
        lines.append(f"{row['finder']:<10} {row['prompt']:<32} {row['seconds_median']:>9.3f} "
                     f"{row['seconds_max']:>7.3f} {row['runs']:>5}  {'; '.join(notes)}")
    lines += [f"[{i + 1}] {note}" for i, note in enumerate(notes_seen)]
    return "\n".join(lines)


def add_bench_segment_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pairs", type=int, default=10, help="RoadScene test pairs for point and box (default 10)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per pair (default 3)")
    p.add_argument("--roadscene", default=str(ROADSCENE), help="RoadScene folder (vi/, ir/, split.json)")
    p.add_argument("--msrs", default=str(MSRS), help="MSRS samples folder (vi/, ir/)")
    p.add_argument("--grounded", action="store_true",
                   help="add GroundingDINO, SAM and MobileSAM rows: small models of the published shapes "
                        "with random weights (needs the [grounding] extra; minutes on a CPU)")
    p.add_argument("--json", action="store_true")


GROUNDED_ROWS = "terf_studio.bench.grounded:grounded_rows"


def run_bench_segment(args: argparse.Namespace) -> int:
    if args.grounded:
        add_row_function(GROUNDED_ROWS)
    data = load_bench_data(args.pairs, args.repeats, Path(args.roadscene), Path(args.msrs))
    report: dict[str, Any] = {"rows": bench_segment(data)}
    report["machine"] = machine()
    print(json.dumps(report, indent=2) if args.json else format_segment_table(report))
    return 0


NAME = "segment"
HELP = "seconds per mask: builtin point, box and text finders (and more rows)"
add_arguments = add_bench_segment_arguments
run = run_bench_segment
