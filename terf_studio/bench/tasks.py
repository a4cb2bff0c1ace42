"""``terf-studio bench tasks``: the paper's Table 2 (fine-tuning tasks on whole images).

On RoadScene test pairs (the fixed ``split.json`` test list, the first ``--pairs`` of it), each
row of the paper's Table 2 is made on the *whole* image ("each task is performed once across the
entire region of the source images", paper 3.3), with :func:`terf_studio.tuning.run_task`:

========  ==========================================================================
baseline  the fusion network's output on the clean pair
I         infrared inclination of the baseline
II        visible inclination of the baseline
III       brighten (illumination enhancement) of the baseline
IV        darken (illumination reduction) of the baseline
V         fusion of the *noisy* visible image with the infrared image (no task)
VI        V denoised directly (``denoise``, mode ``fused``)
VII       the noisy visible image denoised first, then fused (``denoise``, mode ``visible``)
========  ==========================================================================

Noise: Gaussian, sigma 25/255, added to the visible image (values in [0, 1]) and clipped to
[0, 1]; the generator is seeded with ``seed`` + the pair's index, so every run draws the same
noise. As in the paper, every row is assessed against the *noise-free* sources.

Metrics (:mod:`terf_studio.metrics`, on the grey level 0.299 R + 0.587 G + 0.114 B, 0-255,
after rounding the image to 8-bit levels as ``terf-studio eval`` does): AG, SSIM, SF, Qabf, EN,
SD. SSIM is the project's convention, the SUM over the two sources; the paper prints the mean
(halve ours to compare). For V-VII, ``PSNR_clean`` (dB) and ``SSIM_clean`` compare the row's grey
level with the clean baseline's: how much of the noise-free fusion was recovered.

Seconds: per task, on a 640x480 pair (the first pair resized) with a feathered centred box
covering a quarter of the image (half the width by half the height, feathered over 8 pixels), as
an editor runs it: on the mask's bounding box plus a margin. Each task is first run once with one
iteration (untimed) so start-up costs (CUDA context, kernel selection) are not counted.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from terf_studio.evaluate import as_saved_8bit, load_names
from terf_studio.imaging.folders import Pair, find_pairs
from terf_studio.metrics import ag, en, psnr_ref, qabf, sd, sf, ssim, ssim_pair, to_grey255

ROWS: tuple[str, ...] = ("baseline", "I", "II", "III", "IV", "V", "VI", "VII")
DESCRIPTIONS: dict[str, str] = {
    "baseline": "fusion of the clean pair",
    "I": "infrared inclination",
    "II": "visible inclination",
    "III": "brighten (illumination enhancement)",
    "IV": "darken (illumination reduction)",
    "V": "fusion with the noisy visible image",
    "VI": "V denoised (denoise the fused image)",
    "VII": "noisy visible denoised, then fused",
}
#: Row -> (task, mode) for the rows made by a fine-tuning task.
ROW_TASKS: dict[str, tuple[str, str | None]] = {
    "I": ("infrared", None),
    "II": ("visible", None),
    "III": ("brighten", None),
    "IV": ("darken", None),
    "VI": ("denoise", "fused"),
    "VII": ("denoise", "visible"),
}
NOISY_ROWS: tuple[str, ...] = ("V", "VI", "VII")
METRICS: tuple[str, ...] = ("AG", "SSIM", "SF", "Qabf", "EN", "SD")
CLEAN_METRICS: tuple[str, ...] = ("PSNR_clean", "SSIM_clean")
#: For comparing engines on what each row is about: mean grey level, correlation with each source.
DIRECTION_METRICS: tuple[str, ...] = ("MEAN", "CORR_IR", "CORR_VI")
NOISE_SIGMA = 25.0 / 255.0
TIMING_SIZE = (480, 640)  # (height, width)
TIMING_FEATHER = 8

#: The paper's Table 2 (RoadScene), verbatim: its SSIM is the MEAN over the two sources.
PAPER_TABLE2: dict[str, dict[str, float]] = {
    "baseline": {"AG": 5.1801, "SSIM": 0.7041, "SF": 7.5797, "Qabf": 0.5912, "EN": 7.1221, "SD": 14.5694},
    "I": {"AG": 5.2003, "SSIM": 0.6739, "SF": 7.5821, "Qabf": 0.6191, "EN": 7.5234, "SD": 18.2078},
    "II": {"AG": 3.1420, "SSIM": 0.6743, "SF": 5.6145, "Qabf": 0.4150, "EN": 6.7444, "SD": 12.5711},
    "III": {"AG": 5.0511, "SSIM": 0.6515, "SF": 7.5760, "Qabf": 0.5051, "EN": 6.7977, "SD": 12.3864},
    "IV": {"AG": 5.2512, "SSIM": 0.7009, "SF": 7.6138, "Qabf": 0.6245, "EN": 7.3150, "SD": 16.6660},
    "V": {"AG": 8.5599, "SSIM": 0.4670, "SF": 12.1157, "Qabf": 0.4023, "EN": 7.2400, "SD": 14.5627},
    "VI": {"AG": 6.6462, "SSIM": 0.5741, "SF": 10.1196, "Qabf": 0.4235, "EN": 7.2187, "SD": 14.3155},
    "VII": {"AG": 5.5428, "SSIM": 0.6596, "SF": 8.3990, "Qabf": 0.5106, "EN": 7.1489, "SD": 14.3491},
}

Progress = Callable[[str], None]


def add_noise(vi: np.ndarray, seed: int, sigma: float = NOISE_SIGMA) -> np.ndarray:
    """``vi`` plus Gaussian noise of standard deviation ``sigma`` (on [0, 1]), clipped to [0, 1]."""
    noise = np.random.default_rng(seed).normal(0.0, sigma, np.shape(vi)).astype(np.float32)
    return np.clip(np.asarray(vi, np.float32) + noise, 0.0, 1.0)


def quarter_mask(shape: tuple[int, int], feather_radius: float = TIMING_FEATHER) -> np.ndarray:
    """A centred box of half the height and half the width (a quarter of the area), feathered."""
    from terf_studio.tuning import feather

    h, w = shape
    mask = np.zeros((h, w), np.float32)
    mask[h // 4 : h // 4 + h // 2, w // 4 : w // 4 + w // 2] = 1.0
    return feather(mask, feather_radius)


def table_images(vi: np.ndarray, ir: np.ndarray, fuser: Any, *, seed: int = 0, exact: bool = False,
                 iterations: int | None = None, mask: np.ndarray | None = None,
                 rows: Sequence[str] = ROWS, engine: str | None = None) -> dict[str, tuple[np.ndarray, float, int]]:
    """Row -> (image (H, W, 3) float32, seconds, iterations) for one pair.

    ``mask`` None is the whole image (Table 2); a mask restricts each task to it (timing).
    The baseline and V rows are always made (the others start from them).
    """
    from terf_studio.tuning import run_task

    out: dict[str, tuple[np.ndarray, float, int]] = {}
    t0 = time.perf_counter()
    baseline = fuser.fuse(vi, ir)
    out["baseline"] = (baseline, time.perf_counter() - t0, 0)
    noisy_vi = add_noise(vi, seed)
    t0 = time.perf_counter()
    noisy_fused = fuser.fuse(noisy_vi, ir)
    out["V"] = (noisy_fused, time.perf_counter() - t0, 0)
    for row in rows:
        if row not in ROW_TASKS:
            continue
        task, mode = ROW_TASKS[row]
        noisy = row in NOISY_ROWS
        t0 = time.perf_counter()
        result = run_task(task, vi=noisy_vi if noisy else vi, ir=ir, fused=noisy_fused if noisy else baseline,
                          mask=mask, mode=mode, fusion_net=fuser.net, exact=exact, iterations=iterations,
                          device=fuser.device, seed=seed, engine=engine)
        out[row] = (result.image, time.perf_counter() - t0, result.iterations)
    return out


def row_metrics(image: np.ndarray, vi: np.ndarray, ir: np.ndarray, clean: np.ndarray | None = None) -> dict[str, float]:
    """AG, SSIM, SF, Qabf, EN, SD of ``image`` against the (clean) sources, plus PSNR/SSIM
    against ``clean`` (the clean fusion) when given. Images are rounded to 8-bit levels first."""
    f = to_grey255(as_saved_8bit(image))
    i, v = to_grey255(ir), to_grey255(vi)
    values = {"AG": ag(f), "SSIM": ssim(f, i, v), "SF": sf(f), "Qabf": qabf(f, i, v), "EN": en(f), "SD": sd(f),
              "MEAN": float(f.mean()), "CORR_IR": _corr(f, i), "CORR_VI": _corr(f, v)}
    if clean is not None:
        c = to_grey255(as_saved_8bit(clean))
        values["PSNR_clean"] = psnr_ref(f, c)
        values["SSIM_clean"] = ssim_pair(f, c)
    return values


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def roadscene_test_pairs(data: Path, count: int | None) -> list[Pair]:
    """The first ``count`` pairs of ``data/split.json``'s test list (all when None)."""
    names = load_names(f"{data / 'split.json'}:test")
    pairs = find_pairs(data / "vi", data / "ir", names)
    return pairs if count is None else pairs[:count]


