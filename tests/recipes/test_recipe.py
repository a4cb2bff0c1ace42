"""Recipes: made from a session, written and read (JSON, YAML, .terf), validated, applied."""

from __future__ import annotations

import base64
import json
import zipfile

import numpy as np
import pytest

from terf_studio.document.project import load_project, save_project
from terf_studio.document.session import EditSession
from terf_studio.fusion import load_fuser
from terf_studio.language import Edit, Task
from terf_studio.recipes import RecipeError, load_recipe, save_recipe
from terf_studio.recipes.apply import StepFailed, apply_recipe
from terf_studio.recipes.recipe import parse_recipe, recipe_from_session
from terf_studio.regions import Mask

pytestmark = pytest.mark.usefixtures("one_torch_thread")
H, W = 48, 64


def scene(h: int = H, w: int = W, phase: float = 0.0):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    vi = np.stack([0.45 + 0.25 * np.sin(xx / 3.0 + phase), 0.4 + 0.25 * np.sin(yy / 4.0 + xx / 6.0),
                   0.35 + 0.2 * np.cos(yy / 3.5)], -1).astype(np.float32)
    ir = (0.1 + 0.8 * np.exp(-((yy - h / 2) ** 2 + (xx - w / 3 - 4 * phase) ** 2) / 80.0)).astype(np.float32)
    return vi, ir


def box_mask(source: str = "manual", h: int = H, w: int = W) -> Mask:
    data = np.zeros((h, w), np.float32)
    data[8:30, 10:40] = 1.0
    return Mask(data, label="box", source=source)


@pytest.fixture(scope="module")
def fuser():
    return load_fuser("lite", device="cpu")


def edited_session(fuser) -> EditSession:
    """Three steps: a painted mask, a mask found from text, and a whole-image edit."""
    session = EditSession(*scene(), fuser)
    session.apply([Edit(None, Task.BRIGHTEN, strength=1.5, text="brighten this")], [box_mask()],
                  text="brighten this", engine="fast")
    session.apply([Edit("hot spot", Task.INFRARED)], [box_mask("builtin:thermal")], text="hot spot to infrared",
                  engine="fast")
    session.apply([Edit(None, Task.DENOISE)], text="denoise", engine="fast")
    return session


def test_a_sessions_recipe_keeps_painted_masks_and_finds_the_rest_again(fuser):
    recipe = recipe_from_session(edited_session(fuser))
    assert [s.text for s in recipe.steps] == ["brighten this", "hot spot to infrared", "denoise"]
    assert [s.engine for s in recipe.steps] == ["fast"] * 3
    regions = [[e.region for e in s.edits] for s in recipe.steps]
    assert regions == [["mask"], ["find"], ["whole"]]
    assert np.array_equal(recipe.steps[0].edits[0].mask.data, box_mask().data)
    assert recipe.steps[0].edits[0].edit.strength == 1.5 and recipe.arch == "lite"


def test_undone_steps_are_not_in_the_recipe_and_a_strength_change_replaces_its_step(fuser):
    session = edited_session(fuser)
    session.undo()
    assert len(recipe_from_session(session).steps) == 2
    session = EditSession(*scene(), fuser)
    session.apply([Edit(None, Task.DARKEN)], [box_mask()], engine="fast")
    session.set_strength(2.0)
    session.set_strength(0.5)
    (step,) = recipe_from_session(session).steps
    assert step.edits[0].edit.strength == 0.5 and "(strength" not in step.text
    with pytest.raises(RecipeError, match="no applied edits"):
        recipe_from_session(EditSession(*scene(), fuser))


def test_replaying_a_recipe_on_its_own_pair_gives_the_same_pixels(fuser):
    session = EditSession(*scene(), fuser)
    session.apply([Edit(None, Task.BRIGHTEN, strength=1.5)], [box_mask()], engine="fast")
    session.apply([Edit(None, Task.DENOISE)], engine="fast")
    recipe = parse_recipe(json.loads(json.dumps(recipe_from_session(session).to_dict())))
    replay = EditSession(*scene(), fuser)
    steps = apply_recipe(replay, recipe)
    assert len(steps) == 2 and np.array_equal(replay.current16, session.current16)
    replay.undo()  # every step is an ordinary, undoable step
    assert len(replay.steps) == 2 and replay.cursor == 1


def test_json_round_trip_and_hash(fuser, tmp_path):
    recipe = recipe_from_session(edited_session(fuser))
    path = save_recipe(recipe, tmp_path / "r.json")
    again = load_recipe(path)
    assert again.hash() == recipe.hash() and again.to_dict() == recipe.to_dict()
    data = recipe.to_dict()
    data["steps"][0]["edits"][0]["strength"] = 1.0
    assert parse_recipe(data).hash() != recipe.hash()  # what it does changed
    data = recipe.to_dict()
    data["steps"][0]["text"] = "another wording"
    assert parse_recipe(data).hash() == recipe.hash()  # only its words changed
    with pytest.raises(RecipeError, match="saved as .json"):
        save_recipe(recipe, tmp_path / "r.txt")


