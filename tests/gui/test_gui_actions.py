"""Editor actions typed in the command bar ("stronger", "undo that", "redo", "again"), offscreen."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from test_gui import open_pair, wait_idle  # noqa: E402


def test_typed_actions_change_strength_undo_redo_and_repeat(qtbot, window, pair):
    open_pair(qtbot, window, pair)
    window.engine_actions["fast"].trigger()
    s = window.session
    wait_idle(qtbot, window, lambda: window.submit_command("blur the person"))
    assert s.cursor == 1, window.last_error
    masks = len(window.layers.masks)
    entries = window.undo_stack.count()
    once = s.current16.copy()

    wait_idle(qtbot, window, lambda: window.submit_command("a bit stronger"))
    assert s.cursor == 2 and s.steps[-1].edits[0].edit.strength == 1.25, window.last_error
    assert window.undo_stack.count() == entries + 1
    assert "make the latest step stronger" in window.plan_panel.summary.text()

    wait_idle(qtbot, window, lambda: window.submit_command("undo that"))
    assert s.cursor == 1 and np.array_equal(s.current16, once), window.last_error
    wait_idle(qtbot, window, lambda: window.submit_command("redo"))
    assert s.cursor == 2

    wait_idle(qtbot, window, lambda: window.submit_command("do that again"))
    assert s.cursor == 3 and s.steps[-1].text.endswith("(again)"), window.last_error
    assert window.undo_stack.count() == entries + 2
    assert len(window.layers.masks) == masks  # the repeat reuses the region: no new mask layer

    wait_idle(qtbot, window, lambda: window.submit_command("undo the last three steps"))
    assert s.cursor == 0 and np.array_equal(s.current16, s.base16)
    while window.undo_stack.canUndo():  # the mask layer the first step made
        window.undo_stack.undo()
    wait_idle(qtbot, window, lambda: window.submit_command("undo"))
    assert "nothing to undo" in window.last_error
