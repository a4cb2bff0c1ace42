"""The grounded finder: text -> boxes (GroundingDINO) -> masks (SAM or MobileSAM), plus
point and box prompts on the same SAM model with its per-image embedding cache.

Models load on first use, from the files that :mod:`terf_studio.weights.registry` finds:
``groundingdino-swint-ogc`` and the ``bert-base-uncased`` folder for text, and one of
``sam-vit-h``, ``sam-vit-l``, ``sam-vit-b``, ``mobile-sam`` (the first present, unless one
is named) for masks.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from terf_studio.errors import ModelError
from terf_studio.regions.base import ImageSet, NoRegionFound, RegionResult
from terf_studio.regions.grounded.dino import DINO_TITLE, Detection, GroundingDetector, load_grounding_model
from terf_studio.regions.grounded.names import (
    BERT_MODEL,
    DINO_MODEL,
    FINDER_NAME,
    SAM_MODELS,
    present_sam_model,
    split_phrase,
)
from terf_studio.regions.grounded.sam import (
    SAM_ARCHS,
    SAM_TITLES,
    Box,
    Point,
    SamArch,
    SamSegmenter,
    as_rgb,
    load_sam_model,
)
from terf_studio.regions.mask import Mask
from terf_studio.weights import registry

if TYPE_CHECKING:
    import torch

COLOUR = (255, 120, 40)


@dataclass(frozen=True)
class GroundedResult:
    """A target phrase's mask with the boxes it came from."""

    result: RegionResult
    detections: tuple[Detection, ...]


