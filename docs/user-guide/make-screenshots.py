"""Make the user guide's screenshots (docs/user-guide/*.png) with the real editor, offscreen.

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/user-guide/make-screenshots.py [--only NAME ...]

Each picture is a scripted run of the editor: the same window, worker and jobs as a user's
session, driven through the window's public methods (open, typed commands, the mask tools, the
dialogs). Settings and autosaves go to a temporary folder. The bundled synthetic sample
(resources/samples/) is used throughout; the box-and-split pictures use the RoadScene pair
FLIR_04688 from ../shared/data/roadscene (skipped, with a message, when that folder is absent).
Pictures are downscaled to at most 1000 pixels wide and stored as palette PNGs when that keeps
them under 300 kB.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
SAMPLE = ROOT / "resources" / "samples"
ROADSCENE = ROOT.parent / "shared" / "data" / "roadscene"
SIZE = (1200, 760)
MAX_WIDTH = 1000
MAX_BYTES = 300_000


def save_png(widget: object, name: str, crop: tuple[int, int, int, int] | None = None,
             width: int = MAX_WIDTH) -> None:
    """Grab ``widget`` (optionally a crop x, y, w, h of it), downscale and store it small."""
    from PIL import Image
    from PySide6.QtCore import QRect

    raw = OUT / f".{name}.raw.png"
    pixmap = widget.grab(QRect(*crop)) if crop else widget.grab()  # type: ignore[attr-defined]
    pixmap.save(str(raw))
    image = Image.open(raw).convert("RGB")
    raw.unlink()
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
    path = OUT / f"{name}.png"
    image.save(path, optimize=True)
    if path.stat().st_size > MAX_BYTES:
        image.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size // 1000} kB, {image.width}x{image.height})")


class Editor:
    """One offscreen editor window and helpers that wait for its jobs."""

    def __init__(self, folder: Path) -> None:
        from PySide6.QtCore import QSettings
        from PySide6.QtWidgets import QApplication

        from terf_studio.gui.main_window import MainWindow
        from terf_studio.gui.theme import apply_theme

        self.app = QApplication.instance() or QApplication(sys.argv[:1])
        self.app.setApplicationName("TeRF Studio")
        apply_theme(self.app, "dark")
        settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
        settings.setValue("files/last_dir", str(folder))
        self.window = MainWindow(settings, device="cpu", llm="none", recovery_dir=folder / "recovery")
        self.window.script_mode = True  # errors in the status bar, no message boxes
        self.window.resize(*SIZE)
        self.window.show()
        self.settle()

    def settle(self, ms: int = 300) -> None:
        from PySide6.QtCore import QEventLoop, QTimer

        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    def wait(self, action: Callable[[], object], timeout_s: float = 600) -> None:
        """Run ``action`` and wait until the window has no job left, background ones included."""
        import time

        from PySide6.QtCore import QEventLoop, QTimer

        loop = QEventLoop()
        self.window.idle.connect(loop.quit)
        QTimer.singleShot(int(timeout_s * 1000), loop.quit)
        action()
        if self.window.runner.busy:
            loop.exec()
        self.window.idle.disconnect(loop.quit)
        end = time.monotonic() + timeout_s
        while self.window.runner.active and time.monotonic() < end:
            self.settle(100)
        self.settle()

    def type(self, text: str) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        bar = self.window.command_bar
        bar.setFocus()
        QTest.keyClicks(bar, text)
        bar.completer().popup().hide()
        self.wait(lambda: QTest.keyClick(bar, Qt.Key.Key_Return))

    def close(self) -> None:
        w = self.window
        w.undo_stack.setClean()
        w.close()
        w.shutdown()


def sample_pair() -> tuple[str, str]:
    return str(SAMPLE / "night-street-vi.png"), str(SAMPLE / "night-street-ir.png")


def shot_welcome(ed: Editor, folder: Path) -> None:
    save_png(ed.window, "welcome")


def shot_typed_edit(ed: Editor, folder: Path) -> None:
    ed.wait(lambda: ed.window.open_sample())
    ed.type("make the person lean towards infrared")
    save_png(ed.window, "typed-edit")


def shot_masks(ed: Editor, folder: Path) -> None:
    """No region for 'the tree': click it, undo the step, refine the mask (right clicks, brush,
    eraser), run the plan again."""
    w = ed.window
    ed.wait(lambda: w.open_pair(*sample_pair()))
    ed.type("brighten the tree")
    save_png(w, "mask-ask")
    crop = _canvas_rect(ed)
    ed.wait(lambda: w.mask_tools.on_point(575, 190, True))  # the point tool's click on the crown
    save_png(w, "mask-click", crop=crop, width=480)
    ed.wait(lambda: w.act_undo.trigger())  # the step goes; the clicked mask stays
    for x, y in ((420.5, 200.5), (500.5, 230.5)):  # right clicks on the buildings take them out
        ed.wait(lambda x=x, y=y: w.mask_tools.on_point(x, y, False))
    save_png(w, "mask-right-click", crop=crop, width=480)
    w.set_tool("brush")
    w.brush_size.setValue(10)
    w.mask_tools.on_stroke([(571, 240), (571, 280), (571, 318)], "add")  # the trunk
    w.set_tool("eraser")
    w.brush_size.setValue(12)
    for x, top in ((621, 215), (629, 140), (637, 140)):  # the wall right of and below the crown
        w.mask_tools.on_stroke([(x, top), (x, 200), (x, 262)], "erase")
    ed.settle()
    save_png(w, "mask-painted", crop=crop, width=480)
    ed.wait(lambda: w.run_plan_from_panel())
    w.act_show_masks.trigger()  # View > Show masks off: the brighter tree, without its overlay
    ed.settle()
    save_png(w, "mask-run-again")


def shot_brush(ed: Editor, folder: Path) -> None:
    """A click gives part of the car; the brush paints in the rest."""
    w = ed.window
    ed.wait(lambda: w.open_pair(*sample_pair()))
    ed.wait(lambda: w.mask_tools.on_point(200, 350, True))
    crop = _canvas_rect(ed)
    save_png(w, "brush-before", crop=crop, width=640)
    w.set_tool("brush")
    w.brush_size.setValue(26)
    for stroke in ([(160, 318), (200, 314), (245, 318)], [(115, 340), (200, 340), (285, 342)],
                   [(120, 360), (200, 362), (285, 360)], [(250, 330), (285, 332)]):
        w.mask_tools.on_stroke(stroke, "add")
    ed.settle()
    save_png(w, "brush-after", crop=crop, width=640)


def _canvas_rect(ed: Editor) -> tuple[int, int, int, int]:
    """The canvas's rectangle in window coordinates (for crops)."""
    from PySide6.QtCore import QPoint

    canvas = ed.window.canvas
    top_left = canvas.mapTo(ed.window, QPoint(0, 0))
    return top_left.x(), top_left.y(), canvas.width(), canvas.height()


