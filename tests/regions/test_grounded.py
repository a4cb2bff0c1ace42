"""The GroundingDINO + SAM + MobileSAM path, on small randomly initialised models of the real
architectures, saved to files named as the model registry expects and loaded through the
same code a user's downloaded weights go through (registry lookup, torch.load with
weights_only=True, strict shape checks, tokenizer from a local BERT folder).

Random weights say nothing about mask quality; these tests check the plumbing: shapes,
dtypes, value ranges, phrase-to-token bookkeeping, the embedding cache, and the errors a
user sees when something is missing. They skip when the [grounding] extra is not installed.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from terf_studio.errors import ModelError
from terf_studio.regions import ImageSet, NoRegionFound, find_region, finders, unregister_finder
from terf_studio.regions.grounded import (
    BERT_MODEL,
    DINO_MODEL,
    SAM_ARCHS,
    GroundedFinder,
    SamArch,
    build_grounding_model,
    build_sam,
    grounded_status,
    missing_packages,
    register_grounded_if_available,
    split_phrase,
)
from terf_studio.weights import registry

MISSING = missing_packages("all")
needs_extra = pytest.mark.skipif(
    bool(MISSING),
    reason=f"the [grounding] extra is not installed (missing {', '.join(MISSING)}); see packaging/setup-grounding.sh",
)

# Small versions of the published shapes (the real classes, fewer/narrower layers).
pytestmark = [
    # The model libraries' own imports (timm's moved modules, MobileSAM's timm registrations).
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore:Overwriting tiny_vit"),
    pytest.mark.filterwarnings("ignore:torch.meshgrid"),  # inside GroundingDINO's Swin backbone
]

SMALL_DINO = {
    "enc_layers": 1,
    "dec_layers": 1,
    "dim_feedforward": 128,
    "num_queries": 30,
}
SMALL_SAM = SamArch(
    "vit",
    embed_dim=48,
    depth=2,
    num_heads=2,
    global_attn_indexes=(1,),
    window_size=4,
    img_size=256,
    prompt_dim=32,
    decoder_mlp_dim=64,
    decoder_heads=2,
    iou_head_hidden_dim=32,
)
VOCAB = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    ".",
    "?",
    ",",
    "the",
    "a",
    "person",
    "people",
    "red",
    "car",
    "cars",
    "tree",
    "trees",
    "sky",
    "road",
    "hot",
    "warm",
    "dog",
    "##s",
]
IMAGE_SIZE = {"image_size": 96, "max_size": 160}
SMALL_FILES = (DINO_MODEL, "sam-vit-b", "mobile-sam")


def test_import_does_not_load_torchvision():
    """`import terf_studio.regions` and the grounded package, and a status check, stay light:
    no torch, torchvision or model library until the finder is used."""
    code = (
        "import sys, terf_studio.regions, terf_studio.regions.grounded as g\n"
        "g.grounded_status()\n"
        "heavy = [m for m in ('torch', 'torchvision', 'groundingdino', 'segment_anything', 'mobile_sam', "
        "'transformers', 'timm') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_split_phrase():
    assert split_phrase("people and cars") == ["people", "cars"]
    assert split_phrase(" the trees, the road & sky. ") == ["the trees", "the road", "sky"]
    assert split_phrase("") == []


# ---------------------------------------------------------------------------- fixtures


def _write_bert_folder(folder):
    from transformers import BertConfig, BertTokenizerFast

    folder.mkdir(parents=True)
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True).save_pretrained(str(folder))
    config = BertConfig(
        vocab_size=len(VOCAB),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    config.save_pretrained(str(folder))
    assert json.loads((folder / "config.json").read_text())["hidden_size"] == 32


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A model folder with a tiny BERT folder and random small GroundingDINO / SAM ViT and a
    random full-size MobileSAM, saved under the registry's file names."""
    if MISSING:
        pytest.skip("the [grounding] extra is not installed")
    import torch

    folder = tmp_path_factory.mktemp("models")
    _write_bert_folder(folder / registry.get_spec(BERT_MODEL).filename)
    torch.manual_seed(0)
    dino = build_grounding_model(folder / registry.get_spec(BERT_MODEL).filename, SMALL_DINO)
    # The published checkpoint is {"model": state_dict} and carries BERT's weights too.
    torch.save({"model": dino.state_dict()}, folder / registry.get_spec(DINO_MODEL).filename)
    torch.manual_seed(1)
    torch.save(build_sam(SMALL_SAM).state_dict(), folder / registry.get_spec("sam-vit-b").filename)
    torch.manual_seed(2)
    torch.save(build_sam(SAM_ARCHS["mobile-sam"]).state_dict(), folder / registry.get_spec("mobile-sam").filename)
    return folder


