"""Names and small helpers of the grounded finder that need neither torch nor the model
libraries (so status checks stay fast)."""

from __future__ import annotations

import re

from terf_studio.weights import registry

FINDER_NAME = "grounded"
DINO_MODEL = "groundingdino-swint-ogc"
BERT_MODEL = "bert-base-uncased"
# Preference order when no SAM model is named: the best present one.
SAM_MODELS = ("sam-vit-h", "sam-vit-l", "sam-vit-b", "mobile-sam")

_SPLIT_RE = re.compile(r"\s*(?:,|;|&|\.|\band\b)\s*")


def split_phrase(phrase: str) -> list[str]:
    """The targets in a phrase: "people and cars" -> ["people", "cars"] (split at commas, "and", "&", ".")."""
    return [p for p in (part.strip() for part in _SPLIT_RE.split(phrase.strip())) if p]


def present_sam_model() -> str | None:
    """The first SAM-family model in :data:`SAM_MODELS` whose file is present, or None."""
    for name in SAM_MODELS:
        if registry.find_model(name) is not None:
            return name
    return None
