"""Fuzzing the command parsers: parse_rules, the combined parser (with a stand-in LLM whose
answers are random), clean_command, the LLM's target candidates and its answer checker.

Inputs: any unicode (lone surrogates included: how undecodable command-line bytes arrive),
control characters and terminal escapes mixed into commands, and very long commands.
Parsers never raise: every input gives a plan, whose targets hold no control characters
and which prints and serialises as UTF-8.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terf_studio.language import CombinedParser, EditPlan, clean_command, parse_rules
from terf_studio.language.llm.grammar import validate_output
from terf_studio.language.llm.prompt import target_candidates
from terf_studio.language.plan import MAX_STRENGTH
from terf_studio.language.words import MAX_COMMAND_CHARS

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_WORDS = ["brighten", "darken", "denoise", "blur", "the", "trees", "sky", "road", "person", "a bit", "very",
          "more", "less", "infrared", "visible", "and", "then", ",", ".", "don't", "it", "too", "dark", "noisy",
          "brigthen", "slighty", "everything", "on the left", "isn't", "'s"]
_ESCAPES = ["\x1b[31m", "\x1b[0m", "\x1b]0;title\x07", "\x9b2J", "\x1b", "\x07", "\x00", "\r", "\x1bP", "\x9d",
            "\u202e", "\ufeff", "\ud800", "\udcff", "\n", "\t"]

any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=200)
commands = st.one_of(
    any_text,
    st.lists(st.sampled_from(_WORDS) | st.sampled_from(_ESCAPES) | any_text.map(lambda t: t[:8]), max_size=30)
    .map(" ".join),
    st.lists(st.sampled_from(_WORDS + _ESCAPES), max_size=30).map("".join),
)


def check_plan(plan: EditPlan) -> None:
    assert isinstance(plan, EditPlan)
    for edit in plan.edits:
        assert 0 < edit.strength <= MAX_STRENGTH
        if edit.target is not None:
            assert edit.target.strip() and not _CONTROL.search(edit.target), repr(edit.target)
    json.dumps(plan.to_dict()).encode("utf-8")  # prints and saves
    plan.text.encode("utf-8")
    plan.message.encode("utf-8")


@settings(max_examples=settings().max_examples * 4)
@given(text=commands)
def test_rules_give_a_plan_for_any_text(text):
    check_plan(parse_rules(text))


@settings(max_examples=settings().max_examples * 2)
@given(text=any_text | commands)
def test_clean_command_leaves_no_escape_or_control_character(text):
    cleaned = clean_command(text)
    assert not _CONTROL.search(cleaned), repr(cleaned)
    assert clean_command(cleaned) == cleaned
    cleaned.encode("utf-8")


class RandomLlm:
    """A stand-in LLM parser answering with whatever plan it was given (hypothesis draws it)."""

    def __init__(self, answer: str) -> None:
        self.answer = answer

    def parse(self, text: str) -> EditPlan:
        edits, message = validate_output(self.answer, target_candidates(text), text)
        return EditPlan(edits=tuple(edits), text=text, parser="llm", message=message)


_EDIT = st.fixed_dictionaries(
    {},
    optional={
        "target": st.none() | st.sampled_from(["trees", "the sky", "road"]) | st.text(max_size=10),
        "task": st.sampled_from(["brighten", "darken", "denoise", "blur", "infrared", "visible", "x"])
        | st.integers(),
        "strength": st.floats() | st.integers() | st.booleans() | st.text(max_size=3),
    },
)
answers = st.one_of(
    st.text(max_size=60),
    st.builds(lambda edits: json.dumps({"edits": edits}), st.lists(_EDIT | st.integers() | st.none(), max_size=5)),
    st.recursive(st.none() | st.integers() | st.text(max_size=5), lambda x: st.lists(x) | st.dictionaries(st.text(), x))
    .map(json.dumps),
)


@given(text=commands, answer=answers, policy=st.sampled_from(["always", "fallback"]))
def test_combined_parser_gives_a_plan_whatever_the_model_answers(text, answer, policy):
    plan = CombinedParser(RandomLlm(answer), policy=policy).parse(text)
    check_plan(plan)
    for reading in plan.readings.values():
        check_plan(reading)


@given(answer=answers, text=commands)
def test_model_answers_are_checked_never_trusted(answer, text):
    candidates = target_candidates(text)
    edits, message = validate_output(answer, candidates, text)
    for edit in edits:
        assert edit.target is None or edit.target in candidates
    assert isinstance(message, str)


class NoLlm:
    def parse(self, text: str) -> EditPlan:
        raise AssertionError("a command over the limit reached the language model")


@pytest.mark.parametrize("word", ["zzqy", "brigthen", "trees", "\x1b[31mtrees", "é" * 7, "a,"])
def test_very_long_commands_are_refused_quickly(word):
    """Found by fuzzing: 20 000 unknown words took 17 s to read (a typo search for each word)."""
    text = " ".join([word] * 20000)
    start = time.perf_counter()
    plans = [parse_rules(text), CombinedParser(NoLlm()).parse(text)]
    assert time.perf_counter() - start < 1.0
    for plan in plans:
        check_plan(plan)
        assert not plan.edits and "too long" in plan.message and str(MAX_COMMAND_CHARS) in plan.message


def test_commands_up_to_the_limit_are_read():
    text = ("brigthen the trees " * 200)[:MAX_COMMAND_CHARS]
    start = time.perf_counter()
    plan = parse_rules(text)
    assert time.perf_counter() - start < 5.0
    assert plan.edits and plan.edits[0].task.value == "brighten" and "too long" not in plan.message
