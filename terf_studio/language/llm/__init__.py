"""LLM parser: a local GGUF model through llama-cpp-python (paper eq. 1).

The default model runs with its fine-tuned adapter (``models/parser-lora.gguf``)
and reads only ``Command: TEXT`` and ``Plan:``; other models read a header and a few
worked examples (kept in ``resources/parser/``, not in code).  Either writes
the plan as JSON.  Decoding
is constrained by a grammar built from ``edit_plan.schema.json``; for each
command the schema's target is narrowed further to ``null`` or a phrase made
of the command's own words, so a small model cannot invent a target.  The
result is then validated against :class:`~terf_studio.language.plan.Edit`.

Modules:

* :mod:`.prompt` - the prompt files and the command's target phrases;
* :mod:`.grammar` - schema, GBNF, llama.cpp's grammar checks, validation;
* :mod:`.layout` - the fixed layout a plan is written in, as choices
  (shared by the decoder and the adapter's training);
* :mod:`.decoder` - grammar-checked decoding (layout-driven and greedy);
* :mod:`.loading` - the default model (Gemma 3 270M), llama-cpp-python,
  instruction-tuned detection, threads;
* :mod:`.parser` - :class:`LlmParser` and the cache of loaded parsers.

Everything public is importable from here.
"""

from __future__ import annotations

from .decoder import N_CTX
from .grammar import MAX_EDITS, command_grammar, command_schema, validate_output
from .loading import (
    DEFAULT_MODEL_FILE,
    DEFAULT_MODEL_NAME,
    GEMMA_MODULE,
    GEMMA_PACKAGE,
    default_model_available,
    default_model_path,
    default_threads,
    is_instruction_tuned,
    llama_cpp_available,
    resolve_model_path,
)
from .parser import LlmParser, get_llm_parser, load_llm_parser_async
from .prompt import MAX_TARGET_WORDS, PromptSet, command_text, resources_dir, target_candidates

__all__ = [
    "DEFAULT_MODEL_FILE",
    "DEFAULT_MODEL_NAME",
    "GEMMA_MODULE",
    "GEMMA_PACKAGE",
    "MAX_EDITS",
    "MAX_TARGET_WORDS",
    "N_CTX",
    "LlmParser",
    "PromptSet",
    "command_grammar",
    "command_schema",
    "command_text",
    "default_model_available",
    "default_model_path",
    "default_threads",
    "get_llm_parser",
    "is_instruction_tuned",
    "llama_cpp_available",
    "load_llm_parser_async",
    "resolve_model_path",
    "resources_dir",
    "target_candidates",
    "validate_output",
]
