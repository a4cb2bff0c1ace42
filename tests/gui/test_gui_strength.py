"""Edit > Engine, the fast engines' background warm-up and the live strength slider, offscreen.

Blur needs no trained weights, so a fast blur step is always adjustable here; the fast
inclination test skips when its weights file is missing.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QSettings  # noqa: E402
from test_gui import JOB_TIMEOUT_MS, open_pair, wait_idle  # noqa: E402

from terf_studio.gui.engines import engine_setting  # noqa: E402
from terf_studio.gui.images import to_uint8  # noqa: E402
from terf_studio.gui.strength import DISABLED_TIP, STEPS_PER_UNIT  # noqa: E402


def shown_result(window) -> np.ndarray:
    """The canvas's result layer as uint8 RGB."""
    import qimage2ndarray

    image = window.canvas.layer_item("result").pixmap().toImage()
    return qimage2ndarray.rgb_view(image).copy()


def run_fast_blur(qtbot, window):
    window.engine_actions["fast"].trigger()
    wait_idle(qtbot, window, lambda: window.submit_command("blur the person"))
    step = window.session.steps[-1]
    assert step.edits[0].info["engine"] == "fast", window.last_error
    return step


def drag_to(qtbot, window, value: float) -> None:
    """Move the pressed slider to ``value`` and wait for its preview to be shown."""
    slider = window.plan_panel.strength.slider
    with qtbot.waitSignal(window.strength_control.preview_shown, timeout=JOB_TIMEOUT_MS,
                          check_params_cb=lambda v: abs(v - value) < 1e-9):
        slider.setValue(round(value * STEPS_PER_UNIT))


def test_engine_menu_is_remembered_and_reaches_the_session(qtbot, make_window, settings, pair):
    window = make_window()
    assert window.engine == "auto" and window.engine_actions["auto"].isChecked()
    assert [a.data() for a in window.engine_menu.actions()] == ["auto", "fast", "quick", "exact"]
    window.engine_actions["quick"].trigger()
    assert window.engine == "quick" and settings.value("tuning/engine") == "quick"
    assert not window.engine_actions["auto"].isChecked()  # exclusive
    open_pair(qtbot, window, pair)
    window.iterations = 2
    wait_idle(qtbot, window, lambda: window.submit_command("darken the person"))
    assert window.session.steps[-1].edits[0].info["engine"] == "quick", window.last_error
    assert window.statusBar().currentMessage().endswith("quick)")
    window.engine_actions["fast"].trigger()
    wait_idle(qtbot, window, lambda: window.submit_command("blur the person"))
    assert window.session.steps[-1].edits[0].info["engine"] == "fast"
    assert "fast)" in window.statusBar().currentMessage()
    assert make_window().engine == "fast"  # a new window reads the setting


def test_an_old_exact_setting_reads_as_the_exact_engine(tmp_path):
    old = QSettings(str(tmp_path / "old.ini"), QSettings.Format.IniFormat)
    assert engine_setting(old) == "auto"
    old.setValue("tuning/exact", True)
    assert engine_setting(old) == "exact"
    old.setValue("tuning/engine", "fast")  # a choice made since wins
    assert engine_setting(old) == "fast"
    old.setValue("tuning/engine", "warp")
    assert engine_setting(old) == "auto"


def test_warm_up_runs_in_the_background_and_a_command_waits_for_it(qtbot, window, pair, monkeypatch):
    from terf_studio.document.session import EditSession

    release, events = threading.Event(), []

    def warm_up(self):
        events.append("warm-up start")
        release.wait(60)
        events.append("warm-up end")
        return True

    real_apply = EditSession.apply

    def apply(self, *args, **kwargs):
        events.append("apply")
        return real_apply(self, *args, **kwargs)

    monkeypatch.setattr(EditSession, "warm_up_fast_engines", warm_up)
    monkeypatch.setattr(EditSession, "apply", apply)
    open_pair(qtbot, window, pair)
    qtbot.waitUntil(lambda: events == ["warm-up start"], timeout=JOB_TIMEOUT_MS)  # after opening
    assert not window.runner.busy and window.command_bar.isEnabled()
    assert window.submit_command("blur the person")  # not refused while the warm-up runs
    assert window.last_error == ""
    release.set()
    qtbot.waitUntil(lambda: len(window.session.steps) == 1 and not window.runner.busy, timeout=JOB_TIMEOUT_MS)
    assert events[:3] == ["warm-up start", "warm-up end", "apply"]
    qtbot.waitUntil(lambda: events.count("warm-up end") == 2, timeout=JOB_TIMEOUT_MS)  # after the step
    window.act_undo.trigger()
    qtbot.waitUntil(lambda: events.count("warm-up end") == 3, timeout=JOB_TIMEOUT_MS)  # after the undo
    window.act_redo.trigger()
    qtbot.waitUntil(lambda: events.count("warm-up end") == 4, timeout=JOB_TIMEOUT_MS)  # after the redo
    assert window.last_error == ""


