"""The parser fine-tuning tool's pure parts (the training itself needs the llm-train extra)."""

from __future__ import annotations

import json

import pytest

from terf_studio.errors import ModelError
from terf_studio.language.llm.prompt import PromptSet, command_text
from terf_studio.language.training.lora import (
    Example,
    _plain_config,
    answer_text,
    encode,
    finetuned_prompt,
    padded,
    plan_steps,
)


def test_the_finetuned_prompt_is_the_command_alone():
    prompts = PromptSet.load()
    short = prompts.for_adapter()
    assert short.examples == () and short.schema == prompts.schema and short.header == ""
    text = finetuned_prompt("Please   brighten the TREES!")
    assert text == short.completion_prompt(command_text("Please   brighten the TREES!"))
    assert text == "Command: please brighten the trees!\nPlan:"
    assert len(prompts.completion_prompt("x")) > 5 * len(short.completion_prompt("x"))  # the examples are gone


def test_answers_are_written_in_the_decoders_layout():
    edits = [{"target": "trees", "task": "brighten", "strength": 0.5}]
    answer = answer_text("brighten the trees a bit", edits)
    assert answer == ' {"edits": [{"task": "brighten", "target": "trees", "strength": 0.5}]}'
    assert answer_text("hello there", []) == ' {"edits": []}'
    # the sets drop articles in targets; the plan names the command's own phrase
    steps = plan_steps("the car on the left is invisible", [{"target": "car on left", "task": "infrared",
                                                              "strength": 1.0}])
    assert ' "car on the left", "strength":' in [taken for _, taken in steps]
    with pytest.raises(ValueError, match="not an option"):
        plan_steps("brighten the trees", [{"target": "sky", "task": "brighten", "strength": 1.0}])


class _CharTokenizer:
    """One token per character (ids = code points), BOS = 1: enough to check the bookkeeping."""

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": ([1] if add_special_tokens else []) + [ord(c) for c in text]}


def test_choice_points_name_the_token_the_plan_takes_next():
    edits = [{"target": "trees", "task": "brighten", "strength": 0.5},
             {"target": None, "task": "denoise", "strength": 1.0}]
    example = encode(_CharTokenizer(), "brighten the trees a bit and denoise", edits)
    prompt = finetuned_prompt("brighten the trees a bit and denoise")
    text = "".join(chr(i) for i in example.ids[1:])
    assert text == prompt + answer_text("brighten the trees a bit and denoise", edits)
    assert example.points
    for i, options, right in example.points:
        assert example.ids[i + 1] == options[right] and len(set(options)) == len(options) > 1
    # one point per choice at least: edit or none, 3 fields, end or more, for each of 2 edits
    assert len(example.points) >= 1 + 2 * 4
    # "brighten" and "blur" share the first letter: the task choice is made at the second one
    chosen = [(chr(options[right]), "".join(chr(i) for i in example.ids[i - 2:i + 1])) for i, options, right in
              example.points]
    assert ("r", ' "b') in chosen


def test_padding_on_the_right_keeps_the_choice_points_in_place():
    a, b = Example([1, 2, 3], [(1, [3, 4], 0)]), Example([1, 2, 3, 4, 5], [(3, [5, 6], 0)])
    ids, mask = padded([a, b], pad=0)
    assert ids == [[1, 2, 3, 0, 0], [1, 2, 3, 4, 5]] and mask == [[1, 1, 1, 0, 0], [1] * 5]


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


def test_a_corrupt_adapter_is_a_clear_error_not_a_crash(tmp_path):
    pytest.importorskip("llama_cpp")
    import subprocess
    import sys

    from terf_studio.language.llm.loading import default_model_available

    if not default_model_available():
        pytest.skip("the default LLM is not installed")
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + bytes(range(256)) * 40)  # the right magic, then garbage
    # in a child process: llama-cpp-python alone would go on with llama.cpp's NULL adapter and crash
    done = subprocess.run([sys.executable, "-m", "terf_studio", "parse", "--llm-adapter", str(bad), "brighten it"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr[-500:]
    assert "Could not load the LLM adapter" in done.stderr and "Traceback" not in done.stderr


def test_choice_points_are_scored_over_the_option_rows_only():
    import torch

    from terf_studio.language.training.lora import choice_loss, option_scores

    head = torch.eye(5)  # token t's row is the unit vector t: a state scores each token by its entry
    hidden = torch.tensor([[[0.0, 0.0, 3.0, 1.0, 0.0]]])
    assert option_scores(torch, hidden[0, 0], head, [3, 2]).tolist() == [1.0, 3.0]
    right = choice_loss(torch, hidden, head, [Example([0], [(0, [3, 2], 1)])], None)
    wrong = choice_loss(torch, hidden, head, [Example([0], [(0, [3, 2], 0)])], None)
    assert float(right) < float(wrong)
    capped = option_scores(torch, hidden[0, 0], head, [2], softcap=1.0)
    assert abs(float(capped[0]) - float(torch.tanh(torch.tensor(3.0)))) < 1e-6


def test_the_best_save_is_kept_and_a_resumed_run_compares_with_it(tmp_path):
    from terf_studio.language.training.lora import BestSave

    saved: list[int] = []

    def save_at(step: int):
        def save(folder):
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "adapter.txt").write_text(str(step))
            saved.append(step)
        return save

    best = BestSave(tmp_path / "best", resume=False)
    assert not best.offer(100, {}, save_at(100))  # no validation at this save
    assert best.offer(200, {"choices": 0.9, "plans": 0.70}, save_at(200))
    assert not best.offer(300, {"choices": 0.9, "plans": 0.70}, save_at(300))  # a tie keeps the earlier one
    assert best.offer(400, {"choices": 0.9, "plans": 0.78}, save_at(400))
    assert not best.offer(500, {"choices": 0.9, "plans": 0.74}, save_at(500))
    assert saved == [200, 400] and (tmp_path / "best" / "adapter.txt").read_text() == "400"
    assert json.loads((tmp_path / "best" / "score.json").read_text())["step"] == 400

    resumed = BestSave(tmp_path / "best", resume=True)
    assert resumed.plans == 0.78 and not resumed.offer(600, {"plans": 0.77}, save_at(600))
    assert BestSave(tmp_path / "best", resume=False).plans == -1.0  # a new run starts afresh