def test_a_hand_written_yaml_recipe_with_a_mask_file(tmp_path):
    box_mask().save_png(tmp_path / "plate.png")
    (tmp_path / "r.yaml").write_text(
        "format: terf-recipe/1\n"
        "steps:\n"
        "  - text: blur the plate\n"
        "    edits:\n"
        "      - {task: blur, target: plate, region: {mask: plate.png}}\n"
        "  - edits:\n"
        "      - {task: darken, target: street lamps, strength: 0.5}\n"
        "      - {task: denoise}\n")
    recipe = load_recipe(tmp_path / "r.yaml")
    assert [e.region for s in recipe.steps for e in s.edits] == ["mask", "find", "whole"]
    assert recipe.steps[1].text == "darken and denoise" and recipe.steps[1].engine == "auto"
    assert recipe.steps[0].edits[0].mask.label == "box"  # the PNG's own label is kept


@pytest.mark.parametrize("data, message", [
    ({"steps": []}, "not a TeRF Studio recipe"),
    ({"format": "terf-recipe/1", "steps": []}, "'steps' must be a non-empty list"),
    ({"format": "terf-recipe/1", "steps": [{"edits": [{"task": "sharpen"}]}]}, "step 1, edit 1: unknown task"),
    ({"format": "terf-recipe/1", "steps": [{"edits": [{"task": "blur", "strength": 0}]}]}, "strength must be in"),
    ({"format": "terf-recipe/1", "steps": [{"edits": [{"task": "blur", "region": "find"}]}]}, "needs a target"),
    ({"format": "terf-recipe/1", "steps": [{"edits": [{"task": "blur", "region": "here"}]}]}, "region must be"),
    ({"format": "terf-recipe/1", "steps": [{"engine": "turbo", "edits": [{"task": "blur"}]}]}, "unknown engine"),
    ({"format": "terf-recipe/1", "steps": [{"edits": [{"task": "blur"}], "colour": 1}]}, "unknown field"),
    ({"format": "terf-recipe/1", "fusion": {"arch": "huge"}, "steps": [{"edits": [{"task": "blur"}]}]},
     "unknown fusion network"),
    ({"format": "terf-recipe/1", "steps": [{"edits": [{"task": "blur", "region": {"mask_png": "!!"}}]}]},
     "not base64"),
    ({"format": "terf-recipe/1", "steps": [{"edits": [{"task": "blur", "region": {
        "mask_png": base64.b64encode(Mask.empty((4, 4)).to_png_bytes()).decode()}}]}]}, "mask is empty"),
    ({"format": "terf-recipe/1", "steps": [{"edits": [{"task": "blur", "region": {"mask": "m.png"}}]}]},
     "cannot be read from here"),
    ([1, 2], "must be an object"),
])
def test_invalid_recipes_are_one_line_errors_that_say_where(data, message):
    with pytest.raises(RecipeError, match=message) as info:
        parse_recipe(data, source="r.json")
    assert "\n" not in str(info.value) and str(info.value).startswith("r.json")


def test_unreadable_recipe_files(tmp_path):
    with pytest.raises(RecipeError, match="not found"):
        load_recipe(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"format": "terf-recipe/1",\n "steps": [}')
    with pytest.raises(RecipeError, match="not valid JSON \\(line 2"):
        load_recipe(tmp_path / "bad.json")
    (tmp_path / "latin.json").write_bytes(b'{"format": "\xe9"}')
    with pytest.raises(RecipeError, match="not UTF-8"):
        load_recipe(tmp_path / "latin.json")
    (tmp_path / "bad.yaml").write_text("steps: [\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(tmp_path / "bad.yaml")
    (tmp_path / "r.json").write_text(json.dumps({"format": "terf-recipe/1", "steps": [
        {"edits": [{"task": "blur", "region": {"mask": "nowhere.png"}}]}]}))
    with pytest.raises(RecipeError, match="nowhere.png' not found"):
        load_recipe(tmp_path / "r.json")


def test_every_project_carries_its_recipe_and_older_projects_give_one_too(fuser, tmp_path):
    session = edited_session(fuser)
    path = save_project(session, tmp_path / "p.terf")
    with zipfile.ZipFile(path) as z:
        assert "recipe.json" in z.namelist()
    expected = recipe_from_session(session).hash()
    assert load_recipe(path).hash() == expected
    # A project saved before recipes existed: the recipe is derived from its steps.
    old = tmp_path / "old.terf"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(old, "w") as dst:
        for item in src.infolist():
            if item.filename != "recipe.json":
                dst.writestr(item, src.read(item))
    assert load_recipe(old).hash() == expected
    assert load_project(old, device="cpu").cursor == 3  # and it still opens as before
    empty = save_project(EditSession(*scene(), fuser), tmp_path / "empty.terf")
    with pytest.raises(RecipeError, match="no applied edits"):
        load_recipe(empty)


def test_a_painted_mask_of_another_size_fails_its_step_by_number(fuser):
    recipe = recipe_from_session(edited_session(fuser))
    other = EditSession(*scene(40, 56), fuser)
    with pytest.raises(StepFailed, match="step 1 .*64x48 and this pair is 56x40") as info:
        apply_recipe(other, recipe)
    assert info.value.step == 1 and other.cursor == 0
