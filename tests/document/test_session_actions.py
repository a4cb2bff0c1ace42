"""Editor actions on a session ("again", "stronger", "weaker") and in ``terf-studio edit``."""

from __future__ import annotations

import numpy as np
import pytest
from test_session import _right_half

from terf_studio.cli import main
from terf_studio.document.actions import apply_action
from terf_studio.errors import TerfError
from terf_studio.imaging import read_image
from terf_studio.language import ActionName, Edit, EditorAction, Task


def test_again_repeats_the_latest_step_on_its_region(session):
    mask = _right_half(session.current16.shape[:2])
    session.apply([Edit(None, Task.BLUR)], [mask], engine="fast")
    once = session.current16.copy()
    step = apply_action(session, EditorAction(ActionName.AGAIN))
    assert session.cursor == 2 and step.text.endswith("(again)")
    assert step.edits[0].edit.task is Task.BLUR and step.edits[0].info["continued"]
    assert np.array_equal(step.edits[0].mask.data, session.steps[0].edits[0].mask.data)
    twice = session.current16
    assert not np.array_equal(twice, once)
    assert np.array_equal(twice[:, :24], once[:, :24])  # still only the right half (and its margin)
    apply_action(session, EditorAction(ActionName.AGAIN, times=2))
    assert session.cursor == 4


def test_a_repeat_keeps_the_finder_of_each_region(session):
    first = session.apply([Edit("person", Task.BLUR)], engine="fast")
    again = apply_action(session, EditorAction(ActionName.AGAIN))
    assert again.edits[0].info["finder"] == first.edits[0].info["finder"]
    assert str(first.edits[0].info["finder"]).startswith("builtin:")  # a recipe finds it again on each pair
    from terf_studio.recipes.recipe import recipe_from_session

    recipe = recipe_from_session(session)
    assert [e.region for step in recipe.steps for e in step.edits] == ["find", "find"]


def test_stronger_and_weaker_rerender_a_fast_step(session):
    mask = _right_half(session.current16.shape[:2])
    session.apply([Edit(None, Task.BLUR)], [mask], engine="fast")
    stronger = apply_action(session, EditorAction(ActionName.STRONGER, factor=2.0))
    assert stronger.edits[0].edit.strength == 2.0 and "(strength 2)" in stronger.text
    strong_image = session.current16.copy()
    weaker = apply_action(session, EditorAction(ActionName.WEAKER, factor=4.0))
    assert weaker.edits[0].edit.strength == 0.5
    assert session.undo() is weaker and np.array_equal(session.current16, strong_image)
    apply_action(session, EditorAction(ActionName.STRONGER, factor=4.0))
    assert session.steps[-1].edits[0].edit.strength == 4.0  # capped at the highest strength
    with pytest.raises(TerfError, match="highest strength"):
        apply_action(session, EditorAction(ActionName.STRONGER))


def test_a_fine_tuned_step_goes_further_but_cannot_be_weakened(session):
    mask = _right_half(session.current16.shape[:2])
    session.apply([Edit(None, Task.BRIGHTEN)], [mask], engine="quick", iterations=3)
    y1 = session.current()[:, 40:].mean()
    step = apply_action(session, EditorAction(ActionName.STRONGER, factor=2.0), engine="quick", iterations=3)
    assert step.edits[0].edit.strength == 1.0 and step.text.endswith("(stronger)")
    assert session.current()[:, 40:].mean() > y1
    before = session.current16.copy()
    with pytest.raises(TerfError, match="cannot be lowered"):
        apply_action(session, EditorAction(ActionName.WEAKER))
    assert session.cursor == 2 and np.array_equal(session.current16, before)


def test_an_action_needs_a_step(session):
    for name in (ActionName.AGAIN, ActionName.STRONGER, ActionName.WEAKER):
        with pytest.raises(TerfError, match="there is none yet"):
            apply_action(session, EditorAction(name))
    with pytest.raises(TerfError, match="makes no step"):
        apply_action(session, EditorAction(ActionName.UNDO))


def test_the_edit_command_runs_actions_between_its_commands(tmp_path, random_lite_weights, capsys, pair_files):
    common = [*pair_files, "--weights", str(random_lite_weights)]
    assert main(["edit", *common, "-c", "blur the whole image", "-o", str(tmp_path / "once.png")]) == 0
    assert main(["edit", *common, "-c", "blur the whole image", "-c", "undo that", "-c", "redo",
                 "-c", "again", "-o", str(tmp_path / "again.png")]) == 0
    err = capsys.readouterr().err
    assert "undo: blur the whole image" in err and "redo: blur the whole image" in err
    assert "again: blur the whole image (again)" in err
    assert main(["edit", *common, "-c", "blur the whole image", "-c", "blur the whole image",
                 "-o", str(tmp_path / "repeat.png")]) == 0
    again, repeat = read_image(tmp_path / "again.png"), read_image(tmp_path / "repeat.png")
    assert np.array_equal(again, repeat)  # "again" is the same command once more
    assert not np.array_equal(again, read_image(tmp_path / "once.png"))

    assert main(["edit", *common, "-c", "undo", "-o", str(tmp_path / "x.png")]) == 2
    assert "no step to undo" in capsys.readouterr().err
    assert main(["edit", *common, "-c", "stronger", "-o", str(tmp_path / "x.png")]) == 2
    assert "there is none yet" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