def _use_model_dir(mp, folder):
    """Point the registry at ``folder``. Random-weight files cannot have the published sizes
    and checksums, so those checks are dropped for the models written above."""
    mp.setenv("TERF_STUDIO_MODELS", str(folder))
    for name in SMALL_FILES:
        spec = registry.get_spec(name)
        mp.setitem(registry.REGISTRY, name, dataclasses.replace(spec, size=None, sha256=None))


@pytest.fixture
def use_models(model_dir, monkeypatch):
    _use_model_dir(monkeypatch, model_dir)
    return model_dir


def _small_finder(sam="sam-vit-b", **options):
    arch = SMALL_SAM if sam == "sam-vit-b" else None
    return GroundedFinder(sam=sam, device="cpu", dino_config=SMALL_DINO, sam_arch=arch, **IMAGE_SIZE, **options)


@pytest.fixture(scope="module")
def loaded(model_dir):
    """A finder with both models loaded (shared: loading takes a few seconds)."""
    with pytest.MonkeyPatch.context() as mp:
        _use_model_dir(mp, model_dir)
        finder = _small_finder(box_threshold=0.0, text_threshold=0.0).load()
    return finder


@pytest.fixture(scope="module")
def mobile(model_dir):
    with pytest.MonkeyPatch.context() as mp:
        _use_model_dir(mp, model_dir)
        finder = GroundedFinder(sam="mobile-sam", device="cpu")
        finder.segmenter  # noqa: B018  (loads MobileSAM only)
    return finder


def _images(seed=0, shape=(80, 96)):
    rng = np.random.default_rng(seed)
    h, w = shape
    vi = rng.random((h, w, 3)).astype(np.float32) * 0.3
    ir = np.full((h, w), 0.2, np.float32)
    vi[20:60, 30:50] += 0.6  # a "person": bright in both
    ir[20:60, 30:50] = 0.9
    return ImageSet(vi, ir)


def _encoder_counter(segmenter):
    calls = []
    segmenter.model.image_encoder.register_forward_hook(lambda *args: calls.append(1))
    return calls


def _check_mask(mask, shape):
    assert mask.data.shape == shape
    assert mask.data.dtype == np.float32
    assert set(np.unique(mask.data)) <= {0.0, 1.0}
    assert 0.0 <= mask.confidence <= 1.0


# ---------------------------------------------------------------------------- architectures


@needs_extra
@pytest.mark.parametrize("name", ["sam-vit-h", "sam-vit-l", "sam-vit-b", "mobile-sam"])
def test_published_sam_shapes_match_the_libraries(name):
    """Our builder makes exactly the published models (compared on the meta device: no memory)."""
    import torch

    if name == "mobile-sam":
        from mobile_sam import sam_model_registry

        key = "vit_t"
    else:
        from segment_anything import sam_model_registry

        key = {"sam-vit-h": "vit_h", "sam-vit-l": "vit_l", "sam-vit-b": "vit_b"}[name]
    # TinyViT's constructor reads tensor values, so MobileSAM (small anyway) is built for real.
    device = "cpu" if name == "mobile-sam" else "meta"
    with torch.device(device):
        ours = build_sam(SAM_ARCHS[name]).state_dict()
        theirs = sam_model_registry[key]().state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in theirs.items()}


# ---------------------------------------------------------------------------- text -> boxes -> masks


@needs_extra
def test_phrase_tokens(loaded):
    from terf_studio.regions.grounded.dino import caption_for

    caption, spans = caption_for(["Person", "red car"])
    assert caption == "person . red car ."
    tokens = loaded.detector._phrase_tokens(caption, spans)
    # [CLS] person . red car . [SEP]
    assert [t.tolist() for t in tokens] == [[1], [3, 4]]


