"""Deterministic rule parser: text -> :class:`EditPlan`, no model needed.

How a command is read
---------------------
1. **Normalise and tokenise**: lower case, contractions expanded ("don't" ->
   "do not"), punctuation kept as separate tokens.
2. **Match phrases** greedily, longest first, against the tables in
   :mod:`terf_studio.language.vocabulary` (verbs, concepts, polarity,
   strength, whole-image words, fillers, splitters, ...).
3. **Split into clauses** at ",", ";", ".", "and", "then", "plus", ...
4. **Read each clause**: its tasks (a concept's polarity comes from the
   nearest polarity word before it, or from a copula: "the road is dark"
   asks to brighten), its strength, its target (the noun phrase left when
   task, filler and strength words are taken out; leading articles and
   prepositions are dropped, inner ones kept: "man on the left").
   A clause without any task word gets a second, typo-tolerant pass that
   corrects one word at a time to the closest vocabulary word (difflib,
   ratio >= 0.8), best match first.
5. **Join clauses**: a clause with a task but no target borrows the target of
   the next clause, else of the previous one ("brighten and denoise the
   trees", "the alley is too dark and too noisy"); a clause with a target but
   no task repeats the previous clause's task ("blur the plate and the
   faces"); "it"/"them" refer to the previous target; a strength-only clause
   ("..., slightly") adjusts the previous edit.  Explicit whole-image words
   ("everything", "the whole image", "overall") give target None and are
   never filled in.

A command that opens with a question word ("what does the infrared channel
show?", "how many people are there?") and names no task verb asks about the
image: it gives no edit.

A command made only of editor-action words ("undo that", "again", "a bit
stronger") is read by :mod:`.actions` first and gives a plan with an
``action`` and no edits.

Unknown or empty text gives an empty plan with a message, never an
exception.

The steps live in :mod:`.words` (1-2), :mod:`.clauses` (3-4) and here (5).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

from . import vocabulary as vocab
from .actions import read_action
from .clauses import Clause, read_command_clauses, split_clauses
from .plan import Edit, EditorAction, EditPlan, Task
from .targets import region_of
from .words import Piece, clean_command, join_words, match_pieces, normalise, tokenise, too_long

__all__ = [
    "Clause",
    "Piece",
    "RuleEdit",
    "RuleParser",
    "RuleReading",
    "analyse",
    "join_words",
    "match_pieces",
    "normalise",
    "parse_rules",
    "split_clauses",
    "tokenise",
]


@dataclass
class RuleEdit:
    """An edit with the evidence behind it (used by the combined parser)."""

    edit: Edit
    #: "exact" (a task verb: "brighten"), "quality" (read from what is wrong: "too dark",
    #: "blinding") or "fuzzy" (found after correcting a typo)
    evidence: str
    whole: bool  # target None because of an explicit whole-image word
    target_from: str  # "clause", "pronoun", "next", "previous", "none"


@dataclass
class RuleReading:
    edits: list[RuleEdit]
    message: str
    text: str
    #: words in no vocabulary table that no edit uses as its target (and that
    #: are not in an ignored "except ..." tail or a negated clause)
    unused_words: list[str] = field(default_factory=list)
    #: an editor action ("undo that", "again", "stronger") the command asks for instead of edits
    action: EditorAction | None = None
    #: the command asks about the image ("what does the infrared channel show?"): no edit, and no
    #: model is asked either
    question: bool = False

    def plan(self, seconds: float = 0.0) -> EditPlan:
        return EditPlan(
            edits=tuple(r.edit for r in self.edits),
            text=self.text,
            parser="rules",
            seconds=seconds,
            message=self.message,
            action=self.action,
        )



@dataclass
class _Joiner:
    """Step 5: turns read clauses into edits, left to right (see the module notes).

    The clauses are only read: a task-less clause whose target a task clause
    borrowed is remembered by index in ``lent``, not marked on the clause.
    """

    clauses: list[Clause]
    edits: list[RuleEdit] = field(default_factory=list)
    not_understood: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    last_target: str | None = None
    last_edits: list[RuleEdit] = field(default_factory=list)
    lent: set[int] = field(default_factory=set)

    def run(self) -> "_Joiner":
        for i, clause in enumerate(self.clauses):
            if clause.ignored:
                self.notes.append(f"ignored '{clause.ignored}' (exclusions are not supported)")
            if clause.negated:
                self.notes.append(f"ignored '{clause.text}' (negated)")
                self.last_edits = []
            elif i in self.lent:
                continue
            elif clause.tasks:
                self._task_clause(i, clause)
            elif clause.target is not None:
                self._target_clause(i, clause)
            elif clause.strength is not None and self.last_edits:
                self._adjust_strength(clause.strength)
            elif clause.has_content:
                self.not_understood.append(clause.text)
        return self

    def _neighbours(self, i: int) -> tuple[Clause | None, Clause | None]:
        prev = self.clauses[i - 1] if i > 0 else None
        nxt = self.clauses[i + 1] if i + 1 < len(self.clauses) else None
        return prev, nxt

    def _task_clause(self, i: int, clause: Clause) -> None:
        """Edits for each task; a missing target comes from a pronoun or a neighbour."""
        prev, nxt = self._neighbours(i)
        target = clause.target
        source = "clause"
        if target is None and clause.pronoun and self.last_target is not None:
            target, source = self.last_target, "pronoun"
        elif target is None and not clause.whole:
            if nxt is not None and nxt.target is not None and not nxt.negated:
                target, source = nxt.target, "next"
                if not nxt.tasks:
                    self.lent.add(i + 1)
            elif prev is not None and prev.target is not None and not prev.negated:
                target, source = prev.target, "previous"
            else:
                source = "none"
        strength = clause.strength if clause.strength is not None else 1.0
        def evidence(task: Task) -> str:
            return "fuzzy" if clause.fuzzy else "exact" if task in clause.verb_tasks else "quality"

        self.last_edits = [
            RuleEdit(Edit(target, task, strength, clause.text), evidence(task), clause.whole, source)
            for task in clause.tasks
        ]
        self.edits.extend(self.last_edits)
        if target is not None:
            self.last_target = target

    def _target_clause(self, i: int, clause: Clause) -> None:
        """A target without a task: repeats the previous tasks, or lends the target forward."""
        prev, nxt = self._neighbours(i)
        prev_negated = prev is not None and prev.negated
        if self.last_edits and clause.join in {"list", "colon", None} and not prev_negated:
            strength = clause.strength if clause.strength is not None else self.last_edits[0].edit.strength
            self.last_edits = [
                RuleEdit(Edit(clause.target, r.edit.task, strength, clause.text), r.evidence, False, "clause")
                for r in self.last_edits
            ]
            self.edits.extend(self.last_edits)
            self.last_target = clause.target
        elif nxt is not None and nxt.tasks and nxt.target is None and not nxt.whole:
            self.last_target = clause.target  # lent to the next clause
        else:
            self.not_understood.append(clause.text)

    def _adjust_strength(self, strength: float) -> None:
        """A strength-only clause ("..., slightly") changes the previous edits."""
        adjusted = [
            RuleEdit(Edit(r.edit.target, r.edit.task, strength, r.edit.text), r.evidence, r.whole, r.target_from)
            for r in self.last_edits
        ]
        for old, new in zip(self.last_edits, adjusted):
            self.edits[self.edits.index(old)] = new
        self.last_edits = adjusted


def _unused_words(clauses: list[Clause], edits: list[RuleEdit]) -> list[str]:
    """Words in no table that no edit uses as its target (negated clauses left out)."""
    used = {w for r in edits if r.edit.target for w in r.edit.target.split()}
    return [
        w
        for clause in clauses
        if not clause.negated
        for p in clause.pieces
        if p.kind == "word"
        for w in p.words
        if w not in used
    ]


def _message(text: str, edits: list[RuleEdit], joined: _Joiner) -> str:
    parts: list[str] = []
    if not edits:
        parts.append(
            f"No edit recognised in '{text.strip()}': say what to change "
            "(brighten, darken, denoise, blur, lean towards infrared or visible) and where."
        )
    elif joined.not_understood:
        parts.append("Not understood: " + "; ".join(f"'{t}'" for t in joined.not_understood) + ".")
    parts.extend(n.capitalize() + "." for n in joined.notes)
    return " ".join(parts)


def analyse(text: str) -> RuleReading:
    """Read ``text`` into edits with their evidence; never raises."""
    if isinstance(text, str):
        text = clean_command(text)
    if not isinstance(text, str) or not text.strip():
        return RuleReading([], "Nothing to parse: the command is empty.", text if isinstance(text, str) else "")
    if message := too_long(text):
        return RuleReading([], message, text)
    if (action := read_action(text)) is not None:
        return RuleReading([], f"Editor action: {action.describe()}.", text, action=action)
    clauses = read_command_clauses(text)
    joined = _Joiner(clauses).run()
    edits = _merge_duplicates(joined.edits)
    if _asks_a_question(text, edits):
        return RuleReading([], QUESTION_MESSAGE, text, question=True)
    unused = _unused_words(clauses, edits)  # the words of a target as said count as used
    regions = [replace(r, edit=replace(r.edit, target=region_of(r.edit.target))) for r in edits]
    return RuleReading(regions, _message(text, regions, joined), text, unused)


QUESTION_MESSAGE = (
    "That reads as a question about the image, so nothing was changed: say what to change "
    "(brighten, darken, denoise, blur, lean towards infrared or visible) and where."
)


def _asks_a_question(text: str, edits: list[RuleEdit]) -> bool:
    """A command that opens with a question word ("what", "how many", "is there") and names no
    task verb. "Why" is left out: "why is the sky so bright?" is a complaint."""
    words = tokenise(text)
    opening = {" ".join(words[:1]), " ".join(words[:2])}
    return bool(opening & vocab.QUESTION_OPENINGS) and not any(r.evidence == "exact" for r in edits)


def _merge_duplicates(edits: list[RuleEdit]) -> list[RuleEdit]:
    out: list[RuleEdit] = []
    for r in edits:
        same = next(
            (k for k, o in enumerate(out) if o.edit.task == r.edit.task and o.edit.target == r.edit.target),
            None,
        )
        if same is None:
            out.append(r)
        elif abs(math.log(r.edit.strength)) > abs(math.log(out[same].edit.strength)):
            out[same] = r
    return out


class RuleParser:
    """The rule parser as an object with the same ``parse`` as the others."""

    name = "rules"

    def parse(self, text: str) -> EditPlan:
        start = time.perf_counter()
        reading = analyse(text)
        return reading.plan(time.perf_counter() - start)


def parse_rules(text: str) -> EditPlan:
    """Parse ``text`` with the rule parser."""
    return RuleParser().parse(text)
