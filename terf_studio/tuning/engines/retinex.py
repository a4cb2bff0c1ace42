"""Brighten / darken from an amortised Retinex decomposition, cached per image.

The exact engine (:mod:`terf_studio.tuning.illumination`) trains the paper's three units
(eq. 14-17) from scratch on every image. Here the same units are trained once over many fused
images (:func:`terf_studio.tuning.engines.training.train_illumination`), so the illumination map
``S`` and the noise ``N`` of any image come from one forward pass. Only the illumination and
noise units run at edit time: the result ``(I - N) * S^(gamma - 1)`` needs no reflectance, and
the reflectance kept in the :class:`Decomposition` is the Retinex identity ``(I - N) / S``.

:class:`DecompositionCache` keeps the decomposition of whole images by content, so the editor
computes it in the background right after a pair opens (and after each edit) and a brighten or
darken command, or a strength change, is then a gamma on the cached ``S``: milliseconds.
The units are convolutional with an 11x11 receptive field, so a crop decomposed on its own
(with the task's 16-pixel margin) equals the cached whole-image decomposition inside the mask.

A cached decomposition holds 40 bytes a pixel (float32 ``S``, ``R``, ``N`` and the source), so
images above :data:`CACHE_MAX_PIXELS` are never cached: there a brighten or darken decomposes
only the edited crop, as it does whenever the cache misses.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

from terf_studio.errors import ModelError, TerfError
from terf_studio.imaging.color import to_numpy, to_tensor
from terf_studio.imaging.io import to_float, to_uint16
from terf_studio.imaging.tiles import needs_tiles, store, tile_grid, window_tensor
from terf_studio.tuning.engines.weights import load_state, read_engine, save_engine
from terf_studio.tuning.illumination import Decomposition, RetinexUnits
from terf_studio.tuning.region import Box, fingerprint

ENGINE = "illumination"


def save_units(path: str | os.PathLike, units: RetinexUnits, meta: dict | None = None) -> None:
    save_engine(path, ENGINE, units, {"units": "prior" if units.prior else "paper"}, meta)


def load_units(path: str | os.PathLike) -> RetinexUnits:
    payload = read_engine(path, ENGINE)
    kind = payload.get("config", {}).get("units", "paper")
    if kind not in ("paper", "prior"):
        raise ModelError(f"engine weights '{path}' hold unknown Retinex units {kind!r}")
    return load_state(RetinexUnits(prior=kind == "prior"), payload, path)


#: Context around a tile: the units' receptive radius is 5 pixels (five 3x3 convolutions).
RETINEX_MARGIN = 8
#: Core side of a tile: the units hold about 450 bytes per pixel of window while they run.
RETINEX_TILE = 768


@torch.inference_mode()
def decompose_fast(units: RetinexUnits, image: np.ndarray, device: torch.device | str = "cpu",
                   tile: int = RETINEX_TILE) -> Decomposition:
    """``S`` and ``N`` of ``image`` (H, W, 3) in one forward pass of the trained units (in
    overlapping tiles when it is larger than one ``tile``, with the same result)."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise TerfError(f"the illumination task needs an RGB image, got shape {image.shape}")
    dev = torch.device(device)
    units = units.to(dev)
    h, w = image.shape[:2]
    if needs_tiles(h, w, tile, RETINEX_MARGIN):
        return _decompose_tiles(units, image, dev, tile)
    x = to_tensor(image).to(dev)
    s = units.illumination_map(x)
    n = units.noise_map(x)
    source = np.array(image, dtype=np.float32)
    illumination = to_numpy(s.cpu())
    noise = to_numpy(n.cpu())
    reflectance = np.clip((source - noise) / np.maximum(illumination, 1e-4)[..., None], 0.0, 1.0)
    return Decomposition(source=source, illumination=illumination, reflectance=reflectance.astype(np.float32),
                         noise=noise, loss=float("nan"), iterations=0)