@needs_extra
def test_detect_boxes(loaded):
    images = _images()
    detections = loaded.detect(images, ["person", "car"])
    assert detections, "with zero thresholds every query gives a box"
    h, w = images.shape
    for d in detections:
        assert d.phrase in ("person", "car")
        x0, y0, x1, y1 = d.box
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        assert 0.0 <= d.score <= 1.0
    for phrase in ("person", "car"):
        assert sum(d.phrase == phrase for d in detections) <= 20


@needs_extra
def test_text_to_mask(loaded):
    images = _images()
    result = loaded.find("person and car", images)
    _check_mask(result.mask, images.shape)
    assert result.finder == "grounded:sam-vit-b"
    assert result.mask.label == "person and car"
    assert result.mask.area > 0
    assert "GroundingDINO" in result.detail
    per_phrase = loaded.find_many(["person", "car"], images)
    assert set(per_phrase) <= {"person", "car"} and per_phrase
    for phrase, found in per_phrase.items():
        _check_mask(found.result.mask, images.shape)
        assert found.result.mask.label == phrase
        assert all(d.phrase == phrase for d in found.detections)
        # The phrase mask is the union of its instances: it lies inside the combined mask.
        assert not (found.result.mask.binary & ~result.mask.binary).any()


@needs_extra
def test_thresholds_can_reject_everything(model_dir, monkeypatch):
    _use_model_dir(monkeypatch, model_dir)
    finder = _small_finder(box_threshold=1.0)
    with pytest.raises(NoRegionFound, match="no region found for 'person'"):
        finder.find("person", _images())


@needs_extra
def test_find_region_uses_the_registered_finder(use_models):
    try:
        finder = register_grounded_if_available(
            sam="sam-vit-b",
            device="cpu",
            dino_config=SMALL_DINO,
            sam_arch=SMALL_SAM,
            box_threshold=0.0,
            text_threshold=0.0,
            **IMAGE_SIZE,
        )
        assert finder is not None
        assert finders()[0] is finder
        images = _images()
        result = find_region("person", images)
        assert result.finder.startswith("grounded:")
        _check_mask(result.mask, images.shape)
    finally:
        unregister_finder("grounded")
    assert all(f.name != "grounded" for f in finders())


# ---------------------------------------------------------------------------- clicks, boxes, the cache


@needs_extra
def test_points_and_boxes_reuse_the_embedding(loaded):
    segmenter = loaded.segmenter
    segmenter.clear_cache()
    runs = segmenter.encoder_runs
    calls = _encoder_counter(segmenter)
    images = _images(seed=3)
    h, w = images.shape

    point = loaded.point_mask(images, [(40, 30)], label="click")
    _check_mask(point, (h, w))
    assert point.source == "point:sam-vit-b" and point.label == "click"
    assert len(calls) == 1

    both = loaded.point_mask(images, [(40, 30), (45, 50)], negatives=[(5, 5)])
    box = loaded.box_mask(images, (30, 20, 50, 60))
    refined = loaded.box_mask(images, (30, 20, 50, 60), positives=[(40, 40)], negatives=[(31, 21)])
    for mask in (both, box, refined):
        _check_mask(mask, (h, w))
    assert box.source == "box:sam-vit-b"
    assert len(calls) == 1, "prompts on the same image must not run the image encoder again"

    other = _images(seed=4)
    loaded.point_mask(other, [(10, 10)])
    assert len(calls) == 2
    loaded.box_mask(images, (0, 0, 20, 20))  # back to the first image: still cached
    loaded.find("person", images)  # text boxes on the same image: cached too
    assert len(calls) == 2
    assert segmenter.encoder_runs == runs + 2


@needs_extra
def test_cache_is_keyed_by_pixels_and_bounded(loaded):
    segmenter = loaded.segmenter
    segmenter.clear_cache()
    calls = _encoder_counter(segmenter)
    a = _images(seed=5)
    same_pixels = ImageSet(a.vi.copy(), a.ir.copy())  # a new ImageSet of the same images
    loaded.point_mask(a, [(40, 30)])
    loaded.point_mask(same_pixels, [(41, 31)])
    assert len(calls) == 1
    for seed in range(6, 6 + segmenter.cache_size):
        loaded.point_mask(_images(seed=seed), [(40, 30)])
    assert len(calls) == 1 + segmenter.cache_size
    loaded.point_mask(a, [(40, 30)])  # evicted by the newer images
    assert len(calls) == 2 + segmenter.cache_size


