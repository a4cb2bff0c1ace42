"""Segment Anything (SAM ViT-H/L/B) and MobileSAM: architectures, loading, and a predictor
that keeps image embeddings per image so that repeated prompts on one image are fast.

The image encoder is the expensive part (seconds to a minute on a CPU); prompts (points,
boxes) only run the prompt encoder and the small mask decoder. :class:`SamSegmenter` keeps
the embeddings of the last few images, keyed by a hash of the image's pixels, and hands
them back to the library's ``SamPredictor`` when the same image is prompted again.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

from terf_studio.errors import ModelError
from terf_studio.regions.grounded.deps import import_quietly, require_packages

Point = tuple[float, float]
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class SamArch:
    """The shape of a SAM model. ``encoder`` is "vit" (SAM) or "tiny_vit" (MobileSAM).

    For "vit", ``embed_dim``/``depth``/``num_heads`` are ints and ``global_attn_indexes``
    names the blocks with global attention; for "tiny_vit" they are per-stage tuples
    and ``window_size`` is a tuple too. The prompt encoder and mask decoder are the same
    for every published model. MobileSAM's TinyViT only works at ``img_size`` 1024.
    """

    encoder: str
    embed_dim: int | tuple[int, ...]
    depth: int | tuple[int, ...]
    num_heads: int | tuple[int, ...]
    global_attn_indexes: tuple[int, ...] = ()
    window_size: int | tuple[int, ...] = 14
    img_size: int = 1024
    patch_size: int = 16
    prompt_dim: int = 256
    decoder_depth: int = 2
    decoder_mlp_dim: int = 2048
    decoder_heads: int = 8
    iou_head_hidden_dim: int = 256

    def scaled(self, **changes: Any) -> SamArch:
        return replace(self, **changes)


# The published configurations (segment_anything.build_sam and mobile_sam.build_sam).
SAM_ARCHS: dict[str, SamArch] = {
    "sam-vit-h": SamArch("vit", 1280, 32, 16, (7, 15, 23, 31)),
    "sam-vit-l": SamArch("vit", 1024, 24, 16, (5, 11, 17, 23)),
    "sam-vit-b": SamArch("vit", 768, 12, 12, (2, 5, 8, 11)),
    "mobile-sam": SamArch("tiny_vit", (64, 128, 160, 320), (2, 2, 6, 2), (2, 4, 5, 10), window_size=(7, 7, 14, 7)),
}

SAM_TITLES = {
    "sam-vit-h": "SAM ViT-H",
    "sam-vit-l": "SAM ViT-L",
    "sam-vit-b": "SAM ViT-B",
    "mobile-sam": "MobileSAM",
}


def _library(arch: SamArch) -> tuple[ModuleType, type]:
    """(modeling module, SamPredictor class) of the package that implements ``arch``."""
    if arch.encoder == "vit":
        require_packages("sam", "Segment Anything")
        package = import_quietly("segment_anything")
    elif arch.encoder == "tiny_vit":
        require_packages("mobile-sam", "MobileSAM")
        package = import_quietly("mobile_sam")
    else:
        raise ValueError(f"unknown SAM encoder '{arch.encoder}' (vit or tiny_vit)")
    return package.modeling, package.SamPredictor


def _per_stage(value: int | tuple[int, ...]) -> list[int]:
    """TinyViT's per-stage values (MobileSAM gives one per stage, never a single number)."""
    if not isinstance(value, tuple):
        raise TypeError(f"MobileSAM's TinyViT takes one value per stage, not {value!r}")
    return list(value)


