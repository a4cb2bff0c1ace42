"""The region a target phrase names (language.targets), in both readers."""

from __future__ import annotations

import json

import pytest

from terf_studio.language.llm.grammar import validate_output
from terf_studio.language.llm.prompt import target_candidates
from terf_studio.language.rules import analyse
from terf_studio.language.targets import region_of


@pytest.mark.parametrize(("said", "region"), [
    ("car paint", "car"),
    ("sign lettering", "sign"),
    ("roof tiles", "roof"),
    ("bricks of the wall", "wall"),
    ("red of the postbox", "postbox"),
    ("paint on the car on the left", "car on the left"),
    ("reflection on the car hood", "car hood"),
    ("bright reflection on the car", "car"),
    ("glare from the headlights", "headlights"),
    ("haze over the town", "town"),
])
def test_a_surface_or_a_light_names_the_thing_it_is_on(said: str, region: str) -> None:
    assert region_of(said) == region


@pytest.mark.parametrize("kept", [
    "man in red", "man in red on the left", "bricks", "glare", "paint", "colour chart",
    "faces of the bystanders", "dark corner on the left", "brick wall", "person in blue",
])
def test_other_phrases_are_kept(kept: str) -> None:
    assert region_of(kept) == kept
    assert region_of(None) is None


def test_the_rules_name_the_region_and_still_count_the_words_as_used() -> None:
    reading = analyse("the car paint looks weird and thermal")
    assert [r.edit.target for r in reading.edits] == ["car"]
    assert "paint" not in reading.unused_words  # the phrase as said explains it
    assert [r.edit.target for r in analyse("remove the glare from the headlights").edits] == ["headlights"]


def test_the_model_reading_names_the_region_too() -> None:
    text = "the reflection on the car hood is too strong"
    raw = json.dumps({"edits": [{"task": "darken", "target": "reflection on the car hood", "strength": 1.0}]})
    edits, problem = validate_output(raw, target_candidates(text), text)
    assert problem == "" and [e.target for e in edits] == ["car hood"]


def test_a_lone_descriptive_word_is_no_target_candidate() -> None:
    candidates = target_candidates("the spotlight is way too strong")
    assert "spotlight" in candidates and "strong" not in candidates
