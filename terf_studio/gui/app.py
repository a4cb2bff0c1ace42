"""Starting the editor (``terf-studio gui``, options in :mod:`terf_studio.cli.gui`) and scripted runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def has_display() -> bool:
    """Whether Qt has somewhere to draw (without one, it would abort the process)."""
    import os

    if os.environ.get("QT_QPA_PLATFORM") or not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_gui(args: argparse.Namespace) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from terf_studio.errors import TerfError
    from terf_studio.gui.main_window import MainWindow
    from terf_studio.gui.theme import apply_theme

    files = list(args.files)
    if len(files) not in (0, 1, 2):
        raise TerfError("give a visible and an infrared image, or one .terf project")
    if len(files) == 1 and not files[0].lower().endswith(".terf"):
        raise TerfError(f"'{files[0]}' is not a project (.terf); to open a pair give two images")
    scripted = bool(args.run or args.screenshot or args.exit_when_idle)
    if not has_display():
        raise TerfError("no display to open the editor on (DISPLAY/WAYLAND_DISPLAY unset): run it on a desktop, "
                        "set QT_QPA_PLATFORM=offscreen for scripted runs, or use the headless commands (fuse, edit)")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)  # widgets need a QApplication, not a bare QCoreApplication
    app.setApplicationName("TeRF Studio")
    app.setOrganizationName("TeRF Studio")
    apply_theme(app)
    window = MainWindow(device=args.device, llm=args.llm)
    if getattr(args, "engine", None):
        from terf_studio.tuning.specs import check_engine

        window.engines.choose(check_engine(args.engine), remember=False)
    if args.iterations:
        window.iterations = args.iterations
    if scripted:
        window.script_mode = True
        w, _, h = args.size.partition("x")
        window.resize(int(w), int(h))
    if args.hide_masks:
        window.act_show_masks.setChecked(False)
    if args.split is not None:
        window.split_slider.setValue(round(min(max(args.split, 0.0), 1.0) * 100))
        window.act_compare.setChecked(True)
        window._toggle_compare()
    window.show()
    outcome = {"code": 0, "shot": False}

    def when_idle() -> None:
        if window.last_error and scripted:
            print(f"terf-studio: {window.last_error}", file=sys.stderr)
            outcome["code"] = 2
        if args.screenshot and not outcome["shot"]:
            outcome["shot"] = True
            window.canvas.fit()
            app.processEvents()
            Path(args.screenshot).parent.mkdir(parents=True, exist_ok=True)
            window.grab().save(args.screenshot)
            print(f"wrote {args.screenshot}")
        if args.exit_when_idle:
            window.undo_stack.setClean()  # a scripted run never asks to save
            window.close()
            app.quit()

    def start() -> None:
        if args.run:
            window.script = list(args.run)
        if len(files) == 2:
            window.open_pair(files[0], files[1])
        elif len(files) == 1:
            window.open_project(files[0])
        elif scripted:
            when_idle()
            return
        if scripted:
            window.idle.connect(when_idle)

    QTimer.singleShot(0, start)
    code = app.exec()
    window.shutdown()
    return outcome["code"] or code