def build_sam(arch: SamArch) -> torch.nn.Module:
    """A SAM model of shape ``arch`` with freshly initialised weights, in eval mode."""
    modeling, _ = _library(arch)
    embedding = arch.img_size // arch.patch_size
    if arch.encoder == "vit":
        encoder = modeling.ImageEncoderViT(
            depth=arch.depth,
            embed_dim=arch.embed_dim,
            img_size=arch.img_size,
            mlp_ratio=4,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            num_heads=arch.num_heads,
            patch_size=arch.patch_size,
            qkv_bias=True,
            use_rel_pos=True,
            global_attn_indexes=tuple(arch.global_attn_indexes),
            window_size=arch.window_size,
            out_chans=arch.prompt_dim,
        )
    else:
        if arch.img_size != 1024 or arch.prompt_dim != 256:
            raise ValueError("MobileSAM's TinyViT works only at img_size 1024 with a 256-channel neck")
        encoder = modeling.TinyViT(
            img_size=arch.img_size,
            in_chans=3,
            num_classes=1000,
            embed_dims=_per_stage(arch.embed_dim),
            depths=_per_stage(arch.depth),
            num_heads=_per_stage(arch.num_heads),
            window_sizes=_per_stage(arch.window_size),
            mlp_ratio=4.0,
            drop_rate=0.0,
            drop_path_rate=0.0,
            use_checkpoint=False,
            mbconv_expand_ratio=4.0,
            local_conv_size=3,
            layer_lr_decay=0.8,
        )
    sam = modeling.Sam(
        image_encoder=encoder,
        prompt_encoder=modeling.PromptEncoder(
            embed_dim=arch.prompt_dim,
            image_embedding_size=(embedding, embedding),
            input_image_size=(arch.img_size, arch.img_size),
            mask_in_chans=16,
        ),
        mask_decoder=modeling.MaskDecoder(
            num_multimask_outputs=3,
            transformer=modeling.TwoWayTransformer(
                depth=arch.decoder_depth,
                embedding_dim=arch.prompt_dim,
                mlp_dim=arch.decoder_mlp_dim,
                num_heads=arch.decoder_heads,
            ),
            transformer_dim=arch.prompt_dim,
            iou_head_depth=3,
            iou_head_hidden_dim=arch.iou_head_hidden_dim,
        ),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )
    return sam.eval()


def load_state_dict_file(path: Path, what: str) -> dict:
    """``torch.load(path, weights_only=True)``, with a one-line error for a bad file.

    A checkpoint that is a dict with a "model" (or "state_dict") entry is unwrapped, and a
    "module." prefix from distributed training is dropped.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001  (unpickling and zip errors come in many types)
        raise ModelError(f"cannot read the {what} weights {path}: {str(exc).splitlines()[0]}") from None
    for key in ("model", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelError(f"{path} is not a {what} checkpoint (no tensor state dict in it)")
    return {k.removeprefix("module."): v for k, v in state.items()}


def load_sam_model(path: Path, arch: SamArch, title: str, device: torch.device) -> torch.nn.Module:
    """Build ``arch`` and load the weights file ``path`` into it (every tensor must match)."""
    state = load_state_dict_file(path, title)
    model = build_sam(arch)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()
        detail = first[1].strip() if len(first) > 1 else first[0]
        raise ModelError(f"{path} does not match the {title} architecture: {detail[:300]}") from None
    return model.to(device).eval()


def image_key(rgb: np.ndarray) -> str:
    """A hash of an image's pixels (and shape), the key of the embedding cache."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr((rgb.shape, rgb.dtype.str)).encode())
    digest.update(np.ascontiguousarray(rgb).data)
    return digest.hexdigest()


def _check_points(points: Sequence[Point], shape: tuple[int, int]) -> list[tuple[float, float]]:
    h, w = shape
    out = []
    for x, y in points:
        if not (0 <= x < w and 0 <= y < h):
            raise ValueError(f"point ({x}, {y}) is outside the {w}x{h} image")
        out.append((float(x), float(y)))
    return out


