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
    ("faded paint of the car on the left", "car on the left"),
])
def test_a_surface_or_a_colour_names_its_object(said: str, region: str) -> None:
    assert region_of(said) == region


@pytest.mark.parametrize("kept", [
    "man in red", "man in red on the left", "bricks", "glare", "paint", "colour chart",
    "faces of the bystanders", "dark corner on the left", "brick wall", "person in blue",
    "bricks on the chimney", "sun reflection on the lake", "reflection on the car hood",
])
def test_other_phrases_are_kept(kept: str) -> None:
    assert region_of(kept) == kept
    assert region_of(None) is None


def test_the_rules_name_the_region_and_still_count_the_words_as_used() -> None:
    reading = analyse("the car paint looks weird and thermal")
    assert [r.edit.target for r in reading.edits] == ["car"]
    assert "paint" not in reading.unused_words  # the phrase as said explains it


def test_the_model_reading_names_the_region_too() -> None:
    text = "the paint of the car looks thermal"
    raw = json.dumps({"edits": [{"task": "visible", "target": "paint of the car", "strength": 1.0}]})
    edits, problem = validate_output(raw, target_candidates(text), text)
    assert problem == "" and [e.target for e in edits] == ["car"]


def test_a_lone_descriptive_word_is_no_target_candidate() -> None:
    candidates = target_candidates("the spotlight is way too strong")
    assert "spotlight" in candidates and "strong" not in candidates
