"""Progress reporting and cancellation for long optimisations.

Every optimisation loop in this package calls :func:`step_check` before each iteration and the
progress callback after it, so a cancel request stops the work within one iteration. Work is
done on copies: a cancelled call raises :class:`~terf_studio.errors.CancelledError` and leaves
every object it was given (networks, states, images) as it was.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from terf_studio.errors import CancelledError

#: ``progress(i, n, loss)``: iteration ``i`` (1-based) of ``n`` has finished with this loss.
ProgressFn = Callable[[int, int, float], None]


class CancelToken:
    """A thread-safe cancel flag: the GUI thread calls :meth:`cancel`, the worker checks it."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise CancelledError("cancelled; the previous result is unchanged")

    def __repr__(self) -> str:
        return f"CancelToken(cancelled={self.cancelled})"


def step_check(cancel: CancelToken | None) -> None:
    """Raise CancelledError when ``cancel`` is set (``None`` never cancels)."""
    if cancel is not None:
        cancel.raise_if_cancelled()


def report(progress: ProgressFn | None, i: int, n: int, loss: float) -> None:
    if progress is not None:
        progress(int(i), int(n), float(loss))
