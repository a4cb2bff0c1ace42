"""``terf-studio bench edit``: each task's engines on fixed regions: direction, agreement, speed.

Every task runs with each engine asked for (``fast``, ``quick``, ``exact``) on a fixed set of
regions: feathered rectangles of about a quarter of the image on RoadScene *test* pairs and MSRS
samples, day and night (:data:`REGIONS`). Per region, task and engine it reports the seconds of
the edit, the task's direction measure before and after, and whether it moved the way the task is
named; the fast engine is also run a second time with the state it returned (a repeat, paper
2.4.4) and timed, and its result is compared with the reference engine's (the last one asked for,
normally ``exact``): the mean absolute difference inside the mask, in grey levels of 255.

Direction measures (inside the mask's core, where it is 1):

- brighten / darken: mean luminance Y (0-255); moved = after - before (darken: before - after);
- infrared: mean |Y - IR| (0-255), lower is closer; moved = before - after;
- visible: mean |Y - Y_vi| (0-255), lower is closer; moved = before - after;
- denoise: PSNR (dB) against the clean fusion after Gaussian noise (sigma 0.08) was added to the
  visible image and the noisy pair fused; moved = after - before;
- blur: variance of the Laplacian; moved = before - after.

Brighten and darken share one fine-tuned decomposition per region and engine (it does not depend
on the gamma): darken's fine-tuned result is brighten's decomposition relit, and its seconds are
brighten's. ``whole`` rows time each fast edit on a whole 640x480 image (an MSRS sample). Peak memory is the
process's maximum resident set size at the end (all engines run included).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from terf_studio.memory import peak_resident_mb
from terf_studio.paths import SHARED_DATA

DATA = SHARED_DATA
DEFAULT_PAIR = DATA / "roadscene"  # kept for ``bench tasks``
PAPER_SECONDS_RTX3090 = {
    "infrared": 26.9, "visible": 26.9, "brighten": 33.5, "darken": 33.5, "denoise": 6.2, "blur": None,
}
TASKS = ("infrared", "visible", "brighten", "darken", "denoise", "blur")
MEASURE_NAME = {"brighten": "mean Y", "darken": "mean Y", "infrared": "|Y-IR|", "visible": "|Y-Yvi|",
                "denoise": "PSNR dB", "blur": "Laplacian var"}
#: +1: the measure grows when the task works; -1: it shrinks.
EXPECTED_DIRECTION = {"brighten": +1, "darken": -1, "infrared": -1, "visible": -1, "denoise": +1, "blur": -1}
NOISE_SIGMA = 0.08
FEATHER = 6


@dataclass(frozen=True)
class BenchRegion:
    name: str
    dataset: str  # folder under the data folder: roadscene or msrs-samples
    stem: str
    box: tuple[float, float, float, float]  # top, left, bottom, right as fractions of the image

    def files(self, data: Path) -> tuple[Path, Path]:
        ext = ".jpg" if self.dataset == "roadscene" else ".png"
        return data / self.dataset / "vi" / f"{self.stem}{ext}", data / self.dataset / "ir" / f"{self.stem}{ext}"

    def mask(self, shape: tuple[int, int]) -> np.ndarray:
        from terf_studio.tuning import feather

        h, w = shape
        t, left, b, r = self.box
        m = np.zeros(shape, np.float32)
        m[int(t * h) : int(b * h), int(left * w) : int(r * w)] = 1.0
        return feather(m, FEATHER)


#: Five regions of about a quarter of the image on five pairs: RoadScene test (day, a dusk street)
#: and MSRS samples (day and two nights).
REGIONS: tuple[BenchRegion, ...] = (
    BenchRegion("FLIR_00211 centre", "roadscene", "FLIR_00211", (0.25, 0.25, 0.75, 0.75)),
    BenchRegion("FLIR_00977 trees", "roadscene", "FLIR_00977", (0.20, 0.20, 0.70, 0.70)),
    BenchRegion("MSRS 00537D centre", "msrs-samples", "00537D", (0.25, 0.25, 0.75, 0.75)),
    BenchRegion("MSRS 00858N lower left", "msrs-samples", "00858N", (0.40, 0.10, 0.90, 0.60)),
    BenchRegion("MSRS 01023N centre", "msrs-samples", "01023N", (0.25, 0.25, 0.75, 0.75)),
)
WHOLE_PAIR = BenchRegion("MSRS 00881N whole", "msrs-samples", "00881N", (0.0, 0.0, 1.0, 1.0))


def _luma(img: np.ndarray) -> np.ndarray:
    from terf_studio.imaging.color import rgb_to_grey_np

    return rgb_to_grey_np(img) if img.ndim == 3 else img


def measure(task: str, image: np.ndarray, inside: np.ndarray, vi: np.ndarray, ir: np.ndarray,
            clean: np.ndarray) -> float:
    import cv2

    y = _luma(image)
    if task in ("brighten", "darken"):
        return float(y[inside].mean() * 255)
    if task == "infrared":
        return float(np.abs(y - ir)[inside].mean() * 255)
    if task == "visible":
        return float(np.abs(y - _luma(vi))[inside].mean() * 255)
    if task == "denoise":
        mse = float(np.mean((image[inside] - clean[inside]) ** 2))
        return float(10 * np.log10(1.0 / max(mse, 1e-12)))
    return float(cv2.Laplacian(y, cv2.CV_32F)[inside].var())


def _run(task: str, engine: str, vi, ir, start, mask, fuser, state=None):  # noqa: ANN001, ANN202
    from terf_studio.tuning import run_task

    t0 = time.perf_counter()
    result = run_task(task, vi=vi, ir=ir, fused=start, mask=mask, fusion_net=fuser.net, state=state,
                      engine=engine, device=fuser.device)
    return result, time.perf_counter() - t0


def _relight(brightened: Any, task: str, start: np.ndarray, mask: np.ndarray) -> Any:
    """What ``run_task(task)`` with a fine-tuning engine gives on the same image, region and seed as
    ``brightened`` (a brighten result): the decomposition does not depend on the gamma, so the
    benchmark trains it once for brighten and darken (a fine-tuned decomposition costs minutes
    on a CPU). Returns an object with ``image``, ``iterations`` and ``params`` like a TaskResult."""
    from dataclasses import replace

    from terf_studio.tuning.composite import paste
    from terf_studio.tuning.illumination import gamma_for, relight
    from terf_studio.tuning.runners import decomposition_from_payload

    d = decomposition_from_payload(brightened.state.payload)
    gamma = gamma_for(task)
    image = paste(start, relight(d, gamma), brightened.box, mask)
    return replace(brightened, image=image, task=task, params={**brightened.params, "gamma": gamma})


def _task_inputs(task: str, vi: np.ndarray, ir: np.ndarray, fused: np.ndarray, fuser: Any,
                 seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The visible image and starting image of a task (denoise starts from a noisy pair)."""
    if task != "denoise":
        return vi, fused
    noise = np.random.default_rng(seed).normal(0, NOISE_SIGMA, vi.shape).astype(np.float32)
    noisy_vi = np.clip(vi + noise, 0, 1)
    return noisy_vi, fuser.fuse(noisy_vi, ir)


