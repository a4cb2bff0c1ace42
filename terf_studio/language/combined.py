"""The combined parser: rules and LLM side by side, with a fixed arbitration.

``parse(text, llm="auto")`` is the entry point the editor, the command line
and the benchmark use.

Arbitration (documented rule)
-----------------------------
The rule parser reads each edit together with its evidence: a vocabulary
word it matched exactly, or one it reached by correcting a typo.  The LLM
reads the whole command freely (within the schema).

1. **Rules found no edit** (no task word at all): the LLM's edits are used
   if the command has a word the LLM's targets do not cover and no table
   knows (a candidate action word: "make the sky *moodier*", "*scrub* out
   the grit"); otherwise ("hello", "the trees") the plan stays empty, since
   a small model answers every prompt with some edit.  A fine-tuned model
   (rule 3) learned to answer chatter with no edit, so its edits are used
   whenever the rules found none ("nobody should be able to read the
   plate": every word is known or the target, yet it asks for a blur).  The LLM's edits were
   already validated: known task, strength level, and a target that is a
   phrase of the command's own words (or null).
2. **Rules found edits**: the rule parser decides the number of edits, their
   order, their tasks and their strengths, because each of them rests on a
   word it can point to, whereas a small model's reading cannot be checked.
   The LLM is used to fill gaps only: an edit whose target the rules left
   empty *without* an explicit whole-image word ("everything", "the whole
   image", "overall") takes the target of the LLM's matching edit, if that
   target holds a word that no vocabulary table explains and that the rules
   left unused (so "sensor noise", a known phrase, is not taken for a
   region, nor "the car" of an ignored "except the car").
3. **A model fine-tuned on this job** (the default model with its shipped
   adapter, :attr:`LlmParser.fine_tuned`) reads complaints better than the
   rules, and direct commands worse.  So when the rules' edits do not all
   rest on task verbs (some task was read from a quality word, "too dark",
   "glowing", or after a typo correction) *and* the rules left words of the
   command unexplained ("swallowed", "mess", "ghost"), the model's whole
   reading is used, if it found an edit.  Otherwise rule 2 applies.  An
   untuned model never overrides the rules this way.
   Measured before choosing: on the hand-written direct sets the rules were
   right in every task disagreement; on generated complaints in held-out
   wordings, in this case the model was right 27 times and the rules once.
4. **A question about the image** ("what does the infrared channel show?",
   see :mod:`.rules`) gives no edit, whatever the model read.
5. Every difference is kept as a :class:`Disagreement` (task, target or
   number of edits, both readings and which one was chosen), and both full
   readings are kept in ``plan.readings`` ("rules", "llm") for the UI.

Matching edits between the readings: by position when both found the same
number of edits, otherwise by equal (normalised) target, otherwise by
position when the LLM has an edit there.

``policy="fallback"`` runs the LLM only when its answer could be used: the
rules leave a gap (no edit, or an edit with neither a target nor an
explicit whole-image word) and some word is left unexplained.  It gives the
same plan much faster, but disagreements elsewhere go unseen.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from ..errors import ModelError
from .plan import Disagreement, Edit, EditPlan
from .rules import RuleReading, analyse
from .words import clean_command, too_long

_ARTICLES = {"the", "a", "an"}


def normalise_target(target: str | None) -> str | None:
    """Lower case, words only, without articles: how targets are compared."""
    if target is None:
        return None
    words = [w for w in re.findall(r"[a-z0-9]+(?:'[a-z0-9]+)*", target.lower()) if w not in _ARTICLES]
    return " ".join(words) or None


class TextParser(Protocol):
    """What :class:`CombinedParser` needs of an LLM parser (``fine_tuned`` is read with a default
    of False: a parser without it is never trusted over the rules, see rule 3)."""

    def parse(self, text: str) -> EditPlan: ...


class CombinedParser:
    """Rules plus an optional LLM parser (anything with ``parse(text)``)."""

    def __init__(self, llm: TextParser | None = None, policy: str = "always", llm_error: str = "") -> None:
        if policy not in {"always", "fallback"}:
            raise ValueError("policy must be 'always' or 'fallback'")
        self.llm = llm
        self.policy = policy
        #: why no LLM is used ("auto" mode with llama-cpp or the model missing)
        self.llm_error = llm_error

    @property
    def name(self) -> str:
        return "rules+llm" if self.llm is not None else "rules"

    def parse(self, text: str) -> EditPlan:
        start = time.perf_counter()
        if isinstance(text, str):
            text = clean_command(text)  # both readers and the plan see what the terminal showed
        reading = analyse(text)
        rules_plan = reading.plan(time.perf_counter() - start)
        # The rules' plan says why a long command is refused; an editor action is read from fixed
        # phrases only (every word accounted for), and a question about the image asks for no
        # edit (see combine), so no model is asked.
        if self.llm is None or too_long(text) or reading.action is not None or reading.question:
            return rules_plan.with_timing(time.perf_counter() - start)
        trusted = bool(getattr(self.llm, "fine_tuned", False))
        if self.policy == "fallback" and not _has_gap(reading, trusted):
            return EditPlan(
                edits=rules_plan.edits, text=text, parser="rules+llm",
                seconds=time.perf_counter() - start, message=rules_plan.message,
                readings={"rules": rules_plan},
            )
        llm_plan = self.llm.parse(text)
        plan = combine(reading, rules_plan, llm_plan, trusted)
        return plan.with_timing(time.perf_counter() - start)


def _has_gap(reading: RuleReading, trusted: bool = False) -> bool:
    """Whether the LLM could change the plan (see rules 1 to 3 above)."""
    if trusted and (not reading.edits or _reads_a_complaint(reading)):
        return True  # rules 1 and 3: a fine-tuned model's edits are taken here
    if not reading.unused_words:
        return False  # the LLM's edits or targets would be refused anyway
    return not reading.edits or any(r.edit.target is None and not r.whole for r in reading.edits)


def _reads_a_complaint(reading: RuleReading) -> bool:
    """Rule 3's condition: some task rests on no task verb, and words are left unexplained."""
    return bool(reading.unused_words) and any(r.evidence != "exact" for r in reading.edits)


