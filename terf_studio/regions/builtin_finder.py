"""The weight-free text finder: what infrared physics and simple scene cues make reliable.

Cues
----
``thermal``  warm objects (people, vehicles, animals, "hot ..."): local contrast of the
             infrared image (a white top-hat: the infrared minus its morphological
             opening), strong peaks as seeds, each seed grown to half its contrast
             over the local background, connected components, size and shape filters;
             cooler clothing inside an object's outline is filled in.
``sky``      smooth in both images, bright or blue in the visible, cold in the infrared
             (at night: the coldest smooth infrared), connected to the top rows.
``road``     smooth and grey pixels connected to the bottom centre, within a band of
             the seeds' lightness and infrared level; lane markings bridged and filled.
``vegetation`` green in the visible (excess green after a grey-world balance), or
             faintly green and densely textured in both images; a grey visible image
             falls back on texture alone, a night image finds nothing. Trees are the
             part above the horizon line, grass and bushes the part below it.

Phrases are matched word by word against :data:`VOCABULARY` (one table for every
cue). Position words (:data:`SELECTORS`) pick one warm object ("the man on the
left") or, for plural and area targets, restrict to that part of the image.
Anything else raises :class:`NoRegionFound`.

This module holds the finder and keeps the public names; the cues, vocabulary and
thresholds (:class:`FinderParams`) live in :mod:`terf_studio.regions.builtin`.
"""

from __future__ import annotations

import numpy as np

from terf_studio.regions.base import ImageSet, NoRegionFound, RegionResult
from terf_studio.regions.builtin.common import restrict
from terf_studio.regions.builtin.params import PARAMS, FinderParams
from terf_studio.regions.builtin.road import find_road
from terf_studio.regions.builtin.sky import find_sky
from terf_studio.regions.builtin.thermal import (
    WarmObject,
    WarmScene,
    find_thermal,
    thermal_contrast,
    warm_objects,
    warm_scene,
)
from terf_studio.regions.builtin.vegetation import find_vegetation
from terf_studio.regions.builtin.vocabulary import (
    CUE_COLOURS,
    FINDER_NAME,
    SELECTORS,
    VOCABULARY,
    WARM_WORDS,
    Query,
    parse_target,
    split_phrase,
)
from terf_studio.regions.mask import Mask

__all__ = [
    "CUE_COLOURS",
    "FINDER_NAME",
    "PARAMS",
    "SELECTORS",
    "VOCABULARY",
    "WARM_WORDS",
    "BuiltinFinder",
    "FinderParams",
    "Query",
    "WarmObject",
    "WarmScene",
    "parse_target",
    "thermal_contrast",
    "warm_objects",
    "warm_scene",
]

_CUES = {
    "thermal": find_thermal,
    "sky": find_sky,
    "road": find_road,
    "vegetation": find_vegetation,
}


class BuiltinFinder:
    """Weight-free finder for warm objects, sky, road and vegetation."""

    name = FINDER_NAME

    def understands(self, phrase: str) -> bool:
        """True when every part of ``phrase`` matches the vocabulary."""
        parts = split_phrase(phrase)
        return bool(parts) and all(parse_target(p) is not None for p in parts)

    def find(self, phrase: str, images: ImageSet) -> RegionResult:
        """A mask for ``phrase`` (parts joined by "and", "," or "&" are united);
        raises :class:`NoRegionFound` when any part is not understood or not found."""
        parts = split_phrase(phrase)
        parsed = [parse_target(p) for p in parts]
        queries = [q for q in parsed if q is not None]
        if not parts or len(queries) != len(parsed):
            raise NoRegionFound(phrase)
        combined = np.zeros(images.shape, bool)
        confidences, details, cues = [], [], []
        for query in queries:
            try:
                region, confidence, detail = _CUES[query.cue](query, images)
            except NoRegionFound as exc:
                raise NoRegionFound(phrase, exc.detail) from None
            if query.cue != "thermal":
                region = restrict(region, query.selector)
                if not region.any():
                    raise NoRegionFound(phrase, f"nothing in the {query.selector} part")
            combined |= region
            confidences.append(confidence)
            details.append(detail)
            cues.append(query.cue)
        cue_names = "+".join(dict.fromkeys(cues))
        finder = f"{FINDER_NAME}:{cue_names}"
        confidence = float(min(confidences))
        colour = CUE_COLOURS.get(cues[0], CUE_COLOURS["thermal"])
        mask = Mask(combined, label=phrase.strip(), colour=colour, source=finder, confidence=confidence)
        return RegionResult(mask=mask, finder=finder, confidence=confidence, detail="; ".join(details))