def shot_split(ed: Editor, folder: Path) -> None:
    """RoadScene FLIR_04688: a box around the person, then the before/after split."""
    w = ed.window
    vi, ir = ROADSCENE / "vi" / "FLIR_04688.jpg", ROADSCENE / "ir" / "FLIR_04688.jpg"
    ed.wait(lambda: w.open_pair(str(vi), str(ir)))
    ed.type("make the person lean towards infrared")
    w.set_tool("box")
    save_png(w, "box-ask")
    ed.wait(lambda: w.mask_tools.on_box(278, 122, 348, 252))
    w.set_tool("navigate")
    w.act_show_masks.trigger()
    w.split_slider.setValue(60)
    w.act_compare.setChecked(True)
    w._toggle_compare()
    ed.settle()
    save_png(w, "split-view")


def shot_export_and_project(ed: Editor, folder: Path) -> None:
    from terf_studio.gui.dialogs import ExportDialog

    w = ed.window
    ed.wait(lambda: w.open_sample())
    ed.type("make the person lean towards infrared")
    ed.type("brighten the road")
    dialog = ExportDialog(w.settings, "~/Pictures/night-street-edited.png", w)
    dialog.show()
    ed.settle()
    save_png(dialog, "export-dialog", width=700)
    dialog.close()
    project = folder / "night-street.terf"
    ed.wait(lambda: w.save_project(str(project)))
    ed.close()
    again = Editor(folder)  # a new window, as after a restart
    ed.window = again.window
    ed.wait(lambda: again.window.open_project(str(project)))
    again.window.history_view.parentWidget().raise_()  # the History tab over Layers
    for dock in again.window.findChildren(type(again.window.history_view.parentWidget())):
        if dock.widget() is again.window.history_view:
            dock.raise_()
    ed.settle()
    save_png(again.window, "project-reopened")


def shot_dialogs(ed: Editor, folder: Path) -> None:
    w = ed.window
    ed.wait(lambda: w.open_sample())
    prefs = w.show_preferences()
    ed.settle()
    save_png(prefs, "preferences", width=700)
    prefs.close()
    models = w.show_models()
    models.resize(1100, 520)
    row = next(r for r in range(models.table.rowCount()) if models.table.item(r, 0).text().startswith("groundingdino"))
    models.table.selectRow(row)
    models.table.scrollToItem(models.table.item(row, 0))
    ed.settle(800)
    save_png(models, "models", width=1000)
    models.close()


SHOTS: dict[str, Callable[[Editor, Path], None]] = {
    "welcome": shot_welcome, "typed-edit": shot_typed_edit, "masks": shot_masks, "brush": shot_brush,
    "split": shot_split, "export-project": shot_export_and_project, "dialogs": shot_dialogs,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=list(SHOTS), help="make only these pictures")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="terf-guide-") as tmp:
        os.environ["XDG_STATE_HOME"] = str(Path(tmp) / "state")
        os.environ["XDG_CONFIG_HOME"] = str(Path(tmp) / "config")
        for name in args.only or list(SHOTS):
            if name == "split" and not ROADSCENE.is_dir():
                print(f"skipped {name}: {ROADSCENE} is absent")
                continue
            folder = Path(tmp) / name
            folder.mkdir()
            editor = Editor(folder)
            try:
                SHOTS[name](editor, folder)
            finally:
                editor.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