def timing_rows(vi: np.ndarray, ir: np.ndarray, fuser: Any, *, exact: bool = False, iterations: int | None = None,
                seed: int = 0, engine: str | None = None) -> list[dict[str, Any]]:
    """Seconds per task on ``vi``/``ir`` resized to 640x480 with :func:`quarter_mask`."""
    import cv2

    h, w = TIMING_SIZE
    vi = cv2.resize(np.asarray(vi, np.float32), (w, h), interpolation=cv2.INTER_AREA)
    ir = cv2.resize(np.asarray(ir, np.float32), (w, h), interpolation=cv2.INTER_AREA)
    mask = quarter_mask((h, w))
    table_images(vi, ir, fuser, seed=seed, iterations=1, mask=mask, engine=engine)  # warm-up, untimed
    timed = table_images(vi, ir, fuser, seed=seed, exact=exact, iterations=iterations, mask=mask, engine=engine)
    rows = []
    for row in ROWS:
        _, seconds, n = timed[row]
        task, mode = ROW_TASKS.get(row, ("fusion", None))
        rows.append({"row": row, "task": task, "mode": mode, "iterations": n, "seconds": round(seconds, 4)})
    return rows


def _mean_std(values: list[dict[str, float]], keys: Sequence[str]) -> tuple[dict[str, float], dict[str, float]]:
    mean = {k: float(np.mean([v[k] for v in values])) for k in keys}
    std = {k: float(np.std([v[k] for v in values])) for k in keys}
    return mean, std