def _decompose_tiles(units: RetinexUnits, image: np.ndarray, device: torch.device, tile: int) -> Decomposition:
    h, w = image.shape[:2]
    source = np.array(image, dtype=np.float32)
    illumination = np.empty((h, w), np.float32)
    noise = np.empty((h, w, 3), np.float32)
    reflectance = np.empty((h, w, 3), np.float32)
    for t in tile_grid(h, w, tile, RETINEX_MARGIN, align=1):
        x = window_tensor(source, t.outer, device)
        inner = t.inner
        store(illumination, t.core, units.illumination_map(x)[..., inner.y0 : inner.y1, inner.x0 : inner.x1])
        store(noise, t.core, units.noise_map(x)[..., inner.y0 : inner.y1, inner.x0 : inner.x1])
        core = t.core.slices
        s_core = np.maximum(illumination[core], 1e-4)[..., None]
        reflectance[core] = np.clip((source[core] - noise[core]) / s_core, 0.0, 1.0)
    return Decomposition(source=source, illumination=illumination, reflectance=reflectance, noise=noise,
                         loss=float("nan"), iterations=0)


def crop_decomposition(d: Decomposition, box: Box) -> Decomposition:
    return Decomposition(source=box.crop(d.source), illumination=box.crop(d.illumination),
                         reflectance=box.crop(d.reflectance), noise=box.crop(d.noise), loss=d.loss,
                         iterations=d.iterations)


class DecompositionCache:
    """Whole-image decompositions by image content (the most recent ``size``); thread-safe."""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._items: OrderedDict[str, Decomposition] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(image: np.ndarray) -> str:
        """The image's content on the 16-bit grid, so the same picture as uint16 (an editor's
        document) or as float in [0, 1] has one key."""
        return fingerprint(to_uint16(np.asarray(image)))

    def get(self, image: np.ndarray) -> Decomposition | None:
        k = self.key(image)
        with self._lock:
            found = self._items.get(k)
            if found is not None:
                self._items.move_to_end(k)
            return found

    def put(self, image: np.ndarray, decomposition: Decomposition) -> None:
        k = self.key(image)
        with self._lock:
            self._items[k] = decomposition
            self._items.move_to_end(k)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


#: The process-wide cache the editor fills in the background and the fast engine reads.
CACHE = DecompositionCache()

#: The largest image (in pixels) whose whole decomposition is cached: 16 MP is 640 MB an entry;
#: larger ones are decomposed a crop at a time (a 179 MP image would take 7 GB an entry).
CACHE_MAX_PIXELS = 16_000_000


def cacheable(image: np.ndarray) -> bool:
    """Whether the whole decomposition of ``image`` may be cached (:data:`CACHE_MAX_PIXELS`)."""
    return image.shape[0] * image.shape[1] <= CACHE_MAX_PIXELS


def decomposition_for(units: RetinexUnits, image: np.ndarray, box: Box | None = None,
                      device: torch.device | str = "cpu", cache: DecompositionCache | None = CACHE,
                      whole: np.ndarray | None = None) -> tuple[Decomposition, bool]:
    """The decomposition of ``whole[box]`` (or of ``image``): from the cache when ``whole`` is
    cached, else one forward pass on ``image`` (the crop). Returns it and whether it was cached."""
    if cache is not None and whole is not None and box is not None and cacheable(whole):
        cached = cache.get(whole)
        if cached is not None:
            return crop_decomposition(cached, box), True
    return decompose_fast(units, image, device), False


def prepare(units: RetinexUnits, image: np.ndarray, device: torch.device | str = "cpu",
            cache: DecompositionCache = CACHE) -> Decomposition | None:
    """Decompose a whole image into the cache (the editor calls this on its worker); None, and
    nothing done, for an image above :data:`CACHE_MAX_PIXELS`."""
    if not cacheable(image):
        return None
    found = cache.get(image)
    if found is None:
        found = decompose_fast(units, to_float(image), device)
        cache.put(image, found)
    return found


def unit_count(units: nn.Module) -> int:
    return sum(p.numel() for p in units.parameters())
