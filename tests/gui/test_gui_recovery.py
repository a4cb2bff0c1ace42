"""Autosave and crash recovery: the document with unsaved changes is kept in a recovery project
(written on the worker after each change), a killed editor's work is offered at the next start,
and a clean close or a save removes the file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtWidgets import QMessageBox  # noqa: E402

from terf_studio.document.project import load_project  # noqa: E402
from terf_studio.gui.recovery import default_recovery_dir, find_orphans  # noqa: E402

JOB_TIMEOUT_MS = 240_000
KILL_TIMEOUT_S = 600


def wait_idle(qtbot, window, action):
    with qtbot.waitSignal(window.idle, timeout=JOB_TIMEOUT_MS):
        assert action() is not False
    assert not window.runner.busy


def run_command(qtbot, window, text):
    """Run a typed command and wait for both the step and the autosave that follows it."""
    with qtbot.waitSignal(window.recovery.saved, timeout=JOB_TIMEOUT_MS):
        wait_idle(qtbot, window, lambda: window.submit_command(text))


def saved_steps(path: Path) -> tuple[int, list[str]]:
    """(cursor, step texts) of a project file, read without loading its images."""
    with zipfile.ZipFile(path) as z:
        meta = json.loads(z.read("project.json"))
    return meta["cursor"], [step["text"] for step in meta["steps"]]


def test_recovery_folder_is_the_user_state_folder(tmp_path):
    assert default_recovery_dir() == tmp_path / "state" / "terf-studio" / "recovery"  # conftest's XDG_STATE_HOME


def test_each_change_is_autosaved_and_a_clean_state_removes_the_file(qtbot, window, pair, tmp_path, monkeypatch):
    wait_idle(qtbot, window, lambda: window.open_pair(*pair))
    path = window.recovery.path
    assert path.parent == default_recovery_dir() and not path.exists()  # nothing unsaved yet
    run_command(qtbot, window, "blur the person")
    assert saved_steps(path) == (1, ["blur the person"])
    run_command(qtbot, window, "brighten the person")
    assert saved_steps(path) == (2, ["blur the person", "brighten the person"])
    with qtbot.waitSignal(window.recovery.saved, timeout=JOB_TIMEOUT_MS):
        window.act_undo.trigger()
    assert saved_steps(path)[0] == 1  # the cursor is saved: a restore can still redo
    assert not list(path.parent.glob("*.part"))
    with qtbot.waitSignal(window.recovery.removed, timeout=JOB_TIMEOUT_MS):
        assert window.save_project(str(tmp_path / "work.terf"))  # saved: nothing left to recover
    assert not path.exists()
    with qtbot.waitSignal(window.recovery.saved, timeout=JOB_TIMEOUT_MS):
        window.act_redo.trigger()  # unsaved again
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["project"] == str((tmp_path / "work.terf").resolve())
    monkeypatch.setattr(window, "ask_unsaved", lambda: QMessageBox.StandardButton.Discard)
    assert window.close()  # a clean close removes every file, even when the changes are discarded
    assert not window.isVisible()
    assert list(path.parent.iterdir()) == []


def test_a_running_editors_file_is_not_offered(qtbot, make_window, pair):
    first = make_window()
    wait_idle(qtbot, first, lambda: first.open_pair(*pair))
    run_command(qtbot, first, "blur the person")
    second = make_window()
    assert find_orphans(second.recovery.folder, second.recovery.id) == []
    assert second.recovery.offer("restore") is False and second.session is None
    assert first.recovery.path.exists()


def test_restore_after_the_editor_was_killed(qtbot, make_window, pair, tmp_path):
    """The editor runs in its own process, is killed (SIGKILL) once its two steps are autosaved,
    and new editors restore them (``gui --recover restore``, then this process's window)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path), "OMP_NUM_THREADS": "1",
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_STATE_HOME": str(tmp_path / "state")}
    cmd = [sys.executable, "-m", "terf_studio", "gui", *pair, "--run", "blur the person", "--run",
           "brighten the person", "--iterations", "2", "--llm", "none", "--device", "cpu"]
    folder = default_recovery_dir()
    editor = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + KILL_TIMEOUT_S
        steps: list[str] = []
        while len(steps) < 2:  # the editor stays open (no --exit-when-idle): wait for its autosave
            assert editor.poll() is None, editor.communicate()[0]
            assert time.monotonic() < deadline, "no autosave with both steps"
            time.sleep(0.5)
            for path in folder.glob("*.terf"):
                try:
                    steps = saved_steps(path)[1]
                except (OSError, KeyError, zipfile.BadZipFile):  # never: the file is renamed into place
                    raise
        os.kill(editor.pid, signal.SIGKILL)
        assert editor.wait(timeout=60) == -signal.SIGKILL
    finally:
        if editor.poll() is None:
            editor.kill()
            editor.wait()
    left = sorted(p.name for p in folder.iterdir())
    assert [n for n in left if n.endswith(".terf")] and [n for n in left if n.endswith(".lock")], left
    killed = next(folder.glob("*.terf"))
    expected = load_project(killed, device="cpu")

    # A scripted run is never asked and leaves the file alone; --recover restore takes it (and,
    # quitting at once with --exit-when-idle, drops the restored copy and keeps the file).
    quick = cmd[:4] + ["--llm", "none", "--device", "cpu", "--exit-when-idle"]
    ignored = subprocess.run(quick, env=env, capture_output=True, text=True, timeout=KILL_TIMEOUT_S)
    assert ignored.returncode == 0 and "restored" not in ignored.stdout, ignored.stderr
    restored = subprocess.run(quick + ["--recover", "restore"], env=env, capture_output=True, text=True,
                              timeout=KILL_TIMEOUT_S)
    assert restored.returncode == 0, restored.stderr
    assert "restored unsaved changes to scene.png (2 steps)" in restored.stdout
    assert killed.exists()

    window = make_window()
    with qtbot.waitSignal(window.recovery.saved, timeout=JOB_TIMEOUT_MS):  # its own copy, then the old one goes
        wait_idle(qtbot, window, lambda: window.recovery.offer("restore"))
    s = window.session
    assert s is not None, window.last_error
    assert [step.text for step in s.steps] == ["blur the person", "brighten the person"] and s.cursor == 2
    assert np.array_equal(s.current16, expected.current16) and np.array_equal(s.base16, expected.base16)
    assert [m.label for m in s.masks] == [m.label for m in expected.masks]
    assert window.isWindowModified() and window.project_path is None  # unsaved work, never saved as a project
    assert window.undo_stack.count() == 2
    window.act_undo.trigger()  # the restored history undoes like any other
    assert s.cursor == 1
    assert not killed.exists() and window.recovery.path.exists()
    assert sorted(p.suffix for p in folder.iterdir()) == [".json", ".lock", ".terf"]  # only the new editor's


def test_the_offer_can_wait_or_be_declined(qtbot, make_window, pair, monkeypatch):
    first = make_window()
    wait_idle(qtbot, first, lambda: first.open_pair(*pair))
    run_command(qtbot, first, "blur the person")
    # An editor that ends without closing its window (as after a crash) leaves its file; its lock is
    # released here, as the system does for a killed process.
    first.shutdown()
    first.recovery._finished = True
    assert first.recovery._lock is not None
    first.recovery._lock.unlock()
    orphan = first.recovery.path
    assert orphan.exists()

    second = make_window()
    answers = []

    def answer(reply):
        def ask(found):
            answers.append(found.title)
            return reply
        return ask

    monkeypatch.setattr(second.recovery, "ask_restore", answer("later"))
    assert second.recovery.offer("ask") is False and orphan.exists()  # kept for a later start
    assert second.recovery.offer("ignore") is False and orphan.exists()
    monkeypatch.setattr(second.recovery, "ask_restore", answer("discard"))
    assert second.recovery.offer("ask") is False
    assert answers == ["scene.png", "scene.png"]
    assert not orphan.exists() and not orphan.with_suffix(".json").exists() and second.session is None


def test_closing_during_a_long_autosave_stops_it_instead_of_waiting(qtbot, window, pair, monkeypatch):
    """A large document's autosave takes a minute; closing the window stops it between bands
    (the worker thread ends at once, no file is left, nothing crashes at exit)."""
    import threading

    from terf_studio.document import project

    wait_idle(qtbot, window, lambda: window.open_pair(*pair))
    started, real_save = threading.Event(), project.save_project

    def slow_save(session, path, cancel=None):
        started.set()
        for _ in range(600):  # up to a minute, as a 176 MP document takes
            if cancel is not None and cancel.cancelled:
                break
            time.sleep(0.1)
        return real_save(session, path, cancel=cancel)

    monkeypatch.setattr(project, "save_project", slow_save)
    wait_idle(qtbot, window, lambda: window.submit_command("blur the person"))
    qtbot.waitUntil(started.is_set, timeout=60_000)  # the autosave runs (the event loop turns meanwhile)
    monkeypatch.setattr(window, "ask_unsaved", lambda: QMessageBox.StandardButton.Discard)
    t0 = time.monotonic()
    assert window.close()
    assert time.monotonic() - t0 < 20 and not window.runner.running
    assert list(window.recovery.path.parent.iterdir()) == []


def test_a_cancelled_project_save_leaves_the_old_file(tmp_path, monkeypatch):
    from terf_studio.document import project
    from terf_studio.document import session as session_mod
    from terf_studio.document.project import save_project
    from terf_studio.document.session import EditSession
    from terf_studio.fusion import load_fuser
    from terf_studio.tuning import CancelToken
    from terf_studio.tuning.control import CancelledError

    rng = np.random.default_rng(0)
    doc = EditSession(rng.random((60, 80, 3), dtype=np.float32), rng.random((60, 80), dtype=np.float32),
                      load_fuser("lite", device="cpu"))
    path = save_project(doc, tmp_path / "p.terf")
    before = path.read_bytes()
    monkeypatch.setattr(session_mod, "STREAM_BYTES", 1000)
    monkeypatch.setattr(project, "STREAM_BYTES", 1000)  # streamed: the token is read between bands
    token = CancelToken()
    token.cancel()
    with pytest.raises(CancelledError):
        save_project(doc, path, cancel=token)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["p.terf"]
