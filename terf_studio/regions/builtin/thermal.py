"""The thermal cue: warm objects (people, vehicles, animals, "hot ...") in the infrared.

Local contrast of the infrared image (a white top-hat: the infrared minus its
morphological opening), strong peaks as seeds, each seed grown to part of its
contrast over the local background, connected components, size and shape
filters; cooler clothing inside an object's outline is filled in.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from terf_studio.regions.base import ImageSet, NoRegionFound
from terf_studio.regions.builtin.common import components, keep_connected_to, odd, restrict
from terf_studio.regions.builtin.params import PARAMS as P
from terf_studio.regions.builtin.vocabulary import Query

_CACHE_KEY = "builtin:warm"


@dataclass(frozen=True)
class WarmObject:
    """One warm connected component of the infrared image."""

    mask: np.ndarray  # bool, full image size
    bbox: tuple[int, int, int, int]  # x0, y0, x1, y1 (end-exclusive)
    area: int
    contrast: float  # 90th percentile of the infrared local contrast inside
    warmth: float  # mean infrared value inside
    centroid: tuple[float, float]  # x, y

    @property
    def aspect(self) -> float:
        """Height / width of the bounding box."""
        x0, y0, x1, y1 = self.bbox
        return (y1 - y0) / max(x1 - x0, 1)

    @property
    def solidity(self) -> float:
        """Area / bounding-box area."""
        x0, y0, x1, y1 = self.bbox
        return self.area / max((x1 - x0) * (y1 - y0), 1)


@dataclass(frozen=True)
class WarmScene:
    """The warm objects of a pair and how cluttered its infrared image is."""

    objects: list[WarmObject]
    clutter: float  # 80th percentile of the infrared local contrast

    @property
    def reliability(self) -> float:
        """1 for a few warm objects on an even background (night, shade); falling towards
        0.2 as more of the image is warm against its surroundings (sunlit daytime)."""
        share = 1.0 - (self.clutter - P.reliability_clutter) / P.reliability_span
        return float(np.clip(share, P.reliability_floor, 1.0))


def thermal_contrast(ir: np.ndarray) -> np.ndarray:
    """Infrared minus its morphological opening by a disc a quarter of the image
    height across: what is warmer than its surroundings and narrower than that disc
    (a person close to the camera fits; a car filling the view does not)."""
    h = ir.shape[0]
    smooth = cv2.GaussianBlur(ir, (0, 0), P.thermal_sigma)
    size = P.disc_share * h
    # The opening runs at half resolution (a quarter of the work); objects the disc
    # measures are far wider than a pixel, so the result hardly changes.
    small = cv2.resize(smooth, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    small_disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (odd(size / 2), odd(size / 2)))
    opened = cv2.morphologyEx(small, cv2.MORPH_OPEN, small_disc)
    background = cv2.resize(opened, (ir.shape[1], h), interpolation=cv2.INTER_LINEAR)
    background = np.minimum(background, smooth)
    return smooth - background


def warm_objects(images: ImageSet) -> list[WarmObject]:
    """Warm objects of the pair, largest first (cached on the image set)."""
    return warm_scene(images).objects


def warm_scene(images: ImageSet) -> WarmScene:
    """Find the warm objects (cached on the image set).

    Seeds are pixels whose local contrast passes both ``strong_floor`` and
    ``strong_share`` of the image's strongest contrast; each seed grows over its
    window to 40% of the way from the local background to its own top level.
    Objects must stand out: their contrast must be at least ``distinct`` times the
    image's 80th-percentile contrast (what most of the background reaches), which
    drops most of the warm clutter of sunlit scenes (trees, walls, road edges)
    while keeping people at night, even close ones that fill a tenth of the view.
    """
    if _CACHE_KEY in images.cache:
        return images.cache[_CACHE_KEY]
    ir = images.ir
    smooth = cv2.GaussianBlur(ir, (0, 0), P.thermal_sigma)
    contrast = thermal_contrast(ir)
    peak = float(np.percentile(contrast, P.peak_percentile))
    strong = contrast > max(P.strong_floor, P.strong_share * peak)
    clutter = float(np.percentile(contrast, P.clutter_percentile))
    distinct_level = max(P.strong_floor, P.distinct * clutter)
    grown = ndimage.binary_fill_holes(_grow_seeds(strong, smooth))
    objects = _objects(grown, contrast, smooth, ir, distinct_level)
    objects.sort(key=lambda o: -o.area)
    scene = WarmScene(objects, clutter)
    images.cache[_CACHE_KEY] = scene
    return scene


def _levels(win: np.ndarray, inside: np.ndarray, occupied: np.ndarray) -> tuple[float, float] | None:
    """Local background (median of the ring just outside ``occupied``) and top level
    (90th percentile inside) of a window; None when the ring is too small to measure."""
    ring = ~cv2.dilate(occupied.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    if ring.sum() < P.ring_min_pixels:
        return None
    return float(np.median(win[ring])), float(np.percentile(win[inside], 90))


def _grow_seeds(strong: np.ndarray, smooth: np.ndarray) -> np.ndarray:
    """Grow each strong seed, in a window around it, to ``grow_level`` of the way from
    the local background to its top level."""
    h, w = strong.shape
    total = h * w
    labels, stats, _ = components(strong)
    min_seed = max(P.seed_min_pixels, int(P.seed_min_share * total))
    grown = np.zeros((h, w), bool)
    for i in range(1, stats.shape[0]):
        x, y, bw, bh, area = stats[i]
        if area < min_seed:
            continue
        pad = int(max(bw, bh) * P.seed_pad_share) + P.seed_pad_pixels
        x0, y0 = max(x - pad, 0), max(y - pad, 0)
        x1, y1 = min(x + bw + pad, w), min(y + bh + pad, h)
        seed = labels[y0:y1, x0:x1] == i
        win = smooth[y0:y1, x0:x1]
        levels = _levels(win, seed, strong[y0:y1, x0:x1])
        if levels is None:
            continue
        background, top = levels
        level = background + P.grow_level * (top - background)
        grown[y0:y1, x0:x1] |= keep_connected_to(win > level, seed)
    return grown


def _objects(
    grown: np.ndarray, contrast: np.ndarray, smooth: np.ndarray, ir: np.ndarray, distinct_level: float
) -> list[WarmObject]:
    """Warm objects from the grown regions: stacked parts joined, size and contrast
    filters applied, cooler parts completed."""
    h, w = grown.shape
    total = h * w
    labels, stats, _ = components(grown)
    parts = [i for i in range(1, stats.shape[0]) if stats[i, cv2.CC_STAT_AREA] >= P.part_min_pixels]
    groups = _stack_parts([(int(stats[i, 0]), int(stats[i, 1]), int(stats[i, 2]), int(stats[i, 3])) for i in parts])
    objects = []
    for group in groups:
        m = np.isin(labels, [parts[j] for j in group])
        area = int(m.sum())
        if area < max(P.object_min_pixels, int(P.object_min_share * total)) or area > P.object_max_share * total:
            continue
        object_contrast = float(np.percentile(contrast[m], P.object_percentile))
        if object_contrast < distinct_level:
            continue
        objects.append(_warm_object(_complete(m, smooth), object_contrast, ir))
    return objects


def _warm_object(m: np.ndarray, contrast: float, ir: np.ndarray) -> WarmObject:
    ys, xs = np.nonzero(m)
    return WarmObject(
        mask=m,
        bbox=(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1),
        area=int(m.sum()),
        contrast=contrast,
        warmth=float(ir[m].mean()),
        centroid=(float(xs.mean()), float(ys.mean())),
    )


def _complete(mask: np.ndarray, smooth: np.ndarray) -> np.ndarray:
    """Fill the cooler parts of one warm object that the 40% level leaves out.

    Clothing is cooler than skin: a dark jacket or a backpack leaves a hole or a
    bite in a person's mask, and a person can come apart into head, body and legs.
    Pixels are added where they lie inside the object's outline (a closing by a
    disc as wide as the object's narrower side, holes filled: it never reaches
    past the convex hull) and are still clearly warmer than the object's
    surroundings (``complete_level`` of the way from the local background to the
    object's top).
    """
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
    side = min(x1 - x0, y1 - y0)
    if side < 3:
        return mask
    pad = side + 4  # wider than the closing disc, so that the window's edge does not stop its erosion
    wx0, wy0, wx1, wy1 = max(x0 - pad, 0), max(y0 - pad, 0), min(x1 + pad, w), min(y1 + pad, h)
    m = mask[wy0:wy1, wx0:wx1]
    win = smooth[wy0:wy1, wx0:wx1]
    levels = _levels(win, m, m)
    if levels is None:
        return mask
    background, top = levels
    warm = win > background + P.complete_level * (top - background)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (odd(side), odd(side)))
    # Zero border: at the image's edge too, the closing must not keep what the dilation added.
    outline = cv2.morphologyEx(
        m.astype(np.uint8), cv2.MORPH_CLOSE, disc, borderType=cv2.BORDER_CONSTANT, borderValue=0
    ).astype(bool)
    outline = ndimage.binary_fill_holes(outline)
    part = ndimage.binary_fill_holes(keep_connected_to((outline & warm) | m, m))
    out = mask.copy()
    out[wy0:wy1, wx0:wx1] |= part
    return out


def _stack_parts(boxes: list[tuple[int, int, int, int]]) -> list[list[int]]:
    """Group (x, y, w, h) boxes stacked one above the other, as the warm head, body
    and legs of one person often are: horizontal overlap of at least half the
    narrower box and a vertical gap of at most a quarter of their joint height."""
    parent = list(range(len(boxes)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, (xa, ya, wa, ha) in enumerate(boxes):
        for j in range(i + 1, len(boxes)):
            xb, yb, wb, hb = boxes[j]
            overlap = min(xa + wa, xb + wb) - max(xa, xb)
            gap = max(ya, yb) - min(ya + ha, yb + hb)
            joint = max(ya + ha, yb + hb) - min(ya, yb)
            if overlap >= P.stack_overlap * min(wa, wb) and gap <= P.stack_gap * joint:
                parent[root(j)] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(boxes)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def _fits(obj: WarmObject, kind: str, shape: tuple[int, int]) -> bool:
    """Whether a warm object has the shape and place of ``kind``."""
    h, w = shape
    on_ground = obj.bbox[3] > P.ground_share * h  # street lamps and windows hang higher
    if kind == "person":  # upright, not a sliver, not up where lamps hang, not cut by the top edge
        low, high = P.person_aspect
        return low <= obj.aspect <= high and obj.solidity >= P.person_solidity and obj.bbox[1] > 0 and on_ground
    if kind == "vehicle":  # wider than tall, or about square seen from behind
        low, high = P.vehicle_aspect
        return low <= obj.aspect <= high and obj.area >= P.vehicle_min_share * h * w and on_ground
    if kind == "animal":
        return obj.aspect <= P.animal_max_aspect and on_ground
    return True


def _pick(
    objects: list[WarmObject], selector: str | None, plural: bool, shape: tuple[int, int]
) -> list[WarmObject]:
    """The objects a position word names: those in that part of the image for a
    plural target, else the one furthest that way."""
    w = shape[1]
    if not objects or selector is None:
        return objects
    keys = {
        "left": lambda o: o.centroid[0],
        "right": lambda o: -o.centroid[0],
        "top": lambda o: o.centroid[1],
        "bottom": lambda o: -o.bbox[3],
        "middle": lambda o: abs(o.centroid[0] - w / 2),
        "largest": lambda o: -o.area,
        "smallest": lambda o: o.area,
        "hottest": lambda o: -o.warmth,
    }
    if plural and selector in ("left", "right", "top", "bottom", "middle"):
        area = restrict(np.ones(shape, bool), selector)
        return [o for o in objects if area[int(o.centroid[1]), int(o.centroid[0])]]
    if selector not in ("smallest", "largest"):
        # "The man on the left" means one of the objects that catch the eye, not a
        # speck at the far left: choose among those at least a fifth the largest's size.
        biggest = max(o.area for o in objects)
        objects = [o for o in objects if o.area >= P.eye_catching_share * biggest]
    return [min(objects, key=keys[selector])]


def find_thermal(query: Query, images: ImageSet) -> tuple[np.ndarray, float, str]:
    """The warm objects of the query's kind, picked by its position word."""
    shape = images.shape
    scene = warm_scene(images)
    objects = [o for o in scene.objects if _fits(o, query.kind, shape)]
    chosen = _pick(objects, query.selector, query.plural, shape)
    if not chosen:
        raise NoRegionFound(query.phrase, "no warm object of that shape in the infrared image")
    mask = np.zeros(shape, bool)
    for o in chosen:
        mask |= o.mask
    strength = float(np.mean([min(o.contrast / P.full_contrast, 1.0) for o in chosen]))
    prior = dict(P.kind_prior).get(query.kind, P.kind_prior_default)
    confidence = strength * prior * scene.reliability
    noun = "warm object" if len(chosen) == 1 else "warm objects"
    detail = f"{len(chosen)} {noun} from infrared contrast"
    if scene.reliability < P.reliability_warning:
        detail += " (many warm surfaces in this infrared image: check the mask)"
    return mask, confidence, detail
