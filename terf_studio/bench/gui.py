"""``terf-studio bench gui``: how long the GUI thread is held up while jobs run.

A 10 ms QTimer ticks on the GUI thread while the real window opens a pair (fusion) and runs a
typed command (fine-tuning) on its worker; a tick that comes late means the GUI thread was
blocked (or starved) that long. The target: no gap over 100 ms. Background work counts too (the
fast engines' warm-up, strength previews); when the last step's strength can change, a drag of
the strength slider follows (a value every 20 ms, then a release that applies it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from terf_studio.paths import SHARED_DATA

TICK_MS = 10
DEFAULT_PAIR = SHARED_DATA / "roadscene"
DEFAULT_COMMANDS = ["make the trees lean towards infrared", "denoise the road", "blur the road"]


def _worker_stack() -> str:
    import threading
    import traceback

    me = threading.get_ident()
    return "".join("".join(traceback.format_stack(frame, limit=6))
                   for ident, frame in sys._current_frames().items() if ident != me)


class GapMeter:
    """A timer ticking every :data:`TICK_MS` on the GUI thread; the time between two ticks is a
    gap, kept under the name of the job that ran meanwhile (``phase``, or a label the caller sets).
    Only ticks while the window's worker runs something count, unless ``always``."""

    def __init__(self, window: Any | None, *, trace: bool = False, always: bool = False) -> None:
        from PySide6.QtCore import QElapsedTimer, QTimer

        self.gaps: dict[str, list[float]] = {}
        self.label = "idle"  # the caller's phase when no job runs (used with ``always``)
        self.phase: dict[str, Any] = {"name": "idle", "last": 0.0}
        self.trace = trace
        self.always = always
        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.follow(window)

    def follow(self, window: Any | None) -> None:
        """Measure ``window``'s jobs (a soak opens a new window per loop; None: no window)."""
        self.window = window
        if window is None:
            return
        window.runner.started.connect(lambda job: self.phase.update(name=job.name))
        window.runner.background_started.connect(
            lambda job: self.phase.update(name="Strength previews" if job.kind == "preview" else job.name))

    def set_label(self, label: str) -> None:
        self.label = label
        self.phase["name"] = label

    def start(self) -> None:
        self.clock.start()
        self.phase["last"] = 0.0
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        now = self.clock.nsecsElapsed() / 1e6
        working = self.window is not None and (self.window.runner.busy or self.window.runner.active)
        if working or self.always:
            gap = now - self.phase["last"]
            self.gaps.setdefault(self.phase["name"], []).append(gap)
            if self.trace and gap > 100:  # where the worker was before and after
                print(f"gap {gap:.0f} ms in {self.phase['name']}; worker before:\n"
                      f"{self.phase.get('where', '?')}\nafter:\n{_worker_stack()}", file=sys.stderr)
        if self.trace:
            self.phase["where"] = _worker_stack()
        if not working and self.always:
            self.phase["name"] = self.label
        self.phase["last"] = now

    def rows(self) -> list[dict[str, Any]]:
        """Per phase: ticks, the largest gap, the 99th percentile, gaps over 100 ms."""
        rows: list[dict[str, Any]] = []
        for name, values in self.gaps.items():
            values = sorted(values)
            rows.append({
                "job": name,
                "ticks": len(values),
                "max_gap_ms": round(values[-1], 1),
                "p99_gap_ms": round(values[min(len(values) - 1, int(0.99 * len(values)))], 1),
                "gaps_over_100ms": sum(v > 100 for v in values),
            })
        return rows


def _drag_strength(app, window, loop_done: dict) -> None:  # noqa: ANN001
    """Drag the strength slider from 1 to 2 and back to 0.5 (a value every 20 ms), release, and
    wait for the step it applies."""
    slider = window.plan_panel.strength.slider

    def pump(seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.001)

    slider.setSliderDown(True)
    for value in [*range(20, 41, 2), *range(40, 9, -3)]:
        slider.setValue(value)
        pump(0.02)
    pump(1.0)  # the newest preview arrives
    loop_done["flag"] = False
    slider.setSliderDown(False)  # the release applies the value as a step
    while window.runner.busy and not loop_done["flag"]:
        app.processEvents()
        time.sleep(0.001)
    pump(0.2)


def add_bench_gui_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--vi", default=str(DEFAULT_PAIR / "vi" / "FLIR_00977.jpg"))
    p.add_argument("--ir", default=str(DEFAULT_PAIR / "ir" / "FLIR_00977.jpg"))
    p.add_argument("--command", action="append",
                   help="typed commands to run (default: " + "; ".join(DEFAULT_COMMANDS) + ")")
    p.add_argument("--device", default="auto")
    p.add_argument("--engine", default="auto", help="auto, fast, quick or exact (Edit > Engine)")
    p.add_argument("--no-drag", action="store_true", help="skip the strength slider drag")
    p.add_argument("--json", action="store_true")


def run_bench_gui(args: argparse.Namespace) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from terf_studio.errors import TerfError
    from terf_studio.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(str(Path(tmp) / "bench.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings, device=args.device, llm="none")
        window.script_mode = True
        window.engines.choose(args.engine, remember=False)
        window.resize(1400, 880)
        window.show()
        meter = GapMeter(window, trace=os.environ.get("TERF_STUDIO_BENCH_TRACE") == "1")
        meter.start()
        seconds = {}
        start = time.perf_counter()
        window.script = list(args.command or DEFAULT_COMMANDS)
        loop_done = {"flag": False}
        window.idle.connect(lambda: loop_done.update(flag=True))
        window.open_pair(args.vi, args.ir)
        while not loop_done["flag"]:
            app.processEvents()
            time.sleep(0.001)
        seconds["jobs"] = round(time.perf_counter() - start, 2)
        if not args.no_drag and window.strength_control.current_strength() is not None:
            drag_start = time.perf_counter()
            _drag_strength(app, window, loop_done)
            seconds["drag"] = round(time.perf_counter() - drag_start, 2)
        seconds["total"] = round(time.perf_counter() - start, 2)
        meter.stop()
        error = window.last_error
        window.undo_stack.setClean()
        window.close()
        window.shutdown()
    if error:
        raise TerfError(f"the benchmark's jobs failed: {error}")
    rows = meter.rows()
    report = {"tick_ms": TICK_MS, "seconds": seconds, "jobs": rows,
              "worst_gap_ms": max((r["max_gap_ms"] for r in rows), default=0.0)}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"GUI thread gaps while jobs ran (timer every {TICK_MS} ms), {seconds['total']} s in all")
        print(f"{'job':44s} {'ticks':>6s} {'max ms':>8s} {'p99 ms':>8s} {'>100 ms':>8s}")
        for r in rows:
            print(f"{r['job'][:44]:44s} {r['ticks']:6d} {r['max_gap_ms']:8.1f} {r['p99_gap_ms']:8.1f} "
                  f"{r['gaps_over_100ms']:8d}")
    return 0


NAME = "gui"
HELP = "how long the window's GUI thread is held up while jobs run"
add_arguments = add_bench_gui_arguments
run = run_bench_gui
