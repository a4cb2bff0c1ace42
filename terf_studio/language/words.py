"""The rule parser's words: normalising, tokenising and matching vocabulary phrases.

Steps 1 and 2 of :mod:`terf_studio.language.rules`: lower case, contractions
expanded ("don't" -> "do not"), punctuation kept as separate tokens; then
phrases matched greedily, longest first, against the tables in
:mod:`terf_studio.language.vocabulary`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from . import vocabulary as vocab

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
    (r"\bit's\b", "it is"),  # "its" is read in tokenise: "its colour" is possessive
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


# Terminal escape sequences: CSI (ESC [ or C1 CSI ... final byte), OSC (ESC ] or C1 OSC ... BEL or
# ST, or to the end), and the two- or three-byte escapes (ESC, intermediates, final byte).
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
# C0 and C1 control characters except tab and newline, and DEL.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Lone surrogates: how Python passes on bytes of a command line that are not valid UTF-8.
_SURROGATES = re.compile("[\ud800-\udfff]")


#: The longest command the parsers read, in characters. A command is a sentence or two; reading
#: (and typo-matching) every word of a pasted page would stall the editor for seconds (20 000
#: unknown words took 17 s).
MAX_COMMAND_CHARS = 2000


def too_long(text: object) -> str:
    """The message for a command longer than :data:`MAX_COMMAND_CHARS`; empty when it is not."""
    if not isinstance(text, str) or len(text) <= MAX_COMMAND_CHARS:
        return ""
    return (f"The command is too long ({len(text)} characters, the limit is {MAX_COMMAND_CHARS}): "
            "say what to change in a sentence or two.")


def clean_command(text: str) -> str:
    """``text`` safe to parse and to echo: terminal escape sequences removed (their invisible
    parameters must not end up in targets: ESC[31mtrees is "trees"), other control characters
    (C0 and C1 except tab and newline) replaced by a space, and undecodable bytes (lone
    surrogates) by U+FFFD, so the text can always be printed.
    """
    return _SURROGATES.sub("\ufffd", _CONTROLS.sub(" ", _ESCAPES.sub("", text)))


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
        nxt = raw[i + 1] if i + 1 < len(raw) else ""
        # "its too dark" (a missing apostrophe), but "lost its colour" (possessive)
        if tok == "its" and _is_before(nxt, nouns=False):
            out.extend(["it", "is"])
        elif tok.endswith("'s") and len(tok) > 2 and _is_before(nxt, nouns=True):
            out.extend([tok[:-2], "is"])
        else:
            out.append(tok)
    return out


def _is_before(word: str, nouns: bool) -> bool:
    """Whether an "'s" (or a bare "its") followed by ``word`` stands for "is": before a degree
    word, a strength word or a quality ("the sky's too bright", "its dark"); a quality noun
    counts too when ``nouns`` ("the road's noise" is not possessive here, but "its colour" is)."""
    concept = vocab.CONCEPTS.get(word)
    quality = concept is not None and (nouns or concept[2] != "noun")
    return word in _IS_AFTER or word in vocab.STRENGTH_WORDS or quality


@dataclass
class Piece:
    """One matched unit of a command: a word or a known phrase."""

    words: tuple[str, ...]
    kind: str  # split stop whole strength verb concept pol neg copula pronoun filler det prep word
    payload: Any = None  # what the vocabulary gives for ``kind`` (a Task, a polarity, ...)
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



def join_words(words: list[str]) -> str:
    """Words back into text, separator marks attached to the word before."""
    out = ""
    for w in words:
        if w in {",", ";", ".", "!", "?", ":"}:
            out += w
        else:
            out += (" " if out else "") + w
    return out
