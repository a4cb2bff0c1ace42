"""Autosave and crash recovery: the open document is kept in a recovery project while it has
unsaved changes, so a crash or a kill loses nothing.

Each running editor has an id and three files in the recovery folder (by default
``platformdirs.user_state_dir("terf-studio")/recovery``, ``~/.local/state/terf-studio/recovery``
on Linux): ``ID.lock`` (a :class:`QLockFile` held while the editor runs), ``ID.terf`` (the document,
written by :func:`~terf_studio.document.project.save_project`, which writes a ``.part`` file and
renames it, so the file is always whole) and ``ID.json`` (the project the document came from).

After every change to the undo stack (an edit, an undo, a mask stroke) the document is saved on the
worker's background lane: a snapshot is taken on the GUI thread (lists of steps and masks, no pixels
copied) and encoded and written on the worker, so the window never waits; a newer save replaces a
waiting one. When the document is clean again (saved, or back where it was opened) the files go, and
a clean close removes them. A ``.terf`` whose lock no living editor holds is an *orphan*: the next
start offers to restore it.
"""

from __future__ import annotations

import copy
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs
from PySide6.QtCore import QLockFile, QObject, QTimer, Signal
from PySide6.QtWidgets import QMessageBox

from terf_studio.document.session import EditSession
from terf_studio.errors import TerfError
from terf_studio.gui.worker import Job, Progress
from terf_studio.tuning import CancelToken

if TYPE_CHECKING:
    from terf_studio.gui.window.main_window import MainWindow

#: What to do at start with a document left by an editor that did not close cleanly.
RECOVER_CHOICES = ("ask", "restore", "ignore", "discard")
JOB_KIND = "autosave"


def default_recovery_dir() -> Path:
    """The user state folder's ``recovery`` (honours ``XDG_STATE_HOME``)."""
    return Path(platformdirs.user_state_dir("terf-studio")) / "recovery"


@dataclass
class Orphan:
    """A recovery document whose editor is gone; its lock is held by this editor until
    :meth:`release` (so two new editors cannot both restore it)."""

    path: Path  # ID.terf
    project: str | None  # the project the document was opened from or saved as, if any
    title: str
    saved: float  # when it was written (seconds since the epoch)
    lock: QLockFile

    def remove(self) -> None:
        """Delete its files (after a restore, or when the user discards it)."""
        for suffix in (".terf", ".terf.part", ".json", ".json.part"):
            self.path.with_suffix(suffix).unlink(missing_ok=True)
        self.release()

    def release(self) -> None:
        self.lock.unlock()  # removes ID.lock