class GroundedFinder:
    """A :class:`~terf_studio.regions.RegionFinder` backed by GroundingDINO and SAM.

    ``sam``: a SAM model name ("sam-vit-h", "sam-vit-l", "sam-vit-b", "mobile-sam") or None
    for the best one present. ``device``: "auto", "cpu" or "cuda". ``box_threshold`` and
    ``text_threshold`` are GroundingDINO's (0.35 and 0.25 in its reference demo).
    ``image_source``: which image the models see: "view" (the fused image when there is one,
    else the visible one), "visible" or "infrared".

    ``dino_config`` (GroundingDINO config values) and ``sam_arch`` replace the published
    shapes; they exist for checkpoints of other sizes (tests use small random models).
    """

    name = FINDER_NAME

    def __init__(
        self,
        sam: str | None = None,
        device: str = "auto",
        box_threshold: float = 0.35,
        text_threshold: float = 0.25,
        image_source: str = "view",
        image_size: int = 800,
        max_size: int = 1333,
        cache_size: int = 4,
        dino_config: dict | None = None,
        sam_arch: SamArch | None = None,
    ) -> None:
        if sam is not None and sam not in SAM_ARCHS:
            raise ValueError(f"unknown SAM model '{sam}': use one of {', '.join(SAM_MODELS)}")
        if image_source not in ("view", "visible", "infrared"):
            raise ValueError("image_source is 'view', 'visible' or 'infrared'")
        self.sam_name = sam
        self.device_name = device
        self.box_threshold = float(box_threshold)
        self.text_threshold = float(text_threshold)
        self.image_source = image_source
        self.image_size = image_size
        self.max_size = max_size
        self.cache_size = cache_size
        self.dino_config = dict(dino_config or {})
        self.sam_arch = sam_arch
        self._detector: GroundingDetector | None = None
        self._segmenter: SamSegmenter | None = None
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ loading
    @property
    def device(self) -> torch.device:
        """The torch device the models run on ("auto": CUDA when present, else the CPU)."""
        from terf_studio.device import resolve_device

        return resolve_device(self.device_name)

    @property
    def detector(self) -> GroundingDetector:
        """The GroundingDINO detector, loaded on first use (ModelError when files are missing)."""
        with self._lock:
            if self._detector is None:
                checkpoint = registry.require_model(DINO_MODEL)
                bert = registry.require_model(BERT_MODEL)
                model = load_grounding_model(checkpoint, bert, self.device, self.dino_config)
                self._detector = GroundingDetector(model, image_size=self.image_size, max_size=self.max_size)
            return self._detector

    @property
    def segmenter(self) -> SamSegmenter:
        """The SAM-family segmenter, loaded on first use (ModelError when no file is present)."""
        with self._lock:
            if self._segmenter is None:
                name = self.sam_name or present_sam_model()
                if name is None:
                    # Name the preferred model in the message: the user adds one of them.
                    hints = "; ".join(f"{n}: {registry.get_spec(n).how_to_get}" for n in ("sam-vit-h", "mobile-sam"))
                    raise ModelError(
                        f"no Segment Anything model is present ({', '.join(SAM_MODELS)} were looked for in "
                        f"{', '.join(str(d) for d in registry.search_dirs())}); {hints}"
                    )
                path = registry.require_model(name)
                arch = self.sam_arch or SAM_ARCHS[name]
                title = SAM_TITLES[name]
                model = load_sam_model(path, arch, title, self.device)
                self._segmenter = SamSegmenter(model, arch, name, title, cache_size=self.cache_size)
            return self._segmenter

    def attach(self, detector: GroundingDetector | None = None, segmenter: SamSegmenter | None = None) -> None:
        """Use models built elsewhere (in memory) instead of loading them from the model files."""
        with self._lock:
            if detector is not None:
                self._detector = detector
            if segmenter is not None:
                self._segmenter = segmenter

    def load(self) -> GroundedFinder:
        """Load both models now (they load on first use otherwise)."""
        self.detector  # noqa: B018
        self.segmenter  # noqa: B018
        return self

    # ------------------------------------------------------------------ images
    def image_of(self, images: ImageSet | np.ndarray) -> np.ndarray:
        """The RGB uint8 image the models see for ``images`` (or an image array as is)."""
        if not isinstance(images, ImageSet):
            return as_rgb(images)
        source = {"view": images.view, "visible": images.vi, "infrared": images.ir}[self.image_source]
        return as_rgb(source)

    # ------------------------------------------------------------------ text
    def detect(self, images: ImageSet | np.ndarray, phrases: Sequence[str]) -> list[Detection]:
        """GroundingDINO boxes for ``phrases`` (one model pass for all of them)."""
        return self.detector.detect(
            self.image_of(images), phrases, box_threshold=self.box_threshold, text_threshold=self.text_threshold
        )

    def find_many(self, phrases: Sequence[str], images: ImageSet | np.ndarray) -> dict[str, GroundedResult]:
        """One mask per target phrase (the union of its instances), from one GroundingDINO
        pass and one batched SAM pass. Phrases without a box are left out of the result."""
        phrases = list(dict.fromkeys(p.strip() for p in phrases if p.strip()))
        rgb = self.image_of(images)
        detections = self.detector.detect(
            rgb, phrases, box_threshold=self.box_threshold, text_threshold=self.text_threshold
        )
        if not detections:
            return {}
        segmenter = self.segmenter
        masks, qualities = segmenter.boxes(rgb, np.array([d.box for d in detections], np.float32))
        out: dict[str, GroundedResult] = {}
        for phrase in phrases:
            idx = [i for i, d in enumerate(detections) if d.phrase == phrase]
            if not idx:
                continue
            region = np.any(masks[idx], axis=0)
            if not region.any():
                continue
            found = tuple(detections[i] for i in idx)
            # Confidence: the best box score, tempered by SAM's own quality estimate of that box's mask.
            best = max(idx, key=lambda i: detections[i].score)
            confidence = float(np.clip(detections[best].score * np.clip(qualities[best], 0.0, 1.0), 0.0, 1.0))
            source = f"{FINDER_NAME}:{segmenter.name}"
            mask = Mask(region, label=phrase, colour=COLOUR, source=source, confidence=confidence)
            count = len(found)
            detail = (
                f"{count} box{'es' if count != 1 else ''} from {DINO_TITLE} "
                f"(best score {detections[best].score:.2f}), masks by {segmenter.title}"
            )
            out[phrase] = GroundedResult(
                RegionResult(mask=mask, finder=source, confidence=confidence, detail=detail), found
            )
        return out

    def find(self, phrase: str, images: ImageSet) -> RegionResult:
        """The union mask of every target in ``phrase`` ("people and cars" looks for both);
        raises NoRegionFound when GroundingDINO finds none of them."""
        parts = split_phrase(phrase)
        if not parts:
            raise NoRegionFound(phrase)
        found = self.find_many(parts, images)
        if not found:
            raise NoRegionFound(
                phrase, f"no box above the thresholds (box {self.box_threshold}, text {self.text_threshold})"
            )
        missing = [p for p in parts if p not in found]
        results = [found[p].result for p in parts if p in found]
        data = np.maximum.reduce([r.mask.data for r in results])
        confidence = min(r.confidence for r in results)
        if missing:
            confidence *= 0.5  # part of the request is not in the mask
        first = results[0]
        mask = first.mask.with_data(data).with_meta(label=phrase.strip(), confidence=confidence)
        details = [f"{p}: {found[p].result.detail}" for p in parts if p in found]
        if missing:
            details.append(f"not found: {', '.join(missing)}")
        return RegionResult(mask=mask, finder=first.finder, confidence=confidence, detail="; ".join(details))

    # ------------------------------------------------------------------ clicks and boxes
    def point_mask(
        self,
        images: ImageSet | np.ndarray,
        positives: Sequence[Point],
        negatives: Sequence[Point] = (),
        label: str = "",
    ) -> Mask:
        """A mask from positive/negative clicks (x, y in pixels) with SAM."""
        segmenter = self.segmenter
        region, quality = segmenter.points(self.image_of(images), positives, negatives)
        return Mask(
            region,
            label=label,
            colour=COLOUR,
            source=f"point:{segmenter.name}",
            confidence=float(np.clip(quality, 0.0, 1.0)),
        )

    def box_mask(
        self,
        images: ImageSet | np.ndarray,
        box: Box,
        positives: Sequence[Point] = (),
        negatives: Sequence[Point] = (),
        label: str = "",
    ) -> Mask:
        """A mask for the object in ``box`` = (x0, y0, x1, y1), optionally refined by clicks."""
        segmenter = self.segmenter
        region, quality = segmenter.box(self.image_of(images), box, positives, negatives)
        return Mask(
            region,
            label=label,
            colour=COLOUR,
            source=f"box:{segmenter.name}",
            confidence=float(np.clip(quality, 0.0, 1.0)),
        )
