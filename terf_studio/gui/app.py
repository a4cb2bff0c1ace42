"""Starting the editor (``terf-studio gui``, options in :mod:`terf_studio.cli.gui`) and scripted runs.

A scripted run (``--run``, ``--screenshot``, ``--exit-when-idle``) reads the user's settings but
writes to a throwaway copy unless ``--save-settings`` is given, so demos and tests leave the
recent files, window layout and engine choice as they were.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtCore import QSettings

ORGANISATION = APPLICATION = "TeRF Studio"


def has_display() -> bool:
    """Whether Qt has somewhere to draw (without one, it would abort the process)."""
    import os

    if os.environ.get("QT_QPA_PLATFORM") or not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def settings_for_run(scripted: bool, save: bool, folder: str | Path) -> QSettings:
    """The user's settings; for a scripted run not asked to ``save``, a copy of them in ``folder``
    (an INI file thrown away with it), so the run reads the user's choices and changes none."""
    from PySide6.QtCore import QSettings

    user = QSettings(ORGANISATION, APPLICATION)
    if not scripted or save:
        return user
    scratch = QSettings(str(Path(folder) / "scripted-run.ini"), QSettings.Format.IniFormat)
    for key in user.allKeys():
        scratch.setValue(key, user.value(key))
    return scratch


def run_gui(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="terf-studio-run-") as scratch:
        return _run_gui(args, scratch)


def _run_gui(args: argparse.Namespace, scratch: str) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from terf_studio.errors import TerfError
    from terf_studio.gui.main_window import MainWindow
    from terf_studio.gui.preferences import device_setting, theme_setting
    from terf_studio.gui.theme import apply_theme

    files = list(args.files)
    if getattr(args, "sample", False):
        if files:
            raise TerfError("give files to open or --sample, not both")
        from terf_studio.gui.welcome import sample_pair

        files = [str(p) for p in sample_pair()]
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
    app.setApplicationName(APPLICATION)
    app.setOrganizationName(ORGANISATION)
    app.setDesktopFileName("terf-studio")  # the menu entry `terf-studio install-desktop` writes (its icon)
    settings = settings_for_run(scripted, getattr(args, "save_settings", False), scratch)
    apply_theme(app, theme_setting(settings))
    recover = getattr(args, "recover", None) or ("ignore" if scripted else "ask")
    window = MainWindow(settings, device=args.device or device_setting(settings), llm=args.llm)
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
        from terf_studio.document.scratch import sweep_orphans

        sweep_orphans()  # undo steps that a crashed or killed editor left in the temporary folder
        if args.run:
            window.script = list(args.run)
        if scripted:
            window.recovery.restored.connect(lambda text: print(f"terf-studio: {text}"))
        if window.recovery.offer(recover):  # the restored document replaces the files given
            if files:
                print(f"terf-studio: restoring unsaved work instead of opening {' '.join(files)}", file=sys.stderr)
        elif len(files) == 2:
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
    settings.sync()  # before the scratch folder goes
    return outcome["code"] or code
