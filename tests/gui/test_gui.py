"""The desktop editor, offscreen: jobs on the worker, undo/redo, masks, export, projects, closing.

Fine-tuning runs with a few iterations (``window.iterations``) so the tests stay quick; the
pixels they compare are exact because the session keeps every state on a 16-bit grid.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from terf_studio.gui.main_window import guess_pair  # noqa: E402
from terf_studio.imaging import read_image, write_image  # noqa: E402
from terf_studio.paths import SHARED_DATA  # noqa: E402

JOB_TIMEOUT_MS = 240_000


def wait_idle(qtbot, window, action):
    """Run ``action`` and wait until the window has no job left (parse + apply count as one)."""
    with qtbot.waitSignal(window.idle, timeout=JOB_TIMEOUT_MS):
        assert action() is not False
    assert not window.runner.busy


def open_pair(qtbot, window, pair):
    wait_idle(qtbot, window, lambda: window.open_pair(*pair))
    assert window.session is not None, window.last_error


def type_command(qtbot, window, text):
    window.command_bar.setFocus()
    qtbot.keyClicks(window.command_bar, text)
    assert window.command_bar.text() == text
    window.command_bar.completer().popup().hide()  # Enter runs the command, not a completion
    with qtbot.waitSignal(window.idle, timeout=JOB_TIMEOUT_MS):
        qtbot.keyClick(window.command_bar, Qt.Key.Key_Return)
    assert window.plan_panel.text == text, (window.plan_panel.text, window.last_error)


def paint(qtbot, window, points):
    """A brush gesture with the real mouse events, in image coordinates."""
    view = window.canvas

    def at(x, y):
        return view.mapFromScene(x, y)

    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=at(*points[0]))
    for x, y in points[1:]:
        qtbot.mouseMove(view.viewport(), at(x, y))
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=at(*points[-1]))


def test_opening_a_pair_shows_its_layers(qtbot, window, pair):
    open_pair(qtbot, window, pair)
    s = window.session
    assert s.vi16.shape[:2] == (56, 72)
    assert {"vi", "ir", "fused", "result"} <= set(window.canvas.layer_keys())
    assert window.canvas.image_size == (72, 56)
    assert "scene.png" in window.windowTitle() and not window.isWindowModified()
    assert window.recent()[0] == f"{pair[0]}|{pair[1]}"
    assert window.device_label.text().startswith("device: CPU")


def test_a_bad_pair_is_a_message_and_the_window_stays_usable(qtbot, window, pair, tmp_path):
    write_image(tmp_path / "small.png", np.zeros((20, 20)))
    wait_idle(qtbot, window, lambda: window.open_pair(pair[0], str(tmp_path / "small.png")))
    assert window.session is None and "72x56" in window.last_error
    open_pair(qtbot, window, pair)  # the next try works


def test_typed_command_runs_on_the_worker_with_progress(qtbot, window, pair):
    open_pair(qtbot, window, pair)
    window.engine_actions["quick"].trigger()  # fine-tuning: one progress report per iteration
    seen = []
    window.runner.progress.connect(lambda label, i, n, loss: seen.append((label, i, n)))
    before = window.session.current16.copy()
    type_command(qtbot, window, "brighten the person")
    s = window.session
    assert len(s.steps) == 1 and window.undo_stack.count() == 1
    assert s.steps[0].edits[0].edit.task.value == "brighten"
    assert not np.array_equal(s.current16, before)
    assert any(label.startswith("brighten -> person") and n == 3 for label, _i, n in seen), seen
    assert [m.label for m in s.masks] == ["person"]  # the finder's mask became a layer
    assert window.isWindowModified()
    assert "brighten → person" in window.plan_panel.summary.text()
    assert s.steps[0].edits[0].info["engine"] == "quick"
    assert window.statusBar().currentMessage().startswith("done: brighten the person (brighten ")


def test_cancel_mid_job_leaves_the_image_unchanged(qtbot, window, pair):
    open_pair(qtbot, window, pair)
    window.engine_actions["quick"].trigger()  # fine-tuning: long enough to be cancelled mid-way
    window.iterations = 5000
    before = window.session.current16.copy()
    window.runner.progress.connect(lambda *a: window.runner.cancel())
    with qtbot.waitSignal(window.runner.cancelled, timeout=JOB_TIMEOUT_MS):
        window.submit_command("brighten the image")
    qtbot.waitUntil(lambda: not window.runner.busy)
    assert np.array_equal(window.session.current16, before)
    assert window.undo_stack.count() == 0 and not window.session.steps
    assert "cancelled" in window.statusBar().currentMessage()


def test_undo_and_redo_of_an_edit_restore_exact_pixels(qtbot, window, pair):
    open_pair(qtbot, window, pair)
    before = window.session.current16.copy()
    type_command(qtbot, window, "blur the person")
    after = window.session.current16.copy()
    assert not np.array_equal(before, after)
    window.act_undo.trigger()
    assert np.array_equal(window.session.current16, before)
    assert window.session.masks == []  # the found mask goes with its edit
    window.act_redo.trigger()
    assert np.array_equal(window.session.current16, after)
    assert len(window.session.masks) == 1


def test_brush_stroke_is_one_undo_step(qtbot, window, pair):
    open_pair(qtbot, window, pair)
    window.set_tool("brush")
    window.brush_size.setValue(4)
    paint(qtbot, window, [(30, 20), (40, 22), (50, 30)])
    assert window.undo_stack.count() == 1 and len(window.session.masks) == 1
    overlay = window.canvas.layer_item(window.layers.key(window.layers.uids[0]))
    assert overlay.isVisible()
    window.act_show_masks.trigger()  # M hides every overlay, and shows them again
    assert not overlay.isVisible()
    window.act_show_masks.trigger()
    assert overlay.isVisible()
    painted = window.session.masks[0].data.copy()
    assert painted[20, 30] > 0.9 and painted[45, 5] == 0
    window.set_tool("eraser")
    paint(qtbot, window, [(30, 20), (40, 22)])
    assert window.undo_stack.count() == 2 and window.session.masks[0].data[20, 30] < painted[20, 30]
    window.act_undo.trigger()
    assert np.array_equal(window.session.masks[0].data, painted)
    window.act_undo.trigger()
    assert window.session.masks == []
    window.act_redo.trigger()
    assert np.array_equal(window.session.masks[0].data, painted)


def test_export_png_and_tiff(qtbot, window, pair, tmp_path):
    open_pair(qtbot, window, pair)
    type_command(qtbot, window, "blur the person")
    current = window.session.current()
    png = window.export(str(tmp_path / "out.png"))
    assert [p.name for p in png] == ["out.png"]
    assert np.abs(read_image(png[0]) - current).max() <= 0.5 / 255 + 1e-6
    tif = window.export(str(tmp_path / "out.tif"), bit_depth=16, masks=True, comparison=True)
    assert [p.name for p in tif] == ["out.tif", "out.mask-0-person.png", "out.comparison.png"]
    assert np.abs(read_image(tif[0]) - current).max() < 1e-4
    assert window.export(str(tmp_path / "out.bmp")) == [] and "png or .tif" in window.last_error


def test_save_and_reopen_a_project(qtbot, make_window, pair, tmp_path):
    window = make_window()
    open_pair(qtbot, window, pair)
    type_command(qtbot, window, "blur the person")
    window.set_tool("brush")
    paint(qtbot, window, [(60, 10), (65, 12)])
    type_command(qtbot, window, "brighten the person a bit")
    window.act_undo.trigger()  # the project remembers where in the history it was saved
    path = tmp_path / "work.terf"
    assert window.save_project(str(path)) and not window.isWindowModified()
    other = make_window()
    wait_idle(qtbot, other, lambda: other.open_project(str(path)))
    a, b = window.session, other.session
    assert np.array_equal(a.current16, b.current16)
    assert [m.label for m in a.masks] == [m.label for m in b.masks]
    assert all(np.array_equal(x.data, y.data) for x, y in zip(a.masks, b.masks))
    assert other.undo_stack.count() == 2 and other.undo_stack.index() == 1
    assert not other.isWindowModified() and "work.terf" in other.windowTitle()
    other.act_redo.trigger()  # the undone step is still there to redo
    assert len(b.steps) == 2 and b.cursor == 2


def test_saving_a_project_leaves_the_window_thread_free(qtbot, window, pair, tmp_path, monkeypatch):
    import threading
    import time

    from PySide6.QtCore import QTimer

    from terf_studio.document import project

    open_pair(qtbot, window, pair)
    type_command(qtbot, window, "blur the person")
    real_save = project.save_project
    threads = []

    def slow_save(session, path):  # a large project: encoding takes a while
        threads.append(threading.current_thread())
        time.sleep(0.6)
        return real_save(session, path)

    monkeypatch.setattr(project, "save_project", slow_save)
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(20)
    assert window.save_project(str(tmp_path / "slow.terf"))
    timer.stop()
    assert threads and threads[0] is not threading.main_thread()  # encoded on the worker
    assert len(ticks) >= 10  # the window's timers kept firing while it saved
    assert (tmp_path / "slow.terf").is_file() and not window.isWindowModified()


def test_closing_with_unsaved_changes_asks(qtbot, window, pair, monkeypatch):
    open_pair(qtbot, window, pair)
    type_command(qtbot, window, "blur the person")
    asked = []

    def answer(button):
        def ask():
            asked.append(button)
            return button
        return ask

    monkeypatch.setattr(window, "ask_unsaved", answer(QMessageBox.StandardButton.Cancel))
    assert not window.close() and window.isVisible()
    monkeypatch.setattr(window, "ask_unsaved", answer(QMessageBox.StandardButton.Discard))
    assert window.close()
    assert asked == [QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Discard]
    assert not window.runner.running


def test_missing_region_asks_for_a_box_then_continues(qtbot, window, pair):
    open_pair(qtbot, window, pair)
    type_command(qtbot, window, "blur the bicycle")
    assert window.pending is not None and not window.session.steps
    assert "bicycle" in window.plan_panel.notice.text() and window.canvas.tool == "point"
    with qtbot.waitSignal(window.idle, timeout=JOB_TIMEOUT_MS):  # the box job ...
        window.canvas.box_drawn.emit(40.0, 10.0, 66.0, 40.0)
    qtbot.waitUntil(lambda: not window.runner.busy and window.pending is None, timeout=JOB_TIMEOUT_MS)
    qtbot.waitUntil(lambda: len(window.session.steps) == 1, timeout=JOB_TIMEOUT_MS)  # ... then the plan
    step = window.session.steps[0]
    assert step.edits[0].edit.target == "bicycle" and step.edits[0].info["finder"] == "box"
    assert window.session.masks[0].label == "bicycle"


def test_corrected_plan_runs_with_the_chosen_mask(qtbot, window, pair):
    open_pair(qtbot, window, pair)
    window.set_tool("brush")
    window.brush_size.setValue(6)
    paint(qtbot, window, [(50, 20), (60, 30)])
    uid = window.layers.uids[0]
    window.act_llm.setChecked(False)
    wait_idle(qtbot, window, lambda: window.submit_command("blur the person"))
    window.plan_panel.table.cellWidget(0, 0).setCurrentText("darken")
    window.plan_panel.set_region(0, uid)
    before = window.session.current16.copy()
    wait_idle(qtbot, window, window.run_plan_from_panel)
    step = window.session.steps[-1]
    assert step.edits[0].edit.task.value == "darken"
    changed = np.any(window.session.current16 != before, axis=2)
    assert not changed[:, :30].any()  # the painted mask on the right, not the person on the left


def test_drop_guesses_which_image_is_infrared(pair):
    vi, ir = pair
    assert guess_pair([ir, vi]) == (vi, ir)


def test_scripted_run_writes_a_screenshot(pair, tmp_path):
    """``terf-studio gui VIS IR --run ... --screenshot ... --exit-when-idle`` as a user runs it
    (its own process: it owns the application's event loop)."""
    import os
    import subprocess
    import sys

    shot = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path / "config")}  # its settings stay out of the user's
    cmd = [sys.executable, "-m", "terf_studio", "gui", *pair, "--run", "blur the person", "--iterations", "2",
           "--llm", "none", "--screenshot", str(shot), "--exit-when-idle", "--device", "cpu", "--size", "900x600"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert read_image(shot).shape[:2] == (600, 900)
    failing = subprocess.run(cmd[:4] + [str(tmp_path / "missing.png"), pair[1], "--exit-when-idle"], env=env,
                             capture_output=True, text=True, timeout=600)
    assert failing.returncode == 2 and "missing.png" in failing.stderr


@pytest.mark.skipif(not (SHARED_DATA / "roadscene").is_dir(), reason="needs ../shared/data/roadscene")
def test_a_whole_sitting_on_a_roadscene_pair(qtbot, make_window, tmp_path):
    """Open, brighten the trees, touch up, the person towards infrared, undo, redo, export, save, reopen."""
    window = make_window()
    name = "FLIR_03952.jpg"  # a daytime pair where the builtin finder finds both trees and a person
    pair = (str(SHARED_DATA / "roadscene" / "vi" / name), str(SHARED_DATA / "roadscene" / "ir" / name))
    open_pair(qtbot, window, pair)
    s = window.session
    fused = s.current16.copy()

    type_command(qtbot, window, "brighten the trees")
    assert len(s.steps) == 1 and s.masks[0].label == "trees", (window.last_error, window.plan_panel.summary.text())
    trees = s.masks[0]
    inside = trees.data > 0.5
    lum = s.current16.astype(np.float64).mean(axis=2)
    assert lum[inside].mean() > fused.astype(np.float64).mean(axis=2)[inside].mean()
    after_trees = s.current16.copy()

    window.masks_panel.select(window.layers.uids[0])
    window.set_tool("brush")
    window.brush_size.setValue(8)
    paint(qtbot, window, [(20, 20), (60, 25)])
    assert s.masks[0].area > trees.area  # the touch-up grew the trees mask

    type_command(qtbot, window, "make the person lean towards infrared")
    assert len(s.steps) == 2 and s.steps[1].edits[0].edit.task.value == "infrared"
    after_person = s.current16.copy()
    assert not np.array_equal(after_person, after_trees)

    window.act_undo.trigger()
    assert np.array_equal(s.current16, after_trees)
    window.act_redo.trigger()
    assert np.array_equal(s.current16, after_person)

    files = window.export(str(tmp_path / "result.tif"), bit_depth=16, comparison=True)
    assert len(files) == 2 and np.abs(read_image(files[0]) - s.current()).max() < 1e-4
    assert window.save_project(str(tmp_path / "sitting.terf"))

    reopened = make_window()
    wait_idle(qtbot, reopened, lambda: reopened.open_project(str(tmp_path / "sitting.terf")))
    r = reopened.session
    assert np.array_equal(r.current16, after_person)
    assert [m.label for m in r.masks] == [m.label for m in s.masks]
    assert reopened.undo_stack.count() == 2
    reopened.act_undo.trigger()
    reopened.act_undo.trigger()
    assert np.array_equal(r.current16, fused)


def test_clicks_go_to_a_registered_learned_segmenter(qtbot, window, pair):
    """With SAM installed, the point tool asks it instead of the builtin region growing."""
    from terf_studio.regions import Mask, NoRegionFound, register_finder, unregister_finder

    calls = []

    class Learned:
        name = "learned-for-test"

        def find(self, phrase, images):
            raise NoRegionFound(phrase)

        def point_mask(self, images, positives, negatives=(), label=""):
            calls.append(("point", list(positives), list(negatives)))
            data = np.zeros(images.shape, np.float32)
            data[:10, :10] = 1
            return Mask(data, label=label, source="sam")

        def box_mask(self, images, box, label=""):
            calls.append(("box", box))
            return Mask(np.ones(images.shape, np.float32), label=label, source="sam")

    register_finder(Learned())
    try:
        open_pair(qtbot, window, pair)
        wait_idle(qtbot, window, lambda: window.canvas.point_clicked.emit(5.5, 6.5, True))
        assert calls == [("point", [(5.0, 6.0)], [])]
        assert window.session.masks[0].source == "sam"
        wait_idle(qtbot, window, lambda: window.canvas.box_drawn.emit(1.0, 2.0, 30.0, 40.0))
        assert calls[-1] == ("box", (1, 2, 30, 40)) and len(window.session.masks) == 2
    finally:
        unregister_finder("learned-for-test")


def test_dropping_two_images_opens_the_pair(qtbot, window, pair):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(pair[1]), QUrl.fromLocalFile(pair[0])])  # infrared first
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, data, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.idle, timeout=JOB_TIMEOUT_MS):
        window.dropEvent(event)
    assert window.session is not None and window.session.vi_path == pair[0]
    assert window.session.vi16.ndim == 3 and window.session.ir16.ndim == 2


def test_without_a_display_the_editor_says_so(monkeypatch, capsys):
    from terf_studio.cli import main

    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    assert main([]) == 2  # no command means the editor
    assert "no display" in capsys.readouterr().err
