"""Fixtures shared by the editor's tests: a scene pair on disk, throwaway settings, the user's
state and config folders moved into the test's folder, and offscreen main windows that are shut
down after each test.

Qt is imported inside the fixtures, so this folder still collects without PySide6 (each test
module then skips itself).
"""

from __future__ import annotations

import numpy as np
import pytest

from terf_studio.imaging import write_image


def _scene(h=56, w=72):
    """A visible scene and an infrared image with one warm blob (a 'person') on the left."""
    rng = np.random.default_rng(3)
    vi = np.clip(0.4 + 0.1 * rng.standard_normal((h, w, 3)), 0, 1).astype(np.float32)
    ir = np.full((h, w), 0.25, np.float32) + 0.02 * rng.standard_normal((h, w)).astype(np.float32)
    ir[18:38, 10:19] = 0.95
    return vi, np.clip(ir, 0, 1)


@pytest.fixture(autouse=True)
def isolated_user_folders(tmp_path, monkeypatch):
    """Autosaves (the user state folder) and the default QSettings (the user config folder) of
    windows and scripted runs go to this test's folder, never the user's."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.fixture
def pair(tmp_path):
    vi, ir = _scene()
    write_image(tmp_path / "vi" / "scene.png", vi)
    write_image(tmp_path / "ir" / "scene.png", ir)
    return str(tmp_path / "vi" / "scene.png"), str(tmp_path / "ir" / "scene.png")


@pytest.fixture
def settings(tmp_path):
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_window(qtbot, settings):
    from terf_studio.gui.main_window import MainWindow

    windows = []

    def make() -> MainWindow:
        window = MainWindow(settings, device="cpu", llm="none")
        window.iterations = 3
        window.script_mode = True  # errors go to the status bar; no message boxes in tests
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.undo_stack.setClean()  # nothing to ask about: no modal dialog in a test
        window.close()
        window.shutdown()
        assert not window.runner.running, "the worker thread is still running"
        window.deleteLater()


@pytest.fixture
def window(make_window):
    return make_window()
