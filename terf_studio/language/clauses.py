"""The rule parser's clauses: splitting a command and reading each clause.

Steps 3 and 4 of :mod:`terf_studio.language.rules`.  A clause is read into
its tasks, strength and target; a clause without any task word gets a
second, typo-tolerant pass.  Reading never changes a clause: every step
returns a new :class:`Clause` (and new piece lists).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher, get_close_matches

from . import vocabulary as vocab
from .plan import Task
from .words import Piece, join_words, match_pieces, tokenise


@dataclass(frozen=True)
class Clause:
    """One clause of a command; :func:`read_clause` fills in what it asks for."""

    pieces: list[Piece]
    join: str | None  # how it is joined to the previous clause: list/seq/colon
    tasks: list[Task] = field(default_factory=list)
    strength: float | None = None  # None: no strength word
    target: str | None = None
    whole: bool = False  # an explicit whole-image word
    pronoun: bool = False  # target is "it"/"them": refers to another clause
    negated: bool = False
    fuzzy: bool = False  # task found only after typo correction
    verb_tasks: tuple[Task, ...] = ()  # tasks named by a task verb ("brighten"), not a quality ("too dark")
    ignored: str = ""  # words after "except"/"without"

    @property
    def text(self) -> str:
        return join_words([w for p in self.pieces for w in p.words])

    @property
    def has_content(self) -> bool:
        return any(p.kind == "word" for p in self.pieces)

    @property
    def words(self) -> list[str]:
        return [w for p in self.pieces for w in p.words]


def split_clauses(pieces: list[Piece]) -> list[Clause]:
    """Split at the splitter pieces; words after a "stop" piece go to ``ignored``."""
    clauses: list[Clause] = []
    current: list[Piece] = []
    join: str | None = None
    stop = False
    ignored: list[str] = []
    for piece in pieces:
        if piece.kind == "split":
            if current or ignored:
                clauses.append(Clause(current, join, ignored=" ".join(ignored)))
                current, ignored = [], []
                join = piece.payload
            elif join is None or piece.payload == "seq":
                join = piece.payload if clauses else None
            stop = False
            continue
        if piece.kind == "stop":
            stop = True
        if stop:
            ignored.extend(piece.words)
            continue
        current.append(piece)
    if current or ignored:
        clauses.append(Clause(current, join, ignored=" ".join(ignored)))
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


def _after_copula(pieces: list[Piece], index: int) -> bool:
    j = _previous_index(pieces, index, {"strength"})
    return j >= 0 and pieces[j].kind == "copula"


def _find_hits(pieces: list[Piece]) -> list[_Hit]:
    hits: list[_Hit] = []
    words_before: set[str] = set()
    for i, piece in enumerate(pieces):
        if piece.kind == "verb":
            hits.append(_Hit(i, piece.payload, 1, "verb"))
        elif piece.kind == "concept" and piece.text == "visible" and _after_copula(pieces, i):
            continue  # "the face is visible" says what is seen, not "use the visible image"
        elif piece.kind == "concept":
            up, down, form = piece.payload
            pol = None
            for j in range(i - 1, -1, -1):
                if pieces[j].kind == "pol":
                    pol = pieces[j]
                    break
                if pieces[j].kind == "concept":
                    continue
            polarity = 0
            if pol is not None:
                polarity = int(pol.payload)
                nxt = pieces[i + 1] if i + 1 < len(pieces) else None
                if pol.words in {("not",), ("no",)} and nxt is not None and nxt.words == ("enough",):
                    polarity = +1
            elif form == "adj":
                if _after_copula(pieces, i) and not (words_before & vocab.WISH_WORDS):
                    polarity = -1  # "the road is dark": a complaint
            elif form == "noun":
                j = _previous_index(pieces, i, {"strength", "det"})
                wished = {w for p in pieces[:j] for w in p.words} & vocab.WISH_WORDS
                said_of = j >= 0 and (pieces[j].text in vocab.RESEMBLANCE or (
                    pieces[j].kind == "copula" and pieces[j].text in vocab.PREDICATIVE_COPULAS))
                if said_of and not wished:
                    polarity = -1  # "the trees look like a heat map", "the road looks thermal": a complaint
            if form == "cmp":
                task, tier = up, 1
            else:
                task = down if polarity < 0 else up
                tier = 1 if polarity != 0 else 2
                if form == "fixed" and _after_copula(pieces, i):
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


def _resolve_hits(pieces: list[Piece], hits: list[_Hit]) -> tuple[list[Piece], list[_Hit]]:
    """Keep the hits that name tasks; turn the others back into target words.

    Returns the pieces (a new list, released hits as plain words) and the
    kept hits.
    """
    if not hits:
        return list(pieces), hits
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
    out = list(pieces)
    for h in released:
        out[h.index] = Piece(out[h.index].words, "word")
    return out, kept


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


@dataclass(frozen=True)
class _TargetFound:
    """What a clause's pieces say about its target."""

    target: str | None  # the chosen noun phrase; None when there is none
    whole: bool  # an explicit whole-image word
    pronoun: bool  # "it"/"them" stood where a target would


def _noun_runs(pieces: list[Piece]) -> tuple[list[_Run], bool]:
    """The runs of article/preposition/word/pronoun pieces, and whether a whole-image piece was seen."""
    runs: list[_Run] = []
    current: list[Piece] = []
    whole = False
    for piece in pieces + [Piece(("",), "end")]:
        if piece.kind in _OPEN_KINDS:
            current.append(piece)
            continue
        if current:
            runs.append(_Run(current, current[0].kind in {"det", "prep"}))
            current = []
        if piece.kind == "whole":
            whole = True
    return runs, whole


