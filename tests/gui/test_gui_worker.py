"""The worker thread on its own: results, errors, cancel, one job at a time, clean shutdown."""

from __future__ import annotations

import sys
import threading

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QObject, Signal  # noqa: E402

from terf_studio.errors import TerfError  # noqa: E402
from terf_studio.gui.worker import Job, JobRunner  # noqa: E402


class _Emitter(QObject):
    changed = Signal(str, int, int, float)


def test_emitting_from_python_keeps_reference_counts(qapp):
    """PySide6 6.12.0 returned True from emit() without a reference; on Python 3.11 that
    aborted the interpreter after a few thousand progress signals. Keep such a build out."""
    emitter = _Emitter()
    emitter.changed.connect(lambda *args: None)
    before = sys.getrefcount(True)
    for _ in range(500):
        emitter.changed.emit("x", 1, 2, 0.5)
    assert abs(sys.getrefcount(True) - before) < 50


@pytest.fixture
def runner(qapp):
    runner = JobRunner()
    yield runner
    assert runner.shutdown()
    assert not runner.running


def test_a_job_runs_on_the_worker_thread_and_reports_progress(qtbot, runner):
    threads, seen = [], []
    runner.progress.connect(lambda label, i, n, loss: seen.append((label, i, n)))

    def job(progress, cancel):
        threads.append(threading.current_thread())
        for i in range(1, 4):
            progress("step", i, 3, 0.1)
        return 42

    with qtbot.waitSignal(runner.finished, timeout=10_000) as blocker:
        assert runner.submit(Job("answer", job))
    assert blocker.args[1] == 42 and not runner.busy
    assert threads[0] is not threading.main_thread()
    assert seen[-1] == ("step", 3, 3)  # the last report always arrives, even when throttled


def test_one_job_at_a_time_and_cancel(qtbot, runner):
    release = threading.Event()

    def slow(progress, cancel):
        while not cancel.cancelled:
            release.wait(0.01)
            progress("waiting", 0, 1)
        cancel.raise_if_cancelled()

    assert runner.submit(Job("slow", slow))
    assert runner.busy and not runner.submit(Job("other", lambda p, c: None))
    with qtbot.waitSignal(runner.cancelled, timeout=10_000):
        runner.cancel()
    assert not runner.busy
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        assert runner.submit(Job("next", lambda p, c: "ok"))


def test_errors_become_messages(qtbot, runner):
    with qtbot.waitSignal(runner.failed, timeout=10_000) as blocker:
        runner.submit(Job("bad input", lambda p, c: (_ for _ in ()).throw(TerfError("the images differ in size"))))
    assert blocker.args[1] == "the images differ in size"
    with qtbot.waitSignal(runner.failed, timeout=10_000) as blocker:
        runner.submit(Job("bug", lambda p, c: 1 / 0))
    assert blocker.args[1].startswith("bug failed: ZeroDivisionError")
    with qtbot.waitSignal(runner.finished, timeout=10_000):  # the thread survived both
        runner.submit(Job("fine", lambda p, c: None))


def test_a_user_job_waits_for_a_background_job_instead_of_being_refused(qtbot, runner):
    """The warm-up runs in the background; a command typed meanwhile starts when it ends, never beside it."""
    release, order = threading.Event(), []

    def warm_up(progress, cancel):
        order.append("warm-up start")
        release.wait(10)
        order.append("warm-up end")
        return True

    def user(progress, cancel):
        order.append("user")
        return "applied"

    ended = []
    runner.background_done.connect(lambda job, result, ok: ended.append((job.kind, result, ok)))
    runner.submit_background(Job("warm", warm_up, "warm-up"))
    qtbot.waitUntil(lambda: order == ["warm-up start"], timeout=10_000)
    assert runner.active and not runner.busy  # background work leaves the window usable
    assert runner.submit(Job("apply", user))  # queued, not refused
    assert runner.busy and not runner.submit(Job("other", user))  # still one user job at a time
    release.set()
    with qtbot.waitSignal(runner.finished, timeout=10_000) as blocker:
        pass
    assert blocker.args[1] == "applied"
    assert order == ["warm-up start", "warm-up end", "user"]
    # the warm-up was asked to give way (it ignores its token), and ended silently
    assert ended == [("warm-up", None, False)]


def test_background_jobs_of_a_kind_keep_only_the_newest(qtbot, runner):
    release, ran = threading.Event(), []

    def preview(value):
        def fn(progress, cancel):
            ran.append(value)
            if value == 1:
                release.wait(10)
            return value
        return fn

    shown = []
    runner.background_done.connect(lambda job, result, ok: shown.append((result, ok)))
    runner.submit_background(Job("p1", preview(1), "preview"))
    qtbot.waitUntil(lambda: ran == [1], timeout=10_000)
    for value in (2, 3, 4):  # each replaces the one waiting; the running one is cancelled
        runner.submit_background(Job(f"p{value}", preview(value), "preview"))
    release.set()
    qtbot.waitUntil(lambda: len(shown) == 2, timeout=10_000)
    assert ran == [1, 4]
    assert shown == [(None, False), (4, True)]


def test_a_failing_background_job_is_silent_and_a_waiting_cancelled_job_never_runs(qtbot, runner):
    failures, release, ran = [], threading.Event(), []
    runner.failed.connect(lambda *args: failures.append(args))

    def slow_fail(progress, cancel):
        release.wait(10)
        raise TerfError("no weights")

    runner.submit_background(Job("warm", slow_fail, "warm-up"))
    qtbot.waitUntil(lambda: runner.active, timeout=10_000)
    assert runner.submit(Job("apply", lambda p, c: ran.append("apply")))
    with qtbot.waitSignal(runner.cancelled, timeout=10_000):
        runner.cancel()
        release.set()
    assert ran == [] and failures == [] and not runner.busy
