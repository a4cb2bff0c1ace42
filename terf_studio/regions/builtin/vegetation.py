"""The vegetation cue: green in the visible (excess green after a grey-world balance),
or faintly green and densely textured in both images; a grey visible image falls
back on texture alone, a night image finds nothing. Trees are the part above the
horizon line, grass and bushes the part below it."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from terf_studio.regions.base import ImageSet, NoRegionFound
from terf_studio.regions.builtin.common import clean, is_night, odd, opening
from terf_studio.regions.builtin.params import PARAMS as P
from terf_studio.regions.builtin.road import find_road
from terf_studio.regions.builtin.sky import find_sky
from terf_studio.regions.builtin.thermal import warm_objects
from terf_studio.regions.builtin.vocabulary import Query

CueFunction = Callable[[Query, ImageSet], tuple[np.ndarray, float, str]]


def area_mask(find: CueFunction, name: str, images: ImageSet) -> np.ndarray | None:
    """The sky or road of the pair, None when there is none (cached on the image set)."""
    key = f"builtin:area:{name}"
    if key not in images.cache:
        try:
            region, _, _ = find(Query(name, name, name, False, None), images)
        except NoRegionFound:
            region = None
        images.cache[key] = region
    return images.cache[key]


def horizon_row(images: ImageSet) -> int:
    """Where the ground starts: the top of a road region if one is found, else mid-height."""
    h = images.shape[0]
    road = area_mask(find_road, "road", images)
    if road is None:
        return h // 2
    rows = np.flatnonzero(road.mean(axis=1) > P.horizon_road_row)  # rows the road spans, not a kerb or pillar
    low, high = P.horizon_range
    return int(np.clip(rows[0] if rows.size else h // 2, low * h, high * h))


def _gradient_density(img: np.ndarray, level: float, window: int) -> np.ndarray:
    """Share of pixels in each window whose gradient exceeds ``level``: high over
    foliage, lower along the single edges of cars, poles and lane lines."""
    g = cv2.GaussianBlur(img, (0, 0), 1.0)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    return cv2.blur((np.hypot(gx, gy) > level).astype(np.float32), (window, window))


def _band_energy(img: np.ndarray, window: int) -> np.ndarray:
    """Mean absolute difference from a slightly blurred copy over each window: the
    fine texture of foliage fills crowns, where gradient thresholds catch only the
    outline against the sky."""
    return cv2.blur(np.abs(img - cv2.GaussianBlur(img, (0, 0), 1.5)), (window, window))


def _relative_texture(img: np.ndarray, window: int, floor: float) -> np.ndarray:
    """Band energy over the image's own smooth level (its 10th percentile: sky, road,
    sensor noise), so a noisy infrared camera does not look textured everywhere."""
    energy = _band_energy(img, window)
    return energy / max(float(np.percentile(energy, 10)), floor)


def _colour_is_telling(images: ImageSet) -> bool:
    """True when the visible image has real colour: not a grey (or nearly grey) image."""
    if images.vi_lab is None:
        return False
    lab = images.vi_lab
    chroma = np.hypot(lab[::2, ::2, 1], lab[::2, ::2, 2])
    return float(np.percentile(chroma, 90)) > P.grey_chroma


def _is_dim(images: ImageSet) -> bool:
    """A visible image without daylight: no bright highlights and a dark top (no lit sky)."""
    grey = images.vi_grey[::2, ::2]
    top = grey[: grey.shape[0] // 5]
    return float(np.percentile(grey, 95)) < P.dim_highlight and float(np.median(top)) < P.dim_top


def _by_colour(images: ImageSet, window: int) -> np.ndarray:
    """Clearly green pixels, or faintly green ones densely textured in both images."""
    texture = np.minimum(
        _gradient_density(images.ir, P.veg_gradient, window),
        _gradient_density(images.vi_grey, P.veg_gradient, window),
    )
    rgb = cv2.GaussianBlur(images.vi, (0, 0), 1.5)
    balanced = rgb * (rgb.mean() / (rgb.reshape(-1, 3).mean(axis=0) + 1e-3))
    total_rgb = balanced.sum(axis=2) + 1e-3
    r, g, b = (balanced[:, :, i] / total_rgb for i in range(3))
    excess_green = 2 * g - r - b
    value = rgb.max(axis=2)
    faint = (excess_green > P.veg_faint_green) & (texture > P.veg_texture)
    return ((excess_green > P.veg_green) | faint) & (value > P.veg_min_value)


def _by_texture(query: Query, images: ImageSet, window: int) -> np.ndarray:
    """Finely textured in both images, no warmer than the road and not near-white."""
    if _is_dim(images):
        # Its texture is noise, and the infrared's alone finds wires, lamps and roofs.
        raise NoRegionFound(query.phrase, "the grey visible image is too dim to tell vegetation by texture")
    rel_ir = _relative_texture(images.ir, window, P.texture_floor_ir)
    rel_vi = _relative_texture(images.vi_grey, window, P.texture_floor_vi)
    veg = (rel_ir > P.texture_ir) & (rel_vi > P.texture_vi)
    # Foliage is no warmer than the road in the infrared and not near-white in the
    # visible; sunlit walls and window grids are both.
    road = area_mask(find_road, "road", images)
    ir_smooth = cv2.GaussianBlur(images.ir, (0, 0), 3.0)
    road_ir = float(np.median(ir_smooth[road])) if road is not None else float(np.median(ir_smooth))
    veg &= ir_smooth <= road_ir + P.warmer_than_road
    veg &= cv2.GaussianBlur(images.vi_grey, (0, 0), 3.0) <= P.white
    return veg


def _split_at_horizon(veg: np.ndarray, kind: str, images: ImageSet) -> np.ndarray:
    """Trees: the part above the horizon (less a margin); low vegetation: below it."""
    h = images.shape[0]
    split = max(horizon_row(images) - int(P.veg_horizon_margin * h), int(P.veg_split_min * h))
    part = veg.copy()
    if kind == "trees":
        part[split:] = False
    else:
        part[:split] = False
    return clean(part, max(P.veg_speck_pixels, int(P.veg_speck_share * veg.size)), 0)


def find_vegetation(query: Query, images: ImageSet) -> tuple[np.ndarray, float, str]:
    """Clearly green pixels (excess green after a grey-world white balance), or pixels
    that are faintly green and densely textured in both images (washed-out daylight
    foliage). A grey (or nearly grey) visible image: fine texture in both images,
    relative to each image's smooth level, with holes in crowns filled (a weaker cue).
    At night, when the visible shows nothing, no vegetation is found. Sky, road and
    warm objects are taken out."""
    h, w = images.shape
    total = h * w
    if is_night(images):
        # Texture alone finds lamps, signs and edges as often as foliage at night.
        raise NoRegionFound(query.phrase, "the visible image is too dark to tell vegetation by colour")
    window = max(P.veg_window_min, odd(h / P.veg_window_divisor))
    if _colour_is_telling(images):
        veg = _by_colour(images, window)
        how = "green in the visible image, or faintly green and textured in both images"
        base_conf, hole_share = P.veg_confidence, P.veg_hole_share
    else:
        veg = _by_texture(query, images, window)
        how = "finely textured in both images (grey visible image: a weaker cue)"
        base_conf, hole_share = P.veg_grey_confidence, P.veg_grey_hole_share
    for obj in warm_objects(images):
        veg &= ~obj.mask
    for find, name in ((find_sky, "sky"), (find_road, "road")):
        area = area_mask(find, name, images)
        if area is not None:
            veg &= ~area
    veg = opening(veg, 3)
    # Shaded parts of a crown are smooth and dark in both images: fill them when the
    # textured foliage around them encloses them (grey images only; colour finds them).
    veg = clean(veg, max(P.veg_speck_pixels, int(P.veg_speck_share * total)), int(hole_share * total))
    if query.kind in ("trees", "low"):
        veg = _split_at_horizon(veg, query.kind, images)
        how += "; trees above the horizon" if query.kind == "trees" else "; below the horizon"
    if veg.sum() < P.veg_min_share * total:
        raise NoRegionFound(query.phrase, "too little vegetation-like area")
    return veg, base_conf, f"vegetation: {how}"
