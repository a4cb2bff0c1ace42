"""File > Save recipe… and File > Apply recipe to folder…, offscreen."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from test_gui import JOB_TIMEOUT_MS, open_pair, wait_idle  # noqa: E402

from terf_studio.imaging import write_image  # noqa: E402
from terf_studio.recipes import load_recipe  # noqa: E402


def fast_blur(qtbot, window):
    window.engine_actions["fast"].trigger()
    wait_idle(qtbot, window, lambda: window.submit_command("blur the person"))
    assert window.session.cursor == 1, window.last_error


def test_save_recipe_writes_the_applied_steps(qtbot, window, pair, tmp_path):
    assert not window.actions_by_id["save_recipe"].isEnabled()  # nothing open
    open_pair(qtbot, window, pair)
    assert not window.recipes.save(str(tmp_path / "none.json"))  # no step yet: a message, no file
    assert "no applied edits" in window.statusBar().currentMessage()
    fast_blur(qtbot, window)
    assert window.actions_by_id["save_recipe"].isEnabled()
    assert window.recipes.save(str(tmp_path / "r.json"))
    recipe = load_recipe(tmp_path / "r.json")
    (step,) = recipe.steps
    assert step.text == "blur the person" and step.engine == "fast"
    assert step.edits[0].edit.task.value == "blur" and step.edits[0].region == "find"


def test_apply_recipe_to_a_folder_lists_results_and_opens_a_pair(qtbot, window, pair, tmp_path):
    vi, ir = pair
    folder = tmp_path / "more"
    for name in ("one", "two"):
        for kind, source in (("vi", vi), ("ir", ir)):
            (folder / kind).mkdir(parents=True, exist_ok=True)
            shutil.copy(source, folder / kind / f"{name}.png")

    write_image(folder / "vi" / "flat.png", np.full((56, 72, 3), 0.4, np.float32))  # no warm person to find
    write_image(folder / "ir" / "flat.png", np.full((56, 72), 0.3, np.float32))
    open_pair(qtbot, window, pair)
    fast_blur(qtbot, window)
    recipe = window.recipes.current_recipe()
    out = tmp_path / "out"
    with qtbot.waitSignal(window.idle, timeout=JOB_TIMEOUT_MS):
        assert window.recipes.apply(recipe, str(folder / "vi"), str(folder / "ir"), str(out))
    results = window.recipes.results
    assert results is not None and results.table.rowCount() == 3
    statuses = {results.table.item(r, 0).text(): results.table.item(r, 1).text() for r in range(3)}
    assert statuses["one"] == statuses["two"] == "done"
    assert (out / "one.png").is_file() and (out / "two.terf").is_file()
    report = json.loads((out / "batch-report.json").read_text())
    assert report["done"] + report["failed"] == 3
    assert window.session.cursor == 1  # the open document is untouched
    row = [r for r in range(3) if results.table.item(r, 0).text() == "two"][0]
    window.undo_stack.setClean()  # nothing to ask about before opening another document
    with qtbot.waitSignal(window.idle, timeout=JOB_TIMEOUT_MS):
        assert results.open_row(row)
    assert window.project_path is not None and window.project_path.name == "two.terf"
    assert window.session.cursor == 1 and window.session.steps[0].text == "blur the person"


def test_apply_recipe_refuses_writing_over_its_inputs(qtbot, window, pair):
    open_pair(qtbot, window, pair)
    fast_blur(qtbot, window)
    vi_dir, ir_dir = (str(Path(p).parent) for p in pair)
    recipe = window.recipes.current_recipe()
    assert window.recipes.apply(recipe, vi_dir, ir_dir, vi_dir) is False
    assert "refusing to write" in (window.last_error or "")


def test_the_apply_dialog_starts_in_the_last_folder_and_shows_the_steps(qtbot, window, pair, settings):
    from terf_studio.gui.dialogs import last_dir
    from terf_studio.gui.window.recipes import ApplyRecipeDialog

    open_pair(qtbot, window, pair)
    fast_blur(qtbot, window)
    dialog = ApplyRecipeDialog(window.recipes.current_recipe(), settings, window)
    qtbot.addWidget(dialog)
    assert dialog.vi_dir.text() == dialog.out_dir.text() == last_dir(settings)
    assert dialog.vi_dir.folder and not dialog.vi_dir.save