def _find_target(pieces: list[Piece]) -> _TargetFound:
    """The clause's target: the best noun phrase, an article- or preposition-led one first."""
    runs, whole = _noun_runs(pieces)
    candidates: list[_Run] = []
    pronoun = False
    for run in runs:
        stripped, run_whole, is_pronoun = _strip_run(run.pieces)
        whole = whole or run_whole
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
    if not candidates:
        return _TargetFound(None, whole, pronoun)
    best = max(enumerate(candidates), key=lambda ic: (ic[1].led, -ic[0]))[1]
    return _TargetFound(" ".join(best.words), whole, pronoun)


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
            values.append(float(piece.payload))
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


def _nouns_after_articles(pieces: list[Piece]) -> list[Piece]:
    """A task verb right after an article is a noun: a quality when it has that sense ("bring
    down the highlights"), else a target word ("the spotlight is too strong"). A task verb in the
    third person right after its subject describes, it does not ask ("the glare hides the
    driver", "the tree stands out too much"): it is left out."""
    out = list(pieces)
    for i, p in enumerate(pieces):
        if p.kind == "verb" and i > 0 and pieces[i - 1].kind == "det":
            sense = vocab.NOUN_SENSES.get(p.text)
            out[i] = Piece(p.words, "word") if sense is None else Piece(p.words, "concept", sense)
        elif (p.kind == "verb" and i > 0 and p.words[0].endswith("s") and p.words[0] not in vocab.NOUN_SENSES
              and pieces[i - 1].kind in {"word", "concept"}):
            out[i] = Piece(p.words, "filler")
    return out


def read_clause(clause: Clause, pieces: list[Piece] | None = None) -> Clause:
    """Read ``pieces`` (default: the clause's own) into a new clause.

    Tasks, strength and negation come from the pieces alone.  When the pieces
    hold no noun phrase, the target and the whole-image/pronoun flags of
    ``clause`` carry over (a re-read after a typo correction keeps what the
    first reading found), as they did when clauses were read in place.
    """
    source = _nouns_after_articles(clause.pieces if pieces is None else pieces)
    pieces, hits = _resolve_hits(source, _find_hits(source))
    tasks: list[Task] = []
    for h in sorted(hits, key=lambda h: h.index):
        if h.task not in tasks:
            tasks.append(h.task)
    found = _find_target(pieces)
    target: str | None
    if found.target is not None:
        target, whole, pronoun = found.target, False, clause.pronoun
    else:
        target, whole = clause.target, clause.whole or found.whole
        pronoun = clause.pronoun or (found.pronoun and not whole)
    return replace(
        clause,
        pieces=pieces,
        tasks=tasks,
        verb_tasks=tuple(t for t in tasks if any(h.task == t and h.kind == "verb" for h in hits)),
        negated=_negated(pieces, hits),
        strength=_strength_of(pieces, hits),
        target=target,
        whole=whole,
        pronoun=pronoun,
    )


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


def _correct_strength_typos(clause: Clause) -> Clause:
    """Fix misspelt strength words anywhere ("slighty"); returns the re-read clause."""
    words = clause.words
    changed = False
    for position, w, _ in _unknown_words(clause):
        if len(w) >= 5:
            match = get_close_matches(w, _SINGLE_STRENGTH_WORDS, n=1, cutoff=0.85)
            if match:
                words[position] = match[0]
                changed = True
    return read_clause(clause, match_pieces(words)) if changed else clause


def _correct_typos(clause: Clause) -> Clause:
    """Second pass for a clause with no task: fix one misspelt word at a time.

    First polarity and filler words before the first article/preposition,
    then task words, best match first, until a task is found.  Returns the
    corrected clause (``fuzzy`` when a task was found this way).
    """
    words = clause.words
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
        clause = read_clause(clause, match_pieces(words))
        if clause.tasks:
            return replace(clause, fuzzy=True)
    candidates = []
    for idx, w in enumerate(words):
        if len(w) >= 4 and w not in vocab.PROTECTED_WORDS and not _known(w):
            for m in get_close_matches(w, vocab.TASK_WORDS, n=1, cutoff=0.8):
                candidates.append((SequenceMatcher(None, w, m).ratio(), idx, m))
    for _, idx, m in sorted(candidates, key=lambda c: (-c[0], c[1])):
        trial = list(words)
        trial[idx] = m
        trial_clause = read_clause(Clause(match_pieces(trial), clause.join))
        if trial_clause.tasks:
            # read again over the corrected clause (its earlier target carries over)
            return replace(read_clause(clause, trial_clause.pieces), fuzzy=True)
    return clause


def _known(word: str) -> bool:
    return (
        (word,) in vocab.PHRASES
        or word in vocab.DETERMINERS
        or word in vocab.PREPOSITIONS
    )



def read_command_clauses(text: str) -> list[Clause]:
    """Split ``text`` into clauses and read each, correcting typos where needed."""
    clauses = []
    for clause in split_clauses(match_pieces(tokenise(text))):
        clause = read_clause(clause)
        if clause.has_content:
            clause = _correct_strength_typos(clause)
        if not clause.tasks and not clause.negated and clause.has_content:
            clause = _correct_typos(clause)
        clauses.append(clause)
    return clauses
