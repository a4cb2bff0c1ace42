"""The parser fine-tuning tool's pure parts (the training itself needs the llm-train extra)."""

from __future__ import annotations

import json

import pytest

from terf_studio.errors import ModelError
from terf_studio.language.llm.prompt import PromptSet, command_text
from terf_studio.language.training.lora import _plain_config, answer_text, finetuned_prompt


def test_the_finetuned_prompt_is_the_parsers_prompt_without_examples():
    prompts = PromptSet.load()
    short = prompts.without_examples()
    assert short.examples == () and short.schema == prompts.schema and short.header == prompts.header
    text = finetuned_prompt("Please   brighten the TREES!")
    assert text == short.completion_prompt(command_text("Please   brighten the TREES!"))
    assert text.endswith("\nPlan:") and "  " not in text
    assert text.startswith(prompts.header) and "Command: " in text and len(text) < 400
    assert len(prompts.completion_prompt("x")) > 5 * len(short.completion_prompt("x"))  # the examples are gone


def test_answers_follow_the_schema_field_order():
    answer = answer_text([{"target": "trees", "task": "brighten", "strength": 0.5}])
    assert answer == ' {"edits": [{"task": "brighten", "target": "trees", "strength": 0.5}]}\n'
    assert answer_text([]) == ' {"edits": []}\n'


def test_the_saved_base_config_loses_its_gguf_quantisation_note(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "gemma3_text", "quantization_config": {"quant_method": "gguf"}}))
    _plain_config(path)
    assert json.loads(path.read_text()) == {"model_type": "gemma3_text"}


def test_a_missing_adapter_is_a_model_error(tmp_path):
    pytest.importorskip("llama_cpp")
    from terf_studio.language.llm.loading import default_model_available, default_model_path
    from terf_studio.language.llm.parser import LlmParser

    if not default_model_available():
        pytest.skip("the default LLM is not installed")
    with pytest.raises(ModelError, match="adapter file not found"):
        LlmParser(default_model_path(), adapter=tmp_path / "nope.gguf")


def test_left_padding_puts_every_answer_in_the_kept_positions():
    from terf_studio.language.training.lora import left_padded

    batch = [([5, 6, 7, 8], [-100, -100, 7, 8]), ([1, 2, 3, 4, 9, 9], [-100, -100, -100, 4, 9, 9])]
    ids, mask, labels, keep = left_padded(batch, pad=0)
    assert ids == [[0, 0, 5, 6, 7, 8], [1, 2, 3, 4, 9, 9]] and mask[0] == [0, 0, 1, 1, 1, 1]
    assert keep == 4  # the longest answer (3 tokens) and the position before it
    for row in labels:  # what the kept logits are scored against holds every answer token
        assert sorted(v for v in row[-keep + 1:] if v != -100) == sorted(v for v in row if v != -100)