def _logged_pairs(pair_log: Path, engine: str, rows: Sequence[str]) -> dict[str, dict[str, Any]]:
    """{pair name: its logged rows} for ``engine`` from a ``--pair-log`` file, the pairs whose line
    holds every row of ``rows`` (plus baseline and V) only; the last line of a pair wins."""
    import json

    if not pair_log.is_file():
        return {}
    wanted = set(rows) | {"baseline", "V"}
    found: dict[str, dict[str, Any]] = {}
    for line in pair_log.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:  # a line cut short when a run was killed while writing it
            continue
        if entry.get("engine") == engine and wanted <= set(entry.get("rows", {})):
            found[entry["pair"]] = {row: entry["rows"][row] for row in wanted}
    return found


def _ends_mid_line(path: Path) -> bool:
    """Whether ``path`` exists and its last byte is not a newline (a run killed while writing)."""
    if not path.is_file() or path.stat().st_size == 0:
        return False
    with path.open("rb") as f:
        f.seek(-1, 2)
        return f.read(1) != b"\n"


def bench_table(pairs: Sequence[Pair], fuser: Any, *, exact: bool = False, iterations: int | None = None,
                seed: int = 0, max_seconds: float | None = None, timing: bool = True,
                progress: Progress | None = None, engine: str | None = None,
                rows: Sequence[str] = ROWS, pair_log: Path | None = None, resume: bool = False) -> dict[str, Any]:
    """Table 2 over ``pairs`` (and the 640x480 timing unless ``timing`` is False).

    With ``max_seconds`` no new pair is started once that much time has passed (the timing
    included); ``pairs`` in the result says how many were done. ``rows`` limits the task rows
    made (baseline and V are always made); the others are left empty. ``pair_log`` gets one JSON
    line per finished pair (its rows' metrics and seconds), so a long run that is stopped still
    leaves its pairs behind. With ``resume`` the pairs that log already holds for this engine
    (with every row asked for) are read from it instead of made again, so a stopped run continues
    where it stopped and its table covers all of its pairs (each pair keeps its seed, ``seed`` plus
    its place in ``pairs``).
    """
    import json

    from terf_studio.device import describe_device
    from terf_studio.imaging import read_pair
    from terf_studio.tuning import EXACT_ITERATIONS, QUICK_ITERATIONS

    start = time.perf_counter()
    counts = EXACT_ITERATIONS if exact else QUICK_ITERATIONS
    per_row: dict[str, list[dict[str, float]]] = {row: [] for row in ROWS}
    seconds: dict[str, list[float]] = {row: [] for row in ROWS}
    names: list[str] = []
    timing_table = None
    engine_name = engine or ("exact" if exact else "quick")
    logged = _logged_pairs(pair_log, engine_name, rows) if resume and pair_log is not None else {}
    for index, pair in enumerate(pairs):
        if pair.name in logged:
            for row, entry in logged[pair.name].items():
                per_row[row].append(entry["metrics"])
                seconds[row].append(entry["seconds"])
            names.append(pair.name)
            continue
        if max_seconds is not None and names and time.perf_counter() - start > max_seconds:
            break
        vi, ir = read_pair(pair.vi, pair.ir)
        if vi.ndim == 2:
            vi = np.repeat(vi[..., None], 3, axis=2)
        if timing and timing_table is None:
            timing_table = timing_rows(vi, ir, fuser, exact=exact, iterations=iterations, seed=seed, engine=engine)
        images = table_images(vi, ir, fuser, seed=seed + index, exact=exact, iterations=iterations, engine=engine,
                              rows=rows)
        clean = images["baseline"][0]
        pair_rows: dict[str, dict[str, Any]] = {}
        for row, (image, secs, _) in images.items():
            metrics = row_metrics(image, vi, ir, clean if row in NOISY_ROWS else None)
            pair_rows[row] = {"metrics": metrics, "seconds": round(secs, 3)}
            per_row[row].append(metrics)
            seconds[row].append(secs)
        names.append(pair.name)
        if pair_log is not None:
            cut = _ends_mid_line(pair_log)
            with open(pair_log, "a", encoding="utf-8") as log:
                if cut:  # a line left unfinished by a killed run: start on a line of our own
                    log.write("\n")
                log.write(json.dumps({"engine": engine_name, "pair": pair.name,
                                      "rows": pair_rows}) + "\n")
        if progress is not None:
            progress(f"{pair.name}: {len(names)} of {len(pairs)} pairs, {time.perf_counter() - start:.0f} s")
    table: list[dict[str, Any]] = []
    for row in ROWS:
        keys = METRICS + DIRECTION_METRICS + (CLEAN_METRICS if row in NOISY_ROWS else ())
        mean, std = _mean_std(per_row[row], keys) if per_row[row] else ({}, {})
        task, mode = ROW_TASKS.get(row, (None, None))
        table.append({
            "row": row,
            "description": DESCRIPTIONS[row],
            "task": task,
            "mode": mode,
            "iterations": 0 if engine == "fast" else (
                iterations if iterations is not None else (counts[task] if task else 0)),
            "metrics": mean,
            "std": std,
            "seconds_per_pair": float(np.mean(seconds[row])) if seconds[row] else None,
            "paper": PAPER_TABLE2[row],
        })
    return {
        "pairs": len(names),
        "names": names,
        "arch": fuser.arch,
        "device": describe_device(fuser.device),
        "mode": engine or ("iterations" if iterations is not None else ("exact" if exact else "quick")),
        "noise_sigma": NOISE_SIGMA,
        "seed": seed,
        "conventions": "grey 0.299R+0.587G+0.114B on 0-255 after 8-bit rounding; SSIM = SUM over ir and vi "
                       "(paper: mean); PSNR_clean/SSIM_clean against the clean baseline's grey level",
        "rows": table,
        "timing_640x480_quarter_mask": timing_table,
        "seconds_total": round(time.perf_counter() - start, 2),
    }