def find_orphans(folder: Path, own_id: str = "") -> list[Orphan]:
    """Recovery documents no running editor owns, newest first (their locks are taken)."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob("*.terf"):
        if path.stem == own_id:
            continue
        lock = QLockFile(str(path.with_suffix(".lock")))
        lock.setStaleLockTime(0)  # never stale by age: a running editor holds its lock for hours
        if not lock.tryLock(0):  # a running editor holds it (a dead one's lock counts as stale)
            continue
        meta = _read_meta(path.with_suffix(".json"))
        project = meta.get("project")
        found.append(Orphan(path, str(project) if project else None, str(meta.get("title") or path.name),
                            _mtime(path), lock))
    return sorted(found, key=lambda o: o.saved, reverse=True)


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _write_json(path: Path, values: dict[str, Any]) -> None:
    partial = path.with_name(path.name + ".part")
    partial.write_text(json.dumps(values, indent=1), encoding="utf-8")
    os.replace(partial, path)


def snapshot(session: EditSession) -> EditSession:
    """A copy of the session that later undo, redo and mask edits on the GUI thread do not
    change: the step and mask lists are copied; pixels, steps and masks are never changed in place."""
    copied = copy.copy(session)
    copied.steps = list(session.steps)
    copied.masks = list(session.masks)
    return copied


class Recovery(QObject):
    """The window's autosave and its offer to restore an orphan at start."""

    saved = Signal(str)  # the recovery file, after each autosave (tests, scripted runs)
    removed = Signal()  # the recovery files are gone (the document is clean)
    restored = Signal(str)  # a message: what was restored (scripted runs print it)

    def __init__(self, window: MainWindow, folder: Path | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.folder = Path(folder) if folder is not None else default_recovery_dir()
        self.id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.path = self.folder / f"{self.id}.terf"
        self._lock: QLockFile | None = None
        self._finished = False
        self._closing = CancelToken()  # cancelled when the window shuts down (see stop)
        self._has_file = False  # a save was submitted since the last removal
        self._adopted: list[Orphan] = []  # a restored orphan, removed once our own copy is written
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)  # one save for the several signals of one change
        self._timer.timeout.connect(self._sync)

    # -- autosave ------------------------------------------------------------------------------
    def document_changed(self, *_args: object) -> None:
        """The undo stack moved or its clean state changed: save (or remove) soon."""
        if not self._finished:
            self._timer.start()

    def _sync(self) -> None:
        w = self.window
        if self._finished:
            return
        if w.session is None or w.undo_stack.isClean():
            if self._has_file:
                self._has_file = False
                w.runner.submit_background(Job("Remove the recovery file", lambda _p, _c: self._remove_files(),
                                               JOB_KIND, on_done=lambda _r: self.removed.emit()))
            return
        try:
            self._take_lock()
        except (OSError, TerfError) as exc:
            w.message(f"autosave is off: {exc}")
            return
        self._has_file = True
        session = snapshot(w.session)
        title = w.project_path.name if w.project_path else Path(session.vi_path or "pair").name
        meta = {"project": str(w.project_path.resolve()) if w.project_path else None, "title": title,
                "pid": os.getpid(), "steps": session.cursor, "time": time.time()}
        path, closing = self.path, self._closing

        def job(_progress: Progress, _cancel: CancelToken) -> str:
            from terf_studio.document.project import save_project

            path.parent.mkdir(parents=True, exist_ok=True)
            _write_json(path.with_suffix(".json"), meta)
            save_project(session, path, cancel=closing)
            return str(path)

        # A cancel (a newer change) still lets a started save finish: the newer one follows it.
        w.runner.submit_background(Job("Autosave", job, JOB_KIND, on_done=self._on_saved,
                                       on_error=self._on_failed, on_cancel=lambda: self._on_cancelled(str(path))))

    def _on_cancelled(self, path: str) -> None:
        if not self._closing.cancelled:  # a newer change: the save still ran to its end
            self._on_saved(path)

    def _on_saved(self, path: str) -> None:
        for orphan in self._adopted:  # our own copy of a restored document exists now
            orphan.remove()
        self._adopted.clear()
        self.saved.emit(path)

    def _on_failed(self, message: str, _exc: Exception) -> None:
        self.window.message(f"autosave failed: {message}")

    def _take_lock(self) -> None:
        if self._lock is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            lock = QLockFile(str(self.path.with_suffix(".lock")))
            lock.setStaleLockTime(0)
            if not lock.tryLock(0):
                raise TerfError(f"cannot lock the recovery file {self.path}")
            self._lock = lock

    def _remove_files(self) -> bool:
        for suffix in (".terf", ".terf.part", ".json", ".json.part"):
            self.path.with_suffix(suffix).unlink(missing_ok=True)
        return True

    def stop(self) -> None:
        """The window is closing: an autosave in progress stops between bands of rows (a large
        document takes a minute to write; a newer change alone never stops one)."""
        self._closing.cancel()

    def finish(self) -> None:
        """A clean close: the worker has stopped; remove this editor's files and lock."""
        if self._finished:
            return
        self._finished = True
        self._timer.stop()
        self._remove_files()
        if self._lock is not None:
            self._lock.unlock()
        for orphan in self._adopted:  # restored, then closed before our copy was written: it stays
            orphan.release()
        self._adopted.clear()

    # -- restoring -----------------------------------------------------------------------------
    def offer(self, mode: str = "ask") -> bool:
        """Offer the newest orphan: ``ask`` (a dialog), ``restore``, ``discard`` or ``ignore``.
        True when a restore job started (the window shows the document when it ends)."""
        if mode not in RECOVER_CHOICES:
            raise TerfError(f"--recover is one of {', '.join(RECOVER_CHOICES)}, not {mode!r}")
        if mode == "ignore":
            return False
        orphans = find_orphans(self.folder, self.id)
        if not orphans:
            return False
        newest, others = orphans[0], orphans[1:]
        for orphan in others:  # left for a later start
            orphan.release()
        answer = self.ask_restore(newest) if mode == "ask" else mode
        if answer == "discard":
            newest.remove()
            return False
        if answer != "restore":
            newest.release()
            return False
        return self.restore(newest)

    def ask_restore(self, orphan: Orphan) -> str:
        """Restore, Discard or Later (kept for the next start); a separate method so tests can answer it."""
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(orphan.saved))
        box = QMessageBox(QMessageBox.Icon.Question, "Restore unsaved work?",
                          f"TeRF Studio did not close normally. Unsaved changes to <b>{orphan.title}</b> "
                          f"were saved at {when}. Restore them?", parent=self.window)
        restore = box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
        discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton("Later", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(restore)
        box.exec()
        clicked = box.clickedButton()
        return "restore" if clicked is restore else "discard" if clicked is discard else "later"

    def restore(self, orphan: Orphan) -> bool:
        """Open the orphan on the worker; the window shows it as unsaved changes to its project."""
        w = self.window
        device = w.device

        def job(progress: Progress, cancel: CancelToken) -> EditSession:
            from terf_studio.document.project import load_project
            from terf_studio.gui.window.files import use_grounded_finder

            progress("restoring", 0, 1)
            session = load_project(orphan.path, device=device)
            use_grounded_finder(device)
            return session

        def done(session: EditSession) -> None:
            project = orphan.project if orphan.project and Path(orphan.project).is_file() else None
            w.set_session(session, project)
            self._adopted.append(orphan)
            w.undo_stack.resetClean()  # unsaved changes: [*] in the title, Save, ask before closing
            w.update_title()
            text = f"restored unsaved changes to {orphan.title} ({len(session.steps)} steps)"
            w.message(text)
            self.restored.emit(text)

        def failed(message: str, _exc: Exception) -> None:
            orphan.release()
            w.error(f"could not restore the unsaved changes: {message}")

        started = w.jobs.start(f"Restore {orphan.title}", job, done, failed, orphan.release)
        if not started:
            orphan.release()
        return started
