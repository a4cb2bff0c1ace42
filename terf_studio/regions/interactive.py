"""Masks from clicks and boxes without learned weights.

Points: the image is first cut into small superpixels (a watershed of the view's
lightness, the infrared and the view's main chroma axis, seeded on a regular
grid; computed once per image set), so that regions follow edges and image noise
does not matter. A region grows from each positive click over the superpixels
whose mean looks like the click's superpixel in *both* the image the user sees
(fused, else visible; CIE Lab) and the infrared image. The tolerance is chosen
per click from a ladder: the region stops just before it leaks into a
neighbouring region (its area jumping by a large factor and a sizeable share of
the image at one step), and among the steps before that the loosest one whose
shape is still compact (solidity) is kept, so that thin tendrils along rows of
similar things are not. It also stops before it would take more than a set
share of the image or reach a negative click. When even the tightest tolerance
reaches a negative click, the region is split between the clicks (each pixel
goes to the nearest click). A fixed ``tolerance`` (a magic-wand slider) compares
pixels, not superpixels.

Boxes: OpenCV's GrabCut on a three-channel image built from both modalities:
the fused lightness, the infrared, and the fused chroma projected on its main
axis inside the box. Each channel is stretched over the box's neighbourhood.
When GrabCut keeps (almost) nothing because the colours around the box are the
object's, it runs again with the middle of the box as sure foreground.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from terf_studio.regions.base import ImageSet
from terf_studio.regions.mask import Mask

Point = tuple[float, float]
Box = tuple[float, float, float, float]

POINT_COLOUR = (255, 200, 0)
BOX_COLOUR = (0, 200, 255)

# Tolerances in units of the click's local spread; see _grow_one.
_TOLERANCES = np.geomspace(1.0, 20.0, 24).astype(np.float32)
_SPREAD_FLOOR = np.float32(0.01)  # Lab/100 and infrared in [0, 1]
# Superpixels: about this many per image, at least this many pixels apart.
_SUPERPIXELS = 3300
_MIN_STEP = 6
# A leak: the area grows by _LEAK_JUMP at one step and gains _LEAK_SHARE of the
# image, or by _WIDE_LEAK_JUMP while gaining _WIDE_LEAK_SHARE (a large area
# spilling into another, e.g. a tree crown into the sky).
_LEAK_JUMP = 2.5
_LEAK_SHARE = 0.01
_WIDE_LEAK_JUMP = 1.6
_WIDE_LEAK_SHARE = 0.08
_MIN_SOLIDITY = 0.6  # area / convex hull area of a kept region
_MAX_DIFFERENCE = 0.25  # Lab/100 or infrared apart: never the same region, however textured the click
_RETRY_FILL = 0.1  # GrabCut keeping less of the box than this runs again ...
_CORE_SHARE = 0.2  # ... with this central part of the box (per side) as sure foreground
_MAX_GRABCUT_PIXELS = 25_000  # GrabCut cost grows fast with size; larger windows run downscaled


def _image_set(image: np.ndarray | ImageSet, ir: np.ndarray | None) -> ImageSet:
    if isinstance(image, ImageSet):
        return image
    if ir is None:
        raise ValueError("give the infrared image (or an ImageSet)")
    return ImageSet(vi=image, ir=ir)


def _pixel(point: Point, shape: tuple[int, int]) -> tuple[int, int]:
    h, w = shape
    x, y = round(point[0]), round(point[1])
    if not (0 <= x < w and 0 <= y < h):
        raise ValueError(f"point ({point[0]}, {point[1]}) is outside the {w}x{h} image")
    return x, y


def _features(images: ImageSet) -> np.ndarray:
    """(H, W, 4) float32: Lab/100 of the view and the infrared, lightly smoothed
    (computed once per image set, so further clicks are cheaper)."""
    cached = images.cache.get("point:features")
    if cached is None:
        lab = images.view_lab / np.float32(100.0)
        stack = np.dstack([lab, images.ir]).astype(np.float32)
        cached = images.cache["point:features"] = cv2.GaussianBlur(stack, (0, 0), 1.0)
    return cached


def _seed_stats(features: np.ndarray, x: int, y: int) -> tuple[np.ndarray, np.ndarray]:
    """Robust centre (median) and spread (1.4826 MAD, floored) of a 9x9 patch at the click."""
    patch = features[max(y - 4, 0) : y + 5, max(x - 4, 0) : x + 5].reshape(-1, features.shape[2])
    centre = np.median(patch, axis=0)
    spread = 1.4826 * np.median(np.abs(patch - centre), axis=0)
    return centre, np.maximum(spread, _SPREAD_FLOOR)


def _difference(features: np.ndarray, centre: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """Per pixel, the largest channel difference from the click in units of the click's spread."""
    return np.max(np.abs(features - centre) / spread, axis=2)