def format_table(result: dict[str, Any]) -> str:
    """Plain-text Table 2 (ours, with the paper's row beneath) and the timing table."""
    lines = [f"pairs: {result['pairs']} (RoadScene test)   network: {result['arch']}   mode: {result['mode']}   "
             f"device: {result['device']}   noise sigma 25/255 on the visible image",
             f"{'row':<9}{'AG':>8}{'SSIM':>8}{'SF':>9}{'Qabf':>8}{'EN':>8}{'SD':>8}{'PSNRc':>8}{'SSIMc':>8}{'s/pair':>8}"]
    for r in result["rows"]:
        m = r["metrics"]
        if not m:
            continue
        clean = (f"{m['PSNR_clean']:>8.2f}{m['SSIM_clean']:>8.3f}" if "PSNR_clean" in m else f"{'-':>8}{'-':>8}")
        lines.append(f"{r['row']:<9}{m['AG']:>8.3f}{m['SSIM']:>8.3f}{m['SF']:>9.3f}{m['Qabf']:>8.3f}{m['EN']:>8.3f}"
                     f"{m['SD']:>8.2f}{clean}{r['seconds_per_pair']:>8.2f}")
        p = r["paper"]
        lines.append(f"{'  paper':<9}{p['AG']:>8.3f}{2 * p['SSIM']:>8.3f}{p['SF']:>9.3f}{p['Qabf']:>8.3f}"
                     f"{p['EN']:>8.3f}{p['SD']:>8.2f}")
    lines.append("(SSIM: sum over ir and vi; the paper's row shows its mean doubled. PSNRc/SSIMc: against the "
                 "clean fusion, grey level)")
    if result.get("timing_640x480_quarter_mask"):
        lines.append("")
        lines.append("seconds per task, 640x480 pair, feathered centred box of a quarter of the image:")
        for t in result["timing_640x480_quarter_mask"]:
            what = t["task"] + (f" ({t['mode']})" if t["mode"] else "")
            lines.append(f"  {t['row']:<9}{what:<20}{t['iterations']:>6} it {t['seconds']:>9.3f} s")
    return "\n".join(lines)


