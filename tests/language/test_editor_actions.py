"""Editor actions typed as commands ("undo that", "again", "stronger"): read only when every word
is an action word, never in place of an edit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from terf_studio.language import (
    ActionName,
    CombinedParser,
    Edit,
    EditorAction,
    EditPlan,
    Task,
    parse_rules,
    read_action,
)

COMMANDS = Path(__file__).resolve().parents[2] / "resources" / "commands"


@pytest.mark.parametrize("text, name, times", [
    ("undo that", "undo", 1),
    ("Undo", "undo", 1),
    ("oops, go back", "undo", 1),
    ("I don't like that", "undo", 1),
    ("that's too much, undo it please", "undo", 1),
    ("please undo the last two steps", "undo", 2),
    ("undo 3 times", "undo", 3),
    ("redo", "redo", 1),
    ("actually, I changed my mind", "redo", 1),
    ("do that again", "again", 1),
    ("again!", "again", 1),
    ("once more please", "again", 1),
    ("repeat the last edit twice", "again", 2),
])
def test_history_actions_and_their_counts(text, name, times):
    action = read_action(text)
    assert action is not None and action.name.value == name and action.times == times


@pytest.mark.parametrize("text, name, factor", [
    ("stronger", "stronger", 1.5),
    ("make it stronger please", "stronger", 1.5),
    ("a bit stronger", "stronger", 1.25),
    ("more", "stronger", 1.5),
    ("much more", "stronger", 2.0),
    ("a lot more", "stronger", 2.0),
    ("not enough", "stronger", 1.5),
    ("weaker", "weaker", 1.5),
    ("less", "weaker", 1.5),
    ("too much", "weaker", 1.5),
    ("that's way too much", "weaker", 2.0),
    ("tone it down a bit", "weaker", 1.25),
    ("a tiny bit less", "weaker", 1.125),
])
def test_stronger_and_weaker_scale_by_the_strength_word(text, name, factor):
    action = read_action(text)
    assert action is not None and action.name.value == name and action.factor == pytest.approx(factor)


@pytest.mark.parametrize("text", [
    "brighten the trees again",  # an edit that happens to say "again"
    "undo the blur on the plate",  # names a region: not whatever step came last
    "more infrared",
    "less noise",
    "stronger on the trees",
    "make the road less noisy",
    "too dark",
    "more, again",  # two different actions: not one clear action
    "stronger, no, weaker",
    "hello", "no", "", "   ", "what is this?",
])
def test_anything_else_is_not_an_action(text):
    assert read_action(text) is None


def test_no_hand_written_command_reads_as_an_action():
    """Every command of the benchmark sets keeps its reading: only the bare "undo" (which
    expects no edit) is an action."""
    found = []
    for path in sorted(COMMANDS.glob("commands*.jsonl")):
        for line in path.read_text().splitlines():
            item = json.loads(line)
            if read_action(item["text"]) is not None:
                found.append((path.name, item["text"], item["edits"]))
    assert found == [("commands.jsonl", "undo", [])]


def test_a_plan_carries_its_action_through_json():
    plan = parse_rules("a bit weaker please")
    assert plan.action == EditorAction(ActionName.WEAKER, factor=1.25) and not plan.edits
    assert "weaker" in plan.message
    data = json.loads(json.dumps(plan.to_dict()))
    assert data["action"] == {"name": "weaker", "factor": 1.25}
    assert EditPlan.from_dict(data).action == plan.action
    assert EditPlan.from_dict(plan.to_dict(compact=True)).action == plan.action
    assert EditPlan.from_dict(parse_rules("brighten the trees").to_dict()).action is None


@pytest.mark.parametrize("data, message", [
    ({"name": "explode"}, "unknown editor action"),
    ({"name": "undo", "times": 0}, "times"),
    ({"name": "undo", "times": 10**9}, "times"),
    ({"name": "stronger", "factor": 1.0}, "factor"),
    ({"name": "stronger", "factor": "x"}, "factor"),
    ({"name": "undo", "extra": 1}, "unknown action field"),
])
def test_a_bad_action_record_is_a_value_error(data, message):
    with pytest.raises(ValueError, match=message):
        EditPlan.from_dict({"edits": [], "action": data})


def test_a_plan_holds_edits_or_an_action_not_both():
    with pytest.raises(ValueError, match="not both"):
        EditPlan(edits=(Edit("trees", Task.BRIGHTEN),), action=EditorAction(ActionName.UNDO))


class _CountingModel:
    fine_tuned = True

    def __init__(self) -> None:
        self.calls = 0

    def parse(self, text: str) -> EditPlan:
        self.calls += 1
        return EditPlan(edits=(Edit("image", Task.BRIGHTEN),), text=text, parser="llm")


def test_the_combined_parser_does_not_ask_the_model_about_an_action():
    model = _CountingModel()
    plan = CombinedParser(model, policy="always").parse("undo that")
    assert plan.action is not None and plan.action.name is ActionName.UNDO and not plan.edits
    assert model.calls == 0
    assert CombinedParser(model, policy="always").parse("hello there").edits  # the model is asked otherwise
    assert model.calls == 1
