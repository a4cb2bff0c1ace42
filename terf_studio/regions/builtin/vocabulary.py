"""The builtin finder's vocabulary: which words name which cue, and position words.

Phrases are matched word by word against :data:`VOCABULARY` (one table for every
cue). Position words (:data:`SELECTORS`) pick one warm object ("the man on the
left") or, for plural and area targets, restrict to that part of the image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FINDER_NAME = "builtin"

# word -> (cue, kind, plural). Kinds refine the thermal cue's shape filter and the
# vegetation cue's position split.
VOCABULARY: dict[str, tuple[str, str, bool]] = {
    # people
    "person": ("thermal", "person", False),
    "persons": ("thermal", "person", True),
    "people": ("thermal", "person", True),
    "pedestrian": ("thermal", "person", False),
    "pedestrians": ("thermal", "person", True),
    "human": ("thermal", "person", False),
    "humans": ("thermal", "person", True),
    "man": ("thermal", "person", False),
    "men": ("thermal", "person", True),
    "woman": ("thermal", "person", False),
    "women": ("thermal", "person", True),
    "child": ("thermal", "person", False),
    "children": ("thermal", "person", True),
    "kid": ("thermal", "person", False),
    "kids": ("thermal", "person", True),
    "boy": ("thermal", "person", False),
    "girl": ("thermal", "person", False),
    "cyclist": ("thermal", "person", False),
    "cyclists": ("thermal", "person", True),
    "rider": ("thermal", "person", False),
    "riders": ("thermal", "person", True),
    "walker": ("thermal", "person", False),
    "figure": ("thermal", "person", False),
    "figures": ("thermal", "person", True),
    # vehicles
    "car": ("thermal", "vehicle", False),
    "cars": ("thermal", "vehicle", True),
    "vehicle": ("thermal", "vehicle", False),
    "vehicles": ("thermal", "vehicle", True),
    "truck": ("thermal", "vehicle", False),
    "trucks": ("thermal", "vehicle", True),
    "bus": ("thermal", "vehicle", False),
    "buses": ("thermal", "vehicle", True),
    "van": ("thermal", "vehicle", False),
    "vans": ("thermal", "vehicle", True),
    "motorcycle": ("thermal", "vehicle", False),
    "motorcycles": ("thermal", "vehicle", True),
    "motorbike": ("thermal", "vehicle", False),
    # animals
    "animal": ("thermal", "animal", False),
    "animals": ("thermal", "animal", True),
    "dog": ("thermal", "animal", False),
    "dogs": ("thermal", "animal", True),
    "cat": ("thermal", "animal", False),
    "cats": ("thermal", "animal", True),
    "horse": ("thermal", "animal", False),
    "horses": ("thermal", "animal", True),
    "cow": ("thermal", "animal", False),
    "cows": ("thermal", "animal", True),
    "deer": ("thermal", "animal", True),
    # generic warm things
    "target": ("thermal", "any", False),
    "targets": ("thermal", "any", True),
    "hotspot": ("thermal", "any", False),
    "hotspots": ("thermal", "any", True),
    # sky
    "sky": ("sky", "sky", False),
    "skies": ("sky", "sky", False),
    # road and ground
    "road": ("road", "road", False),
    "roads": ("road", "road", False),
    "street": ("road", "road", False),
    "streets": ("road", "road", False),
    "ground": ("road", "road", False),
    "asphalt": ("road", "road", False),
    "roadway": ("road", "road", False),
    # vegetation
    "vegetation": ("vegetation", "all", True),
    "plants": ("vegetation", "all", True),
    "greenery": ("vegetation", "all", True),
    "foliage": ("vegetation", "all", True),
    "leaves": ("vegetation", "all", True),
    "tree": ("vegetation", "trees", False),
    "trees": ("vegetation", "trees", True),
    "forest": ("vegetation", "trees", True),
    "woods": ("vegetation", "trees", True),
    "palm": ("vegetation", "trees", False),
    "palms": ("vegetation", "trees", True),
    "grass": ("vegetation", "low", True),
    "lawn": ("vegetation", "low", True),
    "bush": ("vegetation", "low", False),
    "bushes": ("vegetation", "low", True),
    "hedge": ("vegetation", "low", False),
    "hedges": ("vegetation", "low", True),
    "shrub": ("vegetation", "low", False),
    "shrubs": ("vegetation", "low", True),
}

# Words that make any noun a warm target ("hot engine", "warm objects").
WARM_WORDS = frozenset({"hot", "warm", "heat", "thermal", "hottest", "warmest"})

# Position and size words -> selector.
SELECTORS: dict[str, str] = {
    "left": "left",
    "leftmost": "left",
    "right": "right",
    "rightmost": "right",
    "top": "top",
    "upper": "top",
    "highest": "top",
    "bottom": "bottom",
    "lower": "bottom",
    "lowest": "bottom",
    "middle": "middle",
    "center": "middle",
    "centre": "middle",
    "central": "middle",
    "largest": "largest",
    "biggest": "largest",
    "closest": "largest",
    "nearest": "largest",
    "smallest": "smallest",
    "farthest": "smallest",
    "furthest": "smallest",
    "hottest": "hottest",
    "warmest": "hottest",
}

CUE_COLOURS = {
    "thermal": (255, 80, 40),
    "sky": (80, 160, 255),
    "road": (170, 170, 170),
    "vegetation": (60, 200, 60),
}

_WORD_RE = re.compile(r"[a-z]+")
_SPLIT_RE = re.compile(r"\s*(?:,|&|\band\b)\s*")


@dataclass(frozen=True)
class Query:
    """A parsed target phrase."""

    phrase: str
    cue: str
    kind: str
    plural: bool
    selector: str | None


def parse_target(phrase: str) -> Query | None:
    """Match one target phrase against the vocabulary; None when nothing matches."""
    words = _WORD_RE.findall(phrase.lower())
    selector = next((SELECTORS[w] for w in words if w in SELECTORS), None)
    for word in words:
        if word in VOCABULARY:
            cue, kind, plural = VOCABULARY[word]
            return Query(phrase, cue, kind, plural, selector)
    if any(w in WARM_WORDS for w in words):
        plural = any(w.endswith("s") and w not in WARM_WORDS for w in words)
        return Query(phrase, "thermal", "any", plural, selector)
    return None


def split_phrase(phrase: str) -> list[str]:
    """The target phrases of ``phrase`` ("sky and road" -> ["sky", "road"])."""
    return [p for p in _SPLIT_RE.split(phrase.strip()) if p]
