"""The sky cue: smooth in both images, bright or blue in the visible, cold in the
infrared (at night: the coldest smooth infrared), connected to the top rows."""

from __future__ import annotations

import cv2
import numpy as np

from terf_studio.regions.base import ImageSet, NoRegionFound
from terf_studio.regions.builtin.common import clean, closing, grow_within, is_night, keep_connected_to, local_std
from terf_studio.regions.builtin.params import PARAMS as P
from terf_studio.regions.builtin.vocabulary import Query


def _sky_like(
    images: ImageSet, grey: np.ndarray, ir: np.ndarray, texture: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Sky-coloured, cold and smooth pixels (three masks) and how they were judged;
    ``grey`` and ``ir`` are the smoothed images."""
    h, w = images.shape
    if is_night(images):
        # The visible shows little; the night sky is the coldest, smoothest infrared.
        looks_like_sky = np.ones((h, w), bool)
        cold = ir <= float(np.percentile(ir, P.sky_night_cold_percentile)) + P.sky_night_cold_margin
        smooth = texture < P.sky_night_smooth
        return looks_like_sky, cold, smooth, "smooth and the coldest in the infrared (night)"
    lab = images.vi_lab
    if lab is not None:
        light, blue_b = lab[:, :, 0], lab[:, :, 2]
        green_a = lab[:, :, 1]
        bright_or_blue = (light > P.sky_light) | ((blue_b < P.sky_blue_b) & (light > P.sky_blue_light))
        looks_like_sky = bright_or_blue & (green_a > P.sky_green_a)
    else:
        looks_like_sky = grey > P.sky_grey
    cold = ir <= float(np.percentile(ir, P.sky_cold_percentile))
    smooth = texture < P.sky_smooth
    return looks_like_sky, cold, smooth, "smooth, bright or blue in the visible, cold in the infrared"


def find_sky(query: Query, images: ImageSet) -> tuple[np.ndarray, float, str]:
    """Smooth in both images, sky-coloured in the visible, cold in the infrared, and
    connected to such pixels along the top rows. No similarity to the seeds is
    required, so the infrared gradient of a clear sky (colder overhead) is kept;
    the smoothness test stops the region at tree and roof edges."""
    h, w = images.shape
    total = h * w
    ir = cv2.GaussianBlur(images.ir, (0, 0), P.sky_sigma)
    grey = cv2.GaussianBlur(images.vi_grey, (0, 0), P.sky_sigma)
    window = P.sky_texture_window
    texture = np.maximum(local_std(grey, window), local_std(ir, window))
    looks_like_sky, cold, smooth, how = _sky_like(images, grey, ir, texture)
    candidate = smooth & looks_like_sky & cold
    candidate[int(P.sky_max_depth * h) :] = False
    band = max(P.sky_band_min, h // P.sky_band_divisor)
    seeds = np.zeros((h, w), bool)
    seeds[:band] = candidate[:band]
    if seeds.sum() < max(P.sky_seed_min_pixels, P.sky_seed_min_share * band * w):
        raise NoRegionFound(query.phrase, "no smooth, cold, sky-like pixels along the top of the image")
    region = keep_connected_to(candidate, seeds)
    # The texture window stops the region a few pixels short of every edge; win
    # those pixels back where they still look like sky and are cold.
    # Never into another smooth sky-like area (a grey roof), so no new connections.
    region = grow_within(region, looks_like_sky & cold & ~(candidate & ~region), P.sky_grow_steps)
    region = closing(region, 3)
    region = clean(region, max(P.sky_speck_pixels, int(P.sky_speck_share * total)), int(P.sky_hole_share * total))
    if region.sum() < P.sky_min_share * total:
        raise NoRegionFound(query.phrase, "the sky-like area at the top is too small")
    base, per_cover, cap = P.sky_confidence
    confidence = float(np.clip(base + per_cover * float(region[:band].mean()), 0.0, cap))
    if is_night(images):
        confidence *= P.sky_night_confidence
    return region, confidence, f"sky from the top rows: {how}"
