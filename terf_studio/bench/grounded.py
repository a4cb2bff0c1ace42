"""Timing rows for ``terf-studio bench segment``: GroundingDINO, SAM and MobileSAM on 640x480
pairs, with randomly initialised models of the published shapes.

Run time does not depend on the weights' values, so these rows need no model files: each
model is built at its published size (GroundingDINO SwinT-OGC with a BERT-base-shaped text
encoder, SAM ViT-B/L/H, MobileSAM) with random weights and timed through the same
:class:`~terf_studio.regions.grounded.GroundedFinder` code the real weights go through.
The tokenizer is a small vocabulary written to a temporary folder (tokenizing is not what is
timed). Masks and boxes of random models mean nothing; only the seconds are reported.

Rows, each the median over :data:`MAX_PAIRS` pairs (one run each: these take seconds, and
the whole set several minutes on a 2-core CPU):

* GroundingDINO text -> boxes ("person . car ."), the image resized to 800 px on the short
  side as the model expects (after one untimed warm-up run);
* per SAM model: the image embedding with a first click (a new image), a click and a box on
  the cached embedding, and the mask of one text box (the boxes above) on the cached embedding.

:data:`SAM_BENCH_MODELS` lists the SAM models timed by default (ViT-H takes about a minute
per embedding on a 2-core CPU); pass others to :func:`grounded_rows`.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

    from terf_studio.bench.segment import BenchData, Pair

SAM_BENCH_MODELS = ("sam-vit-b", "mobile-sam")
MAX_PAIRS = 2
_RANDOM = "random weights, published shape"
_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "?", "person", "car", "tree", "road", "sky"]


def _bert_folder(root: Path) -> Path:
    """A BERT-base-shaped config (768 wide, 12 layers) with a tiny vocabulary file."""
    from transformers import BertConfig, BertTokenizerFast

    folder = root / "bert-base-uncased"
    folder.mkdir()
    (folder / "vocab.txt").write_text("\n".join(_VOCAB) + "\n")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True).save_pretrained(str(folder))
    BertConfig(vocab_size=30522).save_pretrained(str(folder))
    return folder


def _pairs(data: BenchData) -> list[Pair]:
    pairs = list(getattr(data, "roadscene", [])) or list(getattr(data, "msrs", []))
    return pairs[:MAX_PAIRS]


def _note(data: BenchData, pairs: list[Pair], device: torch.device) -> str:
    from terf_studio.device import describe_device

    h, w = pairs[0].ir.shape
    source = getattr(data, "roadscene_note", "") if getattr(data, "roadscene", None) else getattr(data, "msrs_note", "")
    return f"{_RANDOM}; {len(pairs)} pairs at {w}x{h} ({source}); {describe_device(device)}"


def _point_and_box(pair: Pair) -> tuple[tuple[float, float], tuple[float, float, float, float]]:
    h, w = pair.ir.shape
    point = pair.point if pair.point is not None else (w / 2.0, h / 2.0)
    box = pair.box if pair.box is not None else (w / 3.0, h / 3.0, 2 * w / 3.0, 2 * h / 3.0)
    return point, box


def grounded_rows(data: BenchData, sam_models: tuple[str, ...] = SAM_BENCH_MODELS, device: str = "cpu") -> list[dict]:
    """Timing rows for GroundingDINO text -> boxes and each of ``sam_models``."""
    from terf_studio.bench.segment import timing_row
    from terf_studio.regions import ImageSet
    from terf_studio.regions.grounded import (
        SAM_ARCHS,
        GroundedFinder,
        GroundingDetector,
        SamSegmenter,
        build_grounding_model,
        build_sam,
        missing_packages,
    )
    from terf_studio.regions.grounded.sam import SAM_TITLES

    missing = missing_packages("all")
    if missing:
        return [{"finder": "grounded", "skipped": f"the [grounding] extra is not installed ({', '.join(missing)})"}]
    pairs = _pairs(data)
    if not pairs:
        return []
    import torch

    rows = []
    torch.manual_seed(0)
    finder = GroundedFinder(device=device)
    note = _note(data, pairs, finder.device)
    with tempfile.TemporaryDirectory() as tmp:
        finder.attach(detector=GroundingDetector(build_grounding_model(_bert_folder(Path(tmp))).to(finder.device)))
    images = [ImageSet(p.vi, p.ir) for p in pairs]
    phrases = ["person", "car"]
    finder.detect(images[0], phrases)  # warm-up
    seconds, detections = [], []
    for im in images:
        t0 = time.perf_counter()
        detections.append(finder.detect(im, phrases))
        seconds.append(time.perf_counter() - t0)
    rows.append(
        timing_row(
            "grounded",
            "GroundingDINO SwinT text->boxes",
            note,
            seconds,
            None,
            mean_boxes=round(float(np.mean([len(d) for d in detections])), 1),
        )
    )
    for name in sam_models:
        torch.manual_seed(1)
        arch = SAM_ARCHS[name]
        model = build_sam(arch).to(finder.device)
        title = SAM_TITLES[name]
        finder.attach(segmenter=SamSegmenter(model, arch, name, title, cache_size=len(images) + 1))
        embed, point_s, box_s, text_s = [], [], [], []
        for pair, im, found in zip(pairs, images, detections, strict=True):
            point, box = _point_and_box(pair)
            t0 = time.perf_counter()
            finder.point_mask(im, [point])  # the first prompt on an image computes its embedding
            embed.append(time.perf_counter() - t0)
            x, y = point
            t0 = time.perf_counter()
            finder.point_mask(im, [(min(x + 2, pair.ir.shape[1] - 1), y)])
            point_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            finder.box_mask(im, box)
            box_s.append(time.perf_counter() - t0)
            if found:
                t0 = time.perf_counter()
                finder.segmenter.boxes(finder.image_of(im), np.array([found[0].box], np.float32))
                text_s.append(time.perf_counter() - t0)
        rows.append(timing_row("grounded", f"{title} embedding + click (new image)", note, embed, None))
        rows.append(timing_row("grounded", f"{title} click (cached embedding)", note, point_s, None))
        rows.append(timing_row("grounded", f"{title} box (cached embedding)", note, box_s, None))
        if text_s:
            rows.append(timing_row("grounded", f"{title} mask of a text box (cached)", note, text_s, None))
        del model
    return rows
