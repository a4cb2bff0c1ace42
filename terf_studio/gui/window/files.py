"""Files: open a pair or a project (on the worker), save, export, the recent files, drag and
drop, and the fusion network used for a newly opened pair."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEventLoop, QObject
from PySide6.QtGui import QActionGroup, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog, QMenu

from terf_studio.document.session import EditSession
from terf_studio.errors import TerfError
from terf_studio.gui.dialogs import (
    PROJECT_FILTER,
    ExportDialog,
    OpenPairDialog,
    last_dir,
    remember_dir,
)
from terf_studio.gui.worker import Progress
from terf_studio.tuning import CancelToken

if TYPE_CHECKING:
    from terf_studio.gui.window.main_window import MainWindow

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}
RECENT_KEY = "recent"
MAX_RECENT = 8
ARCH_KEY = "fusion/arch"
ARCH_CHOICES = [("auto", "Automatic (full on CUDA, student on the CPU)"), ("lite", "Lite (the fastest on the CPU)"),
                ("student", "Student (distilled from full; the CPU's default)"),
                ("full", "Full (published layout; slow on the CPU)")]


def use_grounded_finder(device: str) -> None:
    """Text targets go to GroundingDINO + SAM first when their packages and weights are installed
    (checked on the file system only; the models load on first use)."""
    from terf_studio.regions.grounded import register_grounded_if_available

    register_grounded_if_available(device=device)


def guess_pair(paths: list[str]) -> tuple[str, str]:
    """Which of two dropped images is the infrared one: a folder or name saying so, else the grey one."""
    def says_ir(p: str) -> bool:
        parts = [s.lower() for s in Path(p).parts[-2:]]
        return any(s in ("ir", "infrared", "thermal", "lwir") or "_ir" in s or "ir_" in s or "infrared" in s
                   or "thermal" in s for s in parts)

    a, b = paths
    if says_ir(a) != says_ir(b):
        return (b, a) if says_ir(a) else (a, b)
    from terf_studio.imaging import read_image

    grey_a, grey_b = read_image(a).ndim == 2, read_image(b).ndim == 2
    if grey_a != grey_b:
        return (b, a) if grey_a else (a, b)
    return a, b


def dropped_paths(event: QDragEnterEvent | QDropEvent) -> list[str] | None:
    """A project, or two images, being dropped; else None."""
    if not event.mimeData().hasUrls():
        return None
    paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
    if len(paths) == 1 and paths[0].lower().endswith(".terf"):
        return paths
    if len(paths) == 2 and all(Path(p).suffix.lower() in IMAGE_SUFFIXES for p in paths):
        return paths
    return None


class Files(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.settings = window.settings
        self.recent_menu: QMenu | None = None

    # -- opening -------------------------------------------------------------------------------
    def open_pair_dialog(self) -> None:
        if not self.window.may_discard():
            return
        dialog = OpenPairDialog(self.settings, self.window)
        if dialog.exec():
            self.open_pair(dialog.vi.text(), dialog.ir.text(), resize_ir=dialog.resize_ir.isChecked())

    def open_project_dialog(self) -> None:
        if not self.window.may_discard():
            return
        path, _ = QFileDialog.getOpenFileName(self.window, "Open a project", last_dir(self.settings), PROJECT_FILTER)
        if path:
            remember_dir(self.settings, path)
            self.open_project(path)

    def open_pair(self, vi: str, ir: str, resize_ir: bool = False) -> bool:
        """Read and fuse a pair on the worker; the window shows it when done."""
        if not vi or not ir:
            self.window.message("choose both a visible and an infrared image", error=True)
            return False
        device, arch = self.window.device, self.fusion_arch()

        def job(progress: Progress, cancel: CancelToken) -> EditSession:
            progress("reading and fusing", 0, 1)
            session = EditSession.open(vi, ir, arch=arch, device=device, resize_ir=resize_ir)
            use_grounded_finder(device)
            progress("reading and fusing", 1, 1)
            return session

        name = Path(vi).name
        return self.window.jobs.start(f"Open {name}", job, lambda s: self._opened(s, None, f"{vi}|{ir}", name))

    def open_project(self, path: str) -> bool:
        device = self.window.device

        def job(progress: Progress, cancel: CancelToken) -> EditSession:
            from terf_studio.document.project import load_project

            progress("opening project", 0, 1)
            session = load_project(path, device=device)
            use_grounded_finder(device)
            return session

        name = Path(path).name
        return self.window.jobs.start(f"Open {name}", job, lambda s: self._opened(s, path, path, name))

    def _opened(self, session: EditSession, project: str | None, recent: str, name: str) -> None:
        self.window.set_session(session, project)
        self.add_recent(recent)
        self.window.message(f"opened {name}")

    # -- saving and exporting ------------------------------------------------------------------
    def save(self) -> bool:
        if self.window.project_path is None:
            return self.save_as()
        return self.save_project(str(self.window.project_path))

    def save_as(self) -> bool:
        w = self.window
        if w.session is None:
            return False
        start = str(w.project_path
                    or Path(last_dir(self.settings)) / (Path(w.session.vi_path or "pair").stem + ".terf"))
        path, _ = QFileDialog.getSaveFileName(w, "Save project", start, PROJECT_FILTER)
        if not path:
            return False
        if not path.lower().endswith(".terf"):
            path += ".terf"
        remember_dir(self.settings, path)
        return self.save_project(path)

    def save_project(self, path: str) -> bool:
        """Save on the worker (a large project takes a second or more to encode) and wait for it
        in a local event loop, so the window keeps painting and answering meanwhile and the
        caller still gets the outcome (a close that asked to save waits for it)."""
        from terf_studio.document.project import save_project
        from terf_studio.gui.recovery import snapshot

        w = self.window
        if w.session is None or w.runner.busy:
            return False
        session = snapshot(w.session)  # nothing can change it meanwhile: editing waits for the job
        written: list[bool] = []
        outcome: list[bool] = []
        loop = QEventLoop()

        def job(progress: Progress, _cancel: CancelToken) -> str:
            progress("saving", 0, 1)
            save_project(session, path)
            written.append(True)  # a cancel that comes later does not unsave it
            return path

        def finish(ok: bool) -> None:
            outcome.append(ok)
            loop.quit()

        def failed(message: str, _exc: Exception) -> None:
            w.error(f"could not save the project: {message}")
            finish(False)

        if not w.jobs.start(f"Save {Path(path).name}", job, lambda _p: finish(True), on_error=failed,
                            on_cancel=lambda: finish(bool(written))):
            return False
        if not outcome:
            loop.exec()
        if not outcome[0]:
            return False
        w.project_path = Path(path)
        w.undo_stack.setClean()
        self.add_recent(path)
        w.update_title()
        w.message(f"saved {path}")
        return True

    def export_dialog(self) -> None:
        if self.window.session is None:
            return
        stem = Path(self.window.session.vi_path or "result").stem
        dialog = ExportDialog(self.settings, str(Path(last_dir(self.settings)) / f"{stem}-edited.png"), self.window)
        if dialog.exec():
            c = dialog.choice()
            remember_dir(self.settings, c.path)
            self.export(c.path, c.bit_depth, c.source, c.masks, c.comparison)

    def export(self, path: str, bit_depth: int = 8, source: str = "result", masks: bool = False,
               comparison: bool = False) -> list[Path]:
        from terf_studio.document.export import export_session

        if self.window.session is None:
            return []
        try:
            files = export_session(self.window.session, path, bit_depth=bit_depth, source=source, masks=masks,
                                   comparison=comparison)
        except (TerfError, OSError) as exc:
            self.window.error(f"could not export: {exc}")
            return []
        self.window.message(f"exported {', '.join(f.name for f in files)}")
        return files

    # -- recent files --------------------------------------------------------------------------
    def recent(self) -> list[str]:
        """Projects and pairs (``VI|IR``) opened lately, newest first; absolute paths only (an
        entry relative to some earlier working folder cannot be found again)."""
        value = self.settings.value(RECENT_KEY, [])
        entries = [str(v) for v in (value if isinstance(value, list) else [value] if value else [])]
        return [e for e in entries if all(os.path.isabs(p) for p in e.split("|"))]

    def add_recent(self, entry: str) -> None:
        entry = "|".join(os.path.abspath(p) for p in entry.split("|"))
        entries = [entry] + [e for e in self.recent() if e != entry]
        self.settings.setValue(RECENT_KEY, entries[:MAX_RECENT])
        self.fill_recent_menu()

    def add_recent_menu(self, parent: QMenu) -> None:
        self.recent_menu = parent.addMenu("Open &recent")
        self.fill_recent_menu()

    def fill_recent_menu(self) -> None:
        menu = self.recent_menu
        if menu is None:
            return
        menu.clear()
        for entry in self.recent():
            act = menu.addAction(" + ".join(Path(p).name for p in entry.split("|")))
            act.setToolTip(entry)
            act.triggered.connect(lambda checked=False, e=entry: self._open_recent(e))
        menu.setEnabled(bool(self.recent()))

    def _open_recent(self, entry: str) -> None:
        if not self.window.may_discard():
            return
        if "|" in entry:
            vi, ir = entry.split("|", 1)
            self.open_pair(vi, ir)
        else:
            self.open_project(entry)

    # -- drag and drop -------------------------------------------------------------------------
    def drop(self, event: QDropEvent) -> None:
        paths = dropped_paths(event)
        if paths is None or not self.window.may_discard():
            return
        event.acceptProposedAction()
        if len(paths) == 1:
            self.open_project(paths[0])
        else:
            try:
                vi, ir = guess_pair(paths)
                self.open_pair(vi, ir)
            except TerfError as exc:
                self.window.error(str(exc))

    # -- the fusion network --------------------------------------------------------------------
    def fusion_arch(self) -> str:
        """The network for a newly opened pair: the setting, or on 'auto' full on CUDA and the
        distilled student on the CPU (a project reopens with the network it was made with)."""
        choice = str(self.settings.value(ARCH_KEY, "auto"))
        if choice in ("lite", "student", "full"):
            return choice
        from terf_studio.device import resolve_device

        return "full" if resolve_device(self.window.device).type == "cuda" else "student"

    def add_arch_menu(self, parent: QMenu) -> None:
        menu = parent.addMenu("Fusion &network")
        group = QActionGroup(menu)
        current = str(self.settings.value(ARCH_KEY, "auto"))
        for choice, text in ARCH_CHOICES:
            act = menu.addAction(text)
            act.setCheckable(True)
            act.setChecked(choice == current)
            act.triggered.connect(lambda checked=False, c=choice: self._set_arch(c))
            group.addAction(act)

    def _set_arch(self, choice: str) -> None:
        self.settings.setValue(ARCH_KEY, choice)
        self.window.message(f"fusion network for the next pair opened: {self.fusion_arch()}")
