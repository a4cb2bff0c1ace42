"""The edit plan: what a typed command asks the editor to do.

A command such as "brighten the trees a bit and remove the noise on the road"
becomes an :class:`EditPlan` holding ordered :class:`Edit` objects::

    Edit(target="trees", task=Task.BRIGHTEN, strength=0.5)
    Edit(target="road", task=Task.DENOISE, strength=1.0)

``target`` is the noun phrase handed to the region finder (GroundingDINO + SAM
in the paper, eq. 3); ``None`` means the whole image.  ``task`` selects the
fine-tuning paradigm (eq. 4).  ``strength`` scales the effect; 1.0 is the
normal step, and repeating an edit continues from the previous state.

Strength words (matched as whole words or phrases; when a command holds
several, the one furthest from 1.0 wins):

=========  ================================================================
strength   words
=========  ================================================================
0.25       very slightly, a tiny bit, a touch, just a touch, a hint, barely,
           a little tiny bit, ever so slightly
0.5        slightly, a bit, a little, a little bit, somewhat, mildly, gently,
           subtly, lightly, a tad, marginally, softly, less (when it does not
           qualify a task word: "brighten the road less")
1.0        (default) plain commands and plain comparatives: "brighter",
           "more infrared", "lean towards thermal"
1.5        more / even more (when it does not qualify a task word:
           "brighten the trees more"), noticeably, quite, further, clearly,
           considerably, moderately
2.0        much, much more, a lot, a lot more, lots, far / way (before "too",
           "more" or a task word: "way too dark"), very, really,
           strongly, significantly, greatly, heavily, substantially,
           dramatically, hugely, massively, extremely, a great deal,
           completely, fully, totally, entirely, thoroughly, as much as
           possible, max, maximum
=========  ================================================================
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Task(str, Enum):
    """The fine-tuning task of one edit (paper section 2.4)."""

    INFRARED = "infrared"  # lean towards the infrared image (salient targets)
    VISIBLE = "visible"  # lean towards the visible image (texture, colour)
    BRIGHTEN = "brighten"
    DARKEN = "darken"
    DENOISE = "denoise"
    BLUR = "blur"  # redaction

    def __str__(self) -> str:  # "brighten", not "Task.BRIGHTEN"
        return self.value


TASK_NAMES: tuple[str, ...] = tuple(t.value for t in Task)

#: Strength levels a parser may produce.
STRENGTH_LEVELS: tuple[float, ...] = (0.25, 0.5, 1.0, 1.5, 2.0)
DEFAULT_STRENGTH = 1.0
MAX_STRENGTH = 4.0

#: Strength words and phrases (lower case, single spaces) -> strength.
STRENGTH_WORDS: dict[str, float] = {}
for _value, _words in (
    (0.25, "very slightly|a tiny bit|a touch|just a touch|a hint|barely|"
           "a little tiny bit|ever so slightly|just a tiny bit|a teeny bit|"
           "very little|a very little"),
    (0.5, "slightly|a bit|a little|a little bit|somewhat|mildly|gently|subtly|"
          "lightly|a tad|marginally|softly|a smidge|abit|kind of|sort of"),
    (1.5, "even more|noticeably|quite|further|clearly|considerably|moderately|"
          "a fair bit|a good bit|visibly"),
    (2.0, "much|much more|a lot|a lot more|lots|lots more|far more|"
          "way more|very|really|strongly|significantly|greatly|heavily|"
          "substantially|dramatically|hugely|massively|extremely|"
          "a great deal|completely|fully|totally|entirely|thoroughly|"
          "as much as possible|max|maximum|alot|alot more|loads|intensely|"
          "seriously|aggressively|super"),
):
    for _w in _words.split("|"):
        STRENGTH_WORDS[_w] = _value
del _value, _words, _w


def snap_strength(value: float) -> float:
    """Return the nearest of :data:`STRENGTH_LEVELS` (for model outputs)."""
    return min(STRENGTH_LEVELS, key=lambda level: abs(level - value))


def _normalise_target(target: Any) -> str | None:
    if target is None:
        return None
    if not isinstance(target, str):
        raise ValueError(f"target must be text or null, not {type(target).__name__}")
    cleaned = " ".join(target.split())
    return cleaned or None


@dataclass(frozen=True)
class Edit:
    """One region edit: apply ``task`` with ``strength`` to ``target``.

    ``target`` None means the whole image.  ``text`` is the part of the
    command this edit came from (for display; not compared).
    """

    target: str | None
    task: Task
    strength: float = DEFAULT_STRENGTH
    text: str = ""

    def __post_init__(self) -> None:
        try:
            task = Task(self.task)
        except ValueError:
            raise ValueError(
                f"unknown task {self.task!r}; expected one of {', '.join(TASK_NAMES)}"
            ) from None
        object.__setattr__(self, "task", task)
        object.__setattr__(self, "target", _normalise_target(self.target))
        if isinstance(self.strength, bool) or not isinstance(self.strength, (int, float)):
            raise ValueError(f"strength must be a number, not {self.strength!r}")
        strength = float(self.strength)
        if not math.isfinite(strength) or not 0.0 < strength <= MAX_STRENGTH:
            raise ValueError(f"strength must be in (0, {MAX_STRENGTH}], got {self.strength!r}")
        object.__setattr__(self, "strength", strength)
        if not isinstance(self.text, str):
            raise ValueError("text must be a string")

    def to_dict(self, with_text: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "target": self.target,
            "task": self.task.value,
            "strength": self.strength,
        }
        if with_text and self.text:
            out["text"] = self.text
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Edit":
        if not isinstance(data, Mapping):
            raise ValueError("an edit must be a JSON object")
        unknown = set(data) - {"target", "task", "strength", "text"}
        if unknown:
            raise ValueError(f"unknown edit field(s): {', '.join(sorted(unknown))}")
        if "task" not in data:
            raise ValueError("an edit needs a task")
        return cls(
            target=data.get("target"),
            task=data["task"],
            strength=data.get("strength", DEFAULT_STRENGTH),
            text=data.get("text", ""),
        )


@dataclass(frozen=True)
class Disagreement:
    """Where two parsers read one edit differently, and what was chosen."""

    index: int  # position of the edit in the final plan
    field: str  # "task", "target" or "edits" (the number of edits)
    rules: Any
    llm: Any
    chosen: str  # "rules" or "llm"
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "field": self.field,
            "rules": self.rules,
            "llm": self.llm,
            "chosen": self.chosen,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Disagreement":
        return cls(
            index=int(data["index"]),
            field=str(data["field"]),
            rules=data.get("rules"),
            llm=data.get("llm"),
            chosen=str(data["chosen"]),
            reason=str(data.get("reason", "")),
        )


class ActionName(str, Enum):
    """An action on the editor's history that a command can ask for (:mod:`.actions` reads them)."""

    UNDO = "undo"
    REDO = "redo"
    AGAIN = "again"  # apply the latest step once more, with its regions
    STRONGER = "stronger"
    WEAKER = "weaker"

    def __str__(self) -> str:
        return self.value