def _outlined(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The image with the mask's boundary (at 0.5) drawn in yellow, for the sheets."""
    import cv2

    out = np.array(image, np.float32, copy=True)
    contours, _ = cv2.findContours((mask >= 0.5).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, (1.0, 0.9, 0.0), 1)
    return out


def bench_edit(tasks: Sequence[str] = TASKS, engines: Sequence[str] = ("fast", "exact"),
               regions: Sequence[BenchRegion] = REGIONS, data: Path = DATA, device: str = "auto",
               arch: str = "lite", seed: int = 0, whole: bool = True,
               progress: Callable[[str], None] | None = None,
               sheets: Path | None = None) -> dict[str, Any]:
    """Rows per (region, task) with one entry per engine; see the module docstring.

    With ``sheets``, one picture per task is written there (``edit-TASK.jpg``): a row per region
    with the starting image and each engine's result, the mask outlined.
    """
    from terf_studio.device import describe_device
    from terf_studio.fusion import load_fuser
    from terf_studio.imaging import read_pair

    fuser = load_fuser(arch, None, device)
    reference = engines[-1]
    rows = []
    sheet_rows: dict[str, list[list[tuple[str, np.ndarray]]]] = {t: [] for t in tasks}
    started = time.perf_counter()
    for region in regions:
        vi, ir = read_pair(*region.files(data))
        if vi.ndim == 2:
            vi = np.repeat(vi[..., None], 3, axis=2)
        fused = fuser.fuse(vi, ir)
        mask = region.mask(ir.shape)
        inside = mask >= 0.999
        decompositions: dict[str, tuple[Any, float]] = {}  # engine -> brighten's result and seconds
        for task in tasks:
            task_vi, start = _task_inputs(task, vi, ir, fused, fuser, seed)
            before = measure(task, start, inside, vi, ir, fused)
            sign = EXPECTED_DIRECTION[task]
            results: dict[str, dict[str, Any]] = {}
            images: dict[str, np.ndarray] = {}
            for engine in engines:
                reuse = decompositions.get(engine) if task == "darken" and engine != "fast" else None
                if reuse is not None:  # the same decomposition as brighten's, another gamma
                    result, seconds = _relight(reuse[0], "darken", start, mask), reuse[1]
                else:
                    result, seconds = _run(task, engine, task_vi, ir, start, mask, fuser)
                if task == "brighten" and result.state is not None:
                    decompositions[engine] = (result, seconds)
                after = measure(task, result.image, inside, vi, ir, fused)
                entry: dict[str, Any] = {
                    "engine": result.params.get("engine", engine), "seconds": round(seconds, 3),
                    "iterations": result.iterations, "after": round(after, 4),
                    "moved": round(sign * (after - before), 4), "as_named": bool(sign * (after - before) > 0),
                }
                if engine == "fast":
                    again, seconds2 = _run(task, engine, task_vi, ir, result.image, mask, fuser, state=result.state)
                    entry["seconds_repeat"] = round(seconds2, 4)
                    entry["repeat_further"] = bool(
                        sign * (measure(task, again.image, inside, vi, ir, fused) - after) > 0)
                results[engine] = entry
                images[engine] = result.image
            for engine in engines:
                if engine != reference:
                    diff = np.abs(images[engine] - images[reference]).mean(axis=2)[inside]
                    results[engine][f"mad_to_{reference}"] = round(float(diff.mean() * 255), 3)
            rows.append({"region": region.name, "task": task, "measure": MEASURE_NAME[task],
                         "before": round(before, 4), "engines": results})
            sheet_rows[task].append([(f"{region.name}: start", _outlined(start, mask))] + [
                (f"{e} ({results[e]['seconds']:.1f} s)", _outlined(images[e], mask)) for e in engines])
            if progress is not None:
                progress(f"{region.name} {task}: " + ", ".join(
                    f"{e} {r['seconds']:.2f} s moved {r['moved']:+.3f}" for e, r in results.items())
                    + f" ({time.perf_counter() - started:.0f} s)")
    whole_rows = _whole_image_rows(tasks, data, fuser, seed) if whole and "fast" in engines else []
    if sheets is not None:
        from terf_studio.imaging import write_image
        from terf_studio.imaging.compose import comparison_sheet

        for task, task_rows in sheet_rows.items():
            write_image(Path(sheets) / f"edit-{task}.jpg", comparison_sheet(task_rows, height=200))
    return {
        "device": describe_device(fuser.device), "arch": fuser.arch, "engines": list(engines),
        "reference": reference, "rows": rows, "whole_image_fast": whole_rows,
        "peak_rss_mb": round(peak_resident_mb(), 1),
        "seconds_total": round(time.perf_counter() - started, 1),
    }


def _whole_image_rows(tasks: Sequence[str], data: Path, fuser: Any, seed: int) -> list[dict[str, Any]]:
    from terf_studio.imaging import read_pair

    vi, ir = read_pair(*WHOLE_PAIR.files(data))
    fused = fuser.fuse(vi, ir)
    out = []
    for task in tasks:
        task_vi, start = _task_inputs(task, vi, ir, fused, fuser, seed)
        result, seconds = _run(task, "fast", task_vi, ir, start, None, fuser)
        out.append({"task": task, "engine": result.params.get("engine"), "seconds": round(seconds, 3),
                    "size": f"{ir.shape[1]}x{ir.shape[0]}"})
    return out


def summarise(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Per task and engine: mean seconds, mean and worst movement, share moved as named, MAD."""
    out = []
    for task in dict.fromkeys(r["task"] for r in result["rows"]):
        rows = [r for r in result["rows"] if r["task"] == task]
        for engine in result["engines"]:
            entries = [r["engines"][engine] for r in rows]
            item = {"task": task, "engine": engine, "regions": len(entries),
                    "seconds": round(float(np.mean([e["seconds"] for e in entries])), 3),
                    "seconds_max": round(float(np.max([e["seconds"] for e in entries])), 3),
                    "moved": round(float(np.mean([e["moved"] for e in entries])), 3),
                    "moved_min": round(float(np.min([e["moved"] for e in entries])), 3),
                    "as_named": f"{sum(e['as_named'] for e in entries)}/{len(entries)}"}
            if "seconds_repeat" in entries[0]:
                item["seconds_repeat"] = round(float(np.mean([e["seconds_repeat"] for e in entries])), 4)
            key = f"mad_to_{result['reference']}"
            if key in entries[0]:
                item[key] = round(float(np.mean([e[key] for e in entries])), 2)
            out.append(item)
    return out


def format_edit_table(result: dict[str, Any]) -> str:
    ref = result["reference"]
    lines = [f"device: {result['device']}   network: {result['arch']}   regions: "
             f"{len({r['region'] for r in result['rows']})}   reference: {ref}   peak RSS {result['peak_rss_mb']} MB",
             f"{'task':<10}{'engine':<8}{'measure':<14}{'moved':>9}{'worst':>9}{'named':>7}{'s':>8}{'s max':>8}"
             f"{'repeat s':>10}{'MAD ' + ref:>12}"]
    for s in summarise(result):
        lines.append(
            f"{s['task']:<10}{s['engine']:<8}{MEASURE_NAME[s['task']]:<14}{s['moved']:>9.3f}{s['moved_min']:>9.3f}"
            f"{s['as_named']:>7}{s['seconds']:>8.2f}{s['seconds_max']:>8.2f}"
            f"{s.get('seconds_repeat', float('nan')):>10.3f}{s.get(f'mad_to_{ref}', float('nan')):>12.2f}")
    if result["whole_image_fast"]:
        lines.append("")
        lines.append("fast engine on a whole image (" + result["whole_image_fast"][0]["size"] + "):")
        for w in result["whole_image_fast"]:
            lines.append(f"  {w['task']:<10}{w['seconds']:>8.2f} s  ({w['engine']})")
    return "\n".join(lines)


def add_bench_edit_arguments(p: Any) -> None:
    p.add_argument("--task", action="append", choices=list(TASKS), help="only these tasks (default: all six)")
    p.add_argument("--engines", default="fast,exact",
                   help="comma-separated engines, the last one is the reference (default fast,exact)")
    p.add_argument("--regions", type=int, default=None, help="only the first N regions (default: all five)")
    p.add_argument("--data", default=str(DATA), help="folder with roadscene/ and msrs-samples/")
    p.add_argument("--no-whole", action="store_true", help="skip the whole-image timing")
    p.add_argument("--sheets", help="write one picture per task (start | each engine) into this folder")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true")


def run_bench_edit(args: Any) -> int:
    import json

    from terf_studio.errors import TerfError
    from terf_studio.tuning.specs import ENGINES

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if not engines or any(e not in ENGINES for e in engines):
        raise TerfError(f"--engines takes a comma-separated list of {', '.join(ENGINES)}")
    regions = REGIONS[: args.regions] if args.regions else REGIONS
    result = bench_edit(args.task or TASKS, engines, regions, Path(args.data), args.device, whole=not args.no_whole,
                        progress=lambda line: print(line, file=sys.stderr, flush=True),
                        sheets=Path(args.sheets) if args.sheets else None)
    print(json.dumps(result, indent=2) if args.json else format_edit_table(result))
    return 0


NAME = "edit"
HELP = "each task's engines on fixed regions: direction, agreement, speed"
add_arguments = add_bench_edit_arguments
run = run_bench_edit
