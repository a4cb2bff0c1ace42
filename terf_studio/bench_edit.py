"""``terf-studio bench edit``: does each task move its region the way its name says, how fast?

On one pair, every task runs on a fixed feathered region (the central third of the image),
then once more with the returned state (paper 2.4.4: repeating continues). Reported per task:
seconds and iterations of each run, the pixels optimised, whether everything outside the
region's support stayed bit-identical, and the task's own measure before, after one run and
after the repeat:

- brighten / darken: mean luminance (Y) inside the region;
- infrared / visible: Pearson correlation of the region's Y with the infrared image;
- denoise: PSNR (dB) inside the region against the clean fusion, after Gaussian noise
  (sigma 0.08) was added to the visible image and the noisy pair fused;
- blur: variance of the Laplacian (sharpness) inside the region.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from terf_studio.resources import PROJECT_ROOT

PAPER_SECONDS_RTX3090 = {"infrared": 26.9, "visible": 26.9, "brighten": 33.5, "darken": 33.5, "denoise": 6.2, "blur": None}
EXPECTED_DIRECTION = {"brighten": +1, "darken": -1, "infrared": +1, "visible": -1, "denoise": +1, "blur": -1}
MEASURE_NAME = {"brighten": "mean Y", "darken": "mean Y", "infrared": "corr(Y, ir)", "visible": "corr(Y, ir)",
                "denoise": "PSNR dB", "blur": "Laplacian var"}
DEFAULT_PAIR = PROJECT_ROOT.parent / "shared" / "data" / "roadscene"
NOISE_SIGMA = 0.08


def _luma(img: np.ndarray) -> np.ndarray:
    return img @ np.array([0.299, 0.587, 0.114], np.float32) if img.ndim == 3 else img


def _measure(task: str, image: np.ndarray, inside: np.ndarray, ir: np.ndarray, clean: np.ndarray) -> float:
    import cv2

    y = _luma(image)
    if task in ("brighten", "darken"):
        return float(y[inside].mean())
    if task in ("infrared", "visible"):
        return float(np.corrcoef(y[inside], ir[inside])[0, 1])
    if task == "denoise":
        mse = float(np.mean((image[inside] - clean[inside]) ** 2))
        return 10 * np.log10(1.0 / max(mse, 1e-12))
    return float(cv2.Laplacian(y, cv2.CV_32F)[inside].var())


def central_mask(shape: tuple[int, int], feather: int = 6) -> np.ndarray:
    from terf_studio.tuning import feather as feather_mask

    h, w = shape
    mask = np.zeros(shape, np.float32)
    mask[h // 3 : 2 * h // 3, w // 3 : 2 * w // 3] = 1.0
    return feather_mask(mask, feather)


def bench_tasks(vi_path: Path, ir_path: Path, tasks: list[str], exact: bool = False, device: str = "auto",
                arch: str = "lite", seed: int = 0) -> list[dict[str, Any]]:
    from terf_studio.fusion import load_fuser
    from terf_studio.imaging import read_pair
    from terf_studio.tuning import run_task

    vi, ir = read_pair(vi_path, ir_path)
    fuser = load_fuser(arch, None, device)
    fused = fuser.fuse(vi, ir)
    mask = central_mask(ir.shape)
    inside, outside = mask >= 0.999, mask == 0
    rows = []
    for task in tasks:
        task_vi, start = vi, fused
        if task == "denoise":
            noise = np.random.default_rng(seed).normal(0, NOISE_SIGMA, vi.shape).astype(np.float32)
            task_vi = np.clip(vi + noise, 0, 1)
            start = fuser.fuse(task_vi, ir)
        before = _measure(task, start, inside, ir, fused)
        runs, image, state = [], start, None
        for _ in range(2):
            t0 = time.perf_counter()
            result = run_task(task, vi=task_vi, ir=ir, fused=image, mask=mask, fusion_net=fuser.net, state=state,
                              exact=exact, device=fuser.device)
            seconds = time.perf_counter() - t0
            runs.append({"seconds": round(seconds, 2), "iterations": result.iterations, "continued": result.continued,
                         "value": _measure(task, result.image, inside, ir, fused),
                         "outside_identical": bool(np.array_equal(result.image[outside], image[outside]))})
            image, state = result.image, result.state
        first, second = runs[0]["value"], runs[1]["value"]
        sign = EXPECTED_DIRECTION[task]
        rows.append({
            "task": task,
            "measure": MEASURE_NAME[task],
            "before": round(before, 4),
            "after_one": round(first, 4),
            "after_repeat": round(second, 4),
            "moves_as_named": bool(sign * (first - before) > 0),
            "repeat_moves_further": bool(sign * (second - first) > 0),
            "outside_identical": all(r["outside_identical"] for r in runs),
            "seconds": runs[0]["seconds"],
            "seconds_repeat": runs[1]["seconds"],
            "iterations": runs[0]["iterations"],
            "optimised_pixels": result.optimised_pixels,
            "total_pixels": result.total_pixels,
            "paper_seconds_rtx3090": PAPER_SECONDS_RTX3090[task],
            "device": str(fuser.device),
            "mode": "exact" if exact else "quick",
        })
    return rows


def format_tasks_table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'task':<10}{'measure':<15}{'before':>9}{'1x':>9}{'2x':>9}  {'as named':<9}{'further':<8}"
            f"{'outside':<8}{'s':>7}{'iters':>6}{'paper s':>8}")
    lines = [head]
    for r in rows:
        paper = f"{r['paper_seconds_rtx3090']:.1f}" if r["paper_seconds_rtx3090"] else "-"
        lines.append(
            f"{r['task']:<10}{r['measure']:<15}{r['before']:>9.3f}{r['after_one']:>9.3f}{r['after_repeat']:>9.3f}  "
            f"{'yes' if r['moves_as_named'] else 'NO':<9}{'yes' if r['repeat_moves_further'] else 'NO':<8}"
            f"{'same' if r['outside_identical'] else 'CHANGED':<8}{r['seconds']:>7.1f}{r['iterations']:>6}{paper:>8}"
        )
    return "\n".join(lines)