def _counterparts(edits: Sequence[Edit], others: Sequence[Edit]) -> list[Edit | None]:
    """The edit of ``others`` matching each of ``edits``: by position when both have as many,
    else by equal target, else by position."""
    if len(edits) == len(others):
        return list(others)
    out: list[Edit | None] = []
    for i, e in enumerate(edits):
        key = normalise_target(e.target)
        match = next((o for o in others if key is not None and normalise_target(o.target) == key), None)
        out.append(match if match is not None else (others[i] if i < len(others) else None))
    return out


def combine(reading: RuleReading, rules_plan: EditPlan, llm_plan: EditPlan, trusted: bool = False) -> EditPlan:
    """Apply the arbitration rule to one command's two readings (``trusted``: the LLM is
    fine-tuned on this job, rule 3)."""
    readings = {"rules": rules_plan, "llm": llm_plan}
    disagreements: list[Disagreement] = []
    if trusted and reading.edits and llm_plan.edits and _reads_a_complaint(reading):
        return _model_reading(reading, rules_plan, llm_plan)
    if reading.question:
        if llm_plan.edits:
            disagreements.append(Disagreement(
                index=0, field="edits", rules=0, llm=len(llm_plan.edits), chosen="rules",
                reason="the command asks a question about the image",
            ))
        return EditPlan(
            edits=(), text=reading.text, parser="rules+llm",
            message=rules_plan.message, readings=readings, disagreements=tuple(disagreements),
        )
    if not reading.edits:
        covered = {w for e in llm_plan.edits if e.target for w in e.target.split()}
        action_words = [w for w in reading.unused_words if w not in covered]
        if llm_plan.edits and not action_words and not trusted:
            disagreements.append(Disagreement(
                index=0, field="edits", rules=0, llm=len(llm_plan.edits), chosen="rules",
                reason="no word of the command is left to name an action",
            ))
        elif llm_plan.edits:
            disagreements.append(Disagreement(
                index=0, field="edits", rules=0, llm=len(llm_plan.edits), chosen="llm",
                reason="the rule parser recognised no task word" + (", and the model is fine-tuned on "
                                                                    "requests" if trusted else ""),
            ))
            return EditPlan(
                edits=tuple(Edit(e.target, e.task, e.strength, e.text) for e in llm_plan.edits),
                text=reading.text, parser="rules+llm", message=llm_plan.message,
                readings=readings, disagreements=tuple(disagreements),
            )
        return EditPlan(
            edits=(), text=reading.text, parser="rules+llm",
            message=rules_plan.message, readings=readings, disagreements=tuple(disagreements),
        )

    edits: list[Edit] = []
    if len(llm_plan.edits) != len(reading.edits):
        disagreements.append(Disagreement(
            index=0, field="edits", rules=len(reading.edits), llm=len(llm_plan.edits), chosen="rules",
            reason="the rule parser's clauses each rest on a task word",
        ))
    matches = _counterparts([r.edit for r in reading.edits], llm_plan.edits)
    for i, (r, other) in enumerate(zip(reading.edits, matches)):
        edit = r.edit
        if other is not None and other.task != edit.task:
            why = "typo-corrected task word" if r.evidence == "fuzzy" else "explicit task word"
            disagreements.append(Disagreement(
                index=i, field="task", rules=edit.task.value, llm=other.task.value, chosen="rules",
                reason=f"the rule parser found an {why}",
            ))
        if other is not None and normalise_target(other.target) != normalise_target(edit.target):
            if (edit.target is None and not r.whole and other.target is not None
                    and set(other.target.split()) & set(reading.unused_words)):
                disagreements.append(Disagreement(
                    index=i, field="target", rules=None, llm=other.target, chosen="llm",
                    reason="the rule parser found no target and no whole-image word",
                ))
                edit = Edit(other.target, edit.task, edit.strength, edit.text)
            else:
                disagreements.append(Disagreement(
                    index=i, field="target", rules=edit.target, llm=other.target, chosen="rules",
                    reason=("an explicit whole-image word" if r.whole
                            else "the rule parser's target is the command's noun phrase"),
                ))
        edits.append(edit)
    return EditPlan(
        edits=tuple(edits), text=reading.text, parser="rules+llm",
        message=rules_plan.message, readings=readings, disagreements=tuple(disagreements),
    )


