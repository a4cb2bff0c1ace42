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

Unknown or empty text gives an empty plan with a message, never an
exception.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from difflib import SequenceMatcher, get_close_matches

from . import vocabulary as vocab
from .plan import Edit, EditPlan, Task

# --------------------------------------------------------------------------
# tokens and pieces

_CONTRACTIONS = [
    (r"\bdon'?t\b", "do not"),
    (r"\bdoesn'?t\b", "does not"),
    (r"\bdidn'?t\b", "did not"),
    (r"\bisn'?t\b", "is not"),
    (r"\baren'?t\b", "are not"),
    (r"\bwasn'?t\b", "was not"),
    (r"\bweren'?t\b", "were not"),
    (r"\bcan'?t\b", "can not"),
    (r"\bcannot\b", "can not"),
    (r"\bwon'?t\b", "will not"),
    (r"\bshouldn'?t\b", "should not"),
    (r"\bwouldn'?t\b", "would not"),
    (r"\bit'?s\b", "it is"),
    (r"\bthat's\b", "that is"),
    (r"\bthere's\b", "there is"),
    (r"\bwhat's\b", "what is"),
    (r"\blet's\b", "let us"),
    (r"\bi'd\b", "i would"),
    (r"\bi'm\b", "i am"),
    (r"\bi'll\b", "i will"),
    (r"\byou'd\b", "you would"),
    (r"\bwe'd\b", "we would"),
    (r"\bthey're\b", "they are"),
    (r"\bwe're\b", "we are"),
    (r"\byou're\b", "you are"),
]
_TOKEN_RE = re.compile(r"[a-z0-9]+(?:['\-][a-z0-9]+)*'?|[,;.!?:&]")
# after "X's", these words show that "'s" is "is" ("the sky's too bright")
_IS_AFTER = {"too", "very", "so", "quite", "really", "not", "a", "way", "far", "getting",
             "rather", "overly", "extremely", "super", "kind", "sort", "pretty", "still"}


def normalise(text: str) -> str:
    """Lower case, unify quotes and dashes, expand contractions."""
    s = text.lower()
    s = s.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    s = s.replace("\u2013", "-").replace("\u2014", " - ")
    for pattern, repl in _CONTRACTIONS:
        s = re.sub(pattern, repl, s)
    return s


def tokenise(text: str) -> list[str]:
    """Words and separator marks of ``text`` (already normalised or not)."""
    raw = _TOKEN_RE.findall(normalise(text))
    out: list[str] = []
    for i, tok in enumerate(raw):
        tok = tok.rstrip("'")
        if not tok:
            continue
        if tok.endswith("'s") and len(tok) > 2:
            nxt = raw[i + 1] if i + 1 < len(raw) else ""
            if nxt in _IS_AFTER or nxt in vocab.CONCEPTS or nxt in vocab.STRENGTH_WORDS:
                out.extend([tok[:-2], "is"])
                continue
        out.append(tok)
    return out


@dataclass
class Piece:
    """One matched unit of a command: a word or a known phrase."""

    words: tuple[str, ...]
    kind: str  # split stop whole strength verb concept pol neg copula pronoun filler det prep word
    payload: object = None
    fuzzy: bool = False

    @property
    def text(self) -> str:
        return " ".join(self.words)


_BEFORE_CONDITIONAL = {"too", "more", "less", "much"}


def match_pieces(tokens: list[str]) -> list[Piece]:
    """Greedy longest-phrase matching of ``tokens`` against the vocabulary."""
    pieces: list[Piece] = []
    i = 0
    n = len(tokens)
    while i < n:
        found = None
        for length in range(min(vocab.MAX_PHRASE_WORDS, n - i), 0, -1):
            key = tuple(tokens[i:i + length])
            entry = vocab.PHRASES.get(key)
            if entry is not None:
                found = (length, entry)
                break
        tok = tokens[i]
        if found is None and tok in vocab.CONDITIONAL_STRENGTH and i + 1 < n:
            nxt = tokens[i + 1]
            if nxt in _BEFORE_CONDITIONAL or nxt in vocab.CONCEPTS or nxt in vocab.VERBS:
                found = (1, ("strength", vocab.CONDITIONAL_STRENGTH[tok]))
        if found is None:
            if tok in vocab.DETERMINERS:
                kind = "det"
            elif tok in vocab.PREPOSITIONS:
                kind = "prep"
            else:
                kind = "word"
            pieces.append(Piece((tok,), kind))
            i += 1
            continue
        length, (kind, payload) = found
        pieces.append(Piece(tuple(tokens[i:i + length]), kind, payload))
        i += length
    return pieces


