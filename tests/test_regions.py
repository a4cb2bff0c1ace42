"""Regions: mask operations, strokes, click/box masks and the weight-free text finder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from terf_studio.errors import TerfError
from terf_studio.regions import (
    BuiltinFinder,
    ImageSet,
    Mask,
    NoRegionFound,
    RegionFinder,
    RegionResult,
    Stroke,
    apply_strokes,
    box_region,
    find_region,
    finders,
    parse_target,
    point_region,
    register_finder,
    unregister_finder,
)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def square(shape=(20, 20), y0=5, y1=15, x0=5, x1=15, **meta) -> Mask:
    data = np.zeros(shape, np.float32)
    data[y0:y1, x0:x1] = 1
    return Mask(data, **meta)


# ---------------------------------------------------------------------------- Mask


def test_mask_normalises_input_and_is_read_only():
    raw = np.array([[-1.0, 0.5], [2.0, np.nan]])
    m = Mask(raw)
    assert m.data.dtype == np.float32
    np.testing.assert_array_equal(m.data, [[0, 0.5], [1, 0]])
    with pytest.raises(ValueError):
        m.data[0, 0] = 1
    raw[0, 1] = 0.9  # the mask owns a copy
    assert m.data[0, 1] == 0.5
    assert Mask(np.array([[True, False]])).area == 1
    assert Mask(np.array([[255, 0]], np.uint8)).data[0, 0] == 1.0
    with pytest.raises(ValueError):
        Mask(np.zeros((2, 2, 3)))
    with pytest.raises(ValueError):
        Mask(np.zeros((2, 2)), colour=(0, 0, 300))


def test_set_operations_known_areas():
    a = square(x0=0, x1=10)  # 10 rows x 10 cols
    b = square(x0=5, x1=15)
    assert a.area == b.area == 100
    assert a.union(b).area == 150
    assert a.intersect(b).area == 50
    assert a.subtract(b).area == 50
    assert (a | b).area == 150 and (a & b).area == 50 and (a - b).area == 50
    inv = a.invert()
    assert inv.area == 400 - 100
    np.testing.assert_array_equal(inv.invert().data, a.data)
    assert a.area == 100  # operations never change their input
    with pytest.raises(ValueError):
        a.union(Mask.empty((5, 5)))


def test_operations_keep_metadata():
    a = square(label="person", colour=(1, 2, 3), source="builtin:thermal", confidence=0.7)
    for out in (a.invert(), a.grow(2), a.feather(3), a.union(square())):
        assert (out.label, out.colour, out.source, out.confidence) == ("person", (1, 2, 3), "builtin:thermal", 0.7)
    assert a.with_meta(label="x").label == "x"


def test_grow_by_one_pixel_gives_a_cross():
    """Documented: grow is Euclidean, so a single pixel grown by 1 is a 3x3 cross."""
    data = np.zeros((7, 7), np.float32)
    data[3, 3] = 1
    grown = Mask(data).grow(1)
    expected = np.zeros((7, 7), bool)
    expected[2:5, 3] = True
    expected[3, 2:5] = True
    np.testing.assert_array_equal(grown.binary, expected)
    # sqrt(2) reaches the diagonals: the full 3x3 square.
    assert Mask(data).grow(1.5).area == 9
    # Soft masks use grey dilation with the same disc.
    soft = np.zeros((7, 7), np.float32)
    soft[3, 3] = 0.6
    np.testing.assert_allclose(Mask(soft).grow(1).data, expected * 0.6)


def test_shrink_and_grow_are_duals():
    a = square()
    assert a.shrink(1).area == 8 * 8
    assert a.grow(-1).area == 64
    assert a.shrink(5).area == 0
    full = Mask.full((6, 6))
    assert full.shrink(2).area == 36  # the image border is not an edge
    assert a.grow(0).area == a.area


def test_fill_holes_fills_a_ring():
    ring = np.zeros((12, 12), np.float32)
    ring[2:10, 2:10] = 1
    ring[4:8, 4:8] = 0
    filled = Mask(ring).fill_holes()
    assert filled.area == 64
    # Only holes up to max_area are filled.
    assert Mask(ring).fill_holes(max_area=15).area == 64 - 16
    assert Mask(ring).fill_holes(max_area=16).area == 64
    # An open ring (touching the border) has no hole.
    open_ring = ring.copy()
    open_ring[5, 0:5] = 0
    open_ring[:, :2] = 0
    open_ring[5, 2:4] = 0
    assert Mask(open_ring).fill_holes().area == Mask(open_ring).area


def test_remove_specks_drops_small_components():
    data = np.zeros((20, 20), np.float32)
    data[2:8, 2:8] = 1  # 36
    data[15, 15] = 1  # 1
    data[12:14, 2:4] = 1  # 4
    cleaned = Mask(data).remove_specks(5)
    assert cleaned.area == 36
    assert Mask(data).remove_specks(4).area == 40
    assert Mask(data).keep_largest().area == 36


def test_feather_band():
    m = square((40, 40), 10, 30, 10, 30)
    f = m.feather(6)
    d = f.data
    assert d[20, 20] == 1.0  # deep inside
    assert d[0, 0] == 0.0  # far outside
    band = d[20, 5:16]  # crosses the left edge at column 10
    inner = band[(band > 0) & (band < 1)]
    assert inner.size >= 4  # a soft edge several pixels wide
    assert np.all(np.diff(band) >= 0)  # rising into the mask
    assert 0 < d[20, 9] < 0.5 < d[20, 10] < 1  # the 0.5 level stays on the edge
    assert abs(f.area - m.area) <= 0.05 * m.area
    np.testing.assert_array_equal(m.feather(0).data, m.data)


def test_bbox_and_iou():
    m = square((20, 30), 5, 15, 8, 12)
    assert m.bbox() == (8, 5, 12, 15)
    assert m.bbox(margin=3) == (5, 2, 15, 18)
    assert m.bbox(margin=100) == (0, 0, 30, 20)
    assert Mask.empty((4, 4)).bbox() is None
    assert m.iou(m) == 1.0
    assert square().iou(square(x0=10, x1=20)) == pytest.approx(50 / 150)


def test_png_round_trips_exactly(tmp_path):
    rng = np.random.default_rng(1)
    levels = rng.integers(0, 256, (13, 17)).astype(np.float32) / 255
    m = Mask(levels, label="trees", colour=(10, 200, 30), source="point", confidence=0.25)
    back = Mask.from_png_bytes(m.to_png_bytes())
    np.testing.assert_array_equal(back.data, m.data)
    assert (back.label, back.colour, back.source, back.confidence) == ("trees", (10, 200, 30), "point", 0.25)
    fine = Mask(rng.integers(0, 65536, (9, 11)).astype(np.float32) / 65535)
    np.testing.assert_array_equal(Mask.from_png_bytes(fine.to_png_bytes(16)).data, fine.data)
    path = tmp_path / "masks" / "m.png"
    m.save_png(path)
    loaded = Mask.load_png(path, label="renamed")
    np.testing.assert_array_equal(loaded.data, m.data)
    assert loaded.label == "renamed"
    with pytest.raises(TerfError):
        Mask.load_png(tmp_path / "missing.png")
    with pytest.raises(ValueError):
        m.to_png_bytes(12)


def test_plain_grey_png_reads_as_a_mask():
    import cv2

    ok, data = cv2.imencode(".png", np.array([[0, 255], [128, 0]], np.uint8))
    m = Mask.from_png_bytes(data.tobytes())
    assert m.area == 2 and m.label == ""


def test_rle_round_trip_and_format():
    m = Mask(np.array([[0, 1, 1], [1, 0, 0]], np.float32))
    rle = m.to_rle()
    # Column-major runs starting with zeros: column 0 = (0, 1), column 1 = (1, 0), column 2 = (1, 0)
    assert rle == {"size": [2, 3], "counts": [1, 2, 1, 1, 1]}
    np.testing.assert_array_equal(Mask.from_rle(rle).data, m.data)
    starts_on = Mask(np.ones((2, 2)))
    assert starts_on.to_rle()["counts"] == [0, 4]
    rng = np.random.default_rng(2)
    big = Mask(rng.random((37, 41)) > 0.7)
    np.testing.assert_array_equal(Mask.from_rle(json.loads(json.dumps(big.to_rle()))).data, big.data)
    with pytest.raises(ValueError):
        Mask(np.full((2, 2), 0.5)).to_rle()
    with pytest.raises(ValueError):
        Mask.from_rle({"size": [2, 2], "counts": [1, 2]})


def test_dict_round_trip_binary_and_soft():
    binary = square(label="a", confidence=0.5)
    record = json.loads(json.dumps(binary.to_dict()))
    assert "rle" in record
    back = Mask.from_dict(record)
    np.testing.assert_array_equal(back.data, binary.data)
    assert back.label == "a" and back.confidence == 0.5
    soft = binary.feather(4)
    record = json.loads(json.dumps(soft.to_dict()))
    assert "png16" in record
    np.testing.assert_allclose(Mask.from_dict(record).data, soft.data, atol=1 / 65535)


# ---------------------------------------------------------------------------- strokes


def test_add_then_erase_same_stroke_is_empty():
    base = Mask.empty((40, 50))
    for hardness in (0.0, 0.5, 1.0):
        stroke = Stroke([(5, 5), (30, 20), (45, 35)], radius=4.5, hardness=hardness)
        painted = stroke.apply(base)
        assert painted.area > 0
        erased = Stroke(stroke.points, stroke.radius, stroke.hardness, "erase").apply(painted)
        assert erased.is_empty
    assert base.is_empty


def test_hard_stroke_has_a_hard_edge():
    m = Stroke([(20, 20)], radius=6, hardness=1.0).apply(Mask.empty((41, 41)))
    yy, xx = np.mgrid[0:41, 0:41]
    dist = np.hypot(xx - 20, yy - 20)
    assert np.all(m.data[dist <= 5.5] == 1)
    assert np.all(m.data[dist >= 6.5] == 0)
    partial = (m.data > 0) & (m.data < 1)
    assert np.all((dist[partial] > 5.5) & (dist[partial] < 6.5))  # one pixel of anti-aliasing
    soft = Stroke([(20, 20)], radius=6, hardness=0.0).apply(Mask.empty((41, 41)))
    assert np.count_nonzero((soft.data > 0) & (soft.data < 1)) > 3 * np.count_nonzero(partial)
    assert soft.data[20, 20] == 1.0


def test_stroke_along_a_line_and_clipped_at_the_border():
    m = Stroke([(-10, 5), (60, 5)], radius=2).apply(Mask.empty((10, 50)))
    assert m.binary[3:8].all() and not m.binary[:2].any() and not m.binary[9:].any()


def test_stroke_serialises_and_replays_identically():
    strokes = [
        Stroke([(3.5, 4.25), (20, 18), (33, 7)], radius=3.2, hardness=0.3),
        Stroke([(10, 10)], radius=5, hardness=1.0, mode="erase"),
    ]
    records = json.loads(json.dumps([s.to_dict() for s in strokes]))
    replayed = [Stroke.from_dict(r) for r in records]
    assert replayed == strokes
    base = Mask.empty((30, 40))
    np.testing.assert_array_equal(apply_strokes(base, replayed).data, apply_strokes(base, strokes).data)
    with pytest.raises(ValueError):
        Stroke([], radius=2)
    with pytest.raises(ValueError):
        Stroke([(0, 0)], radius=2, hardness=1.5)
    with pytest.raises(ValueError):
        Stroke([(0, 0)], radius=2, mode="smudge")
    with pytest.raises(ValueError):
        Stroke.from_dict({"radius": 2})