def _model_reading(reading: RuleReading, rules_plan: EditPlan, llm_plan: EditPlan) -> EditPlan:
    """Rule 3: the fine-tuned model's whole reading, each difference recorded."""
    unknown = ", ".join(f"'{w}'" for w in reading.unused_words[:4])
    reason = f"the rule parser read a complaint and left {unknown} unexplained"
    disagreements: list[Disagreement] = []
    if len(llm_plan.edits) != len(reading.edits):
        disagreements.append(Disagreement(index=0, field="edits", rules=len(reading.edits),
                                          llm=len(llm_plan.edits), chosen="llm", reason=reason))
    rules_edits = [r.edit for r in reading.edits]
    for i, (mine, other) in enumerate(zip(llm_plan.edits, _counterparts(llm_plan.edits, rules_edits))):
        if other is None:
            continue
        if other.task != mine.task:
            disagreements.append(Disagreement(index=i, field="task", rules=other.task.value, llm=mine.task.value,
                                              chosen="llm", reason=reason))
        if normalise_target(other.target) != normalise_target(mine.target):
            disagreements.append(Disagreement(index=i, field="target", rules=other.target, llm=mine.target,
                                              chosen="llm", reason=reason))
    return EditPlan(
        edits=tuple(Edit(e.target, e.task, e.strength, e.text) for e in llm_plan.edits),
        text=reading.text, parser="rules+llm", message=llm_plan.message,
        readings={"rules": rules_plan, "llm": llm_plan}, disagreements=tuple(disagreements),
    )


def get_parser(llm: str | Path | None = "auto", policy: str = "always",
               adapter: str | Path | None = "auto") -> CombinedParser:
    """A combined parser.

    ``llm``: "auto" (the default model when llama-cpp-python and the model
    package are installed, else rules only), "none" (rules only), or a GGUF
    path (must load: a ModelError says why not).  ``adapter``: "auto" (the
    fine-tuned adapter shipped for the default model, when installed),
    "none", or a LoRA GGUF path (must load).  Loading is slow the first
    time; call this from a worker thread.
    """
    from .llm import get_llm_parser

    if llm is None or str(llm).lower() == "none":
        return CombinedParser(None, policy)
    if str(llm).lower() == "auto" and str(adapter).lower() in {"auto", "none"}:
        try:
            return CombinedParser(get_llm_parser(None, adapter=adapter), policy)
        except ModelError as exc:
            return CombinedParser(None, policy, llm_error=str(exc))
    return CombinedParser(get_llm_parser(None if str(llm).lower() == "auto" else llm, adapter=adapter), policy)


def parse(text: str, llm: str | Path | None = "auto", policy: str = "always") -> EditPlan:
    """Parse one command into an :class:`EditPlan` (see the module notes)."""
    return get_parser(llm, policy).parse(text)
