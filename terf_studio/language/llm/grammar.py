"""The LLM parser's output language: schema, GBNF grammar, llama.cpp checks, validation.

Decoding is constrained by a grammar built from ``edit_plan.schema.json``
with llama.cpp's JSON-schema support; for each command the schema's target
is narrowed further to ``null`` or a phrase made of the command's own words.
Every token the decoder writes is first checked and then accepted by
llama.cpp's grammar sampler (``llama_sampler_init_grammar`` with the GBNF
that llama-cpp-python derives from the schema), so the output is always in
the grammar's language.  The answer is then validated against
:class:`~terf_studio.language.plan.Edit` by :func:`validate_output`.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import re
from collections.abc import Iterator
from typing import Any

from ...errors import ModelError
from ..plan import STRENGTH_LEVELS, TASK_NAMES, Edit, snap_strength
from ..targets import region_of

MAX_EDITS = 4

def command_schema(base: dict[str, Any], candidates: list[str]) -> dict[str, Any]:
    """``base`` with the target narrowed to ``candidates`` or null."""
    schema = json.loads(json.dumps(base))
    item = schema["properties"]["edits"]["items"]
    if candidates:
        item["properties"]["target"] = {"enum": [*candidates, None]}
    else:
        item["properties"]["target"] = {"type": "null"}
    return schema


def command_grammar(base: dict[str, Any], candidates: list[str]) -> str:
    """GBNF for one command's plan, from the schema, allowing one leading space."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    gbnf = json_schema_to_gbnf(json.dumps(command_schema(base, candidates)))
    gbnf, n = re.subn(r"^root ::=", "plan ::=", gbnf, count=1, flags=re.MULTILINE)
    if n != 1:  # pragma: no cover - depends on llama-cpp-python's converter
        raise ModelError("llama-cpp-python's JSON-schema converter gave an unexpected grammar")
    return gbnf + '\nroot ::= " "? plan\n'


@contextlib.contextmanager
def grammar_sampler(lib: Any, vocab: Any, gbnf: str) -> Iterator[Any]:
    """A llama.cpp sampler for the grammar ``gbnf``, freed on the way out.

    ``lib`` is the ``llama_cpp`` module, ``vocab`` the model's vocabulary
    handle.
    """
    sampler = lib.llama_sampler_init_grammar(vocab, gbnf.encode("utf-8"), b"root")
    if not sampler:
        raise ModelError("llama.cpp could not compile the LLM parser's grammar.")
    try:
        yield sampler
    finally:
        lib.llama_sampler_free(sampler)


def grammar_mask(lib: Any, sampler: Any, ids: Any, logits: Any) -> Any:
    """Which of the token ``ids`` the grammar allows next (llama.cpp's check).

    The sampler sets the logit of every token it rejects to -inf; the
    returned boolean array marks the others.
    """
    import numpy as np

    # llama.cpp's ``llama_token_data`` as a numpy record
    token_data = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)], align=True)
    buf = np.zeros(len(ids), dtype=token_data)
    buf["id"] = ids
    buf["logit"] = logits[ids]
    array = lib.llama_token_data_array(
        data=buf.ctypes.data_as(ctypes.POINTER(lib.llama_token_data)),
        size=len(ids),
        selected=-1,
        sorted=False,
    )
    lib.llama_sampler_apply(sampler, ctypes.byref(array))
    return np.isfinite(buf["logit"])


def complete_json(text: str) -> bool:
    """True when ``text`` parses as JSON."""
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _edit_from(item: Any, allowed: set[str], text: str) -> Edit:
    """One edit of a model answer; ValueError names what is wrong with it."""
    if not isinstance(item, dict) or item.get("task") not in TASK_NAMES:
        raise ValueError("unknown task")
    target = item.get("target")
    if target is not None and target not in allowed:
        raise ValueError(f"target {target!r} is not in the command")
    strength = item.get("strength", 1.0)
    if not isinstance(strength, (int, float)) or isinstance(strength, bool):
        raise ValueError("strength is not a number")
    strength = snap_strength(float(strength)) if strength not in STRENGTH_LEVELS else float(strength)
    return Edit(target=region_of(target), task=item["task"], strength=strength, text=text)


def validate_output(raw: str, candidates: list[str], text: str = "") -> tuple[list[Edit], str]:
    """Check a model answer against the plan's types.

    Returns the valid edits and a message naming what was dropped (empty
    when everything was valid).
    """
    try:
        data = json.loads(raw)
    except ValueError:
        return [], "The language model's answer was not valid JSON; no edit taken from it."
    if not isinstance(data, dict) or not isinstance(data.get("edits"), list):
        return [], "The language model's answer had no list of edits."
    edits: list[Edit] = []
    dropped: list[str] = []
    allowed = set(candidates)
    for item in data["edits"][:MAX_EDITS]:
        try:
            edits.append(_edit_from(item, allowed, text))
        except ValueError as exc:
            dropped.append(str(exc))
    message = ""
    if dropped:
        message = "Dropped invalid model output: " + "; ".join(dropped) + "."
    return edits, message