def _check_box(box: Sequence[float] | np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    x0, y0, x1, y1 = (float(v) for v in box)
    x0, x1 = sorted((x0, x1))
    y0, y1 = sorted((y0, y1))
    x0, x1 = np.clip([x0, x1], 0, w)
    y0, y1 = np.clip([y0, y1], 0, h)
    if x1 - x0 < 1 or y1 - y0 < 1:
        raise ValueError(f"box {tuple(box)} has no area inside the {w}x{h} image")
    return np.array([x0, y0, x1, y1], np.float32)


class SamSegmenter:
    """Masks from point and box prompts with a SAM-family model.

    Images are RGB uint8 (H, W, 3). The image embedding of the last ``cache_size`` images
    is kept (keyed by :func:`image_key`), so a second prompt on the same image only runs
    the prompt encoder and mask decoder. ``encoder_runs`` counts image-encoder passes.
    Thread-safe: one prompt at a time.
    """

    def __init__(self, model: torch.nn.Module, arch: SamArch, name: str, title: str, cache_size: int = 4) -> None:
        _, predictor_cls = _library(arch)
        self.model = model
        self.arch = arch
        self.name = name
        self.title = title
        self.predictor = predictor_cls(model)
        self.cache_size = max(1, int(cache_size))
        self.encoder_runs = 0
        self._cache: OrderedDict[str, tuple[torch.Tensor, tuple[int, int], tuple[int, int]]] = OrderedDict()
        self._current: str | None = None
        self._lock = threading.RLock()

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()
            self._current = None
            self.predictor.reset_image()

    def cached(self, rgb: np.ndarray) -> bool:
        """True when the embedding of ``rgb`` is in the cache."""
        return image_key(_as_rgb(rgb)) in self._cache

    def set_image(self, rgb: np.ndarray) -> str:
        """Make ``rgb`` the predictor's image, computing its embedding only when not cached.
        Returns the image's key."""
        rgb = _as_rgb(rgb)
        key = image_key(rgb)
        with self._lock:
            if key == self._current and self.predictor.is_image_set:
                self._cache.move_to_end(key)
                return key
            entry = self._cache.get(key)
            if entry is None:
                with torch.inference_mode():
                    self.predictor.set_image(rgb, image_format="RGB")
                self.encoder_runs += 1
                entry = (self.predictor.features, self.predictor.original_size, self.predictor.input_size)
                self._cache[key] = entry
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
            else:
                features, original_size, input_size = entry
                self.predictor.reset_image()
                self.predictor.features = features
                self.predictor.original_size = original_size
                self.predictor.input_size = input_size
                self.predictor.is_image_set = True
            self._cache.move_to_end(key)
            self._current = key
            return key

    def points(
        self,
        rgb: np.ndarray,
        positives: Sequence[Point],
        negatives: Sequence[Point] = (),
    ) -> tuple[np.ndarray, float]:
        """(bool mask (H, W), predicted quality) for positive/negative clicks (x, y in pixels).

        One click is ambiguous (part, object or whole): SAM proposes three masks and the one
        it scores highest is returned. Several clicks give one mask.
        """
        return self.prompt(rgb, positives=positives, negatives=negatives)

    def box(
        self,
        rgb: np.ndarray,
        box: Box,
        positives: Sequence[Point] = (),
        negatives: Sequence[Point] = (),
    ) -> tuple[np.ndarray, float]:
        """(bool mask (H, W), predicted quality) for the object in ``box`` = (x0, y0, x1, y1),
        optionally refined with clicks."""
        return self.prompt(rgb, box=box, positives=positives, negatives=negatives)

    def prompt(
        self,
        rgb: np.ndarray,
        positives: Sequence[Point] = (),
        negatives: Sequence[Point] = (),
        box: Box | None = None,
    ) -> tuple[np.ndarray, float]:
        rgb = _as_rgb(rgb)
        shape = rgb.shape[:2]
        pos = _check_points(positives, shape)
        neg = _check_points(negatives, shape)
        if not pos and box is None:
            raise ValueError("a SAM prompt needs a positive point or a box")
        coords = labels = None
        if pos or neg:
            coords = np.array(pos + neg, np.float32)
            labels = np.array([1] * len(pos) + [0] * len(neg), np.int32)
        box_array = None if box is None else _check_box(box, shape)
        multimask = box is None and len(pos) + len(neg) == 1
        with self._lock:
            self.set_image(rgb)
            with torch.inference_mode():
                masks, scores, _ = self.predictor.predict(
                    point_coords=coords,
                    point_labels=labels,
                    box=box_array,
                    multimask_output=multimask,
                )
        masks = np.asarray(masks)
        scores = np.asarray(scores, np.float32)
        best = int(np.argmax(scores))
        return masks[best].astype(bool), float(scores[best])

    def boxes(self, rgb: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(bool masks (N, H, W), predicted qualities (N,)) for N boxes (x0, y0, x1, y1), in one batch."""
        rgb = _as_rgb(rgb)
        shape = rgb.shape[:2]
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        if len(boxes) == 0:
            return np.zeros((0,) + shape, bool), np.zeros(0, np.float32)
        checked = np.stack([_check_box(b, shape) for b in boxes])
        with self._lock:
            self.set_image(rgb)
            predictor = self.predictor
            with torch.inference_mode():
                boxes_t = torch.as_tensor(checked, dtype=torch.float32, device=predictor.device)
                boxes_t = predictor.transform.apply_boxes_torch(boxes_t, predictor.original_size)
                masks, scores, _ = predictor.predict_torch(None, None, boxes=boxes_t, multimask_output=False)
        return masks[:, 0].cpu().numpy().astype(bool), scores[:, 0].float().cpu().numpy()


def _as_rgb(image: np.ndarray) -> np.ndarray:
    """An RGB uint8 (H, W, 3) array from uint8/uint16/float [0, 1] grey or RGB input."""
    array = np.asarray(image)
    if array.dtype == np.uint16:
        array = (array.astype(np.float32) / 65535.0 * 255.0 + 0.5).astype(np.uint8)
    elif array.dtype != np.uint8:
        array = (np.clip(np.nan_to_num(array.astype(np.float32)), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {array.shape}")
    return np.ascontiguousarray(array)


as_rgb = _as_rgb
