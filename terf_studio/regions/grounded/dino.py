"""GroundingDINO: text phrases to boxes.

The model is built from the package's own ``GroundingDINO_SwinT_OGC`` configuration and
loaded from a checkpoint file with ``torch.load(weights_only=True)``. Its text encoder is
BERT: the tokenizer and the BERT configuration come from a local ``bert-base-uncased``
folder (``config.json``, ``vocab.txt``; never a download). The published checkpoint
carries the fine-tuned BERT weights itself, so the folder's own weight file is read only
when a checkpoint lacks them.

Captions are built as "phrase one . phrase two ." (the model's training format); each box
is given to the phrase whose tokens it scores highest on.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from terf_studio.errors import ModelError
from terf_studio.regions.grounded.deps import import_quietly, require_packages
from terf_studio.regions.grounded.sam import as_rgb, load_state_dict_file

DINO_TITLE = "GroundingDINO SwinT-OGC"
CONFIG_NAME = "GroundingDINO_SwinT_OGC.py"
BERT_FILES = ("config.json", "vocab.txt")
BERT_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")

# Inference settings that change no weight: gradient checkpointing is for training.
_INFERENCE_CONFIG = {"use_checkpoint": False, "use_transformer_ckpt": False}


@dataclass(frozen=True)
class Detection:
    """One box for one phrase: (x0, y0, x1, y1) in pixels of the input image, score in [0, 1]."""

    phrase: str
    box: tuple[float, float, float, float]
    score: float


def _quiet_library_warnings() -> None:
    """Deprecation notes from inside GroundingDINO's own code (nothing a user can act on),
    printed on every first call otherwise."""
    for message in (
        r"torch\.meshgrid: in an upcoming release",
        r"The `device` argument is deprecated",
        r"`torch\.cuda\.amp\.autocast\(args\.\.\.\)` is deprecated",
    ):
        warnings.filterwarnings("ignore", message=message)


def _offline() -> None:
    # The BERT folder is local; make sure nothing in transformers reaches for a hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def check_bert_folder(folder: Path) -> None:
    """Raise a :class:`ModelError` when ``folder`` lacks the BERT config or vocabulary."""
    if not folder.is_dir():
        raise ModelError(f"the BERT folder {folder} is not a folder")
    missing = [name for name in BERT_FILES if not (folder / name).is_file()]
    if missing:
        raise ModelError(
            f"the BERT folder {folder} lacks {', '.join(missing)}; it needs the bert-base-uncased "
            "config.json and vocab.txt (tokenizer_config.json too if you have it)"
        )


def _grounding_config(bert_folder: Path, overrides: dict | None) -> Any:
    import groundingdino
    from groundingdino.util.slconfig import SLConfig

    path = Path(groundingdino.__file__).resolve().parent / "config" / CONFIG_NAME
    if not path.is_file():
        raise ModelError(f"the groundingdino package has no {CONFIG_NAME}; reinstall groundingdino-py==0.4.0")
    args = SLConfig.fromfile(str(path))
    for key, value in {**_INFERENCE_CONFIG, **(overrides or {})}.items():
        setattr(args, key, value)
    args.text_encoder_type = str(bert_folder)
    args.device = "cpu"
    return args


@contextlib.contextmanager
def _bert_from_config(bert_folder: Path) -> Iterator[None]:
    """While building, make GroundingDINO create its BERT from the folder's config alone.

    The library calls ``BertModel.from_pretrained(folder)``, which insists on a weight file;
    the weights come from the GroundingDINO checkpoint instead (see :func:`load_grounding_model`).
    """
    from groundingdino.util import get_tokenlizer
    from transformers import BertConfig, BertModel

    def language_model(text_encoder_type: str) -> Any:
        config = BertConfig.from_pretrained(str(bert_folder), local_files_only=True)
        return BertModel(config, add_pooling_layer=True)

    original = get_tokenlizer.get_pretrained_language_model
    get_tokenlizer.get_pretrained_language_model = language_model
    try:
        yield
    finally:
        get_tokenlizer.get_pretrained_language_model = original


def build_grounding_model(bert_folder: Path, overrides: dict | None = None) -> torch.nn.Module:
    """GroundingDINO (SwinT-OGC configuration, with ``overrides`` of its config values) with
    freshly initialised weights, its tokenizer and BERT shape read from ``bert_folder``."""
    require_packages("dino", "GroundingDINO")
    _offline()
    _quiet_library_warnings()
    check_bert_folder(bert_folder)
    build_model = import_quietly("groundingdino.models").build_model

    args = _grounding_config(bert_folder, overrides)
    # The library prints progress lines; keep the command line's output clean.
    with _bert_from_config(bert_folder), contextlib.redirect_stdout(io.StringIO()):
        model = build_model(args)
    return model.eval()


def _load_bert_weights(model: torch.nn.Module, bert_folder: Path) -> None:
    from transformers import BertModel

    if not any((bert_folder / name).is_file() for name in BERT_WEIGHT_FILES):
        raise ModelError(
            f"the GroundingDINO checkpoint has no BERT weights and the BERT folder {bert_folder} has none "
            f"either ({' or '.join(BERT_WEIGHT_FILES)})"
        )
    bert = BertModel.from_pretrained(str(bert_folder), local_files_only=True, add_pooling_layer=True)
    own = model.bert
    for part in ("embeddings", "encoder", "pooler"):
        getattr(own, part).load_state_dict(getattr(bert, part).state_dict())


def load_grounding_model(
    checkpoint: Path, bert_folder: Path, device: torch.device, overrides: dict | None = None
) -> torch.nn.Module:
    """Build GroundingDINO and load ``checkpoint`` into it.

    Every weight of the detector must be in the checkpoint. Keys the model does not have
    (e.g. the training-only ``label_enc``) are ignored, as the reference loader does.
    """
    model = build_grounding_model(bert_folder, overrides)
    state = load_state_dict_file(checkpoint, DINO_TITLE)
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        lines = str(exc).splitlines()
        detail = lines[1].strip() if len(lines) > 1 else lines[0]
        raise ModelError(f"{checkpoint} does not match the {DINO_TITLE} architecture: {detail[:300]}") from None
    missing = [k for k in result.missing_keys if not k.endswith("position_ids")]
    not_bert = [k for k in missing if not k.startswith("bert.")]
    if not_bert:
        raise ModelError(
            f"{checkpoint} does not match the {DINO_TITLE} architecture: {len(not_bert)} weights are "
            f"missing (e.g. {not_bert[0]})"
        )
    if missing:
        _load_bert_weights(model, bert_folder)
    return model.to(device).eval()


def caption_for(phrases: Sequence[str]) -> tuple[str, list[tuple[int, int]]]:
    """The caption "a . b ." for ``phrases`` and each phrase's character span in it."""
    caption = ""
    spans = []
    for phrase in phrases:
        text = " ".join(phrase.lower().replace(".", " ").split())
        if not text:
            raise ValueError("an empty phrase cannot be looked for")
        start = len(caption)
        caption += text
        spans.append((start, len(caption)))
        caption += " . "
    return caption.rstrip(), spans