#: How many times an undo, redo or repeat may be asked for in one command.
MAX_TIMES = 20


@dataclass(frozen=True)
class EditorAction:
    """An action on the editor's history. ``times`` counts undo/redo/again; ``factor`` (> 1) is
    what stronger multiplies and weaker divides the latest step's strength by."""

    name: ActionName
    times: int = 1
    factor: float = 1.5

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", ActionName(self.name))
        if isinstance(self.times, bool) or not isinstance(self.times, int) or not 1 <= self.times <= MAX_TIMES:
            raise ValueError(f"times must be an integer from 1 to {MAX_TIMES}, got {self.times!r}")
        if isinstance(self.factor, bool) or not isinstance(self.factor, (int, float)) or not 1.0 < self.factor <= 4.0:
            raise ValueError(f"factor must be a number in (1, 4], got {self.factor!r}")
        object.__setattr__(self, "factor", float(self.factor))

    def describe(self) -> str:
        """What the editor will do, for the plan panel and the command line."""
        if self.name in (ActionName.STRONGER, ActionName.WEAKER):
            how = "x" if self.name is ActionName.STRONGER else "/"
            return f"make the latest step {self.name.value} (strength {how}{self.factor:g})"
        what = {ActionName.UNDO: "undo the latest step", ActionName.REDO: "redo the step undone last",
                ActionName.AGAIN: "apply the latest step again"}[self.name]
        return what + (f", {self.times} times" if self.times > 1 else "")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name.value}
        if self.name in (ActionName.STRONGER, ActionName.WEAKER):
            out["factor"] = self.factor
        else:
            out["times"] = self.times
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EditorAction:
        if not isinstance(data, Mapping):
            raise ValueError("an editor action must be a JSON object")
        unknown = set(data) - {"name", "times", "factor"}
        if unknown:
            raise ValueError(f"unknown action field(s): {', '.join(sorted(unknown))}")
        try:
            name = ActionName(data.get("name"))
        except ValueError:
            raise ValueError(f"unknown editor action {data.get('name')!r}; expected one of "
                             f"{', '.join(a.value for a in ActionName)}") from None
        return cls(name, data.get("times", 1), data.get("factor", 1.5))


