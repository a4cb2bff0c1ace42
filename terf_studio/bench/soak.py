"""``terf-studio bench soak``: the real editor, scripted, in a loop for N minutes.

Each loop opens a window on the next pair (RoadScene test pairs and the MSRS samples under the
shared data folder; synthetic pairs when it is missing), types a few edits with the fast engines,
paints a brush stroke, drags the strength slider, undoes and redoes, saves the project, reopens
it and closes the window, the way :mod:`terf_studio.bench.gui` and the editor's tests drive it.
A command whose region the finders do not find is answered with a box, as a user would.

Reported: the resident memory after each loop (the growth after the first loop is what a leak
shows as; the first loop loads models and code), the GUI thread's gaps (late ticks of a 10 ms
timer, :class:`~terf_studio.bench.gui.GapMeter`, counted all the time, not only during jobs) and
every error: an error message in the window, an exception in a slot, a timeout, a reopened
project or an undo/redo that does not give back the same pixels. Errors make the exit status 1.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from terf_studio.bench.gui import GapMeter, _drag_strength, _worker_stack
from terf_studio.memory import release_free_memory
from terf_studio.memory import resident_mb as rss_mb
from terf_studio.paths import SHARED_DATA

#: Typed edits, one set per loop in turn (fast engines: about a second each on 2 CPU cores).
COMMAND_SETS: tuple[tuple[str, ...], ...] = (
    ("brighten the trees", "make the person lean towards infrared", "blur the road"),
    ("darken the sky", "make the road lean towards visible", "denoise the person"),
    ("brighten the person", "blur the trees", "make the car lean towards infrared"),
)
STEP_TIMEOUT_S = 300.0
SYNTHETIC_SIZE = (240, 320)


def load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def real_pairs(data: Path) -> list[tuple[str, str]]:
    """The RoadScene test pairs and the MSRS samples under ``data`` (either may be missing)."""
    from terf_studio.bench.tasks import roadscene_test_pairs

    pairs: list[tuple[str, str]] = []
    roadscene, msrs = data / "roadscene", data / "msrs-samples"
    if (roadscene / "split.json").is_file():
        pairs += [(str(p.vi), str(p.ir)) for p in roadscene_test_pairs(roadscene, None)]
    if (msrs / "vi").is_dir():
        pairs += [(str(vi), str(msrs / "ir" / vi.name)) for vi in sorted((msrs / "vi").glob("*.png"))
                  if (msrs / "ir" / vi.name).is_file()]
    return pairs


def synthetic_pairs(folder: Path, size: tuple[int, int] = SYNTHETIC_SIZE, count: int = 3,
                    seed: int = 0) -> list[tuple[str, str]]:
    """Small scenes with a warm blob (a 'person') written under ``folder``."""
    from terf_studio.imaging import write_image

    h, w = size
    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(count):
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        vi = np.stack([0.45 + 0.2 * np.sin(xx / (6 + i)), 0.5 + 0.2 * np.cos(yy / 7),
                       0.4 + 0.15 * np.sin((xx + yy) / 9)], -1)
        vi += 0.03 * rng.standard_normal(vi.shape)
        ir = 0.25 + 0.02 * rng.standard_normal((h, w))
        y0, x0 = h // 3, w // 5 + 7 * i
        ir[y0:y0 + h // 3, x0:x0 + w // 10] = 0.95
        vi_path, ir_path = folder / "vi" / f"scene{i}.png", folder / "ir" / f"scene{i}.png"
        write_image(vi_path, np.clip(vi, 0, 1).astype(np.float32))
        write_image(ir_path, np.clip(ir, 0, 1).astype(np.float32))
        pairs.append((str(vi_path), str(ir_path)))
    return pairs


class SoakError(Exception):
    """A loop step that did not end as it should (a timeout, pixels that differ)."""


class Driver:
    """Drives one window at a time with real key and mouse events, waiting for its jobs."""

    def __init__(self, app: Any, meter: GapMeter, errors: list[dict[str, Any]]) -> None:
        self.app = app
        self.meter = meter
        self.errors = errors
        self.loop = 0
        self.step = ""
        self.window: Any = None
        self.idle = {"flag": False}

    def pump(self, seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            self.app.processEvents()
            time.sleep(0.001)

    def wait(self, done: Callable[[], bool], timeout: float = STEP_TIMEOUT_S) -> None:
        end = time.perf_counter() + timeout
        while not done():
            if time.perf_counter() > end:
                raise SoakError(f"timed out after {timeout:.0f} s; the other threads:\n{_worker_stack()}")
            self.app.processEvents()
            time.sleep(0.001)

    def run_job(self, action: Callable[[], Any]) -> None:
        """Start a job with ``action`` and wait for the window's ``idle``."""
        self.idle["flag"] = False
        if action() is False:
            raise SoakError(f"the window refused the step ({self.window.last_error or 'busy'})")
        self.wait(lambda: self.idle["flag"] and not self.window.runner.busy)

    def settle(self) -> None:
        """Wait until no job runs, background ones included (warm-up, previews)."""
        self.wait(lambda: not self.window.runner.busy and not self.window.runner.active)

    def begin(self, step: str) -> None:
        """A new step: its label for the gap meter; an error message left in the window is counted.
        A few ticks first, so that a gap the previous step caused is counted under its name."""
        self.pump(0.03)
        self.check()
        self.step = step
        self.meter.set_label(step)

    def check(self) -> None:
        if self.window is not None and self.window.last_error:
            self.error(self.window.last_error)
            self.window.last_error = ""

    def error(self, message: str) -> None:
        self.errors.append({"loop": self.loop, "step": self.step, "error": message})

    # -- the editor's gestures, as the tests in tests/gui make them --------------------------
    def open_window(self, settings: Any, recovery_dir: Path, device: str) -> Any:
        from terf_studio.gui.main_window import MainWindow

        window = MainWindow(settings, device=device, llm="none", recovery_dir=recovery_dir)
        window.script_mode = True  # errors go to the status bar (counted), no message boxes
        window.engines.choose("fast", remember=False)
        window.resize(1400, 880)
        window.idle.connect(lambda: self.idle.update(flag=True))
        self.meter.follow(window)
        window.show()
        self.window = window
        return window

    def type_command(self, text: str) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        bar = self.window.command_bar
        bar.setFocus()
        QTest.keyClicks(bar, text)
        bar.completer().popup().hide()  # Enter runs the command, not a completion
        self.run_job(lambda: QTest.keyClick(bar, Qt.Key.Key_Return))
        if self.window.plans.pending is not None:  # no region found: draw a box around the middle
            self.window.last_error = ""
            h, w = self.window.session.vi16.shape[:2]
            self.idle["flag"] = False
            self.window.canvas.box_drawn.emit(w * 0.3, h * 0.3, w * 0.7, h * 0.7)
            self.wait(lambda: self.idle["flag"] and self.window.plans.pending is None
                      and not self.window.runner.busy)
            self.wait(lambda: not self.window.runner.busy)

    def paint(self, points: list[tuple[float, float]]) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        view = self.window.canvas
        self.window.set_tool("brush")  # paints into the selected mask (the last one found), else a new one
        at = [view.mapFromScene(x, y) for x, y in points]
        QTest.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=at[0])
        for p in at[1:]:
            QTest.mouseMove(view.viewport(), p)
        QTest.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=at[-1])
        self.window.set_tool("navigate")


