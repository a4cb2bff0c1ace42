"""The generated command set for fine-tuning the parser's language model."""

from __future__ import annotations

import json

from terf_studio.language import Edit
from terf_studio.language.training.commands import HELDOUT_TARGETS, QUALITIES, _split, generate, main, typo


def test_items_are_distinct_valid_plans_in_both_voices():
    items = list(generate(2000, seed=1))
    assert len(items) == 2000 and len({i["text"] for i in items}) == 2000
    for item in items:
        edits = [Edit.from_dict(e) for e in item["edits"]]  # every plan is a valid plan
        assert len(edits) <= 3
        for e in item["edits"]:
            if e["target"] is not None and "typo" not in item["tags"]:
                assert e["target"] in item["text"].lower()  # the target is the command's own words
    tags = {t for i in items for t in i["tags"]}
    assert {"direct", "indirect", "multi", "no-edit", "whole", "strength", "polite", "typo"} <= tags
    share = sum("indirect" in i["tags"] for i in items) / len(items)
    assert 0.3 < share < 0.7
    assert {e["task"] for i in items for e in i["edits"]} == {"brighten", "darken", "denoise", "blur", "infrared",
                                                              "visible"}


def test_the_heldout_part_shares_no_sentence_and_no_heldout_target_with_training():
    train = list(generate(3000))
    heldout = list(generate(300, part="heldout"))
    assert not {i["text"] for i in train} & {i["text"] for i in heldout}
    train_targets = {e["target"].split()[-1] for i in train for e in i["edits"] if e["target"]}
    assert not train_targets & HELDOUT_TARGETS
    assert list(generate(50, seed=3)) == list(generate(50, seed=3))  # reproducible


def test_typos_leave_the_targets_alone_and_the_writer(tmp_path):
    import random

    rng = random.Random(0)
    for _ in range(50):
        out = typo(rng, "please brighten the parked truck", ["parked truck"])
        assert out.endswith("parked truck") and out != "please brighten the parked truck"
    assert main(["--count", "20", "--part", "heldout", "-o", str(tmp_path / "h.jsonl")]) == 0
    lines = (tmp_path / "h.jsonl").read_text().splitlines()
    assert len(lines) == 20 and all("edits" in json.loads(line) for line in lines)


def test_quality_complaints_keep_their_heldout_words_out_of_training():
    """Complaints built from a quality word: a held-out quality word never reaches training."""
    train = [i for i in generate(3000) if "quality" in i["tags"]]
    heldout = [i for i in generate(600, part="heldout") if "quality" in i["tags"]]
    assert len(train) > 300 and len(heldout) > 50
    for task, words in QUALITIES.items():
        seen = _split(words, heldout=False)
        # held-out words that are not also inside a training word ("lost" in "lost in the shadows")
        unseen = [w for w in _split(words, heldout=True) if not any(w in s for s in seen)]
        texts = [f" {i['text'].lower()} " for i in train if [e["task"] for e in i["edits"]] == [task]]
        assert texts and not [t for t in texts for w in unseen if f" {w} " in t or f" {w}," in t]
        assert any(f" {w}" in f" {i['text'].lower()}" for i in heldout for w in unseen)
    assert any(e["target"] is None for i in train for e in i["edits"])  # whole-image complaints too
