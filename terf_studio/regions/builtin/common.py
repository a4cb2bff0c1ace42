"""Small image and mask helpers shared by the builtin finder's cues."""

from __future__ import annotations

import cv2
import numpy as np

from terf_studio.regions.base import ImageSet
from terf_studio.regions.builtin.params import PARAMS
from terf_studio.regions.mask import Mask


def odd(n: float) -> int:
    """``n`` rounded to an odd kernel size of at least 3."""
    k = max(round(n), 3)
    return k if k % 2 else k + 1


def local_std(img: np.ndarray, size: int) -> np.ndarray:
    """Standard deviation over each ``size`` x ``size`` window."""
    mean = cv2.blur(img, (size, size))
    sq = cv2.blur(img * img, (size, size))
    return np.sqrt(np.maximum(sq - mean * mean, 0.0))


def components(binary: np.ndarray, connectivity: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, stats and centroids of the connected components of ``binary``."""
    _, labels, stats, centroids = cv2.connectedComponentsWithStats(
        binary.astype(np.uint8), connectivity=connectivity
    )
    return labels, stats, centroids


def keep_connected_to(candidate: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """The 4-connected components of ``candidate`` that contain a seed pixel."""
    labels, _, _ = components(candidate, 4)
    ids = np.unique(labels[seeds & candidate])
    ids = ids[ids > 0]
    return np.isin(labels, ids)


def grow_within(region: np.ndarray, allowed: np.ndarray, steps: int) -> np.ndarray:
    """Grow ``region`` by up to ``steps`` pixels, only into ``allowed`` pixels."""
    out = region.astype(np.uint8)
    allowed_u8 = (allowed | region).astype(np.uint8)
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    for _ in range(steps):
        out = cv2.dilate(out, cross) & allowed_u8
    return out.astype(bool)


def closing(binary: np.ndarray, size: int) -> np.ndarray:
    """Morphological closing by a ``size`` x ``size`` square."""
    kernel = np.ones((size, size), np.uint8)
    return cv2.morphologyEx(binary.astype(np.uint8), cv2.MORPH_CLOSE, kernel).astype(bool)


def opening(binary: np.ndarray, size: int = 3) -> np.ndarray:
    """Morphological opening by a ``size`` x ``size`` square."""
    kernel = np.ones((size, size), np.uint8)
    return cv2.morphologyEx(binary.astype(np.uint8), cv2.MORPH_OPEN, kernel).astype(bool)


def clean(binary: np.ndarray, min_area: int, hole_area: int) -> np.ndarray:
    """Remove specks under ``min_area`` pixels and fill holes up to ``hole_area``."""
    mask = Mask(binary).remove_specks(min_area).fill_holes(max_area=hole_area)
    return mask.binary.copy()


def restrict(binary: np.ndarray, selector: str | None) -> np.ndarray:
    """Keep the part of an area target named by a position word."""
    if selector is None:
        return binary
    h, w = binary.shape
    out = binary.copy()
    if selector == "left":
        out[:, w // 2 :] = False
    elif selector == "right":
        out[:, : w // 2] = False
    elif selector == "top":
        out[h // 2 :] = False
    elif selector == "bottom":
        out[: h // 2] = False
    elif selector == "middle":
        out[:, : w // 3] = False
        out[:, w - w // 3 :] = False
    elif selector in ("largest", "smallest"):
        labels, stats, _ = components(binary)
        if stats.shape[0] > 1:
            areas = stats[1:, cv2.CC_STAT_AREA]
            pick = 1 + int(np.argmax(areas) if selector == "largest" else np.argmin(areas))
            out = labels == pick
    return out


def is_night(images: ImageSet) -> bool:
    """The visible image is mostly dark: its median grey is under the night level."""
    return float(np.median(images.vi_grey)) < PARAMS.night_grey
