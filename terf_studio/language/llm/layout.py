"""The fixed layout a plan is written in, as a sequence of choices.

A plan is written as ``json.dumps`` would write it, its edit fields in the
schema's order, so most of its text is known in advance; only a few points
are real choices (is there an edit, which task, which target, which
strength, is there another edit).  Each choice is a list of option strings,
each option holding the chosen value and the known text up to the next
choice.  :class:`~.decoder.Decoder` asks the model at these points, and the
adapter's training (:mod:`terf_studio.language.training.lora`) teaches the
model exactly these choices: both take the options from here, so what is
trained is what is decoded.  No llama.cpp or torch here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..plan import STRENGTH_LEVELS, TASK_NAMES
from .grammar import MAX_EDITS


def field_values(candidates: Sequence[str]) -> dict[str, list[str]]:
    """Each edit field's possible values, as JSON (the target: null or a phrase of the command)."""
    return {
        "task": [json.dumps(t) for t in TASK_NAMES],
        "target": ["null"] + [json.dumps(c) for c in candidates],
        "strength": [json.dumps(float(v)) for v in STRENGTH_LEVELS],
    }


def check_order(order: Sequence[str]) -> None:
    """ValueError unless ``order`` names exactly the fields the layout knows."""
    if sorted(order) != sorted(field_values([])):
        raise ValueError(f"unexpected schema fields: {list(order)}")


def _first_key(order: Sequence[str]) -> str:
    return f'{{"{order[0]}":'


def opening_options(order: Sequence[str]) -> list[str]:
    """The first choice: an edit starts with its first key, or no edit closes the list.

    Choice points sit where the tokenizer splits anyway: a value keeps its
    leading space (``' "trees"'``, ``' null'``)."""
    return [f' {{"edits": [{_first_key(order)}', ' {"edits": []}']


def field_options(order: Sequence[str], k: int, values: Mapping[str, list[str]]) -> list[str]:
    """The choice of the ``k``-th field's value, followed by the next field's key."""
    tail = f', "{order[k + 1]}":' if k + 1 < len(order) else ""
    return [" " + v + tail for v in values[order[k]]]


def closing_options(order: Sequence[str], edits_written: int) -> list[str]:
    """After an edit: close the plan, or (below :data:`MAX_EDITS`) start another edit."""
    return ["}]}"] + ([f"}}, {_first_key(order)}"] if edits_written < MAX_EDITS else [])


def opens_an_edit(option: str) -> bool:
    """Whether the option just taken starts an edit (ends with its first key)."""
    return option.endswith(":")


def _value_json(field: str, value: Any) -> str:
    if field == "strength":
        return json.dumps(float(value))
    return "null" if value is None else json.dumps(value)


def plan_choices(edits: Sequence[Mapping[str, Any]], candidates: Sequence[str],
                 order: Sequence[str]) -> list[tuple[list[str], str]]:
    """The choices (options, the one taken) that write ``edits`` in the layout.

    ``edits`` are ``{"task", "target", "strength"}`` mappings. ValueError when
    the plan cannot be written: too many edits, or a value (a target not among
    the command's ``candidates``, say) that is not an option.
    """
    check_order(order)
    if len(edits) > MAX_EDITS:
        raise ValueError(f"more than {MAX_EDITS} edits")
    values = field_values(candidates)
    opening = opening_options(order)
    steps: list[tuple[list[str], str]] = [(opening, opening[0] if edits else opening[1])]
    for n, edit in enumerate(edits, start=1):
        for k, field in enumerate(order):
            options = field_options(order, k, values)
            value = _value_json(field, edit.get(field))
            taken = field_options(order, k, {field: [value]})[0]
            if taken not in options:
                raise ValueError(f"{field} {value} is not an option")
            steps.append((options, taken))
        closing = closing_options(order, n)
        steps.append((closing, closing[1] if n < len(edits) else closing[0]))
    return steps


def plan_text(steps: Sequence[tuple[list[str], str]]) -> str:
    """The text the choices write (the plan's JSON with its leading space)."""
    return "".join(taken for _, taken in steps)


def divergences(options: Mapping[str, Sequence[int]], taken: str) -> list[tuple[int, list[int]]]:
    """Where, writing option ``taken`` token by token, the options' next tokens differ.

    ``options`` maps each option to its tokens.  Returns ``(i, next_tokens)``
    for each such point: ``i`` indexes ``taken``'s tokens, ``next_tokens`` are
    the distinct next tokens of the options still alive there (the decoder
    compares the model's scores for exactly these).  ValueError when one
    option is a prefix of another along the way (the decoder cannot choose
    then).
    """
    seq = list(options[taken])
    alive = [o for o, toks in options.items() if toks]
    points: list[tuple[int, list[int]]] = []
    pos = 0
    while len(alive) > 1:
        if any(pos >= len(options[o]) for o in alive):
            raise ValueError("one option is a prefix of another")
        nexts = sorted({options[o][pos] for o in alive})
        if len(nexts) > 1:
            points.append((pos, nexts))
        alive = [o for o in alive if options[o][pos] == seq[pos]]
        pos += 1
    return points