def one_loop(driver: Driver, pair: tuple[str, str], commands: tuple[str, ...], folder: Path,
             settings: Any, device: str, rng: random.Random) -> dict[str, Any]:
    """Open, edit, paint, drag the strength, undo/redo, save, reopen, close; what it did."""
    from PySide6.QtCore import QEvent

    window = driver.open_window(settings, folder / "recovery", device)
    driver.meter.start()  # after the window is built (the first one imports torch on this thread)
    done: dict[str, Any] = {"pair": Path(pair[0]).name, "edits": 0}
    try:
        driver.begin("open pair")
        driver.run_job(lambda: window.open_pair(*pair))
        if window.session is None:
            raise SoakError(f"the pair did not open: {window.last_error}")
        for text in commands:
            driver.begin(f"edit: {text}")
            driver.type_command(text)
            done["edits"] += 1
        driver.begin("brush stroke")
        h, w = window.session.vi16.shape[:2]
        x, y = rng.uniform(0.2, 0.6) * w, rng.uniform(0.2, 0.6) * h
        entries = window.undo_stack.count()
        driver.paint([(x, y), (x + 0.1 * w, y + 0.05 * h), (x + 0.2 * w, y + 0.1 * h)])
        if window.undo_stack.count() != entries + 1:
            raise SoakError("the stroke made no undo entry")
        driver.settle()
        if window.strength_control.current_strength() is not None:
            driver.begin("strength drag")
            _drag_strength(driver.app, window, driver.idle)
        driver.begin("undo/redo")
        driver.settle()
        after = window.session.current16.copy()
        undos = min(3, window.undo_stack.index())
        for _ in range(undos):
            window.act_undo.trigger()
            driver.settle()
        for _ in range(undos):
            window.act_redo.trigger()
            driver.settle()
        if not np.array_equal(window.session.current16, after):
            raise SoakError("undo then redo did not give back the same pixels")
        done["undo_redo"] = undos
        driver.begin("save project")
        path = folder / f"loop{driver.loop}.terf"
        if not window.save_project(str(path)):
            raise SoakError(f"the project was not saved: {window.last_error}")
        driver.begin("reopen project")
        steps = len(window.session.steps)
        driver.run_job(lambda: window.open_project(str(path)))
        if not np.array_equal(window.session.current16, after) or len(window.session.steps) != steps:
            raise SoakError("the reopened project differs from the saved one")
        driver.settle()
        path.unlink()
        driver.begin("close")
    finally:
        driver.check()
        window.undo_stack.setClean()  # nothing to ask about if a step failed half-way
        window.close()
        window.shutdown()
        window.deleteLater()
        driver.pump(0.05)
        # Outside a running event loop, processEvents never deletes: without this, every closed
        # window (and its session) stays in memory.
        driver.app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        driver.window = None
    return done


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--minutes", type=float, default=20.0, help="how long to loop (at least one loop)")
    p.add_argument("--loops", type=int, default=None, help="stop after this many loops")
    p.add_argument("--data", default=str(SHARED_DATA),
                   help="folder with roadscene/ and msrs-samples/ (synthetic pairs when neither is there)")
    p.add_argument("--synthetic-size", default="240x320", help="HxW of the synthetic pairs")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0, help="order of the pairs and the strokes")
    p.add_argument("--trim", action="store_true",
                   help="also measure RSS after handing free heap pages back (malloc_trim) each loop: "
                        "tells a leak from fragmentation")
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    rng = random.Random(args.seed)
    errors: list[dict[str, Any]] = []
    rss: list[float] = []
    trimmed: list[float] = []  # with --trim: RSS after malloc_trim
    loops: list[dict[str, Any]] = []
    load_start = load_average()
    start = time.perf_counter()
    budget = args.minutes * 60.0
    with tempfile.TemporaryDirectory(prefix="terf-soak-") as tmp:
        folder = Path(tmp)
        pairs = real_pairs(Path(args.data))
        source = "shared data"
        if not pairs:
            h, w = (int(v) for v in args.synthetic_size.lower().split("x"))
            pairs = synthetic_pairs(folder / "pairs", (h, w), seed=args.seed)
            source = "synthetic"
        rng.shuffle(pairs)
        settings = QSettings(str(folder / "soak.ini"), QSettings.Format.IniFormat)
        meter: GapMeter | None = None
        driver: Driver | None = None
        hook = sys.excepthook

        def slot_exception(kind: type[BaseException], exc: BaseException, tb: Any) -> None:
            """An exception raised in a slot (Qt prints it and goes on): an error."""
            message = "".join(traceback.format_exception_only(kind, exc)).strip()
            (driver.error if driver is not None else lambda m: errors.append({"error": m}))(message)
            hook(kind, exc, tb)

        sys.excepthook = slot_exception
        try:
            i = 0
            while i == 0 or (time.perf_counter() - start < budget and (args.loops is None or i < args.loops)):
                if meter is None or driver is None:
                    meter = GapMeter(None, always=True)
                    driver = Driver(app, meter, errors)
                driver.loop = i + 1
                try:
                    done = one_loop(driver, pairs[i % len(pairs)], COMMAND_SETS[i % len(COMMAND_SETS)],
                                    folder, settings, args.device, rng)
                except Exception as exc:  # noqa: BLE001 - a soak reports every failure and goes on
                    driver.error(f"{type(exc).__name__}: {exc}")
                    done = {"pair": Path(pairs[i % len(pairs)][0]).name, "failed": True}
                meter.stop()
                meter.follow(None)  # no window between loops
                gc.collect()
                rss.append(round(rss_mb(), 1))
                done.update(loop=i + 1, rss_mb=rss[-1], seconds=round(time.perf_counter() - start, 1))
                if args.trim and release_free_memory():
                    trimmed.append(round(rss_mb(), 1))
                    done["rss_trimmed_mb"] = trimmed[-1]
                loops.append(done)
                print(f"loop {i + 1}: {done['pair']}, {done.get('edits', 0)} edits, RSS {rss[-1]:.0f} MB, "
                      f"{len(errors)} errors so far", file=sys.stderr, flush=True)  # progress, beside --json
                i += 1
        finally:
            sys.excepthook = hook
    rows = meter.rows() if meter is not None else []
    worst = max(rows, key=lambda r: r["max_gap_ms"], default=None)
    report = {
        "source": source,
        "pairs": len(pairs),
        "loops": len(loops),
        "minutes": round((time.perf_counter() - start) / 60, 2),
        "rss_after_first_loop_mb": rss[0],
        "rss_end_mb": rss[-1],
        "rss_max_mb": max(rss),
        "rss_growth_after_first_loop_mb": round(rss[-1] - rss[0], 1),
        "rss_trimmed_growth_after_first_loop_mb": round(trimmed[-1] - trimmed[0], 1) if trimmed else None,
        "max_gap_ms": worst["max_gap_ms"] if worst else 0.0,
        "max_gap_step": worst["job"] if worst else None,
        "gaps_over_100ms": sum(r["gaps_over_100ms"] for r in rows),
        "ticks": sum(r["ticks"] for r in rows),
        "errors": len(errors),
        "error_list": errors,
        "load_average_start": load_start,
        "load_average_end": load_average(),
        "gaps": sorted(rows, key=lambda r: -r["max_gap_ms"]),
        "loop_list": loops,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"soak: {report['loops']} loops in {report['minutes']} min over {report['pairs']} {source} pairs")
        print(f"RSS after loop 1 {report['rss_after_first_loop_mb']:.0f} MB, at the end {report['rss_end_mb']:.0f} MB "
              f"(growth {report['rss_growth_after_first_loop_mb']:+.0f} MB, max {report['rss_max_mb']:.0f} MB)")
        if trimmed:
            print(f"after malloc_trim: loop 1 {trimmed[0]:.0f} MB, at the end {trimmed[-1]:.0f} MB "
                  f"(growth {trimmed[-1] - trimmed[0]:+.0f} MB)")
        print(f"GUI thread: largest gap {report['max_gap_ms']:.0f} ms ({report['max_gap_step']}), "
              f"{report['gaps_over_100ms']} gaps over 100 ms in {report['ticks']} ticks")
        print(f"load average {load_start} -> {report['load_average_end']}")
        print(f"errors: {len(errors)}")
        for e in errors:
            print(f"  loop {e.get('loop')} {e.get('step')}: {e['error']}")
    return 1 if errors else 0


NAME = "soak"
HELP = "the editor scripted in a loop for N minutes: memory growth, GUI-thread gaps, errors"
