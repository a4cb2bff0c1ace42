"""The job runner: one worker thread that runs core calls, with progress and cancel.

A *job* is a plain callable ``fn(progress, cancel) -> result`` built by the window from core
objects; it runs on the worker thread and never touches widgets. Its progress calls become a
queued ``progress`` signal (throttled, so a fast loop cannot flood the GUI thread) and its end
becomes exactly one of ``finished``, ``failed`` or ``cancelled``. One job runs at a time: the
window disables the actions that would clash while :attr:`JobRunner.busy` is true.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from terf_studio.errors import CancelledError, TerfError
from terf_studio.tuning import CancelToken

#: progress(label, i, n, loss); loss may be nan when the job has none
Progress = Callable[[str, int, int, float], None]
JobFn = Callable[[Progress, CancelToken], Any]

PROGRESS_INTERVAL_S = 0.05


@dataclass
class Job:
    """What to run and what to call it in the status bar; ``kind`` lets the window route the result."""

    name: str
    fn: JobFn
    kind: str = "job"
    context: Any = None


class _Worker(QObject):
    progress = Signal(str, int, int, float)
    done = Signal(object, object)  # job, result
    failed = Signal(object, str, object)  # job, message, exception
    cancelled = Signal(object)

    @Slot(object, object)
    def run(self, job: Job, token: CancelToken) -> None:
        last = [0.0]

        def progress(label: str, i: int, n: int, loss: float = float("nan")) -> None:
            now = time.monotonic()
            if i >= n or now - last[0] >= PROGRESS_INTERVAL_S:
                last[0] = now
                self.progress.emit(label, int(i), int(n), float(loss))

        try:
            result = job.fn(progress, token)
        except CancelledError:
            self.cancelled.emit(job)
        except TerfError as exc:
            self.failed.emit(job, str(exc), exc)
        except Exception as exc:  # noqa: BLE001 - an unexpected failure must reach the user, not kill the thread
            detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
            self.failed.emit(job, f"{job.name} failed: {detail}", exc)
        else:
            if token.cancelled:
                self.cancelled.emit(job)
            else:
                self.done.emit(job, result)


class JobRunner(QObject):
    """Owns the worker thread. ``submit`` starts a job when none is running."""

    started = Signal(object)  # job
    progress = Signal(str, int, int, float)
    finished = Signal(object, object)  # job, result
    failed = Signal(object, str, object)  # job, message, exception
    cancelled = Signal(object)  # job
    busy_changed = Signal(bool)
    _run = Signal(object, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName("terf-studio-worker")
        self._worker = _Worker()
        self._worker.moveToThread(self._thread)
        self._run.connect(self._worker.run)
        self._worker.progress.connect(self.progress)
        self._worker.done.connect(self._on_done)
        self._worker.failed.connect(self._on_failed)
        self._worker.cancelled.connect(self._on_cancelled)
        self._thread.start()
        self._job: Job | None = None
        self._token: CancelToken | None = None

    @property
    def busy(self) -> bool:
        return self._job is not None

    @property
    def current(self) -> Job | None:
        return self._job

    def submit(self, job: Job) -> bool:
        """Start ``job``; returns False (and starts nothing) while another job runs."""
        if self._job is not None:
            return False
        self._job, self._token = job, CancelToken()
        self.started.emit(job)
        self.busy_changed.emit(True)
        self._run.emit(job, self._token)
        return True

    def cancel(self) -> None:
        """Ask the running job to stop; it ends with ``cancelled`` within one iteration."""
        if self._token is not None:
            self._token.cancel()

    def _end(self) -> Job | None:
        job, self._job, self._token = self._job, None, None
        self.busy_changed.emit(False)
        return job

    def _on_done(self, job: Job, result: Any) -> None:
        self._end()
        self.finished.emit(job, result)

    def _on_failed(self, job: Job, message: str, exc: Exception) -> None:
        self._end()
        self.failed.emit(job, message, exc)

    def _on_cancelled(self, job: Job) -> None:
        self._end()
        self.cancelled.emit(job)

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Cancel any job, stop the thread and wait for it; True when it stopped."""
        self.cancel()
        self._thread.quit()
        return self._thread.wait(timeout_ms)

    @property
    def running(self) -> bool:
        return self._thread.isRunning()
