"""Running the window's jobs: submitting them with their callbacks, the progress bar, cancel,
the script of typed commands, and the background warm-up of the fast engines."""

from __future__ import annotations

import functools
import gc
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import QObject

from terf_studio.errors import TerfError
from terf_studio.gui.worker import Job, Progress
from terf_studio.tuning import CancelToken

if TYPE_CHECKING:
    from terf_studio.gui.window.main_window import MainWindow

R = TypeVar("R")


@functools.cache
def warm_imports() -> None:
    """Import what the worker's jobs use before the window shows: an import holds Python's
    interpreter lock for its whole run, so one on the worker would freeze the window meanwhile."""
    import torch

    import terf_studio.document.export
    import terf_studio.document.project
    import terf_studio.fusion
    import terf_studio.language.llm
    import terf_studio.regions.grounded
    import terf_studio.regions.interactive
    import terf_studio.tuning
    import terf_studio.tuning.engines.conditioned  # the fast engines (previews, warm-up)
    import terf_studio.tuning.engines.denoiser
    import terf_studio.tuning.engines.loader
    import terf_studio.tuning.engines.retinex  # noqa: F401 - the names above are bound once, as "terf_studio"

    # The first optimiser step imports torch's compiler stack (sympy, dynamo), and the first
    # convolution backward pass sets up the CPU kernels: about 2 s that would otherwise hold
    # the interpreter lock on the worker during the first fine-tuning (measured: 350 ms stalls).
    weight = torch.zeros(4, 3, 3, 3, requires_grad=True)
    optimiser = torch.optim.Adam([weight], lr=1e-3)
    image = torch.rand(1, 3, 16, 16).contiguous(memory_format=torch.channels_last)
    torch.nn.functional.conv2d(image, weight, padding=1).relu().mean().backward()
    optimiser.step()
    # Those libraries leave millions of long-lived objects; a full garbage collection walking
    # them all held the interpreter lock for ~300 ms mid-job. Freeze them out of future collections.
    gc.collect()
    gc.freeze()


class Jobs(QObject):
    """Submits user jobs (one at a time) and follows every job's end: progress bar, the next
    scripted command, ``window.idle``."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.runner = window.runner
        self.warm_key: tuple | None = None  # the image the fast engines were last warmed up for
        self.loading = False  # a project's steps are being pushed: no warm-up per step
        self.runner.progress.connect(self._on_progress)
        self.runner.finished.connect(self._after_job)
        self.runner.failed.connect(self._after_job)
        self.runner.cancelled.connect(self._on_cancelled)

    def start(self, name: str, fn: Callable[[Progress, CancelToken], R], on_done: Callable[[R], None],
              on_error: Callable[[str, Exception], None] | None = None,
              on_cancel: Callable[[], None] | None = None) -> bool:
        """Run ``fn`` on the worker; ``on_done`` gets its result (a TerfError it raises becomes an
        error message), ``on_error`` its failure (default: the error message). False while busy."""

        def done(result: R) -> None:
            try:
                on_done(result)
            except TerfError as exc:
                self.window.error(str(exc))

        job = Job(name, fn, on_done=done, on_error=on_error or (lambda message, _exc: self.window.error(message)),
                  on_cancel=on_cancel)
        if not self.runner.submit(job):
            self.window.message("wait for the running job to finish (or press Esc to cancel it)", error=True)
            return False
        self.window.progress.setRange(0, 0)
        self.window.progress.setFormat(name)
        self.window.message(f"{name}…")
        return True

    def cancel(self) -> None:
        """Esc: the stroke being drawn, else the running job, else a plan waiting for a region."""
        if self.window.canvas.cancel_gesture():
            return
        if self.runner.busy:
            self.runner.cancel()
            self.window.message("cancelling…")
        else:
            self.window.plans.drop_pending()

    def _on_progress(self, label: str, i: int, n: int, loss: float) -> None:
        progress = self.window.progress
        progress.setRange(0, max(n, 1))
        progress.setValue(i)
        loss_text = "" if math.isnan(loss) else f" · loss {loss:.4f}"
        progress.setFormat(f"{label}: {i}/{n}")
        self.window.statusBar().showMessage(f"{label}: {i} of {n}{loss_text}")

    def _on_cancelled(self, job: Job) -> None:
        self.window.message(f"cancelled: {job.name}; nothing changed")
        self.window.script.clear()
        self._after_job()

    def _after_job(self, *_args: Any) -> None:
        self.window.update_enabled()
        if self.runner.busy:  # a follow-up job (the plan after its parse) is running
            return
        if self.window.script and self.window.session is not None:
            self.window.plans.submit_command(self.window.script.pop(0))
            return
        self.window.idle.emit()

    def run_script(self, commands: list[str]) -> None:
        """Run typed commands one after another, as if typed (scripted runs, demos)."""
        self.window.script = list(commands)
        if not self.runner.busy and self.window.session is not None and self.window.script:
            self.window.plans.submit_command(self.window.script.pop(0))

    # -- warming the fast engines up ---------------------------------------------------------
    def on_engine_changed(self, engine: str) -> None:
        self.window.message(f"engine for the next edits: {engine}")
        self.warm_key = None
        self.schedule_warm_up()

    def schedule_warm_up(self) -> None:
        """Prepare the fast engines for the image now shown, in the background: it never blocks a
        user job (one submitted meanwhile waits for it) and never reports an error."""
        s = self.window.session
        if s is None or self.loading or self.window.engine in ("quick", "exact"):
            return
        key = (id(s), id(s.steps[s.cursor - 1]) if s.cursor else None)
        if key == self.warm_key:
            return
        self.warm_key = key

        def job(progress: Progress, cancel: CancelToken) -> bool:
            return s.warm_up_fast_engines()

        self.runner.submit_background(Job("Warm up the fast engines", job, "warm-up", priority=1))
