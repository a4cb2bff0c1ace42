"""Recent files are absolute paths, and scripted runs (``gui --run/--screenshot/--exit-when-idle``)
leave the user's settings as they were unless ``--save-settings`` is given."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QSettings  # noqa: E402

JOB_TIMEOUT_MS = 240_000


def wait_idle(qtbot, window, action):
    with qtbot.waitSignal(window.idle, timeout=JOB_TIMEOUT_MS):
        assert action() is not False


def test_recent_files_are_stored_as_absolute_paths(qtbot, window, pair, tmp_path, monkeypatch):
    window.settings.setValue("recent", ["old/vi.png|old/ir.png", "/data/kept.terf", "relative.terf"])
    assert window.recent() == ["/data/kept.terf"]  # relative entries of older versions cannot be found again
    monkeypatch.chdir(tmp_path)
    wait_idle(qtbot, window, lambda: window.open_pair("vi/scene.png", "ir/scene.png"))
    assert window.session is not None, window.last_error
    assert window.recent()[0] == f"{tmp_path}/vi/scene.png|{tmp_path}/ir/scene.png"
    assert window.save_project("work.terf")
    assert window.recent()[:2] == [str(tmp_path / "work.terf"), f"{tmp_path}/vi/scene.png|{tmp_path}/ir/scene.png"]
    assert all(Path(p).is_absolute() for entry in window.recent() for p in entry.split("|"))
    assert window.settings.value("recent")[0] == str(tmp_path / "work.terf")  # as stored, not only as read


def _run_editor(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    """A scripted run from ``tmp_path`` with relative paths; its user folders are in ``tmp_path``."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path), "OMP_NUM_THREADS": "1",
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_STATE_HOME": str(tmp_path / "state"),
           "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "terf_studio", "gui", "vi/scene.png", "ir/scene.png", "--llm", "none",
           "--device", "cpu", "--engine", "quick", "--exit-when-idle", *extra]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


def test_scripted_runs_do_not_touch_the_users_settings_unless_asked(pair, tmp_path):
    conf = tmp_path / "config" / "TeRF Studio" / "TeRF Studio.conf"  # QSettings("TeRF Studio", "TeRF Studio")
    seed = QSettings(str(conf), QSettings.Format.IniFormat)
    seed.setValue("recent", ["/data/old.terf"])
    seed.setValue("tuning/engine", "fast")
    seed.sync()
    before = conf.read_bytes()

    done = _run_editor(tmp_path)
    assert done.returncode == 0, done.stderr
    assert conf.read_bytes() == before  # no recent entry, no window layout, no engine written
    assert sorted(p.name for p in conf.parent.iterdir()) == [conf.name]
    assert list((tmp_path / "tmp").iterdir()) == []  # the run's scratch settings went with it

    done = _run_editor(tmp_path, "--save-settings")
    assert done.returncode == 0, done.stderr
    after = QSettings(str(conf), QSettings.Format.IniFormat)
    assert after.value("recent") == [f"{tmp_path}/vi/scene.png|{tmp_path}/ir/scene.png", "/data/old.terf"]
    assert after.value("window/geometry") is not None
    assert after.value("tuning/engine") == "fast"  # --engine is for this run only, even when saving settings