@needs_extra
def test_prompt_errors(loaded):
    images = _images()
    with pytest.raises(ValueError, match="outside"):
        loaded.point_mask(images, [(500, 5)])
    with pytest.raises(ValueError, match="no area"):
        loaded.box_mask(images, (10, 10, 10, 40))
    with pytest.raises(ValueError, match="positive point or a box"):
        loaded.segmenter.prompt(loaded.image_of(images), negatives=[(3, 3)])


@needs_extra
def test_mobile_sam_same_interface(mobile):
    images = _images(seed=8)
    h, w = images.shape
    calls = _encoder_counter(mobile.segmenter)
    point = mobile.point_mask(images, [(40, 30)])
    box = mobile.box_mask(images, (30, 20, 50, 60))
    _check_mask(point, (h, w))
    _check_mask(box, (h, w))
    assert point.source == "point:mobile-sam"
    assert len(calls) == 1
    masks, qualities = mobile.segmenter.boxes(mobile.image_of(images), np.array([[30, 20, 50, 60], [0, 0, 40, 40]]))
    assert masks.shape == (2, h, w) and masks.dtype == bool
    assert qualities.shape == (2,) and qualities.dtype == np.float32
    assert len(calls) == 1


# ------------------------------------------------------------------ what the user sees when something is missing


@needs_extra
def test_missing_weights_name_the_model_and_how_to_add_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TERF_STUDIO_MODELS", str(tmp_path))
    finder = GroundedFinder(device="cpu")
    with pytest.raises(ModelError, match=r"groundingdino-swint-ogc.*terf-studio models"):
        finder.find("person", _images())
    with pytest.raises(ModelError, match=r"no Segment Anything model.*sam-vit-h.*terf-studio models"):
        finder.point_mask(_images(), [(3, 3)])
    status = grounded_status()
    assert not status["ready"] and status["sam"] is None
    assert any(DINO_MODEL in line for line in status["missing"])
    assert any(BERT_MODEL in line and "models add" in line for line in status["missing"])
    before = [f.name for f in finders()]
    assert register_grounded_if_available() is None
    assert [f.name for f in finders()] == before


@needs_extra
def test_incomplete_bert_folder(use_models, tmp_path, monkeypatch):
    import shutil

    folder = tmp_path / "models"
    shutil.copytree(use_models, folder)
    (folder / registry.get_spec(BERT_MODEL).filename / "vocab.txt").unlink()
    monkeypatch.setenv("TERF_STUDIO_MODELS", str(folder))
    with pytest.raises(ModelError, match=r"bert-base-uncased.*vocab.txt"):
        _small_finder().detector  # noqa: B018


@needs_extra
def test_wrong_architecture_is_a_clear_error(use_models):
    finder = GroundedFinder(sam="sam-vit-b", device="cpu")  # the published ViT-B shape, small file
    with pytest.raises(ModelError, match=r"sam_vit_b_01ec64.pth does not match the SAM ViT-B architecture"):
        finder.segmenter  # noqa: B018
    finder = GroundedFinder(device="cpu", **IMAGE_SIZE)  # published GroundingDINO shape, small file
    with pytest.raises(ModelError, match=r"does not match the GroundingDINO"):
        finder.detector  # noqa: B018


@needs_extra
def test_not_a_checkpoint(use_models, tmp_path, monkeypatch):
    import shutil

    folder = tmp_path / "models"
    shutil.copytree(use_models, folder)
    (folder / registry.get_spec("mobile-sam").filename).write_bytes(b"<html>not found</html>")
    monkeypatch.setenv("TERF_STUDIO_MODELS", str(folder))
    with pytest.raises(ModelError, match=r"cannot read the MobileSAM weights"):
        GroundedFinder(sam="mobile-sam", device="cpu").segmenter  # noqa: B018


# ---------------------------------------------------------------------------- bench rows


def test_bench_rows_without_data_or_extra():
    """The bench row function runs nowhere near its models without pairs, and says why it
    skips without the extra (the timed run itself builds full-size models: minutes)."""
    from terf_studio.bench.grounded import grounded_rows
    from terf_studio.bench.segment import BenchData

    rows = grounded_rows(BenchData())
    if MISSING:
        assert rows == [{"finder": "grounded", "skipped": rows[0]["skipped"]}]
        assert "[grounding] extra" in rows[0]["skipped"]
    else:
        assert rows == []