#: Per row, the measure it is about (a larger value is better) for comparing engines.
ROW_MEASURES: dict[str, tuple[str, Callable[[dict[str, float], dict[str, float]], float]]] = {
    "I": ("correlation with the infrared image", lambda m, base: m["CORR_IR"]),
    "II": ("correlation with the visible image", lambda m, base: m["CORR_VI"]),
    "III": ("mean grey level raised by", lambda m, base: m["MEAN"] - base["MEAN"]),
    "IV": ("mean grey level lowered by", lambda m, base: base["MEAN"] - m["MEAN"]),
    "VI": ("PSNR to the clean fusion (dB)", lambda m, base: m["PSNR_clean"]),
    "VII": ("PSNR to the clean fusion (dB)", lambda m, base: m["PSNR_clean"]),
}


def compare_engines(results: dict[str, dict[str, Any]], reference: str) -> list[dict[str, Any]]:
    """Per row and engine: the row's own measure, and whether it is at least the reference's."""
    out = []
    for row, (what, value) in ROW_MEASURES.items():
        entry: dict[str, Any] = {"row": row, "measure": what}
        for engine, result in results.items():
            by_row = {r["row"]: r["metrics"] for r in result["rows"]}
            if by_row.get(row):
                entry[engine] = round(value(by_row[row], by_row["baseline"]), 4)
        for engine in results:
            if engine != reference and engine in entry and reference in entry:
                entry[f"{engine}_at_least_{reference}"] = bool(entry[engine] >= entry[reference])
        out.append(entry)
    return out


def format_comparison(comparison: list[dict[str, Any]], engines: Sequence[str], reference: str) -> str:
    lines = ["each row's own measure, by engine (at least as good as " + reference + "?):",
             f"{'row':<6}{'measure':<38}" + "".join(f"{e:>10}" for e in engines)]
    for c in comparison:
        verdicts = [("yes" if c[k] else "NO") for e in engines if (k := f"{e}_at_least_{reference}") in c]
        lines.append(f"{c['row']:<6}{c['measure']:<38}" + "".join(f"{c.get(e, float('nan')):>10.4f}" for e in engines)
                     + ("   " + " ".join(verdicts) if verdicts else ""))
    return "\n".join(lines)


