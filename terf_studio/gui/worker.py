"""The job runner: one worker thread that runs core calls, with progress and cancel.

A *job* is a plain callable ``fn(progress, cancel) -> result`` built by the window from core
objects; it runs on the worker thread and never touches widgets. Its progress calls become a
queued ``progress`` signal (throttled, so a fast loop cannot flood the GUI thread). Its end calls
exactly one of the job's own callbacks on the GUI thread (``on_done(result)``,
``on_error(message, exc)`` or ``on_cancel()``, set by the code that submitted it), then emits one
of ``finished``, ``failed`` or ``cancelled`` for whoever follows every job (the progress bar, the
script of typed commands). One job runs at a time: the window disables the actions that would
clash while :attr:`JobRunner.busy` is true.

Background jobs (warming caches up, live previews) share the thread but give way: they start
only while no user job runs or waits, a user job submitted meanwhile waits for the running one
(and cancels it, for jobs that look at their token) instead of being refused, a newer background
job of the same ``kind`` replaces a waiting one and cancels a running one, and their ends are
reported silently on ``background_done`` (never as ``failed``), without touching ``busy``
(the job's own callbacks still run).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from PySide6.QtCore import QObject, QThread, Signal, Slot

from terf_studio.errors import CancelledError, TerfError
from terf_studio.tuning import CancelToken


class Progress(Protocol):
    """progress(label, i, n, loss): a job's report of step ``i`` of ``n``; loss may be left out."""

    def __call__(self, label: str, i: int, n: int, loss: float = ...) -> None: ...


R = TypeVar("R")

PROGRESS_INTERVAL_S = 0.05


@dataclass
class Job(Generic[R]):
    """What to run, what to call it in the status bar, and what to do when it ends.

    The callbacks run on the GUI thread; a missing one means "nothing to do". ``kind`` matters
    for background jobs only: a newer background job of the same kind replaces this one.
    """

    name: str
    fn: Callable[[Progress, CancelToken], R]
    kind: str = "job"
    on_done: Callable[[R], None] | None = None
    on_error: Callable[[str, Exception], None] | None = None
    on_cancel: Callable[[], None] | None = None
    priority: int = 0  # background jobs only: the lowest waiting one starts first


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
    """Owns the worker thread. ``submit`` starts a user job (or queues it behind a background
    job); ``submit_background`` runs low-priority work when the thread is free."""

    started = Signal(object)  # job (a user job, when it starts running)
    progress = Signal(str, int, int, float)
    finished = Signal(object, object)  # job, result
    failed = Signal(object, str, object)  # job, message, exception
    cancelled = Signal(object)  # job
    busy_changed = Signal(bool)
    background_started = Signal(object)  # job
    background_done = Signal(object, object, bool)  # job, result (None unless ok), ok
    _run = Signal(object, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName("terf-studio-worker")
        self._worker = _Worker()
        self._worker.moveToThread(self._thread)
        self._run.connect(self._worker.run)
        self._worker.progress.connect(self._on_progress)
        self._worker.done.connect(self._on_done)
        self._worker.failed.connect(self._on_failed)
        self._worker.cancelled.connect(self._on_cancelled)
        self._thread.start()
        self._job: Job | None = None  # the user job, running or waiting
        self._token: CancelToken | None = None
        self._running: Job | None = None  # what the thread runs now (user or background)
        self._running_token: CancelToken | None = None
        self._waiting: dict[str, Job] = {}  # background jobs by kind

    @property
    def busy(self) -> bool:
        """A user job runs or waits to run (background jobs do not count)."""
        return self._job is not None

    @property
    def active(self) -> bool:
        """The worker thread runs something (a user or a background job)."""
        return self._running is not None

    def submit(self, job: Job) -> bool:
        """Start ``job``; returns False (and starts nothing) while another user job runs or waits.
        A running background job is asked to stop and ``job`` starts as soon as it has ended."""
        if self._job is not None:
            return False
        self._job, self._token = job, CancelToken()
        self.busy_changed.emit(True)
        if self._running is None:
            self._next()
        elif self._running_token is not None:
            self._running_token.cancel()
        return True

    def submit_background(self, job: Job) -> None:
        """Run ``job`` when the thread is free; it replaces a waiting job of its kind and
        cancels a running one (whose result would be out of date)."""
        self._waiting.pop(job.kind, None)
        self._waiting[job.kind] = job
        if self._running is not None and self._running is not self._job and self._running.kind == job.kind:
            assert self._running_token is not None
            self._running_token.cancel()
        self._next()

    def drop_background(self, kind: str) -> None:
        """Forget a waiting background job of ``kind`` and cancel a running one."""
        self._waiting.pop(kind, None)
        if self._running is not None and self._running is not self._job and self._running.kind == kind:
            assert self._running_token is not None
            self._running_token.cancel()

    def cancel(self) -> None:
        """Ask the user job to stop; it ends with ``cancelled`` within one iteration (a job still
        waiting behind a background job ends as soon as that one does, without running)."""
        if self._token is not None:
            self._token.cancel()
        if self._job is not None and self._running is not self._job and self._running_token is not None:
            self._running_token.cancel()

    def _next(self) -> None:
        """Start what should run next: the waiting user job first, then background jobs."""
        if self._running is not None:
            return
        if self._job is not None:
            job, token = self._job, self._token
            assert token is not None
            if token.cancelled:  # cancelled while it waited: it never runs
                self._end()
                _call(job.on_cancel)
                self.cancelled.emit(job)
                self._next()
                return
            self._running, self._running_token = job, token
            self.started.emit(job)
            self._run.emit(job, token)
            return
        if self._waiting:
            job = min(self._waiting.values(), key=lambda j: j.priority)
            del self._waiting[job.kind]
            self._running, self._running_token = job, CancelToken()
            self.background_started.emit(job)
            self._run.emit(job, self._running_token)

    def _on_progress(self, label: str, i: int, n: int, loss: float) -> None:
        if self._running is not None and self._running is self._job:  # background jobs report nothing
            self.progress.emit(label, i, n, loss)

    def _end(self) -> Job | None:
        job, self._job, self._token = self._job, None, None
        self.busy_changed.emit(False)
        return job

    def _ended(self, job: Job) -> bool:
        """The thread is free again; True when ``job`` was the user job."""
        self._running, self._running_token = None, None
        if job is self._job:
            self._end()
            return True
        return False

    def _on_done(self, job: Job, result: Any) -> None:
        user = self._ended(job)
        try:
            _call(job.on_done, result)
        finally:
            if user:
                self.finished.emit(job, result)  # a follow-up job submitted here starts at once
            else:
                self.background_done.emit(job, result, True)
            self._next()

    def _on_failed(self, job: Job, message: str, exc: Exception) -> None:
        user = self._ended(job)
        try:
            _call(job.on_error, message, exc)
        finally:
            if user:
                self.failed.emit(job, message, exc)
            else:
                self.background_done.emit(job, None, False)
            self._next()

    def _on_cancelled(self, job: Job) -> None:
        user = self._ended(job)
        try:
            _call(job.on_cancel)
        finally:
            if user:
                self.cancelled.emit(job)
            else:
                self.background_done.emit(job, None, False)
            self._next()

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Cancel any job, stop the thread and wait for it; True when it stopped."""
        self._waiting.clear()
        self.cancel()
        if self._running_token is not None:
            self._running_token.cancel()
        self._thread.quit()
        return self._thread.wait(timeout_ms)

    @property
    def running(self) -> bool:
        return self._thread.isRunning()


def _call(callback: Callable[..., None] | None, *args: Any) -> None:
    if callback is not None:
        callback(*args)