@dataclass(frozen=True)
class EditPlan:
    """The ordered edits one command asks for.

    ``parser`` names who produced it ("rules", "llm", "rules+llm");
    ``seconds`` is the parse time.  ``message`` says what was not
    understood (empty when everything was).  A combined parse keeps every
    parser's reading in ``readings`` and lists ``disagreements`` for the UI.
    """

    edits: tuple[Edit, ...] = ()
    text: str = ""
    parser: str = "rules"
    seconds: float = 0.0
    message: str = ""
    readings: Mapping[str, "EditPlan"] = field(default_factory=dict)
    disagreements: tuple[Disagreement, ...] = ()
    #: an action on the editor's history ("undo that", "again", "stronger") instead of edits
    action: EditorAction | None = None

    def __post_init__(self) -> None:
        edits = tuple(self.edits)
        for edit in edits:
            if not isinstance(edit, Edit):
                raise TypeError("EditPlan.edits must hold Edit objects")
        object.__setattr__(self, "edits", edits)
        object.__setattr__(self, "disagreements", tuple(self.disagreements))
        object.__setattr__(self, "readings", dict(self.readings))
        if self.action is not None and not isinstance(self.action, EditorAction):
            raise TypeError("EditPlan.action must be an EditorAction or None")
        if self.action is not None and edits:
            raise ValueError("a plan holds edits or an editor action, not both")

    def __len__(self) -> int:
        return len(self.edits)

    def __iter__(self) -> Iterator[Edit]:
        return iter(self.edits)

    @property
    def empty(self) -> bool:
        return not self.edits

    def to_dict(self, compact: bool = False) -> dict[str, Any]:
        """JSON-ready dict.

        ``compact`` gives the command-line form: edits as target/task/strength,
        plus ``message`` and ``disagreements`` only when present.
        """
        out: dict[str, Any] = {
            "edits": [e.to_dict(with_text=not compact) for e in self.edits],
            "parser": self.parser,
            "seconds": round(self.seconds, 4),
        }
        if not compact:
            out["text"] = self.text
        if self.action is not None:
            out["action"] = self.action.to_dict()
        if self.message:
            out["message"] = self.message
        if self.disagreements:
            out["disagreements"] = [d.to_dict() for d in self.disagreements]
        if self.readings and not compact:
            out["readings"] = {
                name: plan.to_dict(compact=True) for name, plan in self.readings.items()
            }
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "EditPlan":
        """The plan a JSON object describes; ValueError for anything else."""
        try:
            return cls._from_dict(data)
        except (KeyError, TypeError, AttributeError, OverflowError, RecursionError) as exc:
            raise ValueError(f"not an edit plan ({type(exc).__name__}: {exc})") from None

    @classmethod
    def _from_dict(cls, data: Mapping[str, Any]) -> "EditPlan":
        if not isinstance(data, Mapping):
            raise ValueError("an edit plan must be a JSON object")
        edits = data.get("edits", [])
        if not isinstance(edits, list):
            raise ValueError("'edits' must be a list")
        readings = {
            str(name): cls._from_dict(plan) for name, plan in (data.get("readings") or {}).items()
        }
        action = data.get("action")
        return cls(
            edits=tuple(Edit.from_dict(e) for e in edits),
            text=str(data.get("text", "")),
            parser=str(data.get("parser", "rules")),
            seconds=float(data.get("seconds", 0.0)),
            message=str(data.get("message", "")),
            readings=readings,
            disagreements=tuple(
                Disagreement.from_dict(d) for d in data.get("disagreements", [])
            ),
            action=None if action is None else EditorAction.from_dict(action),
        )

    def with_timing(self, seconds: float, parser: str | None = None) -> "EditPlan":
        return EditPlan(
            edits=self.edits,
            text=self.text,
            parser=self.parser if parser is None else parser,
            seconds=seconds,
            message=self.message,
            readings=self.readings,
            disagreements=self.disagreements,
            action=self.action,
        )


def plan_of(edits: Iterable[Edit], **kwargs: Any) -> EditPlan:
    """Shorthand: ``plan_of([Edit(...), ...], parser="rules")``."""
    return EditPlan(edits=tuple(edits), **kwargs)