def _component(inside: np.ndarray, x: int, y: int) -> np.ndarray:
    """The 4-connected part of ``inside`` containing (x, y) (empty if the seed is outside)."""
    if not inside[y, x]:
        return np.zeros_like(inside)
    img = inside.astype(np.uint8)
    ff = np.zeros((img.shape[0] + 2, img.shape[1] + 2), np.uint8)
    cv2.floodFill(img, ff, (x, y), 2, 0, 0, 4)
    return img == 2


def _superpixels(images: ImageSet) -> tuple[np.ndarray, np.ndarray]:
    """Superpixel labels (H, W) int32 and each superpixel's mean feature (N, 4)
    (computed once per image set).

    A watershed of the view's lightness, the infrared and the view's main chroma
    axis (the GrabCut image over the whole frame), seeded at the flattest pixel
    of each cell of a regular grid, so that superpixels meet along edges.
    """
    cached = images.cache.get("point:superpixels")
    if cached is not None:
        return cached
    h, w = images.shape
    img = cv2.GaussianBlur(_grabcut_image(images, (0, 0, w, h)), (0, 0), 1.0)
    gradient = np.zeros((h, w), np.float32)
    for c in range(3):
        gx = cv2.Sobel(img[:, :, c], cv2.CV_32F, 1, 0)
        gy = cv2.Sobel(img[:, :, c], cv2.CV_32F, 0, 1)
        gradient = np.maximum(gradient, cv2.magnitude(gx, gy))
    step = max(_MIN_STEP, int(round(np.sqrt(h * w / _SUPERPIXELS))))
    ny, nx = max(h // step, 1), max(w // step, 1)
    sy, sx = min(step, h), min(step, w)
    cells = gradient[: ny * sy, : nx * sx].reshape(ny, sy, nx, sx).transpose(0, 2, 1, 3).reshape(ny, nx, -1)
    flattest = cells.argmin(axis=2)
    ys = (np.arange(ny)[:, None] * sy + flattest // sx).ravel()
    xs = (np.arange(nx)[None, :] * sx + flattest % sx).ravel()
    markers = np.zeros((h, w), np.int32)
    markers[ys, xs] = np.arange(1, ys.size + 1)
    labels = cv2.watershed(img, markers)
    # Watershed lines (-1) join the neighbouring superpixel with the largest label.
    lines = labels <= 0
    if lines.any():
        spread = cv2.dilate(np.where(lines, 0, labels).astype(np.float32), np.ones((3, 3), np.uint8))
        labels = np.where(lines, spread.astype(np.int32), labels)
        labels = np.maximum(labels, 1)
    labels = labels - 1
    flat = labels.ravel()
    count = np.maximum(np.bincount(flat, minlength=ys.size), 1).astype(np.float64)
    features = _features(images)
    sums = [np.bincount(flat, weights=features[:, :, c].ravel(), minlength=ys.size) for c in range(4)]
    means = np.stack(sums, axis=1) / count[:, None]
    cached = images.cache["point:superpixels"] = (labels, means.astype(np.float32))
    return cached


def _solidity(region: np.ndarray) -> float:
    """Area over the area of the convex hull (1 for a convex region)."""
    points = cv2.findNonZero(region.astype(np.uint8))
    if points is None:
        return 0.0
    hull = cv2.contourArea(cv2.convexHull(points))
    return float(region.sum()) / max(hull, 1.0)


def _grow_one(
    diff: np.ndarray,
    x: int,
    y: int,
    negatives: Sequence[tuple[int, int]],
    tolerance: float | None,
    max_fraction: float,
) -> tuple[np.ndarray, float]:
    """Region and confidence for one positive click.

    Regions are grown at every step of the tolerance ladder, stopping before one
    reaches a negative click or passes ``max_fraction`` of the image, and before
    the first *leak*: a step at which the area jumps by a large factor and a
    sizeable share of the image (a neighbouring region joining through a gap).
    Of the steps before it, the loosest whose region is still compact (solidity
    at least _MIN_SOLIDITY) is taken, else the tightest.
    """
    if tolerance is not None:
        return _component(diff <= tolerance, x, y), 0.5
    total = diff.size
    regions: list[np.ndarray] = []
    areas: list[int] = []
    stopped = False
    for tol in _TOLERANCES:
        region = _component(diff <= tol, x, y)
        area = int(region.sum())
        if any(region[ny, nx] for nx, ny in negatives) or area > max_fraction * total:
            stopped = True
            break
        regions.append(region)
        areas.append(area)
    if not regions or areas[-1] == 0:
        if negatives:
            # A negative click lies in the click's own region at every tolerance:
            # grow as if it were not there; the caller splits between the clicks.
            region, _ = _grow_one(diff, x, y, (), None, max_fraction)
            return region, 0.4
        return np.zeros_like(diff, dtype=bool), 0.0
    end, confidence = len(regions), (0.6 if stopped else 0.4)
    for k in range(len(regions) - 1):
        jump, gain = areas[k + 1] / max(areas[k], 1), (areas[k + 1] - areas[k]) / total
        sudden = jump >= _LEAK_JUMP and gain >= _LEAK_SHARE
        wide = jump >= _WIDE_LEAK_JUMP and gain >= _WIDE_LEAK_SHARE
        if sudden or wide:
            end, confidence = k + 1, 0.8
            break
    chosen = 0
    for k in range(end):
        if k == 0 or areas[k] != areas[k - 1]:
            if _solidity(regions[k]) >= _MIN_SOLIDITY:
                chosen = k
    if chosen < end - 1:
        confidence *= 0.9  # a looser region was dropped for its shape
    return regions[chosen], confidence


def point_region(
    image: np.ndarray | ImageSet,
    ir: np.ndarray | None = None,
    positives: Sequence[Point] = (),
    negatives: Sequence[Point] = (),
    tolerance: float | None = None,
    max_fraction: float = 0.6,
    label: str = "",
) -> Mask:
    """Grow a region from positive clicks, keeping clear of negative clicks.

    ``image`` is the image the user sees (fused RGB or grey) or an :class:`ImageSet`
    (then ``ir`` is not needed). Points are (x, y) pixel coordinates.

    ``tolerance`` fixes the similarity threshold instead of choosing it per click:
    a pixel joins when each of its Lab channels (/100) and its infrared value (in
    [0, 1]) differ from the click's by at most ``tolerance`` (a magic-wand slider).
    ``max_fraction`` caps an automatically chosen region at that share of the image.
    Returns a binary mask with source "point".
    """
    images = _image_set(image, ir)
    shape = images.shape
    pos = [_pixel(p, shape) for p in positives]
    neg = [_pixel(p, shape) for p in negatives]
    if not pos:
        raise ValueError("a point region needs at least one positive point")
    features = _features(images)
    if tolerance is None:
        labels, means = _superpixels(images)
    region = np.zeros(shape, bool)
    confidences = []
    for x, y in pos:
        centre, spread = _seed_stats(features, x, y)
        if tolerance is not None:  # a fixed, absolute threshold on pixels: no per-click scaling
            diff = _difference(features, centre, np.ones_like(spread))
        else:  # superpixel means against the click's superpixel, in units of the click's spread
            centre = means[labels[y, x]]
            per_superpixel = _difference(means[None], centre, spread)[0]
            # However textured the click's surroundings, a superpixel that differs from it
            # by more than _MAX_DIFFERENCE in any channel does not join.
            far = np.abs(means - centre).max(axis=1) > _MAX_DIFFERENCE
            diff = np.where(far, np.inf, per_superpixel).astype(np.float32)[labels]
        grown, conf = _grow_one(diff, x, y, neg, tolerance, max_fraction)
        region |= grown
        confidences.append(conf)
    if neg and any(region[y, x] for x, y in neg):
        region = _split_nearest(region, pos, neg)
    mask = Mask(
        region, label=label, colour=POINT_COLOUR, source="point", confidence=float(np.mean(confidences))
    )
    area = mask.area
    if area:
        mask = mask.fill_holes(max_area=max(16, area // 50))
    return mask


def _split_nearest(
    region: np.ndarray, pos: Sequence[tuple[int, int]], neg: Sequence[tuple[int, int]]
) -> np.ndarray:
    """Keep the pixels of ``region`` closer to a positive than to any negative click,
    then only the parts connected to a positive click."""
    h, w = region.shape
    yy, xx = np.mgrid[0:h, 0:w]

    def nearest(points: Sequence[tuple[int, int]]) -> np.ndarray:
        return np.min([(xx - px) ** 2 + (yy - py) ** 2 for px, py in points], axis=0)

    keep = region & (nearest(pos) < nearest(neg))
    _, labels = cv2.connectedComponents(keep.astype(np.uint8), connectivity=4)
    ids = {labels[y, x] for x, y in pos if keep[y, x]}
    return np.isin(labels, list(ids)) if ids else keep


# ---------------------------------------------------------------------------- boxes


def _clip_box(box: Box, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    h, w = shape
    x0, y0, x1, y1 = (float(v) for v in box)
    x0, x1 = sorted((x0, x1))
    y0, y1 = sorted((y0, y1))
    bx0, by0 = max(int(np.floor(x0)), 0), max(int(np.floor(y0)), 0)
    bx1, by1 = min(int(np.ceil(x1)), w), min(int(np.ceil(y1)), h)
    if bx1 - bx0 < 2 or by1 - by0 < 2:
        raise ValueError(f"the box {tuple(box)} has no area inside the {w}x{h} image")
    return bx0, by0, bx1, by1


def _stretch(channel: np.ndarray) -> np.ndarray:
    # Percentiles of a regular sample of about 50,000 pixels are as good and much cheaper.
    every = max(1, int(np.sqrt(channel.size / 50_000)))
    lo, hi = np.percentile(channel[::every, ::every], (1, 99))
    if hi - lo < 1e-6:
        return np.full(channel.shape, 128, np.uint8)
    return np.clip((channel - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)


def _grabcut_image(images: ImageSet, window: tuple[int, int, int, int]) -> np.ndarray:
    """Lightness of the view, infrared and main chroma axis, each stretched over ``window``."""
    x0, y0, x1, y1 = window
    lab = images.view_lab[y0:y1, x0:x1]
    ir = images.ir[y0:y1, x0:x1]
    ab = lab[:, :, 1:].reshape(-1, 2)
    ab = ab - ab.mean(axis=0)
    if float(np.abs(ab).max(initial=0)) < 1e-3:
        chroma = images.vi_grey[y0:y1, x0:x1]  # no colour: the visible grey is a third view
    else:
        _, vecs = np.linalg.eigh(ab.T @ ab)
        chroma = (ab @ vecs[:, -1]).reshape(lab.shape[:2])
    return np.dstack([_stretch(lab[:, :, 0]), _stretch(ir), _stretch(chroma)])


def _separation(img: np.ndarray, fg: np.ndarray) -> float:
    """1 - Bhattacharyya coefficient of coarse (8x8x8) colour histograms of fg and bg."""
    if fg.all() or not fg.any():
        return 0.0
    bins = (img // 32).astype(np.int32)
    codes = bins[:, :, 0] * 64 + bins[:, :, 1] * 8 + bins[:, :, 2]
    hf = np.bincount(codes[fg], minlength=512).astype(np.float64)
    hb = np.bincount(codes[~fg], minlength=512).astype(np.float64)
    bc = np.sqrt(hf / hf.sum() * hb / hb.sum()).sum()
    return float(np.clip(1.0 - bc, 0.0, 1.0))


def _grabcut(image: np.ndarray, trimap: np.ndarray, iterations: int) -> np.ndarray | None:
    """Foreground of GrabCut started from ``trimap`` (not changed), or None on an OpenCV error."""
    trimap = trimap.copy()
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.setRNGSeed(0)
        # OpenCV's stub wants a rect, but GC_INIT_WITH_MASK takes None (the trimap says where).
        cv2.grabCut(image, trimap, None, bgd, fgd, int(iterations), cv2.GC_INIT_WITH_MASK)  # type: ignore[call-overload]
    except cv2.error:
        return None
    return (trimap == cv2.GC_FGD) | (trimap == cv2.GC_PR_FGD)


def box_region(
    image: np.ndarray | ImageSet,
    ir: np.ndarray | None = None,
    box: Box = (0, 0, 0, 0),
    iterations: int = 3,
    label: str = "",
) -> Mask:
    """GrabCut the object inside ``box`` = (x0, y0, x1, y1) (end-exclusive pixels).

    Pixels outside the box are background; a margin around it supplies the
    background colours. When the box and its margin exceed 25,000 pixels, GrabCut
    runs on a downscaled copy (its cost grows quickly with size) and the mask is
    scaled back, so its edges are only as fine as that scale. When GrabCut keeps
    less than a tenth of the box (the object's colours are also around it), it
    runs again with the middle of the box as sure foreground. Returns a binary
    mask with source "box"; when GrabCut keeps nothing, the box itself comes back
    with confidence 0.05 so the user can paint from there.
    """
    images = _image_set(image, ir)
    h, w = images.shape
    bx0, by0, bx1, by1 = _clip_box(box, (h, w))
    bw, bh = bx1 - bx0, by1 - by0
    margin = int(max(10, 0.25 * max(bw, bh)))
    wx0, wy0 = max(bx0 - margin, 0), max(by0 - margin, 0)
    wx1, wy1 = min(bx1 + margin, w), min(by1 + margin, h)
    window = (wx0, wy0, wx1, wy1)
    feat = _grabcut_image(images, window)
    ww, wh = wx1 - wx0, wy1 - wy0
    scale = min(1.0, float(np.sqrt(_MAX_GRABCUT_PIXELS / (ww * wh))))
    small = (
        feat
        if scale == 1.0
        else cv2.resize(
            feat, (max(int(ww * scale), 2), max(int(wh * scale), 2)), interpolation=cv2.INTER_AREA
        )
    )
    sh, sw = small.shape[:2]
    sx, sy = sw / ww, sh / wh
    trimap = np.full((sh, sw), cv2.GC_BGD, np.uint8)
    rx0, ry0 = int(np.floor((bx0 - wx0) * sx)), int(np.floor((by0 - wy0) * sy))
    rx1, ry1 = int(np.ceil((bx1 - wx0) * sx)), int(np.ceil((by1 - wy0) * sy))
    trimap[ry0:ry1, rx0:rx1] = cv2.GC_PR_FGD
    full_window = (wx0, wy0, wx1, wy1) == (0, 0, w, h) and (bx0, by0, bx1, by1) == (0, 0, w, h)
    fg = None
    if not full_window:
        fg_small = _grabcut(small, trimap, iterations)
        if fg_small is None or fg_small.sum() < _RETRY_FILL * (rx1 - rx0) * (ry1 - ry0):
            # GrabCut dropped (nearly) everything: the background around the box has
            # the object's colours. The middle of a box drawn around an object is the
            # object: run again with the box's central fifth (each way) as sure
            # foreground, which anchors the foreground colours.
            cored = trimap.copy()
            cw, ch = (rx1 - rx0) * _CORE_SHARE / 2, (ry1 - ry0) * _CORE_SHARE / 2
            cx, cy = (rx0 + rx1) / 2, (ry0 + ry1) / 2
            cored[int(cy - ch) : int(np.ceil(cy + ch)), int(cx - cw) : int(np.ceil(cx + cw))] = cv2.GC_FGD
            fg_small = _grabcut(small, cored, iterations)
        if fg_small is not None:
            fg_win = (
                fg_small
                if scale == 1.0
                else cv2.resize(fg_small.astype(np.float32), (ww, wh), interpolation=cv2.INTER_LINEAR) >= 0.5
            )
            fg = np.zeros((h, w), bool)
            fg[wy0:wy1, wx0:wx1] = fg_win
            inside = np.zeros((h, w), bool)
            inside[by0:by1, bx0:bx1] = True
            fg &= inside
    if fg is None or not fg.any():
        rect = np.zeros((h, w), bool)
        rect[by0:by1, bx0:bx1] = True
        return Mask(rect, label=label, colour=BOX_COLOUR, source="box", confidence=0.05)
    mask = Mask(fg, label=label, colour=BOX_COLOUR, source="box")
    box_area = bw * bh
    mask = mask.remove_specks(max(4, mask.area // 20)).fill_holes(max_area=max(16, box_area // 20))
    sep = _separation(feat, mask.binary[wy0:wy1, wx0:wx1])
    fill = mask.area / box_area
    fill_ok = 1.0 if 0.05 <= fill <= 0.97 else 0.5
    return mask.with_meta(confidence=float(np.clip(sep * fill_ok, 0.05, 0.99)))
