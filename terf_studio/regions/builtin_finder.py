"""The weight-free text finder: what infrared physics and simple scene cues make reliable.

Cues
----
``thermal``  warm objects (people, vehicles, animals, "hot ..."): local contrast of the
             infrared image (a white top-hat: the infrared minus its morphological
             opening), strong peaks as seeds, each seed grown to half its contrast
             over the local background, connected components, size and shape filters;
             cooler clothing inside an object's outline is filled in.
``sky``      smooth in both images, bright or blue in the visible, cold in the infrared
             (at night: the coldest smooth infrared), connected to the top rows.
``road``     smooth and grey pixels connected to the bottom centre, within a band of
             the seeds' lightness and infrared level; lane markings bridged and filled.
``vegetation`` green in the visible (excess green after a grey-world balance), or
             faintly green and densely textured in both images; a grey visible image
             falls back on texture alone, a night image finds nothing. Trees are the
             part above the horizon line, grass and bushes the part below it.

Phrases are matched word by word against :data:`VOCABULARY` (one table for every
cue). Position words (:data:`SELECTORS`) pick one warm object ("the man on the
left") or, for plural and area targets, restrict to that part of the image.
Anything else raises :class:`NoRegionFound`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from terf_studio.regions.base import ImageSet, NoRegionFound, RegionResult
from terf_studio.regions.mask import Mask

FINDER_NAME = "builtin"

# word -> (cue, kind, plural). Kinds refine the thermal cue's shape filter and the
# vegetation cue's position split.
VOCABULARY: dict[str, tuple[str, str, bool]] = {
    # people
    "person": ("thermal", "person", False),
    "persons": ("thermal", "person", True),
    "people": ("thermal", "person", True),
    "pedestrian": ("thermal", "person", False),
    "pedestrians": ("thermal", "person", True),
    "human": ("thermal", "person", False),
    "humans": ("thermal", "person", True),
    "man": ("thermal", "person", False),
    "men": ("thermal", "person", True),
    "woman": ("thermal", "person", False),
    "women": ("thermal", "person", True),
    "child": ("thermal", "person", False),
    "children": ("thermal", "person", True),
    "kid": ("thermal", "person", False),
    "kids": ("thermal", "person", True),
    "boy": ("thermal", "person", False),
    "girl": ("thermal", "person", False),
    "cyclist": ("thermal", "person", False),
    "cyclists": ("thermal", "person", True),
    "rider": ("thermal", "person", False),
    "riders": ("thermal", "person", True),
    "walker": ("thermal", "person", False),
    "figure": ("thermal", "person", False),
    "figures": ("thermal", "person", True),
    # vehicles
    "car": ("thermal", "vehicle", False),
    "cars": ("thermal", "vehicle", True),
    "vehicle": ("thermal", "vehicle", False),
    "vehicles": ("thermal", "vehicle", True),
    "truck": ("thermal", "vehicle", False),
    "trucks": ("thermal", "vehicle", True),
    "bus": ("thermal", "vehicle", False),
    "buses": ("thermal", "vehicle", True),
    "van": ("thermal", "vehicle", False),
    "vans": ("thermal", "vehicle", True),
    "motorcycle": ("thermal", "vehicle", False),
    "motorcycles": ("thermal", "vehicle", True),
    "motorbike": ("thermal", "vehicle", False),
    # animals
    "animal": ("thermal", "animal", False),
    "animals": ("thermal", "animal", True),
    "dog": ("thermal", "animal", False),
    "dogs": ("thermal", "animal", True),
    "cat": ("thermal", "animal", False),
    "cats": ("thermal", "animal", True),
    "horse": ("thermal", "animal", False),
    "horses": ("thermal", "animal", True),
    "cow": ("thermal", "animal", False),
    "cows": ("thermal", "animal", True),
    "deer": ("thermal", "animal", True),
    # generic warm things
    "target": ("thermal", "any", False),
    "targets": ("thermal", "any", True),
    "hotspot": ("thermal", "any", False),
    "hotspots": ("thermal", "any", True),
    # sky
    "sky": ("sky", "sky", False),
    "skies": ("sky", "sky", False),
    # road and ground
    "road": ("road", "road", False),
    "roads": ("road", "road", False),
    "street": ("road", "road", False),
    "streets": ("road", "road", False),
    "ground": ("road", "road", False),
    "asphalt": ("road", "road", False),
    "roadway": ("road", "road", False),
    # vegetation
    "vegetation": ("vegetation", "all", True),
    "plants": ("vegetation", "all", True),
    "greenery": ("vegetation", "all", True),
    "foliage": ("vegetation", "all", True),
    "leaves": ("vegetation", "all", True),
    "tree": ("vegetation", "trees", False),
    "trees": ("vegetation", "trees", True),
    "forest": ("vegetation", "trees", True),
    "woods": ("vegetation", "trees", True),
    "palm": ("vegetation", "trees", False),
    "palms": ("vegetation", "trees", True),
    "grass": ("vegetation", "low", True),
    "lawn": ("vegetation", "low", True),
    "bush": ("vegetation", "low", False),
    "bushes": ("vegetation", "low", True),
    "hedge": ("vegetation", "low", False),
    "hedges": ("vegetation", "low", True),
    "shrub": ("vegetation", "low", False),
    "shrubs": ("vegetation", "low", True),
}

# Words that make any noun a warm target ("hot engine", "warm objects").
WARM_WORDS = frozenset({"hot", "warm", "heat", "thermal", "hottest", "warmest"})

# Position and size words -> selector.
SELECTORS: dict[str, str] = {
    "left": "left",
    "leftmost": "left",
    "right": "right",
    "rightmost": "right",
    "top": "top",
    "upper": "top",
    "highest": "top",
    "bottom": "bottom",
    "lower": "bottom",
    "lowest": "bottom",
    "middle": "middle",
    "center": "middle",
    "centre": "middle",
    "central": "middle",
    "largest": "largest",
    "biggest": "largest",
    "closest": "largest",
    "nearest": "largest",
    "smallest": "smallest",
    "farthest": "smallest",
    "furthest": "smallest",
    "hottest": "hottest",
    "warmest": "hottest",
}

CUE_COLOURS = {
    "thermal": (255, 80, 40),
    "sky": (80, 160, 255),
    "road": (170, 170, 170),
    "vegetation": (60, 200, 60),
}

_WORD_RE = re.compile(r"[a-z]+")
_SPLIT_RE = re.compile(r"\s*(?:,|&|\band\b)\s*")


@dataclass(frozen=True)
class Query:
    """A parsed target phrase."""

    phrase: str
    cue: str
    kind: str
    plural: bool
    selector: str | None


def parse_target(phrase: str) -> Query | None:
    """Match one target phrase against the vocabulary; None when nothing matches."""
    words = _WORD_RE.findall(phrase.lower())
    selector = next((SELECTORS[w] for w in words if w in SELECTORS), None)
    for word in words:
        if word in VOCABULARY:
            cue, kind, plural = VOCABULARY[word]
            return Query(phrase, cue, kind, plural, selector)
    if any(w in WARM_WORDS for w in words):
        plural = any(w.endswith("s") and w not in WARM_WORDS for w in words)
        return Query(phrase, "thermal", "any", plural, selector)
    return None


# ---------------------------------------------------------------------------- helpers


def _odd(n: float) -> int:
    k = max(round(n), 3)
    return k if k % 2 else k + 1


def _local_std(img: np.ndarray, size: int) -> np.ndarray:
    mean = cv2.blur(img, (size, size))
    sq = cv2.blur(img * img, (size, size))
    return np.sqrt(np.maximum(sq - mean * mean, 0.0))


def _components(binary: np.ndarray, connectivity: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    _, labels, stats, centroids = cv2.connectedComponentsWithStats(
        binary.astype(np.uint8), connectivity=connectivity
    )
    return labels, stats, centroids


def _keep_connected_to(candidate: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    labels, _, _ = _components(candidate, 4)
    ids = np.unique(labels[seeds & candidate])
    ids = ids[ids > 0]
    return np.isin(labels, ids)


def _grow_within(region: np.ndarray, allowed: np.ndarray, steps: int) -> np.ndarray:
    """Grow ``region`` by up to ``steps`` pixels, only into ``allowed`` pixels."""
    out = region.astype(np.uint8)
    allowed_u8 = (allowed | region).astype(np.uint8)
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    for _ in range(steps):
        out = cv2.dilate(out, cross) & allowed_u8
    return out.astype(bool)


def _clean(binary: np.ndarray, min_area: int, hole_area: int) -> np.ndarray:
    mask = Mask(binary).remove_specks(min_area).fill_holes(max_area=hole_area)
    return mask.binary.copy()


def _restrict(binary: np.ndarray, selector: str | None) -> np.ndarray:
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
        labels, stats, _ = _components(binary)
        if stats.shape[0] > 1:
            areas = stats[1:, cv2.CC_STAT_AREA]
            pick = 1 + int(np.argmax(areas) if selector == "largest" else np.argmin(areas))
            out = labels == pick
    return out


# ---------------------------------------------------------------------------- thermal


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
        x0, y0, x1, y1 = self.bbox
        return self.area / max((x1 - x0) * (y1 - y0), 1)


def thermal_contrast(ir: np.ndarray) -> np.ndarray:
    """Infrared minus its morphological opening by a disc a quarter of the image
    height across: what is warmer than its surroundings and narrower than that disc
    (a person close to the camera fits; a car filling the view does not)."""
    h = ir.shape[0]
    smooth = cv2.GaussianBlur(ir, (0, 0), 1.0)
    size = _DISC_SHARE * h
    # The opening runs at half resolution (a quarter of the work); objects the disc
    # measures are far wider than a pixel, so the result hardly changes.
    small = cv2.resize(smooth, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    small_disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (_odd(size / 2), _odd(size / 2)))
    opened = cv2.morphologyEx(small, cv2.MORPH_OPEN, small_disc)
    background = cv2.resize(opened, (ir.shape[1], h), interpolation=cv2.INTER_LINEAR)
    background = np.minimum(background, smooth)
    return smooth - background


@dataclass(frozen=True)
class WarmScene:
    """The warm objects of a pair and how cluttered its infrared image is."""

    objects: list[WarmObject]
    clutter: float  # 80th percentile of the infrared local contrast

    @property
    def reliability(self) -> float:
        """1 for a few warm objects on an even background (night, shade); falling towards
        0.2 as more of the image is warm against its surroundings (sunlit daytime)."""
        return float(np.clip(1.0 - (self.clutter - 0.1) / 0.15, 0.2, 1.0))


def warm_objects(images: ImageSet) -> list[WarmObject]:
    """Warm objects of the pair, largest first (cached on the image set)."""
    return warm_scene(images).objects


def warm_scene(images: ImageSet) -> WarmScene:
    """Find the warm objects (cached on the image set).

    Seeds are pixels whose local contrast passes both _STRONG_FLOOR and
    _STRONG_SHARE of the image's strongest contrast; each seed grows over its
    window to 40% of the way from the local background to its own top level.
    Objects must stand out: their contrast must be at least _DISTINCT times the
    image's 80th-percentile contrast (what most of the background reaches), which
    drops most of the warm clutter of sunlit scenes (trees, walls, road edges)
    while keeping people at night, even close ones that fill a tenth of the view.
    """
    if "builtin:warm" in images.cache:
        return images.cache["builtin:warm"]
    ir = images.ir
    h, w = ir.shape
    total = h * w
    smooth = cv2.GaussianBlur(ir, (0, 0), 1.0)
    contrast = thermal_contrast(ir)
    peak = float(np.percentile(contrast, 99.9))
    strong_level = max(_STRONG_FLOOR, _STRONG_SHARE * peak)
    strong = contrast > strong_level
    clutter = float(np.percentile(contrast, 80))
    distinct_level = max(_STRONG_FLOOR, _DISTINCT * clutter)
    labels, stats, _ = _components(strong)
    min_seed = max(6, int(2e-5 * total))
    grown = np.zeros((h, w), bool)
    for i in range(1, stats.shape[0]):
        x, y, bw, bh, area = stats[i]
        if area < min_seed:
            continue
        pad = int(max(bw, bh) * 0.5) + 4
        x0, y0 = max(x - pad, 0), max(y - pad, 0)
        x1, y1 = min(x + bw + pad, w), min(y + bh + pad, h)
        seed = labels[y0:y1, x0:x1] == i
        win = smooth[y0:y1, x0:x1]
        ring = ~cv2.dilate(strong[y0:y1, x0:x1].astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        if ring.sum() < 10:
            continue
        background = float(np.median(win[ring]))
        top = float(np.percentile(win[seed], 90))
        level = background + 0.4 * (top - background)
        region = _keep_connected_to(win > level, seed)
        grown[y0:y1, x0:x1] |= region
    grown = ndimage.binary_fill_holes(grown)
    labels, stats, _ = _components(grown)
    parts = [i for i in range(1, stats.shape[0]) if stats[i, cv2.CC_STAT_AREA] >= 4]
    groups = _stack_parts([tuple(int(v) for v in stats[i, :4]) for i in parts])
    objects = []
    for group in groups:
        ids = [parts[j] for j in group]
        m = np.isin(labels, ids)
        area = int(m.sum())
        if area < max(15, int(3e-5 * total)) or area > 0.15 * total:
            continue
        object_contrast = float(np.percentile(contrast[m], 90))
        if object_contrast < distinct_level:
            continue
        m = _complete(m, smooth)
        area = int(m.sum())
        ys, xs = np.nonzero(m)
        objects.append(
            WarmObject(
                mask=m,
                bbox=(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1),
                area=area,
                contrast=object_contrast,
                warmth=float(ir[m].mean()),
                centroid=(float(xs.mean()), float(ys.mean())),
            )
        )
    objects.sort(key=lambda o: -o.area)
    scene = WarmScene(objects, clutter)
    images.cache["builtin:warm"] = scene
    return scene


def _complete(mask: np.ndarray, smooth: np.ndarray) -> np.ndarray:
    """Fill the cooler parts of one warm object that the 40% level leaves out.

    Clothing is cooler than skin: a dark jacket or a backpack leaves a hole or a
    bite in a person's mask, and a person can come apart into head, body and legs.
    Pixels are added where they lie inside the object's outline (a closing by a
    disc as wide as the object's narrower side, holes filled: it never reaches
    past the convex hull) and are still clearly warmer than the object's
    surroundings (15% of the way from the local background to the object's top).
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
    ring = ~cv2.dilate(m.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    if ring.sum() < 10:
        return mask
    background = float(np.median(win[ring]))
    top = float(np.percentile(win[m], 90))
    warm = win > background + _COMPLETE_LEVEL * (top - background)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (_odd(side), _odd(side)))
    # Zero border: at the image's edge too, the closing must not keep what the dilation added.
    outline = cv2.morphologyEx(
        m.astype(np.uint8), cv2.MORPH_CLOSE, disc, borderType=cv2.BORDER_CONSTANT, borderValue=0
    ).astype(bool)
    outline = ndimage.binary_fill_holes(outline)
    part = ndimage.binary_fill_holes(_keep_connected_to((outline & warm) | m, m))
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
            if overlap >= 0.5 * min(wa, wb) and gap <= 0.25 * joint:
                parent[root(j)] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(boxes)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


_DISC_SHARE = 0.25  # opening disc diameter / image height: the widest object found
_STRONG_FLOOR = 0.15  # infrared local contrast (of 1.0) a seed must exceed
_STRONG_SHARE = 0.4  # ... and this share of the image's strongest contrast
_DISTINCT = 3.5  # an object's contrast / the image's 80th-percentile contrast
_COMPLETE_LEVEL = 0.15  # cooler parts (clothing) kept: share of the way from background to top


def _fits(obj: WarmObject, kind: str, shape: tuple[int, int]) -> bool:
    h, w = shape
    if kind == "person":  # upright, not a sliver, not up where lamps hang, not cut by the top edge
        return 1.35 <= obj.aspect <= 6.0 and obj.solidity >= 0.2 and obj.bbox[1] > 0 and obj.bbox[3] > 0.3 * h
    on_ground = obj.bbox[3] > 0.3 * h  # street lamps and windows hang higher
    if kind == "vehicle":  # wider than tall, or about square seen from behind
        return 0.2 <= obj.aspect <= 1.1 and obj.area >= 3e-4 * h * w and on_ground
    if kind == "animal":
        return obj.aspect <= 3.0 and on_ground
    return True


def _pick(
    objects: list[WarmObject], selector: str | None, plural: bool, shape: tuple[int, int]
) -> list[WarmObject]:
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
        area = _restrict(np.ones(shape, bool), selector)
        inside = [o for o in objects if area[int(o.centroid[1]), int(o.centroid[0])]]
        return inside
    if selector not in ("smallest", "largest"):
        # "The man on the left" means one of the objects that catch the eye, not a
        # speck at the far left: choose among those at least a fifth the largest's size.
        biggest = max(o.area for o in objects)
        objects = [o for o in objects if o.area >= 0.2 * biggest]
    return [min(objects, key=keys[selector])]


_KIND_PRIOR = {"person": 0.85, "animal": 0.6, "vehicle": 0.55, "any": 0.85}


def _find_thermal(query: Query, images: ImageSet) -> tuple[np.ndarray, float, str]:
    shape = images.shape
    scene = warm_scene(images)
    objects = [o for o in scene.objects if _fits(o, query.kind, shape)]
    chosen = _pick(objects, query.selector, query.plural, shape)
    if not chosen:
        raise NoRegionFound(query.phrase, "no warm object of that shape in the infrared image")
    mask = np.zeros(shape, bool)
    for o in chosen:
        mask |= o.mask
    strength = float(np.mean([min(o.contrast / 0.4, 1.0) for o in chosen]))
    confidence = strength * _KIND_PRIOR.get(query.kind, 0.7) * scene.reliability
    noun = "warm object" if len(chosen) == 1 else "warm objects"
    detail = f"{len(chosen)} {noun} from infrared contrast"
    if scene.reliability < 0.6:
        detail += " (many warm surfaces in this infrared image: check the mask)"
    return mask, confidence, detail


# ---------------------------------------------------------------------------- sky


def _is_night(images: ImageSet) -> bool:
    return float(np.median(images.vi_grey)) < 0.15


def _find_sky(query: Query, images: ImageSet) -> tuple[np.ndarray, float, str]:
    """Smooth in both images, sky-coloured in the visible, cold in the infrared, and
    connected to such pixels along the top rows. No similarity to the seeds is
    required, so the infrared gradient of a clear sky (colder overhead) is kept;
    the smoothness test stops the region at tree and roof edges."""
    h, w = images.shape
    total = h * w
    ir = cv2.GaussianBlur(images.ir, (0, 0), 1.5)
    grey = cv2.GaussianBlur(images.vi_grey, (0, 0), 1.5)
    texture = np.maximum(_local_std(grey, 7), _local_std(ir, 7))
    lab = images.vi_lab
    if _is_night(images):
        # The visible shows little; the night sky is the coldest, smoothest infrared.
        looks_like_sky = np.ones((h, w), bool)
        cold = ir <= float(np.percentile(ir, 10)) + 0.03
        smooth = texture < 0.03
        how = "smooth and the coldest in the infrared (night)"
    else:
        if lab is not None:
            light, blue_b = lab[:, :, 0], lab[:, :, 2]
            green_a = lab[:, :, 1]
            looks_like_sky = ((light > 55) | ((blue_b < -8) & (light > 30))) & (green_a > -10)
        else:
            looks_like_sky = grey > 0.55
        cold = ir <= float(np.percentile(ir, 50))
        smooth = texture < 0.04
        how = "smooth, bright or blue in the visible, cold in the infrared"
    candidate = smooth & looks_like_sky & cold
    candidate[int(0.8 * h) :] = False
    band = max(2, h // 20)
    seeds = np.zeros((h, w), bool)
    seeds[:band] = candidate[:band]
    if seeds.sum() < max(10, 0.05 * band * w):
        raise NoRegionFound(query.phrase, "no smooth, cold, sky-like pixels along the top of the image")
    region = _keep_connected_to(candidate, seeds)
    # The texture window stops the region a few pixels short of every edge; win
    # those pixels back where they still look like sky and are cold.
    # Never into another smooth sky-like area (a grey roof), so no new connections.
    region = _grow_within(region, looks_like_sky & cold & ~(candidate & ~region), 4)
    region = cv2.morphologyEx(region.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)).astype(
        bool
    )
    region = _clean(region, max(20, int(2e-4 * total)), int(0.002 * total))
    if region.sum() < 0.005 * total:
        raise NoRegionFound(query.phrase, "the sky-like area at the top is too small")
    coverage_top = float(region[:band].mean())
    confidence = float(np.clip(0.45 + 0.45 * coverage_top, 0.0, 0.9))
    if _is_night(images):
        confidence *= 0.7
    return region, confidence, f"sky from the top rows: {how}"


# ---------------------------------------------------------------------------- road


def _find_road(query: Query, images: ImageSet) -> tuple[np.ndarray, float, str]:
    """Grey, smooth pixels connected to the bottom centre, within a loose band of the
    seeds' lightness and infrared level (roads brighten and warm up with distance,
    so the band is wide; smoothness and greyness stop it at kerbs, grass and cars).
    Lane markings and small objects inside are filled in."""
    h, w = images.shape
    total = h * w
    ir = cv2.GaussianBlur(images.ir, (0, 0), 2.0)
    lab = cv2.GaussianBlur(images.vi_lab if images.vi_lab is not None else images.view_lab, (0, 0), 2.0)
    light = lab[:, :, 0] / 100.0
    texture = np.maximum(_local_std(light, 9), _local_std(ir, 9))
    night = _is_night(images)
    chroma = np.hypot(lab[:, :, 1], lab[:, :, 2])
    grey_like = np.ones((h, w), bool) if night else chroma < 15
    y0, x0, x1 = int(0.82 * h), int(0.3 * w), int(0.7 * w)
    seeds = np.zeros((h, w), bool)
    seeds[y0:, x0:x1] = True
    seeds &= grey_like & (texture < 0.06)
    if seeds.sum() < 0.2 * (h - y0) * (x1 - x0):
        raise NoRegionFound(query.phrase, "the bottom centre of the image is not smooth and grey like a road")
    light_ref = float(np.median(light[seeds]))
    light_band = max(0.1, 3.0 * float(np.median(np.abs(light[seeds] - light_ref))))
    ir_ref = float(np.median(ir[seeds]))
    ir_band = max(0.04 if night else 0.07, 3.0 * float(np.median(np.abs(ir[seeds] - ir_ref))))
    candidate = (
        grey_like
        & (texture < 0.06)
        & (np.abs(light - light_ref) <= light_band)
        & (np.abs(ir - ir_ref) <= ir_band)
    )
    candidate[: int((0.4 if night else 0.3) * h)] = False
    # A small opening breaks one-pixel bridges into kerbs and walls; a closing about
    # 2% of the width then bridges lane markings, so the lanes beyond them connect.
    candidate = cv2.morphologyEx(candidate.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    bridge = _odd(0.02 * w)
    candidate = cv2.morphologyEx(candidate, cv2.MORPH_CLOSE, np.ones((bridge, bridge), np.uint8)).astype(bool)
    region = _keep_connected_to(candidate, seeds)
    region = cv2.morphologyEx(region.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8)).astype(
        bool
    )
    region = _clean(region, max(20, int(5e-4 * total)), int(0.01 * total))
    if region.sum() < 0.02 * total:
        raise NoRegionFound(query.phrase, "the grey area at the bottom is too small for a road")
    seed_cover = float(region[y0:, x0:x1].mean())
    confidence = float(np.clip(0.25 + 0.45 * seed_cover, 0.0, 0.7)) * (0.8 if night else 1.0)
    return (
        region,
        confidence,
        "road from the bottom centre: grey and smooth in the visible, even in the infrared",
    )


# ---------------------------------------------------------------------------- vegetation


def _horizon_row(images: ImageSet) -> int:
    """Where the ground starts: the top of a road region if one is found, else mid-height."""
    h = images.shape[0]
    road = _area_mask(_find_road, "road", images)
    if road is None:
        return h // 2
    rows = np.flatnonzero(road.mean(axis=1) > 0.2)  # rows the road spans, not a kerb or pillar
    return int(np.clip(rows[0] if rows.size else h // 2, 0.3 * h, 0.8 * h))


def _gradient_density(img: np.ndarray, level: float, window: int) -> np.ndarray:
    """Share of pixels in each window whose gradient exceeds ``level``: high over
    foliage, lower along the single edges of cars, poles and lane lines."""
    g = cv2.GaussianBlur(img, (0, 0), 1.0)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    return cv2.blur((np.hypot(gx, gy) > level).astype(np.float32), (window, window))


def _area_mask(find, name: str, images: ImageSet) -> np.ndarray | None:
    """The sky or road of the pair, None when there is none (cached on the image set)."""
    key = f"builtin:area:{name}"
    if key not in images.cache:
        try:
            region, _, _ = find(Query(name, name, name, False, None), images)
        except NoRegionFound:
            region = None
        images.cache[key] = region
    return images.cache[key]


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
    return float(np.percentile(chroma, 90)) > _GREY_CHROMA


def _is_dim(images: ImageSet) -> bool:
    """A visible image without daylight: no bright highlights and a dark top (no lit sky)."""
    grey = images.vi_grey[::2, ::2]
    top = grey[: grey.shape[0] // 5]
    return float(np.percentile(grey, 95)) < 0.85 and float(np.median(top)) < 0.45


_GREY_CHROMA = 12.0  # 90th-percentile Lab chroma below which the visible counts as grey


def _find_vegetation(query: Query, images: ImageSet) -> tuple[np.ndarray, float, str]:
    """Clearly green pixels (excess green after a grey-world white balance), or pixels
    that are faintly green and densely textured in both images (washed-out daylight
    foliage). A grey (or nearly grey) visible image: fine texture in both images,
    relative to each image's smooth level, with holes in crowns filled (a weaker cue).
    At night, when the visible shows nothing, no vegetation is found. Sky, road and
    warm objects are taken out."""
    h, w = images.shape
    total = h * w
    if _is_night(images):
        # Texture alone finds lamps, signs and edges as often as foliage at night.
        raise NoRegionFound(query.phrase, "the visible image is too dark to tell vegetation by colour")
    window = max(9, _odd(h / 30))
    if _colour_is_telling(images):
        texture = np.minimum(
            _gradient_density(images.ir, 0.02, window), _gradient_density(images.vi_grey, 0.02, window)
        )
        rgb = cv2.GaussianBlur(images.vi, (0, 0), 1.5)
        balanced = rgb * (rgb.mean() / (rgb.reshape(-1, 3).mean(axis=0) + 1e-3))
        total_rgb = balanced.sum(axis=2) + 1e-3
        r, g, b = (balanced[:, :, i] / total_rgb for i in range(3))
        excess_green = 2 * g - r - b
        value = rgb.max(axis=2)
        veg = ((excess_green > 0.06) | ((excess_green > 0.005) & (texture > 0.35))) & (value > 0.04)
        how = "green in the visible image, or faintly green and textured in both images"
        base_conf, hole_share = 0.65, 0.002
    else:
        if _is_dim(images):
            # Its texture is noise, and the infrared's alone finds wires, lamps and roofs.
            raise NoRegionFound(query.phrase, "the grey visible image is too dim to tell vegetation by texture")
        rel_ir = _relative_texture(images.ir, window, 0.002)
        rel_vi = _relative_texture(images.vi_grey, window, 0.001)
        veg = (rel_ir > _TEXTURE_IR) & (rel_vi > _TEXTURE_VI)
        how = "finely textured in both images (grey visible image: a weaker cue)"
        # Foliage is no warmer than the road in the infrared and not near-white in the
        # visible; sunlit walls and window grids are both.
        road = _area_mask(_find_road, "road", images)
        ir_smooth = cv2.GaussianBlur(images.ir, (0, 0), 3.0)
        road_ir = float(np.median(ir_smooth[road])) if road is not None else float(np.median(ir_smooth))
        veg &= ir_smooth <= road_ir + _WARMER_THAN_ROAD
        veg &= cv2.GaussianBlur(images.vi_grey, (0, 0), 3.0) <= _WHITE
        base_conf, hole_share = 0.35, 0.01
    for obj in warm_objects(images):
        veg &= ~obj.mask
    for find, name in ((_find_sky, "sky"), (_find_road, "road")):
        area = _area_mask(find, name, images)
        if area is not None:
            veg &= ~area
    veg = cv2.morphologyEx(veg.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)).astype(bool)
    # Shaded parts of a crown are smooth and dark in both images: fill them when the
    # textured foliage around them encloses them (grey images only; colour finds them).
    veg = _clean(veg, max(30, int(5e-4 * total)), int(hole_share * total))
    if query.kind in ("trees", "low"):
        split = max(_horizon_row(images) - int(0.1 * h), int(0.2 * h))
        part = veg.copy()
        if query.kind == "trees":
            part[split:] = False
        else:
            part[:split] = False
        veg = _clean(part, max(30, int(5e-4 * total)), 0)
        how += "; trees above the horizon" if query.kind == "trees" else "; below the horizon"
    if veg.sum() < 0.003 * total:
        raise NoRegionFound(query.phrase, "too little vegetation-like area")
    return veg, base_conf, f"vegetation: {how}"


_TEXTURE_IR = 2.5  # foliage: infrared band energy / the image's smooth level
_TEXTURE_VI = 3.0  # ... and the same for the visible
_WARMER_THAN_ROAD = 0.15  # grey visible: foliage is at most this much warmer than the road
_WHITE = 0.85  # grey visible: foliage is darker than this (white walls are not)


# ---------------------------------------------------------------------------- the finder

_CUES = {
    "thermal": _find_thermal,
    "sky": _find_sky,
    "road": _find_road,
    "vegetation": _find_vegetation,
}


class BuiltinFinder:
    """Weight-free finder for warm objects, sky, road and vegetation."""

    name = FINDER_NAME

    def understands(self, phrase: str) -> bool:
        """True when every part of ``phrase`` matches the vocabulary."""
        parts = [p for p in _SPLIT_RE.split(phrase.strip()) if p]
        return bool(parts) and all(parse_target(p) is not None for p in parts)

    def find(self, phrase: str, images: ImageSet) -> RegionResult:
        parts = [p for p in _SPLIT_RE.split(phrase.strip()) if p]
        queries = [parse_target(p) for p in parts]
        if not parts or any(q is None for q in queries):
            raise NoRegionFound(phrase)
        combined = np.zeros(images.shape, bool)
        confidences, details, cues = [], [], []
        for query in queries:
            try:
                region, confidence, detail = _CUES[query.cue](query, images)
            except NoRegionFound as exc:
                raise NoRegionFound(phrase, exc.detail) from None
            if query.cue != "thermal":
                region = _restrict(region, query.selector)
                if not region.any():
                    raise NoRegionFound(phrase, f"nothing in the {query.selector} part")
            combined |= region
            confidences.append(confidence)
            details.append(detail)
            cues.append(query.cue)
        cue_names = "+".join(dict.fromkeys(cues))
        finder = f"{FINDER_NAME}:{cue_names}"
        confidence = float(min(confidences))
        colour = CUE_COLOURS.get(cues[0], CUE_COLOURS["thermal"])
        mask = Mask(combined, label=phrase.strip(), colour=colour, source=finder, confidence=confidence)
        return RegionResult(mask=mask, finder=finder, confidence=confidence, detail="; ".join(details))
