"""Fuzzing the plan and record readers: Edit / EditPlan / Mask / Stroke ``from_dict`` on any JSON.

These read JSON from projects, the undo history and scripts; their contract is a valid object or
a ``ValueError`` (callers turn it into a one-line error, as load_project does), never another
exception. Valid plans survive a round trip through JSON.
"""

from __future__ import annotations

import json
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from terf_studio.errors import TerfError
from terf_studio.language import Edit, EditPlan
from terf_studio.language.plan import MAX_STRENGTH, TASK_NAMES
from terf_studio.regions import Mask
from terf_studio.regions.strokes import Stroke

_SCALARS = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
            | st.sampled_from(TASK_NAMES) | st.sampled_from([0.25, 1.0, 4.0, 4.5, -1.0, math.inf, math.nan, 10**400]))
json_values = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)
edit_records = st.fixed_dictionaries(
    {}, optional={"target": json_values, "task": json_values, "strength": json_values, "text": json_values,
                  "extra": json_values},
)
plan_records = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "edits": st.lists(edit_records | json_values, max_size=4) | json_values,
            "text": json_values, "parser": json_values, "seconds": json_values, "message": json_values,
            "readings": st.dictionaries(st.text(max_size=5), json_values, max_size=2) | json_values,
            "disagreements": st.lists(st.fixed_dictionaries(
                {}, optional={k: json_values for k in ("index", "field", "rules", "llm", "chosen", "reason")}),
                max_size=2) | json_values,
        },
    ),
)


def value_error_or(call):
    try:
        return call()
    except ValueError:
        return None
    except TerfError:  # also allowed (a limit of ours); it must be one line
        return None


@settings(max_examples=settings().max_examples * 3)
@given(record=edit_records | json_values)
def test_edit_from_any_json_is_an_edit_or_a_value_error(record):
    edit = value_error_or(lambda: Edit.from_dict(record))
    if edit is not None:
        assert edit.task.value in TASK_NAMES and 0 < edit.strength <= MAX_STRENGTH
        assert Edit.from_dict(json.loads(json.dumps(edit.to_dict()))) == edit


@settings(max_examples=settings().max_examples * 3)
@given(record=plan_records)
def test_plan_from_any_json_is_a_plan_or_a_value_error(record):
    plan = value_error_or(lambda: EditPlan.from_dict(record))
    if plan is not None:
        again = EditPlan.from_dict(json.loads(json.dumps(plan.to_dict())))
        assert again.edits == plan.edits and again.text == plan.text


_MASK_RECORDS = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"rle": st.fixed_dictionaries({"size": st.lists(json_values | st.integers(-2, 40), max_size=3),
                                      "counts": st.lists(st.integers(-5, 200), max_size=8) | json_values})},
        optional={"label": json_values, "colour": json_values, "confidence": json_values, "source": json_values},
    ),
    st.fixed_dictionaries({"png16": st.text(max_size=40) | st.sampled_from(
        [Mask(np.eye(4, dtype=np.float32)).to_dict()["rle"] and "", "iVBORw0KGgo="])}),
)


@given(record=_MASK_RECORDS)
def test_mask_record_from_any_json_is_a_mask_or_a_value_error(record):
    mask = value_error_or(lambda: Mask.from_dict(record))
    if mask is not None:
        assert mask.data.ndim == 2 and mask.data.size <= 40 * 40
        assert 0.0 <= mask.confidence <= 1.0


@given(record=json_values | st.fixed_dictionaries(
    {"points": st.lists(st.lists(json_values, max_size=3), max_size=4), "radius": json_values},
    optional={"hardness": json_values, "mode": json_values}))
def test_stroke_record_from_any_json_is_a_stroke_or_a_value_error(record):
    stroke = value_error_or(lambda: Stroke.from_dict(record))
    if stroke is not None:
        value_error_or(lambda: stroke.apply(Mask.empty((8, 8))))