class GroundingDetector:
    """Boxes for text phrases with a loaded GroundingDINO model.

    ``image_size``/``max_size``: the shorter image side is resized to ``image_size`` with
    the longer at most ``max_size`` (800/1333, as the model was trained).
    """

    def __init__(self, model: torch.nn.Module, image_size: int = 800, max_size: int = 1333) -> None:
        self.model = model
        self.tokenizer: Any = model.tokenizer  # a transformers tokenizer
        self.image_size = int(image_size)
        self.max_size = int(max_size)
        self.runs = 0

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _image_tensor(self, rgb: np.ndarray) -> torch.Tensor:
        import groundingdino.datasets.transforms as T
        from PIL import Image

        transform = T.Compose(
            [
                T.RandomResize([self.image_size], max_size=self.max_size),  # one size: deterministic
                T.ToTensor(),
                T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
            ]
        )
        tensor, _ = transform(Image.fromarray(rgb), None)
        return tensor

    def _phrase_tokens(self, caption: str, spans: list[tuple[int, int]]) -> list[np.ndarray]:
        """For each phrase, the token positions (in the model's 256-token text axis) it covers."""
        encoded = self.tokenizer(caption, return_offsets_mapping=True)
        offsets = encoded["offset_mapping"]
        limit = getattr(self.model, "max_text_len", 256)
        tokens = []
        for start, end in spans:
            idx = [i for i, (a, b) in enumerate(offsets) if b > a >= start and b <= end and i < limit]
            tokens.append(np.array(idx, dtype=np.int64))
        return tokens

    def detect(
        self,
        image: np.ndarray,
        phrases: Sequence[str],
        box_threshold: float = 0.35,
        text_threshold: float = 0.25,
        nms_iou: float = 0.7,
        max_per_phrase: int = 20,
    ) -> list[Detection]:
        """Boxes for ``phrases`` in ``image`` (RGB/grey, uint8 or float in [0, 1]).

        A query becomes a box when its highest token score exceeds ``box_threshold``; it goes
        to the phrase whose tokens score highest, if that score exceeds ``text_threshold``.
        Overlapping boxes of one phrase (IoU above ``nms_iou``) are merged by non-maximum
        suppression; at most ``max_per_phrase`` boxes are kept per phrase, best first.
        """
        from torchvision.ops import box_convert, nms

        phrases = list(phrases)
        if not phrases:
            return []
        rgb = as_rgb(image)
        h, w = rgb.shape[:2]
        caption, spans = caption_for(phrases)
        phrase_tokens = self._phrase_tokens(caption, spans)
        tensor = self._image_tensor(rgb).to(self.device)
        with torch.inference_mode():
            outputs = self.model(tensor[None], captions=[caption])
        self.runs += 1
        logits = outputs["pred_logits"][0].float().sigmoid().cpu()  # (queries, 256)
        boxes = outputs["pred_boxes"][0].float().cpu()  # (queries, 4) cx, cy, w, h in [0, 1]
        keep = logits.max(dim=1).values > box_threshold
        logits, boxes = logits[keep], boxes[keep]
        if len(boxes) == 0:
            return []
        per_phrase = torch.stack(
            [
                logits[:, torch.from_numpy(idx)].max(dim=1).values if len(idx) else torch.zeros(len(logits))
                for idx in phrase_tokens
            ],
            dim=1,
        )  # (kept, phrases)
        best_score, best_phrase = per_phrase.max(dim=1)
        xyxy = box_convert(boxes, in_fmt="cxcywh", out_fmt="xyxy") * torch.tensor([w, h, w, h], dtype=torch.float32)
        xyxy[:, 0::2] = xyxy[:, 0::2].clamp(0, w)
        xyxy[:, 1::2] = xyxy[:, 1::2].clamp(0, h)
        box_score = logits.max(dim=1).values
        detections = []
        for p, phrase in enumerate(phrases):
            chosen = ((best_phrase == p) & (best_score > text_threshold)).nonzero().flatten()
            if len(chosen) == 0:
                continue
            sizes_ok = ((xyxy[chosen, 2] - xyxy[chosen, 0]) >= 1) & ((xyxy[chosen, 3] - xyxy[chosen, 1]) >= 1)
            chosen = chosen[sizes_ok]
            if len(chosen) == 0:
                continue
            kept = nms(xyxy[chosen], box_score[chosen], nms_iou)[:max_per_phrase]
            for i in chosen[kept].tolist():
                detections.append(
                    Detection(
                        phrase=phrase,
                        box=tuple(float(v) for v in xyxy[i]),  # type: ignore[arg-type]
                        score=float(box_score[i]),
                    )
                )
        return detections
