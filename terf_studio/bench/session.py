"""``terf-studio bench session``: seconds and memory of one edit on a large open document.

An :class:`~terf_studio.document.session.EditSession` is opened on a synthetic pair of
``--size WxH`` (8-bit, as a reader gives them) and one edit is applied to it, by the fast engine or
(``--engine quick|exact``) by fine-tuning: on a square
region (``--region`` pixels a side, feathered, in the middle of the image) or on the whole image
(``--region 0``). The fused image is a blend of the pair, not the network's fusion: fusing at such
sizes is what ``bench fuse`` measures, and the edit's cost does not depend on the picture.

Each case runs in a fresh Python process so its peak memory is its own:

- ``document_mb``: resident memory once the document is open, above the loaded process;
- ``edit_mb``: what the edit added on top of that at its peak (resident memory read every 2 ms
  during the edit);
- ``peak_rss_mb``: the process's high-water resident memory;
- ``peak_anon_mb``: the highest anonymous resident memory from the document's opening to the
  edit's end (what only swap could take away; images of a large document live in scratch files,
  :mod:`terf_studio.imaging.store`, whose pages count in resident memory but are reclaimed under
  pressure: ``packaging/run-with-memory-limit.sh`` runs a command under a hard limit);
- ``seconds``: the edit (``EditSession.apply``), the region finder not included (the mask is given).

The synthetic pair, the fused image and the mask are built a band (or the region) at a time,
in arrays placed as a document's own (:func:`terf_studio.imaging.store.empty`), so the numbers are
the session's and not the benchmark's.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

from terf_studio.bench import row_from_fresh_process
from terf_studio.bench.fuse import _synthetic_pair, parse_size
from terf_studio.memory import anonymous_mb, peak_resident_mb, resident_mb

NAME = "session"
HELP = "seconds and memory of a fast edit on a large open document"
TASKS = ("brighten", "infrared", "denoise", "blur")


class _PeakSampler:
    """The highest resident memory seen while it runs (read every 2 ms on a thread): the
    process's ``ru_maxrss`` cannot tell an edit's peak from the document's setup."""

    def __init__(self) -> None:
        self.peak = resident_mb()
        self.peak_anon = anonymous_mb() or 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            self._sample()

    def _sample(self) -> None:
        self.peak = max(self.peak, resident_mb())
        self.peak_anon = max(self.peak_anon, anonymous_mb() or 0.0)

    def __enter__(self) -> _PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def _worker(task: str, width: int, height: int, region: int, engine: str = "fast") -> dict[str, Any]:
    import numpy as np

    from terf_studio.document.session import EditSession
    from terf_studio.fusion import load_fuser
    from terf_studio.imaging import store
    from terf_studio.language import Edit, Task
    from terf_studio.regions import Mask
    from terf_studio.tuning.composite import feather

    fuser = load_fuser("lite", device="cpu")
    loaded = resident_mb()
    with _PeakSampler() as whole:
        vi, ir = _synthetic_pair(width, height, uint8=True, empty=store.empty)
        fused = store.empty(vi.shape, np.uint8)
        for y0 in range(0, height, 512):  # a blend of the pair, a band at a time
            band = slice(y0, y0 + 512)
            fused[band] = ((vi[band].astype(np.uint16) + ir[band, :, None]) // 2).astype(np.uint8)
        session = EditSession(vi, ir, fuser, fused=fused)
        del vi, ir, fused
        masks: list[Mask | None] = [None]
        if region:
            side, pad = min(region, width, height), 8  # the feather reaches 6 pixels out
            top, left = (height - side) // 2, (width - side) // 2
            y0, x0 = max(top - pad, 0), max(left - pad, 0)
            y1, x1 = min(top + side + pad, height), min(left + side + pad, width)
            core = np.zeros((y1 - y0, x1 - x0), np.float32)
            core[top - y0 : top - y0 + side, left - x0 : left - x0 + side] = 1.0
            mask = store.empty((height, width), np.float32)
            for b0 in range(0, height, 512):
                mask[b0 : b0 + 512] = 0.0
            mask[y0:y1, x0:x1] = feather(core, 6.0)
            masks = [Mask(mask, label="region")]
            del core, mask
        document = resident_mb() - loaded
        before = resident_mb()
        with _PeakSampler() as sampler:
            t0 = time.perf_counter()
            step = session.apply([Edit(None, Task(task))], masks, engine=engine)
            seconds = time.perf_counter() - t0
    return {
        "task": task,
        "size": f"{width}x{height}",
        "region": f"{region}x{region}" if region else "whole image",
        "engine": step.edits[0].info.get("engine"),
        "trained_on": "crops" if "sampled_crop" in step.edits[0].info else
                      ("whole box" if step.edits[0].info.get("engine") != "fast" and task != "blur" else "-"),
        "seconds": round(seconds, 3),
        "document_mb": round(document, 1),
        "edit_mb": round(max(0.0, sampler.peak - before), 1),
        "peak_rss_mb": round(peak_resident_mb(), 1),
        "peak_anon_mb": round(whole.peak_anon, 1),
        "patch_kb": round(step.patch.png_bytes / 1024, 1) if step.patch else 0,
    }


def bench_session(tasks: list[str], size: tuple[int, int], region: int, engine: str = "fast") -> list[dict[str, Any]]:
    args = [str(size[0]), str(size[1]), str(region), engine]
    return [row_from_fresh_process("terf_studio.bench.session", [task, *args], task) for task in tasks]


def format_session_table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'task':<9} {'engine':>6} {'trained on':>10} "
             f"{'size':>11} {'region':>12} {'seconds':>8} {'document MB':>12} {'edit MB':>8} "
             f"{'peak RSS MB':>12} {'peak anon MB':>13} {'patch kB':>9}"]
    for r in rows:
        lines.append(f"{r['task']:<9} {r['engine']:>6} {r['trained_on']:>10} "
                     f"{r['size']:>11} {r['region']:>12} {r['seconds']:>8.2f} {r['document_mb']:>12.0f} "
                     f"{r['edit_mb']:>8.0f} {r['peak_rss_mb']:>12.0f} {r['peak_anon_mb']:>13.0f} {r['patch_kb']:>9.0f}")
    return "\n".join(lines)


def add_arguments(p: Any) -> None:
    p.add_argument("--size", default="4000x3000", help="WIDTHxHEIGHT of the document (default 4000x3000)")
    p.add_argument("--region", type=int, default=1024,
                   help="side of the square region edited, in pixels; 0 for the whole image (default 1024)")
    p.add_argument("--task", action="append", choices=list(TASKS), help="only these tasks (default: all four)")
    p.add_argument("--engine", choices=["fast", "quick", "exact"], default="fast",
                   help="fast (default), or a fine-tuning engine: above the fine-tuning budget it trains on crops")
    p.add_argument("--json", action="store_true")


def run(args: Any) -> int:
    rows = bench_session(args.task or list(TASKS), parse_size(args.size), max(0, args.region), args.engine)
    print(json.dumps(rows, indent=2) if args.json else format_session_table(rows))
    return 0


if __name__ == "__main__":
    task_arg, w_arg, h_arg, region_arg, engine_arg = sys.argv[1:6]
    print(json.dumps(_worker(task_arg, int(w_arg), int(h_arg), int(region_arg), engine_arg)))