# --------------------------------------------------------------------------
# clauses

@dataclass
class Clause:
    pieces: list[Piece]
    join: str | None  # how it is joined to the previous clause: list/seq/colon
    tasks: list[Task] = field(default_factory=list)
    strength: float | None = None  # None: no strength word
    target: str | None = None
    whole: bool = False  # an explicit whole-image word
    pronoun: bool = False  # target is "it"/"them": refers to another clause
    negated: bool = False
    fuzzy: bool = False  # task found only after typo correction
    ignored: str = ""  # words after "except"/"without"
    used: bool = False  # its target was lent to a task-only clause

    @property
    def text(self) -> str:
        return join_words([w for p in self.pieces for w in p.words])

    @property
    def has_content(self) -> bool:
        return any(p.kind == "word" for p in self.pieces)


def join_words(words: list[str]) -> str:
    """Words back into text, separator marks attached to the word before."""
    out = ""
    for w in words:
        if w in {",", ";", ".", "!", "?", ":"}:
            out += w
        else:
            out += (" " if out else "") + w
    return out


def split_clauses(pieces: list[Piece]) -> list[Clause]:
    clauses: list[Clause] = []
    current: list[Piece] = []
    join: str | None = None
    stop = False
    ignored: list[str] = []
    for piece in pieces:
        if piece.kind == "split":
            if current or ignored:
                clause = Clause(current, join)
                clause.ignored = " ".join(ignored)
                clauses.append(clause)
                current, ignored = [], []
                join = piece.payload  # type: ignore[assignment]
            elif join is None or piece.payload == "seq":
                join = piece.payload if clauses else None  # type: ignore[assignment]
            stop = False
            continue
        if piece.kind == "stop":
            stop = True
        if stop:
            ignored.extend(piece.words)
            continue
        current.append(piece)
    if current or ignored:
        clause = Clause(current, join)
        clause.ignored = " ".join(ignored)
        clauses.append(clause)
    return clauses


@dataclass
class _Hit:
    index: int
    task: Task
    tier: int  # 1 explicit, 2 bare noun/adjective
    kind: str


def _previous_index(pieces: list[Piece], index: int, skip: set[str]) -> int:
    j = index - 1
    while j >= 0 and pieces[j].kind in skip:
        j -= 1
    return j


def _find_hits(pieces: list[Piece]) -> list[_Hit]:
    hits: list[_Hit] = []
    words_before: set[str] = set()
    for i, piece in enumerate(pieces):
        if piece.kind == "verb":
            hits.append(_Hit(i, piece.payload, 1, "verb"))  # type: ignore[arg-type]
        elif piece.kind == "concept":
            up, down, form = piece.payload  # type: ignore[misc]
            pol = None
            for j in range(i - 1, -1, -1):
                if pieces[j].kind == "pol":
                    pol = pieces[j]
                    break
                if pieces[j].kind == "concept":
                    continue
            polarity = 0
            if pol is not None:
                polarity = int(pol.payload)  # type: ignore[arg-type]
                nxt = pieces[i + 1] if i + 1 < len(pieces) else None
                if pol.words in {("not",), ("no",)} and nxt is not None and nxt.words == ("enough",):
                    polarity = +1
            elif form == "adj":
                j = _previous_index(pieces, i, {"strength"})
                if j >= 0 and pieces[j].kind == "copula" and not (words_before & vocab.WISH_WORDS):
                    polarity = -1  # "the road is dark": a complaint
            if form == "cmp":
                task, tier = up, 1
            else:
                task = down if polarity < 0 else up
                tier = 1 if polarity != 0 else 2
                if form == "fixed":
                    j = _previous_index(pieces, i, {"strength"})
                    if j >= 0 and pieces[j].kind == "copula":
                        tier = 1
            hits.append(_Hit(i, task, tier, form))
        words_before.update(piece.words)
    if not hits:
        for i, piece in enumerate(pieces):
            if piece.kind == "pol" and piece.text in vocab.POLARITY_DEFAULT_TASK:
                hits.append(_Hit(i, vocab.POLARITY_DEFAULT_TASK[piece.text], 1, "pol"))
    return hits


def _is_np_modifier(pieces: list[Piece], index: int) -> bool:
    """A bare task word used as an adjective in a noun phrase ("the light pole")."""
    if index + 1 >= len(pieces) or pieces[index + 1].kind != "word":
        return False
    return index > 0 and pieces[index - 1].kind in {"det", "word", "pronoun"}