def test_a_failing_warm_up_is_never_shown(qtbot, window, pair, monkeypatch):
    from terf_studio.document.session import EditSession
    from terf_studio.errors import ModelError

    calls = []

    def warm_up(self):
        calls.append(1)
        raise ModelError("no weights")

    monkeypatch.setattr(EditSession, "warm_up_fast_engines", warm_up)
    open_pair(qtbot, window, pair)
    qtbot.waitUntil(lambda: bool(calls) and not window.runner.active, timeout=JOB_TIMEOUT_MS)
    assert window.last_error == "" and window.error_box is None


def test_a_fast_step_is_adjustable_by_dragging_and_one_release_is_one_undo_entry(qtbot, window, pair):
    open_pair(qtbot, window, pair)
    s = window.session
    strength = window.plan_panel.strength
    assert not strength.isEnabled()  # nothing to adjust yet
    fused = s.current16.copy()
    run_fast_blur(qtbot, window)
    qtbot.waitUntil(lambda: not window.runner.active, timeout=JOB_TIMEOUT_MS)
    assert strength.isEnabled() and strength.value() == 1.0
    spin = window.plan_panel.table.cellWidget(0, 2)
    assert spin.value() == 1.0
    after = s.current16.copy()
    entries = window.undo_stack.count()

    slider = strength.slider
    slider.setSliderDown(True)
    drag_to(qtbot, window, 2.5)
    expected = to_uint8(s.preview_strength(2.5))
    assert np.array_equal(shown_result(window), expected)
    assert not np.array_equal(expected, to_uint8(after))  # the preview differs from the step
    drag_to(qtbot, window, 0.0)  # strength 0 previews the image before the step
    assert np.array_equal(shown_result(window), to_uint8(fused))
    drag_to(qtbot, window, 2.5)
    assert np.array_equal(s.current16, after) and window.undo_stack.count() == entries  # only previews so far

    with qtbot.waitSignal(window.idle, timeout=JOB_TIMEOUT_MS):
        slider.setSliderDown(False)  # release: one new step
    assert window.undo_stack.count() == entries + 1, window.last_error
    assert s.steps[-1].edits[0].edit.strength == 2.5 and s.strength_adjustable()
    assert np.array_equal(to_uint8(s.current16), expected)
    assert np.array_equal(shown_result(window), expected)
    assert spin.value() == 2.5

    window.act_undo.trigger()  # back to the previous strength, exactly
    assert np.array_equal(s.current16, after)
    assert np.array_equal(shown_result(window), to_uint8(after))
    assert strength.value() == 1.0 and strength.isEnabled()
    window.act_undo.trigger()
    assert np.array_equal(s.current16, fused) and not strength.isEnabled()


def test_releasing_at_the_same_value_or_at_zero_changes_nothing(qtbot, window, pair):
    open_pair(qtbot, window, pair)
    run_fast_blur(qtbot, window)
    s, slider = window.session, window.plan_panel.strength.slider
    after, entries = s.current16.copy(), window.undo_stack.count()
    slider.setSliderDown(True)
    drag_to(qtbot, window, 3.0)
    drag_to(qtbot, window, 1.0)
    slider.setSliderDown(False)
    assert not window.runner.busy and window.undo_stack.count() == entries
    assert np.array_equal(shown_result(window), to_uint8(after))

    slider.setSliderDown(True)
    drag_to(qtbot, window, 0.0)
    slider.setSliderDown(False)
    assert not window.runner.busy and window.undo_stack.count() == entries
    assert np.array_equal(s.current16, after) and np.array_equal(shown_result(window), to_uint8(after))
    assert "undo" in window.last_error.lower()
    assert window.plan_panel.strength.value() == 1.0


def test_the_plan_tables_strength_box_commits_one_step(qtbot, window, pair):
    open_pair(qtbot, window, pair)
    run_fast_blur(qtbot, window)
    entries = window.undo_stack.count()
    spin = window.plan_panel.table.cellWidget(0, 2)
    spin.setValue(0.5)
    with qtbot.waitSignal(window.idle, timeout=JOB_TIMEOUT_MS):
        spin.editingFinished.emit()
    assert window.undo_stack.count() == entries + 1
    assert window.session.steps[-1].edits[0].edit.strength == 0.5
    assert window.plan_panel.strength.value() == 0.5


