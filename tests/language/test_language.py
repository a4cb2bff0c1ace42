"""Tests for terf_studio.language: plan types, rule parser, combined logic, CLI.

No model is needed here; the real LLM runs in test_language_llm.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
from pathlib import Path

import pytest

from terf_studio.bench.parse import add_bench_parse_arguments, load_command_set, run_bench_parse, score
from terf_studio.cli.parse import add_parse_arguments, run_parse
from terf_studio.errors import ModelError, TerfError
from terf_studio.language import combined as C
from terf_studio.language import llm as L
from terf_studio.language import vocabulary as V
from terf_studio.language.plan import STRENGTH_WORDS, Disagreement, Edit, EditPlan, Task, snap_strength
from terf_studio.language.rules import analyse, parse_rules, tokenise
from terf_studio.paths import RESOURCES_DIR

DATA = RESOURCES_DIR / "commands"
DEV_SET = DATA / "commands.jsonl"


def plan_tuples(plan: EditPlan) -> list[tuple]:
    return [(e.task.value, e.target, e.strength) for e in plan.edits]


# --------------------------------------------------------------------------
# plan types

def test_task_values_and_str():
    assert [t.value for t in Task] == ["infrared", "visible", "brighten", "darken", "denoise", "blur"]
    assert str(Task.BLUR) == "blur"
    assert Task("denoise") is Task.DENOISE


def test_edit_coerces_and_validates():
    e = Edit("  the  trees ", "brighten")
    assert e.task is Task.BRIGHTEN and e.target == "the trees" and e.strength == 1.0
    assert Edit("", "blur").target is None
    with pytest.raises(ValueError, match="unknown task"):
        Edit("trees", "sharpen")
    for bad in (0, -1, float("nan"), float("inf"), 9.0, True, "1"):
        with pytest.raises(ValueError):
            Edit("trees", Task.BLUR, bad)
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.task = Task.BLUR  # frozen


def test_plan_round_trip_through_json():
    plan = EditPlan(
        edits=(Edit("trees", Task.BRIGHTEN, 0.5, "brighten the trees a bit"), Edit(None, Task.DENOISE)),
        text="brighten the trees a bit and denoise",
        parser="rules+llm",
        seconds=0.25,
        message="",
        readings={"rules": EditPlan(edits=(Edit("trees", Task.BRIGHTEN, 0.5),))},
        disagreements=(Disagreement(1, "target", None, "road", "llm", "why"),),
    )
    data = json.loads(json.dumps(plan.to_dict()))
    again = EditPlan.from_dict(data)
    assert again == plan
    compact = plan.to_dict(compact=True)
    assert set(compact) == {"edits", "parser", "seconds", "disagreements"}
    assert compact["edits"][0] == {"target": "trees", "task": "brighten", "strength": 0.5}


def test_plan_from_dict_rejects_bad_input():
    with pytest.raises(ValueError):
        EditPlan.from_dict({"edits": [{"target": "x", "task": "explode"}]})
    with pytest.raises(ValueError):
        EditPlan.from_dict({"edits": [{"target": "x", "task": "blur", "colour": 1}]})
    with pytest.raises(ValueError):
        EditPlan.from_dict({"edits": "blur"})


def test_strength_table():
    assert STRENGTH_WORDS["slightly"] == STRENGTH_WORDS["a bit"] == STRENGTH_WORDS["a little"] == 0.5
    assert STRENGTH_WORDS["a lot"] == STRENGTH_WORDS["strongly"] == STRENGTH_WORDS["much"] == 2.0
    assert STRENGTH_WORDS["very slightly"] == 0.25
    assert snap_strength(1.2) == 1.0 and snap_strength(1.8) == 2.0 and snap_strength(0.3) == 0.25


# --------------------------------------------------------------------------
# vocabulary sanity

def test_vocabulary_tables_are_lower_case_and_single_spaced():
    for key in V.PHRASES:
        assert all(w == w.lower() and w.strip() == w and w for w in key), key


def test_issue_synonyms_are_known():
    for word in ("illuminate", "lighten", "expose", "luminance", "glare", "dim", "grainy", "speckles",
                 "thermal", "heat signature", "salient", "texture", "detail", "colour"):
        assert tuple(word.split()) in V.PHRASES, word


# --------------------------------------------------------------------------
# rule parser

@pytest.mark.parametrize("text, expected", [
    ("brighten the trees", [("brighten", "trees", 1.0)]),
    ("make the person lean towards infrared", [("infrared", "person", 1.0)]),
    ("remove the noise on the road", [("denoise", "road", 1.0)]),
    ("denoise road", [("denoise", "road", 1.0)]),
    ("brighten the man on the left", [("brighten", "man on the left", 1.0)]),
    ("blur the traffic sign", [("blur", "traffic sign", 1.0)]),
    ("brighten the image", [("brighten", None, 1.0)]),
    ("darken everything", [("darken", None, 1.0)]),
    ("increase the exposure overall", [("brighten", None, 1.0)]),
    ("reduce the glare on the windscreen", [("darken", "windscreen", 1.0)]),
    ("the alley is too dark", [("brighten", "alley", 1.0)]),
    ("the sky is dim", [("brighten", "sky", 1.0)]),
    ("dim the sky", [("darken", "sky", 1.0)]),
    ("make the road less dark", [("brighten", "road", 1.0)]),
    ("the sky is grainy", [("denoise", "sky", 1.0)]),
    ("get rid of the speckles on the wall", [("denoise", "wall", 1.0)]),
    ("show the heat signature of the person", [("infrared", "person", 1.0)]),
    ("make the person more salient", [("infrared", "person", 1.0)]),
    ("more texture on the building", [("visible", "building", 1.0)]),
    ("less infrared on the road", [("visible", "road", 1.0)]),
    ("restore the colour of the car", [("visible", "car", 1.0)]),
    ("more detail in the trees", [("visible", "trees", 1.0)]),
    ("brighten the light pole", [("brighten", "light pole", 1.0)]),
    ("tone down the street light", [("darken", "street light", 1.0)]),
])
def test_rules_single_edits(text, expected):
    assert plan_tuples(parse_rules(text)) == expected


@pytest.mark.parametrize("text, expected", [
    ("brighten the trees and remove noise from the road",
     [("brighten", "trees", 1.0), ("denoise", "road", 1.0)]),
    ("darken the sky, then denoise the road", [("darken", "sky", 1.0), ("denoise", "road", 1.0)]),
    ("blur the face; brighten the background", [("blur", "face", 1.0), ("brighten", "background", 1.0)]),
    ("brighten and denoise the trees", [("brighten", "trees", 1.0), ("denoise", "trees", 1.0)]),
    ("denoise the road and brighten it", [("denoise", "road", 1.0), ("brighten", "road", 1.0)]),
    ("blur the plate and the faces", [("blur", "plate", 1.0), ("blur", "faces", 1.0)]),
    ("the alley is too dark and too noisy", [("brighten", "alley", 1.0), ("denoise", "alley", 1.0)]),
    ("brighten everything and denoise the road", [("brighten", None, 1.0), ("denoise", "road", 1.0)]),
    ("traffic sign: denoise", [("denoise", "traffic sign", 1.0)]),
    ("brighten the trees, slightly", [("brighten", "trees", 0.5)]),
])
def test_rules_multi_edit(text, expected):
    assert plan_tuples(parse_rules(text)) == expected


@pytest.mark.parametrize("text, strength", [
    ("brighten the trees slightly", 0.5),
    ("brighten the trees a bit", 0.5),
    ("brighten the trees a little", 0.5),
    ("brighten the trees", 1.0),
    ("make the trees brighter", 1.0),
    ("brighten the trees more", 1.5),
    ("brighten the trees a lot", 2.0),
    ("make the trees much brighter", 2.0),
    ("strongly brighten the trees", 2.0),
    ("brighten the trees very slightly", 0.25),
    ("make the person a little more infrared", 0.5),
    ("the alley is way too dark", 2.0),
])
def test_rules_strength_words(text, strength):
    plan = parse_rules(text)
    assert len(plan.edits) == 1 and plan.edits[0].strength == strength


@pytest.mark.parametrize("text, task, target", [
    ("brigten the trees", "brighten", "trees"),
    ("denosie the road", "denoise", "road"),
    ("blurr the face", "blur", "face"),
    ("make the person lean towards infared", "infrared", "person"),
    ("dakren the building", "darken", "building"),
    ("brighten the man on the right", "brighten", "man on the right"),  # "right" is not "bright"
])
def test_rules_typos(text, task, target):
    plan = parse_rules(text)
    assert plan_tuples(plan) == [(task, target, 1.0)]


def test_rules_typo_evidence_is_marked():
    reading = analyse("brigten the trees")
    assert reading.edits[0].evidence == "fuzzy"
    assert analyse("brighten the trees").edits[0].evidence == "exact"


@pytest.mark.parametrize("text", [
    "could you please brighten the trees",
    "please brighten the trees, thanks",
    "would you mind brightening the trees",
    "can you brighten the trees please?",
    "I'd like the trees to be brighter",
    "brighten trees",
    "Brighten The Trees!",
])
def test_rules_polite_and_terse(text):
    assert plan_tuples(parse_rules(text)) == [("brighten", "trees", 1.0)]


@pytest.mark.parametrize("text", ["", "   ", "hello", "what is this", "the trees", "undo", "42", "!!!", "and and , ;"])
def test_rules_unknown_text_gives_empty_plan_and_message(text):
    plan = parse_rules(text)
    assert plan.edits == () and plan.message


def test_rules_never_raise_on_odd_input():
    for text in ["\x00\x01", "é" * 50, "brighten " * 200, "'s 's", "- - -", "the the the", "it", "more", "less",
                 "brighten it", "and brighten", "brighten and", "do not", ",brighten,,the,,trees,"]:
        plan = parse_rules(text)
        assert isinstance(plan, EditPlan)
    assert parse_rules(None).edits == ()  # type: ignore[arg-type]


def test_negated_command_is_ignored_with_message():
    plan = parse_rules("don't brighten the sky")
    assert plan.edits == () and "negated" in plan.message.lower()


def test_exclusion_is_reported():
    plan = parse_rules("brighten everything except the sky")
    assert plan_tuples(plan) == [("brighten", None, 1.0)]
    assert "except the sky" in plan.message


def test_partly_understood_command_names_the_rest():
    plan = parse_rules("brighten the trees; sing a song")
    assert plan_tuples(plan) == [("brighten", "trees", 1.0)]
    assert "sing a song" in plan.message


def test_tokenise_expands_contractions_and_possessives():
    assert tokenise("don't blur the kid's face") == ["do", "not", "blur", "the", "kid's", "face"]
    assert tokenise("the sky's too bright") == ["the", "sky", "is", "too", "bright"]


def _load(path: Path) -> list[dict]:
    return load_command_set([path])


def test_dev_set_is_large_and_covers_the_brief():
    items = _load(DEV_SET)
    assert len(items) >= 150
    tasks = {e["task"] for item in items for e in item["edits"]}
    assert tasks == {t.value for t in Task}
    tags = {t for item in items for t in item["tags"]}
    assert {"paraphrase", "typo", "multi", "whole", "polite", "terse", "strength", "unknown"} <= tags
    for item in items:
        for e in item["edits"]:
            Edit.from_dict(e)
    texts = [i["text"] for i in items]
    assert len(texts) == len(set(texts))


def test_prompt_examples_do_not_leak_into_the_command_sets():
    examples = {c for c, _ in L.PromptSet.load().examples}
    for path in DATA.glob("commands*.jsonl"):
        assert not examples & {i["text"] for i in _load(path)}, path


def test_rules_meet_the_targets_on_the_dev_set():
    items = _load(DEV_SET)
    results = [score(parse_rules(i["text"]), i["edits"]) for i in items]
    n = len(results)
    assert sum(r[0] for r in results) / n >= 0.95
    assert sum(r[1] for r in results) / n >= 0.90


# --------------------------------------------------------------------------
# LLM helpers that need no model

def test_prompt_files_load_and_match_the_types():
    prompts = L.PromptSet.load()
    assert "infrared" in prompts.instructions and len(prompts.examples) >= 10
    for command, plan in prompts.examples:
        EditPlan.from_dict(plan)
        for e in plan["edits"]:
            assert e["target"] is None or e["target"] in L.target_candidates(command), (command, e)
    prompt = prompts.completion_prompt("blur the dog")
    assert prompt.startswith(prompts.completion_prefix()) and prompt.endswith("Command: blur the dog\nPlan:")
    assert prompts.header and prompts.header in prompt and prompts.instructions not in prompt
    messages = prompts.chat_messages("blur the dog")
    assert messages[0]["role"] == "system" and messages[-1] == {"role": "user", "content": "blur the dog"}


def test_target_candidates_are_phrases_of_the_command():
    cands = L.target_candidates("Please brighten the man on the left and denoise road")
    assert "man on the left" in cands and "road" in cands and "man" in cands
    assert not any(c.startswith(("the ", "brighten", "please")) or c.endswith((" the", " on")) for c in cands)


def test_command_schema_narrows_the_target():
    base = L.PromptSet.load().schema
    schema = L.command_schema(base, ["trees"])
    assert schema["properties"]["edits"]["items"]["properties"]["target"] == {"enum": ["trees", None]}
    assert base["properties"]["edits"]["items"]["properties"]["target"] != {"enum": ["trees", None]}


def test_validate_output_checks_types():
    edits, msg = L.validate_output('{"edits": [{"target": "trees", "task": "brighten", "strength": 1.0}]}', ["trees"])
    assert [(e.target, e.task, e.strength) for e in edits] == [("trees", Task.BRIGHTEN, 1.0)] and not msg
    edits, msg = L.validate_output('{"edits": [{"target": "moon", "task": "brighten", "strength": 1.0},'
                                   ' {"target": null, "task": "melt", "strength": 1.0}]}', ["trees"])
    assert edits == [] and "moon" in msg and "task" in msg
    edits, msg = L.validate_output('{"edits": [{"target": null, "task": "blur", "strength": 1.8}]}', [])
    assert edits[0].strength == 2.0
    assert L.validate_output("{not json", [])[0] == []
    assert L.validate_output('{"plan": 1}', [])[0] == []


def test_instruction_tuned_detection():
    template = {"tokenizer.chat_template": "{{ messages }}"}
    assert L.is_instruction_tuned(Path("gemma-3-270m-it-q4.gguf"), template)
    assert L.is_instruction_tuned(Path("model.gguf"), {**template, "general.finetune": "instruct"})
    assert not L.is_instruction_tuned(Path("gemma-3-270m-q4_k_m.gguf"), {**template, "general.name": "Gemma 3 270m"})
    assert not L.is_instruction_tuned(Path("qwen-chat.gguf"), {})


def test_missing_model_file_is_a_model_error(tmp_path):
    if not L.llama_cpp_available():
        with pytest.raises(ModelError, match="pip install llama-cpp-python"):
            L.get_llm_parser(tmp_path / "none.gguf")
    else:
        with pytest.raises(ModelError, match="not found"):
            L.get_llm_parser(tmp_path / "none.gguf")


def test_default_model_goes_to_the_user_model_folder():
    from terf_studio.weights import registry

    path = L.default_model_path(assemble=False)
    assert path == registry.user_models_dir() / L.DEFAULT_MODEL_FILE  # the conftest's fresh folder
    assert "site-packages" not in str(path)
    assert registry.get_spec(L.DEFAULT_MODEL_NAME).filename == L.DEFAULT_MODEL_FILE


def test_default_model_is_taken_from_any_model_folder(tmp_path, monkeypatch):
    from terf_studio.weights import registry

    size = registry.get_spec(L.DEFAULT_MODEL_NAME).size
    with open(tmp_path / L.DEFAULT_MODEL_FILE, "wb") as f:
        f.truncate(size)  # the registry checks the size when looking (the checksum on add)
    monkeypatch.setenv("TERF_STUDIO_MODELS", str(tmp_path))
    assert L.default_model_path() == tmp_path / L.DEFAULT_MODEL_FILE
    with open(tmp_path / L.DEFAULT_MODEL_FILE, "wb") as f:
        f.truncate(size - 1)  # a partial copy is passed over
    assert L.default_model_path(assemble=False) == registry.user_models_dir() / L.DEFAULT_MODEL_FILE


# --------------------------------------------------------------------------
# combined parser (with a stand-in LLM whose answers are fixed by the test)

class FixedLlm:
    """Answers each command with a given plan, as a real LLM parser would."""

    def __init__(self, answers: dict[str, list[Edit]]) -> None:
        self.answers = answers
        self.calls = 0

    def parse(self, text: str) -> EditPlan:
        self.calls += 1
        return EditPlan(edits=tuple(self.answers.get(text, [])), text=text, parser="llm", seconds=0.01)


def test_combined_without_llm_is_the_rule_parser():
    plan = C.CombinedParser(None).parse("brighten the trees")
    assert plan.parser == "rules" and plan_tuples(plan) == [("brighten", "trees", 1.0)]


def test_combined_keeps_rules_task_on_disagreement_and_records_both():
    llm = FixedLlm({"brighten the trees": [Edit("trees", Task.DARKEN)]})
    plan = C.CombinedParser(llm).parse("brighten the trees")
    assert plan_tuples(plan) == [("brighten", "trees", 1.0)]
    assert plan.parser == "rules+llm"
    (d,) = plan.disagreements
    assert (d.field, d.rules, d.llm, d.chosen) == ("task", "brighten", "darken", "rules")
    assert plan_tuples(plan.readings["llm"]) == [("darken", "trees", 1.0)]
    assert plan_tuples(plan.readings["rules"]) == [("brighten", "trees", 1.0)]


def test_combined_uses_llm_when_rules_find_nothing():
    text = "make the sky moodier"
    llm = FixedLlm({text: [Edit("sky", Task.DARKEN)]})
    plan = C.CombinedParser(llm).parse(text)
    assert plan_tuples(plan) == [("darken", "sky", 1.0)]
    assert plan.disagreements[0].field == "edits" and plan.disagreements[0].chosen == "llm"


def test_combined_takes_llm_target_only_for_a_gap_with_an_unused_word():
    llm = FixedLlm({
        "brighten everything": [Edit("trees", Task.BRIGHTEN)],
        "brighten the road": [Edit("trees", Task.BRIGHTEN)],
        "brighten everything except the car": [Edit("car", Task.BRIGHTEN)],
    })
    parser = C.CombinedParser(llm)
    assert plan_tuples(parser.parse("brighten everything")) == [("brighten", None, 1.0)]
    assert plan_tuples(parser.parse("brighten everything except the car")) == [("brighten", None, 1.0)]
    plan = parser.parse("brighten the road")
    assert plan_tuples(plan) == [("brighten", "road", 1.0)]
    assert plan.disagreements[0].field == "target" and plan.disagreements[0].chosen == "rules"
    # a gap (no target, no whole-image word) and a word the rules left unused
    from terf_studio.language.rules import RuleEdit, RuleReading

    reading = RuleReading([RuleEdit(Edit(None, Task.BRIGHTEN), "exact", False, "none")], "", "brighten ~ kiosk",
                          unused_words=["kiosk"])
    plan = C.combine(reading, reading.plan(), EditPlan(edits=(Edit("kiosk", Task.DARKEN),), parser="llm"))
    assert plan_tuples(plan) == [("brighten", "kiosk", 1.0)]
    assert {(d.field, d.chosen) for d in plan.disagreements} == {("task", "rules"), ("target", "llm")}


class TunedLlm(FixedLlm):
    """The same stand-in, marked as fine-tuned on reading edit requests (rule 3)."""

    fine_tuned = True


def test_a_fine_tuned_model_reads_complaints_the_rules_only_half_understand():
    text = "the cyclist is swallowed by the darkness"  # rules: darken (from "darkness"), 'swallowed' unexplained
    answers = {text: [Edit("cyclist", Task.INFRARED)], "brighten the trees": [Edit("trees", Task.DARKEN)],
               "the trees are too dark": [Edit("trees", Task.DARKEN)]}
    assert plan_tuples(C.CombinedParser(FixedLlm(answers)).parse(text)) == [("darken", "cyclist", 1.0)]
    plan = C.CombinedParser(TunedLlm(answers)).parse(text)
    assert plan_tuples(plan) == [("infrared", "cyclist", 1.0)]
    (d,) = plan.disagreements
    assert (d.field, d.rules, d.llm, d.chosen) == ("task", "darken", "infrared", "llm") and "'swallowed'" in d.reason
    assert plan_tuples(plan.readings["rules"]) == [("darken", "cyclist", 1.0)]
    # a task verb, or a complaint whose every word the rules explain, stays with the rules
    tuned = C.CombinedParser(TunedLlm(answers))
    assert plan_tuples(tuned.parse("brighten the trees")) == [("brighten", "trees", 1.0)]
    assert plan_tuples(tuned.parse("the trees are too dark")) == [("brighten", "trees", 1.0)]
    # the fallback policy asks the tuned model about such a complaint, and only then
    llm = TunedLlm(answers)
    fallback = C.CombinedParser(llm, policy="fallback")
    assert plan_tuples(fallback.parse(text)) == [("infrared", "cyclist", 1.0)] and llm.calls == 1
    fallback.parse("the trees are too dark")
    assert llm.calls == 1


def test_a_fine_tuned_model_reads_requests_with_no_task_word():
    text = "the floodlight is way too strong"  # no task word, no unexplained word but the target
    answers = {text: [Edit("floodlight", Task.DARKEN)], "hello": []}
    assert C.CombinedParser(FixedLlm(answers)).parse(text).edits == ()
    plan = C.CombinedParser(TunedLlm(answers)).parse(text)
    assert plan_tuples(plan) == [("darken", "floodlight", 1.0)] and plan.disagreements[0].chosen == "llm"
    assert C.CombinedParser(TunedLlm(answers)).parse("hello").edits == ()
    # the fallback policy asks a fine-tuned model whenever the rules find no edit, as rule 1 uses it
    llm = TunedLlm({"please": [Edit(None, Task.BRIGHTEN)]})
    assert plan_tuples(C.CombinedParser(llm, policy="fallback").parse("please")) == [("brighten", None, 1.0)]
    assert plan_tuples(C.CombinedParser(llm).parse("please")) == [("brighten", None, 1.0)]


@pytest.mark.parametrize("text, expected", [
    # what cannot be seen is what the infrared image shows
    ("the deer is practically invisible", [("infrared", "deer", 1.0)]),
    ("the soldiers are hardly visible", [("infrared", "soldiers", 1.0)]),
    ("the van is not visible enough", [("infrared", "van", 1.0)]),
    ("the kids disappear behind the hedge", [("infrared", "kids", 1.0)]),
    ("the rider is hard to spot", [("infrared", "rider", 1.0)]),
    ("the tractor is hidden", [("infrared", "tractor", 1.0)]),
    # what must not be seen or recognised is blurred
    ("the licence number must not be visible", [("blur", "licence number", 1.0)]),
    ("the child's face should not be recognisable", [("blur", "child's face", 1.0)]),
    ("the name badge is identifiable", [("blur", "name badge", 1.0)]),
    ("keep the address hidden", [("blur", "address", 1.0)]),
    # a verb of change ends the subject
    ("the hillside lost its colour", [("visible", "hillside", 1.0)]),
    ("the puppies vanish in the dark", [("infrared", "puppies", 1.0)]),
    # "looks like" + a quality noun is a complaint; after a wish it is the wish
    ("the bushes look like a thermal image", [("visible", "bushes", 1.0)]),
    ("make the bushes look like a thermal image", [("infrared", "bushes", 1.0)]),
    # a task verb after an article is a noun: a quality, or else a target word
    ("bring down the highlights on the shed", [("darken", "shed", 1.0)]),
    ("denoise the spotlight", [("denoise", "spotlight", 1.0)]),
    ("spotlight the deer", [("infrared", "deer", 1.0)]),
    # "is visible" says what is seen; the privacy clause says what to do
    ("the woman's badge is visible, that is a privacy issue", [("blur", "woman's badge", 1.0)]),
    # a quality noun said of the subject is a complaint; "its" before a noun is possessive
    ("the railings look thermal", [("visible", "railings", 1.0)]),
    ("the lighthouse lost its brightness", [("brighten", "lighthouse", 1.0)]),
    ("its too dark", [("brighten", None, 1.0)]),
    # a task verb after its subject describes ("the glare hides the driver"): not a request
    ("the floodlight glare hides the porch", [("darken", "floodlight", 1.0)]),
    # a scene word is not a typo of a task word ("sandy" is not "shady")
    ("the beach looks sandy and noisy", [("denoise", "beach", 1.0)]),
])
def test_rules_read_visibility_and_privacy_complaints(text, expected):
    assert plan_tuples(parse_rules(text)) == expected


def test_a_described_action_is_left_to_the_model():
    assert parse_rules("the statue stands out too much").edits == ()
    assert plan_tuples(parse_rules("highlights the statue")) == [("infrared", "statue", 1.0)]


def test_seeing_into_a_place_or_a_missing_object_is_left_to_the_model():
    # "can't see" wants light for a place and infrared for a person: the rules do not guess
    assert parse_rules("I can't see anything in the cellar").edits == ()
    assert parse_rules("where did the cyclist go?").edits == () and not analyse("where did the cyclist go?").question


@pytest.mark.parametrize("text", ["what colour is the car?", "which of these is the river?",
                                  "how many windows does the house have?", "is there a dog in the garden?"])
def test_a_question_about_the_image_is_no_edit_even_for_a_fine_tuned_model(text):
    reading = analyse(text)
    assert reading.edits == [] and reading.question and "question" in reading.message
    llm = TunedLlm({text: [Edit("car", Task.VISIBLE)]})
    plan = C.CombinedParser(llm).parse(text)
    assert plan.edits == () and llm.calls == 0
    # the arbitration says so too when both readings are at hand
    plan = C.combine(reading, reading.plan(), EditPlan(edits=(Edit("car", Task.VISIBLE),), text=text), True)
    assert plan.edits == () and plan.disagreements[0].reason == "the command asks a question about the image"
    # a task verb makes it a request ("what about brightening the trees?")
    assert plan_tuples(parse_rules("what about brightening the trees?")) == [("brighten", "trees", 1.0)]


def test_a_fine_tuned_model_that_finds_no_edit_leaves_the_rules_reading():
    text = "the cyclist is swallowed by the darkness"
    plan = C.CombinedParser(TunedLlm({})).parse(text)
    assert plan_tuples(plan) == [("darken", "cyclist", 1.0)]


def test_combined_agreement_has_no_disagreements():
    llm = FixedLlm({"blur the face": [Edit("the face", Task.BLUR)]})
    plan = C.CombinedParser(llm).parse("blur the face")
    assert plan.disagreements == () and plan_tuples(plan) == [("blur", "face", 1.0)]


def test_combined_fallback_policy_calls_llm_only_for_gaps():
    llm = FixedLlm({})
    parser = C.CombinedParser(llm, policy="fallback")
    parser.parse("brighten the trees")
    parser.parse("darken everything")
    assert llm.calls == 0
    parser.parse("make the sky moodier")
    assert llm.calls == 1
    parser.parse("brighten")  # nothing the LLM could add
    parser.parse("hello")
    assert llm.calls == 1


def test_normalise_target():
    assert C.normalise_target("The man on the LEFT") == "man on left"
    assert C.normalise_target("the") is None and C.normalise_target(None) is None


def test_parse_with_llm_none():
    plan = C.parse("remove the noise on the road", llm="none")
    assert plan.parser == "rules" and plan_tuples(plan) == [("denoise", "road", 1.0)]


def test_parse_with_missing_model_path_raises_model_error(tmp_path):
    with pytest.raises(ModelError):
        C.parse("blur the face", llm=str(tmp_path / "missing.gguf"))


# --------------------------------------------------------------------------
# command-line logic

def _args(add, argv):
    parser = argparse.ArgumentParser()
    add(parser)
    return parser.parse_args(argv)


def test_cli_parse_json():
    out = io.StringIO()
    args = _args(add_parse_arguments, ["brighten the trees and remove noise from the road", "--llm", "none", "--json"])
    assert run_parse(args, out) == 0
    data = json.loads(out.getvalue())
    assert data["edits"] == [
        {"target": "trees", "task": "brighten", "strength": 1.0},
        {"target": "road", "task": "denoise", "strength": 1.0},
    ]
    assert data["parser"] == "rules" and data["seconds"] >= 0


def test_cli_parse_batch_one_line_per_command(tmp_path):
    batch = tmp_path / "cmds.txt"
    batch.write_text("blur the face\n\nhello\n" + json.dumps({"text": "denoise road"}) + "\n")
    out = io.StringIO()
    assert run_parse(_args(add_parse_arguments, ["--batch", str(batch), "--llm", "none", "--json"]), out) == 0
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert len(lines) == 4
    assert lines[0]["edits"][0]["task"] == "blur"
    assert lines[1]["edits"] == [] and lines[2]["edits"] == [] and lines[2]["message"]
    assert lines[3]["edits"] == [{"target": "road", "task": "denoise", "strength": 1.0}]


def test_cli_parse_text_output_and_errors(tmp_path, capsys):
    out = io.StringIO()
    assert run_parse(_args(add_parse_arguments, ["darken the sky a bit", "--llm", "none"]), out) == 0
    assert "darken" in out.getvalue() and "sky" in out.getvalue() and "0.5" in out.getvalue()
    assert run_parse(_args(add_parse_arguments, ["--llm", "none"]), io.StringIO()) == 2
    args = _args(add_parse_arguments, ["--batch", str(tmp_path / "no.txt"), "--llm", "none"])
    assert run_parse(args, io.StringIO()) == 2
    assert run_parse(_args(add_parse_arguments, ["blur", "--llm", str(tmp_path / "no.gguf")]), io.StringIO()) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 3 and all(len(line) < 300 for line in err.splitlines())


def test_cli_bench_rules_only(tmp_path):
    out = io.StringIO()
    args = _args(add_bench_parse_arguments, ["--llm", "none", "--json", "--limit", "40", "--failures"])
    assert run_bench_parse(args, out) == 0
    result = json.loads(out.getvalue())
    rules = result["parsers"]["rules"]
    assert rules["commands"] == 40
    for key in ("task_accuracy", "target_accuracy", "exact_accuracy", "mean_seconds", "p95_seconds", "by_tag"):
        assert key in rules
    assert result["llm"] is None and result["llm_error"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": 1}\n')
    assert run_bench_parse(_args(add_bench_parse_arguments, ["--data", str(bad), "--llm", "none"]), io.StringIO()) == 2


def test_score_conventions():
    plan = EditPlan(edits=(Edit("The Trees", Task.BRIGHTEN, 0.5),))
    assert score(plan, [{"target": "trees", "task": "brighten", "strength": 0.5}]) == (True, True, True)
    assert score(plan, [{"target": "trees", "task": "brighten", "strength": 1.0}]) == (True, True, False)
    assert score(plan, [{"target": None, "task": "brighten"}]) == (True, False, False)
    assert score(EditPlan(), []) == (True, True, True)


def test_a_target_placed_more_closely_names_the_same_object():
    from terf_studio.bench.parse import same_target

    assert same_target("the boat on the water", "boat") and same_target("headlamp of the bike", "headlamp")
    assert same_target("The Man on the left", "man on left")
    assert not same_target("man", "man on the left")  # the place picks the object: dropping it is wrong
    assert not same_target("boat on", "boat")  # a placing word alone places nothing
    assert not same_target("boats", "boat") and not same_target("boat house", "boat")
    assert not same_target("reflection on the car hood", "car hood")
    assert not same_target("boat on the water", None) and same_target(None, None)
    plan = EditPlan(edits=(Edit("fox in the bushes", Task.INFRARED),))
    assert score(plan, [{"target": "fox", "task": "infrared"}]) == (True, True, True)
    assert score(plan, [{"target": "fox", "task": "infrared"}, {"target": None, "task": "blur"}])[1] is False


def test_terf_error_is_the_base_of_model_error():
    assert issubclass(ModelError, TerfError)


def test_combined_ignores_llm_edits_when_no_word_could_name_an_action():
    llm = FixedLlm({
        "hello": [Edit(None, Task.DARKEN)],
        "the trees": [Edit("trees", Task.BRIGHTEN)],
    })
    parser = C.CombinedParser(llm)
    for text in ("hello", "the trees"):
        plan = parser.parse(text)
        assert plan.edits == () and plan.message
        assert plan.disagreements[0].chosen == "rules"


def test_combined_does_not_take_a_vocabulary_phrase_as_target():
    llm = FixedLlm({
        "remove the sensor noise": [Edit("sensor noise", Task.DENOISE)],
        "lean towards the RGB image": [Edit("image", Task.VISIBLE)],
    })
    parser = C.CombinedParser(llm)
    assert plan_tuples(parser.parse("remove the sensor noise")) == [("denoise", None, 1.0)]
    assert plan_tuples(parser.parse("lean towards the RGB image")) == [("visible", None, 1.0)]


def test_in_the_image_alone_means_the_whole_image():
    reading = analyse("suppress the salt and pepper noise in the image")
    assert [(r.edit.target, r.whole) for r in reading.edits] == [(None, True)]
