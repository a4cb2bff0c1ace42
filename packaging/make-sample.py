#!/usr/bin/env python3
"""Draw the synthetic sample pair shipped in ``resources/samples/`` (Help > Try a sample, ``gui --sample``).

A night street, 640x480: sky, buildings with a few lit windows, a road with a dashed line, a
street lamp, a tree, a pedestrian in dark clothes and a parked car. In the visible image the
lamp's light pool and the lit windows are what shows; the pedestrian and the car are almost
lost in the dark. In the infrared image they are warm (bright), the sky is cold (dark) and the
lamp's head is hot. Everything is drawn here from shapes and a seeded random generator, so the
pictures are the project's own work and come out the same on each run (up to a grey level
between library versions).

    .venv/bin/python packaging/make-sample.py            # rewrite resources/samples/
    .venv/bin/python packaging/make-sample.py --out DIR  # somewhere else
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

HEIGHT, WIDTH = 480, 640
HORIZON = 262
SEED = 17
VISIBLE_NAME = "night-street-vi.png"
INFRARED_NAME = "night-street-ir.png"


def _fill(vi: np.ndarray, ir: np.ndarray, mask: np.ndarray, colour: tuple[float, float, float], heat: float) -> None:
    """Paint ``mask`` (float coverage in [0, 1]) with a visible ``colour`` and an infrared ``heat``."""
    m = mask[..., None]
    vi[:] = vi * (1 - m) + np.asarray(colour, np.float32) * m
    ir[:] = ir * (1 - mask) + heat * mask


def _shape(draw: object) -> np.ndarray:
    """A coverage mask drawn by ``draw(canvas)`` with anti-aliased OpenCV calls on an 8-bit canvas."""
    canvas = np.zeros((HEIGHT, WIDTH), np.uint8)
    draw(canvas)  # type: ignore[operator]
    return canvas.astype(np.float32) / 255.0


def _glow(cx: float, cy: float, sx: float, sy: float) -> np.ndarray:
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    return np.exp(-(((x - cx) / sx) ** 2 + ((y - cy) / sy) ** 2) / 2)


def render_pair(seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """The visible (H, W, 3) and infrared (H, W) images as float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    aa = cv2.LINE_AA
    t = np.linspace(0, 1, HORIZON, dtype=np.float32)[:, None]
    vi = np.zeros((HEIGHT, WIDTH, 3), np.float32)
    ir = np.zeros((HEIGHT, WIDTH), np.float32)
    # Sky: dark blue, lighter towards the horizon; cold in infrared.
    vi[:HORIZON] = (np.array([0.015, 0.02, 0.06]) * (1 - t) + np.array([0.05, 0.055, 0.11]) * t)[:, None, :]
    ir[:HORIZON] = 0.06 + 0.05 * t
    # Ground below the horizon: pavement on both sides.
    vi[HORIZON:] = (0.085, 0.085, 0.09)
    ir[HORIZON:] = 0.40

    # Buildings along the horizon, each with a grid of windows, some lit.
    x = 0
    while x < WIDTH:
        w = int(rng.integers(70, 130))
        top = int(rng.integers(95, 200))
        shade = float(rng.uniform(0.05, 0.085))
        block = _shape(lambda c, x=x, w=w, top=top: cv2.rectangle(c, (x, top), (x + w - 4, HORIZON), 255, -1))
        _fill(vi, ir, block, (shade, shade, shade * 1.15), float(rng.uniform(0.30, 0.38)))
        for wy in range(top + 12, HORIZON - 20, 22):
            for wx in range(x + 10, x + w - 20, 20):
                lit = rng.random() < 0.22
                win = _shape(lambda c, wx=wx, wy=wy: cv2.rectangle(c, (wx, wy), (wx + 9, wy + 12), 255, -1))
                colour = (0.85, 0.68, 0.36) if lit else (0.03, 0.035, 0.05)
                _fill(vi, ir, win, colour, 0.44 if lit else 0.24)  # dark glass reflects the cold sky
        x += w

    # The road: a trapezoid in perspective, warm asphalt, with a dashed centre line.
    road = _shape(lambda c: cv2.fillPoly(c, [np.array([[250, HORIZON], [390, HORIZON], [640, 480], [0, 480]])],
                                         255, aa))
    _fill(vi, ir, road, (0.055, 0.055, 0.06), 0.46)
    for i in range(7):
        a, b = i / 7, (i + 0.45) / 7
        ya, yb = HORIZON + (480 - HORIZON) * a ** 1.6, HORIZON + (480 - HORIZON) * b ** 1.6
        wa, wb = 1 + 6 * a, 1 + 6 * b
        dash = _shape(lambda c, ya=ya, yb=yb, wa=wa, wb=wb: cv2.fillPoly(
            c, [np.array([[320 - wa, ya], [320 + wa, ya], [320 + wb, yb], [320 - wb, yb]], np.int32)], 255, aa))
        _fill(vi, ir, dash, (0.42, 0.42, 0.40), 0.40)

    # A tree on the right pavement: dark in both, a little warmer than the sky in infrared.
    trunk = _shape(lambda c: cv2.rectangle(c, (566, 220), (576, 318), 255, -1))
    _fill(vi, ir, trunk, (0.05, 0.04, 0.03), 0.33)
    crown = _shape(lambda c: cv2.ellipse(c, (571, 190), (48, 58), 0, 0, 360, 255, -1, aa))
    _fill(vi, ir, crown, (0.03, 0.06, 0.04), 0.28)

    # The street lamp: pole, arm and a hot, bright head; its light pool shows in the visible only.
    pole = _shape(lambda c: (cv2.rectangle(c, (474, 112), (479, 340), 255, -1),
                             cv2.line(c, (476, 114), (440, 104), 255, 4, aa)))
    _fill(vi, ir, pole, (0.12, 0.12, 0.13), 0.30)
    pool = _glow(420, 372, 115, 42)
    vi += pool[..., None] * np.array([0.34, 0.29, 0.18], np.float32)
    halo = _glow(440, 110, 26, 20)
    vi += halo[..., None] * np.array([0.55, 0.5, 0.38], np.float32)
    head = _shape(lambda c: cv2.ellipse(c, (440, 110), (14, 6), 0, 0, 360, 255, -1, aa))
    _fill(vi, ir, head, (1.0, 0.97, 0.86), 1.0)

    # A parked car on the left of the road, side on: dark to the eye, warm engine, tyres and exhaust.
    body = _shape(lambda c: (cv2.rectangle(c, (110, 330), (290, 372), 255, -1),
                             cv2.fillPoly(c, [np.array([[145, 331], [170, 300], [245, 300], [268, 331]])], 255, aa)))
    _fill(vi, ir, body, (0.07, 0.075, 0.09), 0.52)
    glass = _shape(lambda c: cv2.fillPoly(c, [np.array([[156, 329], [175, 306], [238, 306], [256, 329]])], 255, aa))
    _fill(vi, ir, glass, (0.03, 0.035, 0.05), 0.22)
    engine = _shape(lambda c: cv2.rectangle(c, (232, 334), (290, 366), 255, -1)) * 0.8
    _fill(vi, ir, engine, (0.07, 0.075, 0.09), 0.82)
    for cx in (148, 254):
        wheel = _shape(lambda c, cx=cx: cv2.circle(c, (cx, 372), 17, 255, -1, aa))
        _fill(vi, ir, wheel, (0.02, 0.02, 0.02), 0.74)
    exhaust = _shape(lambda c: cv2.circle(c, (108, 366), 5, 255, -1, aa))
    _fill(vi, ir, exhaust, (0.05, 0.05, 0.05), 0.97)
    tail = _shape(lambda c: cv2.rectangle(c, (110, 338), (116, 348), 255, -1))
    _fill(vi, ir, tail, (0.35, 0.04, 0.03), 0.6)

    # A pedestrian in dark clothes on the left pavement: nearly invisible, bright in infrared.
    legs = _shape(lambda c: (cv2.line(c, (58, 338), (52, 388), 255, 7, aa), cv2.line(c, (66, 338), (72, 388), 255, 7,
                                                                                      aa)))
    _fill(vi, ir, legs, (0.06, 0.06, 0.065), 0.84)
    torso = _shape(lambda c: (cv2.ellipse(c, (62, 316), (12, 26), 0, 0, 360, 255, -1, aa),
                              cv2.line(c, (51, 298), (45, 336), 255, 5, aa), cv2.line(c, (73, 298), (79, 336), 255, 5,
                                                                                      aa)))
    _fill(vi, ir, torso, (0.065, 0.06, 0.065), 0.90)
    head_p = _shape(lambda c: cv2.circle(c, (62, 281), 9, 255, -1, aa))
    _fill(vi, ir, head_p, (0.10, 0.08, 0.07), 0.98)

    # Sensors: the visible camera is noisy at night; the infrared one is softer (lower resolution).
    vi_out = cv2.GaussianBlur(vi, (0, 0), 0.6) + rng.normal(0, 0.012, vi.shape).astype(np.float32)
    ir_out = cv2.GaussianBlur(ir, (0, 0), 1.3) + rng.normal(0, 0.008, ir.shape).astype(np.float32)
    return np.clip(vi_out, 0, 1).astype(np.float32), np.clip(ir_out, 0, 1).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root))
    from terf_studio.imaging import write_image

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=root / "resources" / "samples")
    args = parser.parse_args(argv)
    vi, ir = render_pair()
    write_image(args.out / VISIBLE_NAME, vi)
    write_image(args.out / INFRARED_NAME, ir)
    print(f"wrote {args.out / VISIBLE_NAME} and {args.out / INFRARED_NAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