def _resolve_hits(pieces: list[Piece], hits: list[_Hit]) -> list[_Hit]:
    """Keep the hits that name tasks; turn the others back into target words."""
    if not hits:
        return hits
    kept = list(hits)
    released: list[_Hit] = []
    modifiers = [h for h in kept if h.tier == 2 and _is_np_modifier(pieces, h.index)]
    if modifiers and len(modifiers) < len(kept):
        released.extend(modifiers)
        kept = [h for h in kept if h not in modifiers]
    tier1 = {h.task for h in kept if h.tier == 1}
    if tier1:
        drop = [h for h in kept if h.tier == 2 and h.task not in tier1]
        released.extend(drop)
        kept = [h for h in kept if h not in drop]
    for h in released:
        pieces[h.index] = Piece(pieces[h.index].words, "word")
    return kept


_OPEN_KINDS = {"det", "prep", "word", "pronoun"}
_EDGE_KINDS = {"det", "prep", "pronoun"}


@dataclass
class _Run:
    pieces: list[Piece]
    led: bool  # began with an article or preposition

    @property
    def words(self) -> list[str]:
        return [w for p in self.pieces for w in p.words]


def _strip_run(run: list[Piece]) -> tuple[list[Piece], bool, bool]:
    """Trim a run to its noun phrase.  Returns (pieces, whole, pronoun)."""
    pieces = list(run)
    # drop a trailing "in the image" / "of the picture"
    whole = False
    while pieces and pieces[-1].kind == "word" and pieces[-1].text in vocab.WHOLE_IMAGE_NOUNS:
        k = len(pieces) - 1
        while k > 0 and pieces[k - 1].kind == "det":
            k -= 1
        if k > 0 and pieces[k - 1].kind == "prep":
            pieces = pieces[:k - 1]
            if not any(p.kind == "word" for p in pieces):
                return [], True, False  # only "in the image": the whole image
            continue
        if all(p.kind in _EDGE_KINDS for p in pieces[:k]):
            whole = True
            pieces = []
        break
    while pieces and pieces[0].kind in _EDGE_KINDS and len(pieces) > 1:
        pieces = pieces[1:]
    while pieces and pieces[-1].kind in _EDGE_KINDS and len(pieces) > 1:
        pieces = pieces[:-1]
    if len(pieces) == 1 and pieces[0].kind in _EDGE_KINDS:
        pronoun = pieces[0].kind == "pronoun"
        return [], whole, pronoun
    words = " ".join(w for p in pieces for w in p.words)
    if words in vocab.WHOLE_IMAGE_NOUNS:
        return [], True, False
    return pieces, whole, False


def _extract_target(clause: Clause) -> None:
    runs: list[_Run] = []
    current: list[Piece] = []
    for piece in clause.pieces + [Piece(("",), "end")]:
        if piece.kind in _OPEN_KINDS:
            current.append(piece)
            continue
        if current:
            runs.append(_Run(current, current[0].kind in {"det", "prep"}))
            current = []
        if piece.kind == "whole":
            clause.whole = True
    candidates: list[_Run] = []
    pronoun = False
    for run in runs:
        stripped, whole, is_pronoun = _strip_run(run.pieces)
        clause.whole = clause.whole or whole
        pronoun = pronoun or is_pronoun
        if stripped:
            first_word = next((p for p in run.pieces if p.kind == "word"), None)
            spatial = (
                run.pieces[0].kind == "prep"
                and first_word is not None
                and first_word.text in vocab.POSITION_WORDS
            )
            if spatial and candidates:
                prev = candidates[-1]
                candidates[-1] = _Run(prev.pieces + run.pieces, prev.led)
                continue
            candidates.append(_Run(stripped, run.led))
    if candidates:
        best = max(enumerate(candidates), key=lambda ic: (ic[1].led, -ic[0]))[1]
        clause.target = " ".join(best.words)
        clause.whole = False
    elif pronoun and not clause.whole:
        clause.pronoun = True


