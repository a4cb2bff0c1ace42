"""The plan layout shared by the decoder and the adapter's training."""

from __future__ import annotations

import json

import pytest

from terf_studio.language.llm.layout import (
    closing_options,
    divergences,
    field_options,
    field_values,
    opening_options,
    opens_an_edit,
    plan_choices,
    plan_text,
)
from terf_studio.language.llm.prompt import PromptSet

ORDER = PromptSet.load().field_order()


def test_the_choices_write_the_plan_as_json():
    edits = [{"task": "blur", "target": "plate", "strength": 2.0}, {"task": "visible", "target": None,
                                                                    "strength": 1.0}]
    steps = plan_choices(edits, ["plate", "car"], ORDER)
    text = plan_text(steps)
    assert json.loads(text) == {"edits": [{k: e[k] for k in ORDER} for e in edits]}
    assert text == " " + json.dumps({"edits": [{k: e[k] for k in ORDER} for e in edits]})
    assert all(taken in options for options, taken in steps)
    assert len(steps) == 1 + 2 * (len(ORDER) + 1)
    assert plan_text(plan_choices([], [], ORDER)) == ' {"edits": []}'


def test_a_plan_the_decoder_cannot_write_is_refused():
    with pytest.raises(ValueError):
        plan_choices([{"task": "blur", "target": "sky", "strength": 1.0}], ["plate"], ORDER)
    with pytest.raises(ValueError):
        plan_choices([{"task": "melt", "target": None, "strength": 1.0}], [], ORDER)
    with pytest.raises(ValueError):
        plan_choices([{"task": "blur", "target": None, "strength": 1.0}] * 5, [], ORDER)
    with pytest.raises(ValueError):
        plan_choices([], [], ["task", "target"])


def test_options_follow_the_schema():
    values = field_values(["trees"])
    assert values["target"] == ["null", '"trees"']
    assert opens_an_edit(opening_options(ORDER)[0]) and not opens_an_edit(opening_options(ORDER)[1])
    assert len(closing_options(ORDER, 3)) == 2 and closing_options(ORDER, 4) == ["}]}"]
    last = field_options(ORDER, len(ORDER) - 1, values)
    assert all(not o.endswith(":") for o in last)


def test_divergences_are_where_the_options_part():
    options = {"a": [1, 2, 3], "b": [1, 2, 4], "c": [5]}
    assert divergences(options, "a") == [(0, [1, 5]), (2, [3, 4])]
    assert divergences(options, "c") == [(0, [1, 5])]
    assert divergences({"only": [7, 8]}, "only") == []
    with pytest.raises(ValueError, match="prefix"):
        divergences({"a": [1], "b": [1, 2]}, "b")