def test_stale_previews_are_dropped(qtbot, window, pair, monkeypatch):
    open_pair(qtbot, window, pair)
    run_fast_blur(qtbot, window)
    qtbot.waitUntil(lambda: not window.runner.active, timeout=JOB_TIMEOUT_MS)
    s = window.session
    real = type(s).preview_strength
    release, asked = threading.Event(), []

    def preview(self, strength, cancel=None):
        asked.append(strength)
        if len(asked) == 1:
            release.wait(60)  # the first preview is slow; newer values arrive meanwhile
        return real(self, strength)  # ignores the cancel: a late result does arrive

    monkeypatch.setattr(type(s), "preview_strength", preview)
    shown = []
    window.strength_control.preview_shown.connect(shown.append)
    slider = window.plan_panel.strength.slider
    slider.setSliderDown(True)
    slider.setValue(round(2.0 * STEPS_PER_UNIT))
    qtbot.waitUntil(lambda: asked == [2.0], timeout=JOB_TIMEOUT_MS)
    for value in (2.5, 3.0, 3.5):
        slider.setValue(round(value * STEPS_PER_UNIT))
    release.set()
    qtbot.waitUntil(lambda: bool(shown) and not window.runner.active, timeout=JOB_TIMEOUT_MS)
    assert asked == [2.0, 3.5]  # the values in between never ran
    assert shown == [3.5]  # the slow, stale 2.0 never reached the canvas
    assert np.array_equal(shown_result(window), to_uint8(real(s, 3.5)))

    # A result that comes back after a newer request (here: forged) is dropped too.
    dropped = window.strength_control.dropped
    old = window.strength_control.preview_job(4.0, seq=-1)  # a request older than any made
    old.on_done(window.canvas.layer_item("vi").pixmap().toImage())  # what the runner does when it ends
    assert shown == [3.5] and window.strength_control.dropped == dropped + 1
    slider.setSliderDown(False)
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=JOB_TIMEOUT_MS)


def test_a_fine_tuned_step_keeps_its_strength(qtbot, window, pair):
    open_pair(qtbot, window, pair)
    window.engine_actions["quick"].trigger()
    window.iterations = 2
    wait_idle(qtbot, window, lambda: window.submit_command("make the person lean towards infrared"))
    assert window.session.steps[-1].edits[0].info["engine"] == "quick", window.last_error
    strength = window.plan_panel.strength
    assert not strength.isEnabled() and not window.session.strength_adjustable()
    assert strength.toolTip() == DISABLED_TIP and "Engine > Fast" in DISABLED_TIP
    before = window.undo_stack.count()
    assert not window.strength_control.commit(2.0)  # nothing to adjust: no job, no entry
    assert window.undo_stack.count() == before


def test_fast_inclination_is_adjustable_when_its_weights_are_there(qtbot, window, pair):
    open_pair(qtbot, window, pair)
    window.engine_actions["fast"].trigger()
    wait_idle(qtbot, window, lambda: window.submit_command("make the person lean towards infrared"))
    info = window.session.steps[-1].edits[0].info
    if info.get("engine") != "fast":
        assert "notice" in info and info["notice"] in window.statusBar().currentMessage()
        pytest.skip(f"the fast inclination weights are missing: {info.get('notice')}")
    assert window.plan_panel.strength.isEnabled()


def test_missing_fast_weights_are_a_notice_in_the_status_bar(qtbot, window, pair, monkeypatch):
    from terf_studio.errors import ModelError

    def missing(model, device, base=None):
        raise ModelError(f"the fast engine's weights '{model}.pt' are missing")

    monkeypatch.setattr("terf_studio.tuning.engines.loader.fast_engine", missing)
    open_pair(qtbot, window, pair)
    window.engine_actions["fast"].trigger()
    window.iterations = 2
    wait_idle(qtbot, window, lambda: window.submit_command("darken the person"))
    info = window.session.steps[-1].edits[0].info
    assert info["engine"] == "quick" and "missing" in info["notice"]
    message = window.statusBar().currentMessage()
    assert "quick)" in message and info["notice"] in message
    assert info["notice"] in window.plan_panel.notice.text()
    assert not window.plan_panel.strength.isEnabled()  # a fine-tuned step after all


def test_keys_on_the_slider_apply_once_they_rest(qtbot, window, pair):
    from PySide6.QtCore import Qt

    open_pair(qtbot, window, pair)
    run_fast_blur(qtbot, window)
    qtbot.waitUntil(lambda: not window.runner.active, timeout=JOB_TIMEOUT_MS)
    entries, slider = window.undo_stack.count(), window.plan_panel.strength.slider
    slider.setFocus()
    with qtbot.waitSignal(window.idle, timeout=JOB_TIMEOUT_MS):
        for _ in range(3):
            qtbot.keyClick(slider, Qt.Key.Key_Right)  # three steps of 0.05, one entry after they rest
    assert window.undo_stack.count() == entries + 1
    assert window.session.steps[-1].edits[0].edit.strength == pytest.approx(1.15)
