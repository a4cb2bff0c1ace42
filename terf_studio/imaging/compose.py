"""Side-by-side comparison sheets (labelled tiles in rows), for reports and exports."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

LABEL_HEIGHT = 22


def _as_rgb(image: np.ndarray) -> np.ndarray:
    image = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image


def _fit_height(image: np.ndarray, height: int) -> np.ndarray:
    h, w = image.shape[:2]
    if h == height:
        return image
    width = max(1, round(w * height / h))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if h > height else cv2.INTER_CUBIC)


def labelled_tile(image: np.ndarray, label: str, height: int) -> np.ndarray:
    """The image scaled to ``height`` with a dark caption strip above it."""
    tile = _fit_height(_as_rgb(image), height)
    strip = np.full((LABEL_HEIGHT, tile.shape[1], 3), 30, np.uint8)  # OpenCV draws text on 8-bit only
    cv2.putText(strip, label, (5, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([strip.astype(np.float32) / 255.0, tile], axis=0)


def comparison_sheet(rows: Sequence[Sequence[tuple[str, np.ndarray]]], height: int = 240, gap: int = 4) -> np.ndarray:
    """Rows of (label, image) tiles, each scaled to ``height``; returns float RGB in [0, 1]."""
    built = []
    for row in rows:
        tiles = [labelled_tile(img, label, height) for label, img in row]
        spacer = np.ones((height + LABEL_HEIGHT, gap, 3), np.float32)
        parts = [p for t in tiles for p in (t, spacer)][:-1]
        built.append(np.concatenate(parts, axis=1))
    width = max(r.shape[1] for r in built)
    padded = [np.pad(r, ((0, gap), (0, width - r.shape[1]), (0, 0)), constant_values=1.0) for r in built]
    return np.concatenate(padded, axis=0)[:-gap]