def _progress_printer(engine: str | None) -> Callable[[str], None]:
    """Progress lines on stderr, tagged with ``engine``."""

    def progress(line: str) -> None:
        print(f"[{engine or 'default'}] {line}", file=sys.stderr, flush=True)

    return progress


def run_bench_tasks(args: Any) -> int:
    """The ``bench tasks`` command (options declared in ``terf_studio.cli``)."""
    import json

    from terf_studio.bench.edit import DEFAULT_PAIR
    from terf_studio.errors import TerfError
    from terf_studio.fusion import load_fuser
    from terf_studio.tuning.specs import ENGINES

    data = Path(args.data) if args.data else DEFAULT_PAIR
    pairs = roadscene_test_pairs(data, args.pairs)
    fuser = load_fuser(args.arch, args.weights, args.device)
    engines = [e.strip() for e in (args.engines or "").split(",") if e.strip()] or [None]
    if any(e is not None and e not in ENGINES for e in engines):
        raise TerfError(f"--engines takes a comma-separated list of {', '.join(ENGINES)}")
    rows = _parse_rows(args.rows)
    results = {}
    for engine in engines:
        results[engine or ("exact" if args.exact else "quick")] = bench_table(
            pairs, fuser, exact=args.exact or engine == "exact", iterations=args.iterations, seed=args.seed,
            max_seconds=None if args.max_minutes is None else args.max_minutes * 60.0, timing=not args.no_timing,
            progress=_progress_printer(engine),
            engine=engine, rows=rows, pair_log=Path(args.pair_log) if args.pair_log else None,
            resume=args.resume,
        )
    if len(results) == 1:
        (result,) = results.values()
        print(json.dumps(result, indent=2) if args.json else format_table(result))
        return 0
    reference = list(results)[-1]
    comparison = compare_engines(results, reference)
    if args.json:
        print(json.dumps({"engines": results, "reference": reference, "comparison": comparison}, indent=2))
    else:
        for name, result in results.items():
            print(f"== engine: {name}")
            print(format_table(result))
            print()
        print(format_comparison(comparison, list(results), reference))
    return 0


def _parse_rows(text: str | None) -> tuple[str, ...]:
    """``--rows I,III`` -> the task rows to make (all when None)."""
    from terf_studio.errors import TerfError

    if not text:
        return ROWS
    chosen = tuple(r.strip() for r in text.split(",") if r.strip())
    unknown = [r for r in chosen if r not in ROW_TASKS]
    if unknown or not chosen:
        raise TerfError(f"--rows takes a comma-separated list of {', '.join(ROW_TASKS)}; got {text!r}")
    return chosen


NAME = "tasks"
HELP = "the paper's Table 2: tasks I-VII on whole RoadScene test pairs, metrics, seconds"


def add_arguments(p: Any) -> None:
    from terf_studio.cli.common import add_model_arguments

    p.add_argument("--pairs", type=int, default=3, help="the first N test pairs (default 3)")
    p.add_argument("--data", help="RoadScene folder with vi/, ir/, split.json (default ../shared/data/roadscene)")
    speed = p.add_mutually_exclusive_group()
    speed.add_argument("--exact", action="store_true", help="the paper's iteration counts")
    speed.add_argument("--quick", dest="exact", action="store_false", help="the quick default counts")
    p.add_argument("--engines", default=None,
                   help="comma-separated engines (fast, quick, exact) to run and compare; the last is the reference")
    p.add_argument("--iterations", type=int, default=None, help="override every task's iteration count")
    p.add_argument("--max-minutes", type=float, default=None, help="start no new pair after this long")
    p.add_argument("--no-timing", action="store_true", help="skip the 640x480 quarter-mask timing")
    p.add_argument("--rows", default=None,
                   help="comma-separated task rows to make (I,II,III,IV,VI,VII; default all; baseline and V always)")
    p.add_argument("--pair-log", default=None, help="append one JSON line per finished pair to this file")
    p.add_argument("--resume", action="store_true",
                   help="with --pair-log: take the pairs it already holds from it instead of making them again")
    p.add_argument("--seed", type=int, default=0)
    add_model_arguments(p)
    p.add_argument("--json", action="store_true")


run = run_bench_tasks
