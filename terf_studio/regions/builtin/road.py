"""The road cue: smooth and grey pixels connected to the bottom centre, within a band
of the seeds' lightness and infrared level; lane markings bridged and filled."""

from __future__ import annotations

import cv2
import numpy as np

from terf_studio.regions.base import ImageSet, NoRegionFound
from terf_studio.regions.builtin.common import clean, closing, is_night, keep_connected_to, local_std, odd, opening
from terf_studio.regions.builtin.params import PARAMS as P
from terf_studio.regions.builtin.vocabulary import Query


def _band(values: np.ndarray, seeds: np.ndarray, floor: float) -> tuple[float, float]:
    """The seeds' median and a band around it: ``road_mad_factor`` median absolute
    deviations, at least ``floor``."""
    ref = float(np.median(values[seeds]))
    return ref, max(floor, P.road_mad_factor * float(np.median(np.abs(values[seeds] - ref))))


def find_road(query: Query, images: ImageSet) -> tuple[np.ndarray, float, str]:
    """Grey, smooth pixels connected to the bottom centre, within a loose band of the
    seeds' lightness and infrared level (roads brighten and warm up with distance,
    so the band is wide; smoothness and greyness stop it at kerbs, grass and cars).
    Lane markings and small objects inside are filled in."""
    h, w = images.shape
    total = h * w
    ir = cv2.GaussianBlur(images.ir, (0, 0), P.road_sigma)
    lab = cv2.GaussianBlur(images.vi_lab if images.vi_lab is not None else images.view_lab, (0, 0), P.road_sigma)
    light = lab[:, :, 0] / 100.0
    texture = np.maximum(local_std(light, P.road_texture_window), local_std(ir, P.road_texture_window))
    night = is_night(images)
    chroma = np.hypot(lab[:, :, 1], lab[:, :, 2])
    grey_like = np.ones((h, w), bool) if night else chroma < P.road_chroma
    y0, x0, x1 = int(P.road_seed_top * h), int(P.road_seed_x[0] * w), int(P.road_seed_x[1] * w)
    seeds = np.zeros((h, w), bool)
    seeds[y0:, x0:x1] = True
    seeds &= grey_like & (texture < P.road_smooth)
    if seeds.sum() < P.road_seed_cover * (h - y0) * (x1 - x0):
        raise NoRegionFound(query.phrase, "the bottom centre of the image is not smooth and grey like a road")
    light_ref, light_band = _band(light, seeds, P.road_light_band)
    ir_ref, ir_band = _band(ir, seeds, P.road_ir_band_night if night else P.road_ir_band)
    candidate = (
        grey_like
        & (texture < P.road_smooth)
        & (np.abs(light - light_ref) <= light_band)
        & (np.abs(ir - ir_ref) <= ir_band)
    )
    candidate[: int((P.road_max_height_night if night else P.road_max_height) * h)] = False
    # A small opening breaks one-pixel bridges into kerbs and walls; a closing about
    # 2% of the width then bridges lane markings, so the lanes beyond them connect.
    candidate = closing(opening(candidate, 3), odd(P.road_bridge_share * w))
    region = closing(keep_connected_to(candidate, seeds), P.road_close)
    region = clean(region, max(P.road_speck_pixels, int(P.road_speck_share * total)), int(P.road_hole_share * total))
    if region.sum() < P.road_min_share * total:
        raise NoRegionFound(query.phrase, "the grey area at the bottom is too small for a road")
    base, per_cover, cap = P.road_confidence
    seed_cover = float(region[y0:, x0:x1].mean())
    confidence = float(np.clip(base + per_cover * seed_cover, 0.0, cap)) * (P.road_night_confidence if night else 1.0)
    return (
        region,
        confidence,
        "road from the bottom centre: grey and smooth in the visible, even in the infrared",
    )
