"""The region a target phrase names.

A target is what the grounding model is asked to find, so it should name a thing that has an
outline. A surface or a colour of an object has none of its own: it is the object. "The car
paint" and "the paint of the car" are "car", "the bricks of the wall" is "wall", "the red of the
postbox" is "postbox". "On" places rather than owns ("the bricks on the chimney" are bricks), and
a light seen on something is left as said ("the sun reflection on the lake" is not the lake).

Both readers (rules and model) pass their targets through :func:`region_of`, so they compare
alike. A lone surface word ("the bricks") is kept: it names nothing else.
"""

from __future__ import annotations

from . import vocabulary as vocab


def region_of(target: str | None) -> str | None:
    """``target`` with a leading surface dropped (see the module notes)."""
    if target is None:
        return None
    words = target.split()
    heads = vocab.SURFACE_WORDS | vocab.COLOUR_NOUNS
    # "<surface> of the X": the surface first, or after one modifier ("the faded paint of the
    # car"), never later ("the man in red of ...")
    for i in (0, 1):
        if i + 2 < len(words) and words[i] in heads and words[i + 1] in vocab.SURFACE_LINKS:
            rest = words[i + 2:]
            while rest and rest[0] in vocab.DETERMINERS:
                rest = rest[1:]
            if rest and (i == 0 or words[0] not in vocab.PREPOSITIONS):
                return " ".join(rest)
    # "the car paint", "the sign lettering": a surface word last, after the object's name
    if len(words) >= 2 and words[-1] in vocab.SURFACE_WORDS and words[-2] not in _LINKERS:
        return " ".join(words[:-1])
    return target


_LINKERS = vocab.DETERMINERS | vocab.PREPOSITIONS