def _strength_of(pieces: list[Piece], kept: list[_Hit]) -> float | None:
    """The clause's strength; None when it has no strength word.

    "more"/"less" count as strength only when no task word follows them
    directly (articles, prepositions and strength words may sit between):
    "brighten the trees more" is 1.5, "more light" is 1.0.
    """
    values: list[float] = []
    kept_concepts = {h.index for h in kept if pieces[h.index].kind == "concept"}
    for i, piece in enumerate(pieces):
        if piece.kind == "strength":
            values.append(float(piece.payload))  # type: ignore[arg-type]
        elif piece.kind == "pol" and piece.text in vocab.SOFT_POLARITY:
            j = i + 1
            while j < len(pieces) and pieces[j].kind in {"det", "prep", "strength"}:
                j += 1
            if j not in kept_concepts:
                values.append(vocab.SOFT_POLARITY[piece.text])
    if not values:
        return None
    return max(values, key=lambda v: abs(math.log(v)))


def _negated(pieces: list[Piece], kept: list[_Hit]) -> bool:
    verbs = [h.index for h in kept if h.kind == "verb"]
    for v in verbs:
        j = _previous_index(pieces, v, {"filler", "strength"})
        if j >= 0 and (pieces[j].kind == "neg" or pieces[j].words in {("not",), ("never",)}):
            return True
    if any(p.kind == "neg" for p in pieces) and kept:
        first_neg = next(i for i, p in enumerate(pieces) if p.kind == "neg")
        if all(h.index > first_neg for h in kept) and pieces[first_neg].text not in {"no"}:
            return True
    return False


def _read_clause(clause: Clause) -> None:
    hits = _resolve_hits(clause.pieces, _find_hits(clause.pieces))
    clause.negated = _negated(clause.pieces, hits)
    tasks: list[Task] = []
    for h in sorted(hits, key=lambda h: h.index):
        if h.task not in tasks:
            tasks.append(h.task)
    clause.tasks = tasks
    clause.strength = _strength_of(clause.pieces, hits)
    _extract_target(clause)


_SINGLE_STRENGTH_WORDS = sorted(w for w in vocab.STRENGTH_WORDS if " " not in w and len(w) >= 5)


def _unknown_words(clause: Clause) -> list[tuple[int, str, int]]:
    """(word position, word, piece index) of words not in any table."""
    out = []
    position = 0
    for i, piece in enumerate(clause.pieces):
        if piece.kind == "word" and len(piece.words) == 1:
            w = piece.words[0]
            if w not in vocab.PROTECTED_WORDS and not w.isdigit():
                out.append((position, w, i))
        position += len(piece.words)
    return out


def _correct_strength_typos(clause: Clause) -> None:
    """Fix misspelt strength words anywhere ("slighty")."""
    words = [w for p in clause.pieces for w in p.words]
    changed = False
    for position, w, _ in _unknown_words(clause):
        if len(w) >= 5:
            match = get_close_matches(w, _SINGLE_STRENGTH_WORDS, n=1, cutoff=0.85)
            if match:
                words[position] = match[0]
                changed = True
    if changed:
        clause.pieces = match_pieces(words)
        _read_clause(clause)


def _correct_typos(clause: Clause) -> None:
    """Second pass for a clause with no task: fix one misspelt word at a time."""
    words = [w for p in clause.pieces for w in p.words]
    # polarity and filler words before the first article/preposition
    first_open = next(
        (i for i, p in enumerate(clause.pieces) if p.kind in {"det", "prep"}), len(clause.pieces)
    )
    changed = False
    for position, w, piece_index in _unknown_words(clause):
        if len(w) >= 5 and piece_index < first_open:
            match = get_close_matches(w, vocab.OTHER_WORDS, n=1, cutoff=0.85)
            if match:
                words[position] = match[0]
                changed = True
    if changed:
        clause.pieces = match_pieces(words)
        _read_clause(clause)
        if clause.tasks:
            clause.fuzzy = True
            return
    # then task words, best match first, until a task is found
    candidates = []
    for idx, w in enumerate(words):
        if len(w) >= 4 and w not in vocab.PROTECTED_WORDS and not _known(w):
            for m in get_close_matches(w, vocab.TASK_WORDS, n=1, cutoff=0.8):
                candidates.append((SequenceMatcher(None, w, m).ratio(), idx, m))
    for _, idx, m in sorted(candidates, key=lambda c: (-c[0], c[1])):
        trial = list(words)
        trial[idx] = m
        trial_clause = Clause(match_pieces(trial), clause.join)
        _read_clause(trial_clause)
        if trial_clause.tasks:
            words = trial
            clause.pieces = trial_clause.pieces
            _read_clause(clause)
            clause.fuzzy = True
            return


def _known(word: str) -> bool:
    return (
        (word,) in vocab.PHRASES
        or word in vocab.DETERMINERS
        or word in vocab.PREPOSITIONS
    )


# --------------------------------------------------------------------------
# the parser

