"""Brush and eraser strokes: a polyline painted with a round, anti-aliased brush.

A stroke is a value, not an action: it records its points, radius, hardness and
mode, and :meth:`Stroke.apply` paints it onto a mask and returns a new mask. An
undo stack can keep the stroke (a few numbers) instead of a copy of the mask,
and a project can replay it.

Coordinates are image pixels with the centre of the pixel in row ``r``, column
``c`` at ``(x, y) = (c, r)``; a GUI whose pixel centres sit at ``c + 0.5`` subtracts
0.5 before building a stroke.

Brush profile: with ``d`` the distance from a pixel centre to the polyline,
coverage is 1 for ``d <= radius + 0.5 - f`` and falls to 0 at ``d = radius + 0.5``
along a smoothstep of width ``f = max(1, (1 - hardness) * radius)``. Hardness 1
gives a hard edge with one pixel of anti-aliasing; hardness 0 a cone-like soft dab
whose value falls all the way from the centre.

Painting is additive: ``add`` raises each pixel by the coverage (clipped at 1),
``erase`` lowers it by the coverage (clipped at 0). So an eraser stroke exactly
removes what the same brush stroke added to an empty mask, and repeated soft
strokes build up, as with an airbrush.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from terf_studio.regions.mask import Mask

MODES = ("add", "erase")


@dataclass(frozen=True)
class Stroke:
    """One brush ("add") or eraser ("erase") stroke along ``points``."""

    points: tuple[tuple[float, float], ...]
    radius: float
    hardness: float = 1.0
    mode: str = "add"

    def __post_init__(self) -> None:
        pts = tuple((float(x), float(y)) for x, y in self.points)
        if not pts:
            raise ValueError("a stroke needs at least one point")
        if not all(math.isfinite(v) for p in pts for v in p):
            raise ValueError("stroke points must be finite numbers")
        radius = float(self.radius)
        if not (math.isfinite(radius) and radius > 0):
            raise ValueError(f"a stroke radius must be a positive number, got {self.radius!r}")
        hardness = float(self.hardness)
        if not (0.0 <= hardness <= 1.0):
            raise ValueError(f"hardness must be in [0, 1], got {self.hardness!r}")
        if self.mode not in MODES:
            raise ValueError(f"a stroke mode is 'add' or 'erase', got {self.mode!r}")
        object.__setattr__(self, "points", pts)
        object.__setattr__(self, "radius", radius)
        object.__setattr__(self, "hardness", hardness)

    # ------------------------------------------------------------------ painting
    def coverage(self, shape: tuple[int, int]) -> np.ndarray:
        """Float32 (H, W) brush coverage in [0, 1] for an image of ``shape``."""
        h, w = shape[:2]
        out = np.zeros((h, w), np.float32)
        window = self._window(h, w)
        if window is None:
            return out
        x0, y0, x1, y1 = window
        dist = _distance_to_polyline(self.points, self.radius + 1.0, x0, y0, x1, y1)
        outer = self.radius + 0.5
        falloff = max(1.0, (1.0 - self.hardness) * self.radius)
        t = np.clip((outer - dist) / falloff, 0.0, 1.0)
        out[y0:y1, x0:x1] = t * t * (3.0 - 2.0 * t)
        return out

    def apply(self, mask: Mask) -> Mask:
        """Paint this stroke onto ``mask``; returns a new mask."""
        cov = self.coverage(mask.shape)
        if self.mode == "add":
            data = np.minimum(mask.data + cov, 1.0)
        else:
            data = np.maximum(mask.data - cov, 0.0)
        return mask.with_data(data)

    def bbox(self, shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
        """(x0, y0, x1, y1), end-exclusive, of the pixels this stroke can touch."""
        return self._window(*shape[:2])

    def _window(self, h: int, w: int) -> tuple[int, int, int, int] | None:
        pts = np.asarray(self.points)
        reach = self.radius + 1.0
        x0 = max(math.floor(pts[:, 0].min() - reach), 0)
        y0 = max(math.floor(pts[:, 1].min() - reach), 0)
        x1 = min(math.ceil(pts[:, 0].max() + reach) + 1, w)
        y1 = min(math.ceil(pts[:, 1].max() + reach) + 1, h)
        if x0 >= x1 or y0 >= y1:
            return None
        return x0, y0, x1, y1

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict:
        return {
            "points": [[x, y] for x, y in self.points],
            "radius": self.radius,
            "hardness": self.hardness,
            "mode": self.mode,
        }

    @classmethod
    def from_dict(cls, record: dict) -> Stroke:
        try:
            points = tuple((p[0], p[1]) for p in record["points"])
            return cls(points, record["radius"], record.get("hardness", 1.0), record.get("mode", "add"))
        except (KeyError, TypeError, IndexError) as exc:
            raise ValueError(f"not a stroke record: {exc}") from None


def apply_strokes(mask: Mask, strokes: Iterable[Stroke]) -> Mask:
    """Paint ``strokes`` in order."""
    for stroke in strokes:
        mask = stroke.apply(mask)
    return mask


def _distance_to_polyline(
    points: Sequence[tuple[float, float]], reach: float, x0: int, y0: int, x1: int, y1: int
) -> np.ndarray:
    """Distance from each pixel centre in the window to the nearest point of the polyline.

    Each segment only visits the pixels within ``reach`` of its own bounding box, so a
    long stroke of many short segments costs about its painted area, not segments x window.
    Pixels further than ``reach`` from every segment keep a distance of at least ``reach``.
    """
    best = np.full((y1 - y0, x1 - x0), np.float64(reach) ** 2 + 1.0)
    pts = list(points)
    segments = list(pairwise(pts)) or [(pts[0], pts[0])]
    for (ax, ay), (bx, by) in segments:
        sx0 = max(math.floor(min(ax, bx) - reach), x0)
        sy0 = max(math.floor(min(ay, by) - reach), y0)
        sx1 = min(math.ceil(max(ax, bx) + reach) + 1, x1)
        sy1 = min(math.ceil(max(ay, by) + reach) + 1, y1)
        if sx0 >= sx1 or sy0 >= sy1:
            continue
        px = np.arange(sx0, sx1, dtype=np.float64)[None, :] - ax
        py = np.arange(sy0, sy1, dtype=np.float64)[:, None] - ay
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        if length2 == 0.0:
            d2 = px * px + py * py
        else:
            t = np.clip((px * dx + py * dy) / length2, 0.0, 1.0)
            ex, ey = px - t * dx, py - t * dy
            d2 = ex * ex + ey * ey
        view = best[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0]
        np.minimum(view, d2, out=view)
    return np.sqrt(best).astype(np.float32)
