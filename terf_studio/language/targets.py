"""The region a target phrase names.

A target is what the grounding model is asked to find, so it should name a thing that has an
outline. Two kinds of phrase name such a thing only through something that has none:

* a surface or a colour of an object is the object: "the car paint" and "the paint of the car"
  are "car", "the bricks of the wall" is "wall", "the red of the postbox" is "postbox";
* a light or a noise seen on a place is the place: "the reflection on the car hood" is
  "car hood", "the glare from the headlights" is "headlights", "the haze over the town" is "town".

Both readers (rules and model) pass their targets through :func:`region_of`, so they compare
alike. A lone surface or phenomenon word ("the bricks", "the glare") is kept: it names nothing
else.
"""

from __future__ import annotations

from . import vocabulary as vocab


def region_of(target: str | None) -> str | None:
    """``target`` with a leading surface or phenomenon dropped (see the module notes)."""
    if target is None:
        return None
    words = target.split()
    for link_words, heads in ((vocab.SURFACE_LINKS, vocab.SURFACE_WORDS | vocab.COLOUR_NOUNS),
                              (vocab.PHENOMENON_LINKS, vocab.PHENOMENON_WORDS)):
        # "<surface> of the X", "<phenomenon> on the X": the head first, or after one modifier
        # ("the bright reflection on the car"), never later ("the man in red on the left")
        for i in (0, 1):
            if i + 2 < len(words) and words[i] in heads and words[i + 1] in link_words:
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