@dataclass
class RuleEdit:
    """An edit with the evidence behind it (used by the combined parser)."""

    edit: Edit
    evidence: str  # "exact" or "fuzzy"
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

    def plan(self, seconds: float = 0.0) -> EditPlan:
        return EditPlan(
            edits=tuple(r.edit for r in self.edits),
            text=self.text,
            parser="rules",
            seconds=seconds,
            message=self.message,
        )


def analyse(text: str) -> RuleReading:
    """Read ``text`` into edits with their evidence; never raises."""
    if not isinstance(text, str) or not text.strip():
        return RuleReading([], "Nothing to parse: the command is empty.", text if isinstance(text, str) else "")
    clauses = split_clauses(match_pieces(tokenise(text)))
    for clause in clauses:
        _read_clause(clause)
        if clause.has_content:
            _correct_strength_typos(clause)
        if not clause.tasks and not clause.negated and clause.has_content:
            _correct_typos(clause)

    # --- join clauses ------------------------------------------------------
    out: list[RuleEdit] = []
    not_understood: list[str] = []
    notes: list[str] = []
    last_target: str | None = None
    last_edits: list[RuleEdit] = []
    n = len(clauses)

    def real_target(c: Clause) -> bool:
        return c.target is not None

    for i, clause in enumerate(clauses):
        if clause.ignored:
            notes.append(f"ignored '{clause.ignored}' (exclusions are not supported)")
        if clause.negated:
            notes.append(f"ignored '{clause.text}' (negated)")
            last_edits = []
            continue
        if clause.used:
            continue
        prev = clauses[i - 1] if i > 0 else None
        nxt = clauses[i + 1] if i + 1 < n else None
        evidence = "fuzzy" if clause.fuzzy else "exact"
        if clause.tasks:
            target = clause.target
            source = "clause"
            whole = clause.whole
            if target is None and clause.pronoun and last_target is not None:
                target, source = last_target, "pronoun"
            elif target is None and not clause.whole:
                if nxt is not None and real_target(nxt) and not nxt.negated:
                    target, source = nxt.target, "next"
                    if not nxt.tasks:
                        nxt.used = True
                elif prev is not None and real_target(prev) and not prev.negated:
                    target, source = prev.target, "previous"
                else:
                    source = "none"
            strength = clause.strength if clause.strength is not None else 1.0
            last_edits = [
                RuleEdit(Edit(target, task, strength, clause.text), evidence, whole, source)
                for task in clause.tasks
            ]
            out.extend(last_edits)
            if target is not None:
                last_target = target
            continue
        # no task in this clause
        if clause.target is not None:
            if last_edits and clause.join in {"list", "colon", None} and not prev_is_negated(clauses, i):
                strength = clause.strength if clause.strength is not None else last_edits[0].edit.strength
                new = [
                    RuleEdit(Edit(clause.target, r.edit.task, strength, clause.text), r.evidence, False, "clause")
                    for r in last_edits
                ]
                out.extend(new)
                last_edits = new
                last_target = clause.target
                continue
            if nxt is not None and nxt.tasks and nxt.target is None and not nxt.whole:
                last_target = clause.target  # lent to the next clause
                continue
            not_understood.append(clause.text)
            continue
        if clause.strength is not None and last_edits:
            adjusted = [
                RuleEdit(Edit(r.edit.target, r.edit.task, clause.strength, r.edit.text), r.evidence, r.whole, r.target_from)
                for r in last_edits
            ]
            for old, new in zip(last_edits, adjusted):
                out[out.index(old)] = new
            last_edits = adjusted
            continue
        if clause.has_content:
            not_understood.append(clause.text)

    out = _merge_duplicates(out)
    used = {w for r in out if r.edit.target for w in r.edit.target.split()}
    unused = [
        w
        for clause in clauses
        if not clause.negated
        for p in clause.pieces
        if p.kind == "word"
        for w in p.words
        if w not in used
    ]
    message_parts: list[str] = []
    if not out:
        message_parts.append(
            f"No edit recognised in '{text.strip()}': say what to change "
            "(brighten, darken, denoise, blur, lean towards infrared or visible) and where."
        )
    elif not_understood:
        message_parts.append("Not understood: " + "; ".join(f"'{t}'" for t in not_understood) + ".")
    message_parts.extend(n.capitalize() + "." for n in notes)
    return RuleReading(out, " ".join(message_parts), text, unused)


def prev_is_negated(clauses: list[Clause], i: int) -> bool:
    return i > 0 and clauses[i - 1].negated


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
