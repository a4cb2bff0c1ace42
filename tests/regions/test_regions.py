"""Regions: mask operations, strokes, click/box masks and the weight-free text finder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from terf_studio.errors import TerfError
from terf_studio.paths import SHARED_DATA
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
        assert (out.label, out.colour, out.source, out.confidence) == (
            "person",
            (1, 2, 3),
            "builtin:thermal",
            0.7,
        )
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

    _, data = cv2.imencode(".png", np.array([[0, 255], [128, 0]], np.uint8))
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


# ---------------------------------------------------------------------------- clicks and boxes


def two_regions(contrast=0.3, ir_contrast=0.3, shape=(60, 80), split=40):
    """A flat image: left half dark, right half brighter, in both modalities."""
    h, w = shape
    view = np.full((h, w, 3), 0.3, np.float32)
    view[:, split:] += contrast
    ir = np.full((h, w), 0.3, np.float32)
    ir[:, split:] += ir_contrast
    return view, ir


def test_point_grow_selects_exactly_the_clicked_flat_region():
    view, ir = two_regions()
    m = point_region(view, ir, positives=[(10, 30)])
    assert m.source == "point" and 0 < m.confidence <= 1
    expected = np.zeros((60, 80), bool)
    expected[:, :40] = True
    np.testing.assert_array_equal(m.binary, expected)
    right = point_region(ImageSet(view, ir), positives=[(70, 5)])
    np.testing.assert_array_equal(right.binary, ~expected)


def test_point_grow_uses_the_infrared_too():
    """Same colour everywhere, only the infrared differs: the click still stops at the edge."""
    view, ir = two_regions(contrast=0.0, ir_contrast=0.4)
    m = point_region(view, ir, positives=[(10, 30)])
    assert m.binary[:, :40].all() and not m.binary[:, 40:].any()


def test_negative_point_removes():
    # A flat region A (columns 0-29) running into a ramp B: without help the click in A
    # also takes the first part of the ramp; a negative click on the ramp stops it short.
    h = 60
    ramp = np.concatenate([np.zeros(30), np.linspace(0.0, 0.6, 60)]).astype(np.float32)
    ir = np.tile(0.3 + ramp, (h, 1))
    view = np.repeat(ir[:, :, None], 3, axis=2)
    free = point_region(view, ir, positives=[(10, 30)])
    assert free.binary[:, :30].all() and free.binary[:, 40].all()
    held = point_region(view, ir, positives=[(10, 30)], negatives=[(40, 30)])
    assert held.binary[:, :30].all() and not held.binary[:, 40:].any()
    assert held.area < free.area


def test_negative_point_inside_a_flat_region_splits_it():
    view, ir = two_regions()
    m = point_region(view, ir, positives=[(5, 30)], negatives=[(35, 30)])
    assert m.binary[30, 5] and not m.binary[30, 35]
    assert m.area < 60 * 40


def test_point_with_fixed_tolerance_and_bad_points():
    view, ir = two_regions(contrast=0.05, ir_contrast=0.05)
    assert point_region(view, ir, positives=[(10, 30)], tolerance=0.02).area == 60 * 40
    assert point_region(view, ir, positives=[(10, 30)], tolerance=0.2).area == 60 * 80
    with pytest.raises(ValueError):
        point_region(view, ir, positives=[(100, 5)])
    with pytest.raises(ValueError):
        point_region(view, ir)


def noisy_halves(seed, noise, shape=(240, 320)):
    """Two flat halves 0.15 apart in both modalities under strong per-pixel noise."""
    rng = np.random.default_rng(seed)
    h, w = shape
    base = np.full((h, w), 0.40, np.float32)
    base[:, w // 2 :] += 0.15
    ir = np.clip(base + rng.normal(0, noise, (h, w)), 0, 1).astype(np.float32)
    view = np.clip(np.repeat(base[:, :, None], 3, axis=2) + rng.normal(0, noise, (h, w, 1)), 0, 1)
    return view.astype(np.float32), ir


@pytest.mark.parametrize("seed,noise", [(0, 0.04), (1, 0.04), (2, 0.08)])
def test_point_grow_is_not_stopped_by_pixel_noise(seed, noise):
    """Noise makes pixel-by-pixel growth stop early (a few dozen pixels); comparing
    superpixel means, a click still takes its whole half and stops at the edge."""
    view, ir = noisy_halves(seed, noise)
    truth = np.zeros(ir.shape, bool)
    truth[:, :160] = True
    m = point_region(view, ir, positives=[(80, 120)])
    assert m.iou(truth) > 0.85


def test_point_does_not_leak_through_a_thin_bridge():
    """A compact object joined to a large area of almost its colour by a two-pixel bridge
    (a car touching a wall of the same paint): the click takes the object, not the wall."""
    rng = np.random.default_rng(7)
    h, w = 240, 320
    view = np.full((h, w, 3), 0.25, np.float32)
    ir = np.full((h, w), 0.25, np.float32)
    view[120:160, 40:100] = 0.60  # the object
    ir[120:160, 40:100] = 0.60
    view[20:220, 160:300] = 0.64  # the wall
    ir[20:220, 160:300] = 0.64
    view[139:141, 100:160] = 0.62  # the bridge
    ir[139:141, 100:160] = 0.62
    view = np.clip(view + rng.normal(0, 0.01, (h, w, 1)), 0, 1).astype(np.float32)
    ir = np.clip(ir + rng.normal(0, 0.01, (h, w)), 0, 1).astype(np.float32)
    truth = np.zeros((h, w), bool)
    truth[120:160, 40:100] = True
    m = point_region(view, ir, positives=[(70, 140)])
    assert m.iou(truth) > 0.85
    assert not m.binary[20:220, 170:300].any()


def test_grabcut_recovers_a_bright_rectangle():
    rng = np.random.default_rng(3)
    h, w = 90, 120
    view = np.clip(rng.normal(0.35, 0.04, (h, w, 3)), 0, 1).astype(np.float32)
    ir = np.clip(rng.normal(0.3, 0.04, (h, w)), 0, 1).astype(np.float32)
    view[30:60, 40:85] = np.clip(view[30:60, 40:85] + 0.35, 0, 1)
    ir[30:60, 40:85] = np.clip(ir[30:60, 40:85] + 0.45, 0, 1)
    truth = np.zeros((h, w), bool)
    truth[30:60, 40:85] = True
    m = box_region(view, ir, box=(30, 20, 100, 72))
    assert m.source == "box" and m.confidence > 0.5
    assert m.iou(truth) > 0.8
    assert not m.binary[:20].any() and not m.binary[:, :30].any()  # nothing outside the box


def test_grabcut_box_edge_cases():
    view, ir = two_regions()
    m = box_region(view, ir, box=(50, 10, 10, 50))  # corners in any order
    assert m.binary.any()
    with pytest.raises(ValueError):
        box_region(view, ir, box=(200, 200, 300, 300))
    flat = np.full((30, 30, 3), 0.5, np.float32)
    whole = box_region(flat, np.full((30, 30), 0.5, np.float32), box=(0, 0, 30, 30))
    assert whole.confidence <= 0.1  # nothing to separate: the box comes back, flagged


@pytest.mark.parametrize("size", [(12, 24), (10, 20), (14, 30)])
def test_grabcut_keeps_a_small_object_in_a_loose_box(size):
    """A small warm figure in a loose box, with two like it just outside: plain GrabCut
    takes its colours for background and keeps nothing (the whole box came back, flagged);
    the retry with the middle of the box as sure foreground finds the figure."""
    rng = np.random.default_rng(1)
    h, w = 90, 120
    view = np.clip(rng.normal(0.35, 0.06, (h, w, 3)), 0, 1).astype(np.float32)
    ir = np.clip(rng.normal(0.3, 0.06, (h, w)), 0, 1).astype(np.float32)
    ow, oh = size
    figure = (60 - ow // 2, 45 - oh // 2, 60 + ow // 2, 45 + oh // 2)
    for x0, y0, x1, y1 in (figure, (20, 20, 34, 70), (86, 20, 100, 70)):
        view[y0:y1, x0:x1] = np.clip(view[y0:y1, x0:x1] + 0.3, 0, 1)
        ir[y0:y1, x0:x1] = np.clip(ir[y0:y1, x0:x1] + 0.3, 0, 1)
    truth = np.zeros((h, w), bool)
    truth[figure[1] : figure[3], figure[0] : figure[2]] = True
    m = box_region(view, ir, box=(42, 22, 78, 68))
    assert m.iou(truth) > 0.9 and m.confidence > 0.3


# ---------------------------------------------------------------------------- the text finder


def warm_scene(blobs, shape=(120, 160), seed=4):
    """Cool noisy infrared with warm upright blobs (x0, y0, x1, y1); a grey visible image."""
    rng = np.random.default_rng(seed)
    ir = np.clip(rng.normal(0.2, 0.01, shape), 0, 1).astype(np.float32)
    for x0, y0, x1, y1 in blobs:
        ir[y0:y1, x0:x1] = 0.85
    vi = np.clip(rng.normal(0.4, 0.02, shape + (3,)), 0, 1).astype(np.float32)
    return vi, ir


def test_vocabulary_parsing():
    q = parse_target("the man on the left")
    assert (q.cue, q.kind, q.plural, q.selector) == ("thermal", "person", False, "left")
    assert parse_target("People").plural
    assert parse_target("hot engine").cue == "thermal"
    assert parse_target("the trees on the right").kind == "trees"
    assert parse_target("grass").kind == "low"
    assert parse_target("the street").cue == "road"
    assert parse_target("teapot") is None
    finder = BuiltinFinder()
    assert finder.understands("people and the sky") and not finder.understands("people and teapots")


def test_thermal_finder_finds_a_warm_blob():
    vi, ir = warm_scene([(70, 40, 82, 80)])
    result = find_region("person", vi, ir)
    assert result.finder == "builtin:thermal" and result.mask.source == "builtin:thermal"
    assert 0 < result.confidence <= 1 and result.mask.label == "person"
    truth = np.zeros(ir.shape, bool)
    truth[40:80, 70:82] = True
    assert result.mask.iou(truth) > 0.8
    assert find_region("hot spots", vi, ir).mask.iou(truth) > 0.8


def test_position_words_pick_one_of_two_warm_objects():
    vi, ir = warm_scene([(20, 40, 32, 80), (120, 45, 132, 85)])
    left = find_region("the person on the left", vi, ir).mask
    right = find_region("the man on the right", vi, ir).mask
    both = find_region("people", vi, ir).mask
    assert left.binary[60, 25] and not left.binary[60, 125]
    assert right.binary[60, 125] and not right.binary[60, 25]
    assert both.binary[60, 25] and both.binary[60, 125]
    lower = find_region("the bottom pedestrian", vi, ir).mask
    assert lower.binary[82, 125] and not lower.binary[60, 25]


def test_a_close_person_is_found_whole():
    vi, ir = warm_scene([(60, 15, 84, 110)])  # 24 x 95 pixels: over a tenth of the view
    truth = np.zeros(ir.shape, bool)
    truth[15:110, 60:84] = True
    assert find_region("person", vi, ir).mask.iou(truth) > 0.9


def test_a_cooler_jacket_is_filled_in():
    """Clothing is cooler than skin: a jacket below the 40% level leaves a bite in the
    person's mask, open to one side (only one arm is warm), that hole filling cannot
    close; the completion step fills it, and only it."""
    vi, ir = warm_scene([(70, 35, 86, 85)])  # a person 16 x 50
    ir[48:66, 70:82] = 0.45  # the jacket
    truth = np.zeros(ir.shape, bool)
    truth[35:85, 70:86] = True
    mask = find_region("person", vi, ir).mask
    assert mask.iou(truth) > 0.88
    assert not (mask.binary & ~truth).any()


def test_position_ignores_specks_far_out():
    # A small warm figure at the far left and two people in front: "the person on the
    # left" is the left one of the two, not the speck.
    vi, ir = warm_scene([(4, 60, 7, 68), (50, 30, 64, 90), (110, 30, 124, 90)])
    left = find_region("the person on the left", vi, ir).mask
    assert left.binary[60, 56] and not left.binary[64, 5] and not left.binary[60, 116]
    assert find_region("the smallest person", vi, ir).mask.binary[64, 5]


def test_shape_filters_tell_people_from_vehicles():
    vi, ir = warm_scene([(20, 40, 32, 80), (96, 70, 124, 82)])  # tall and wide
    person = find_region("person", vi, ir).mask
    car = find_region("car", vi, ir).mask
    assert person.binary[60, 25] and not person.binary[76, 110]
    assert car.binary[76, 110] and not car.binary[60, 25]


def test_no_warm_object_raises():
    vi, ir = warm_scene([])
    with pytest.raises(NoRegionFound):
        find_region("person", vi, ir)


def synthetic_street(shape=(120, 160), seed=5):
    """Blue sky over green trees over a grey road; the infrared: cold sky, mid trees, warm road."""
    h, w = shape
    rng = np.random.default_rng(seed)
    vi = np.zeros((h, w, 3), np.float32)
    ir = np.zeros((h, w), np.float32)
    vi[:40] = (0.55, 0.7, 0.95)
    ir[:40] = 0.1
    # Foliage: blotches a few pixels across, not per-pixel noise (which blurs away).
    trees = np.kron(rng.random((10, w // 3 + 1)), np.ones((3, 3)))[:30, :w] * 0.25
    vi[40:70] = np.stack([0.15 + trees * 0.5, 0.45 + trees, 0.12 + trees * 0.5], axis=2)
    ir[40:70] = 0.4 + rng.random((30, w)) * 0.3
    vi[70:] = 0.45
    ir[70:] = 0.55
    vi += rng.normal(0, 0.005, vi.shape).astype(np.float32)
    ir += rng.normal(0, 0.005, ir.shape).astype(np.float32)
    return np.clip(vi, 0, 1), np.clip(ir, 0, 1)


def region_truth(shape, y0, y1):
    t = np.zeros(shape, bool)
    t[y0:y1] = True
    return t


def test_sky_road_and_vegetation_on_a_synthetic_scene():
    vi, ir = synthetic_street()
    images = ImageSet(vi, ir)
    sky = find_region("the sky", images)
    road = find_region("road", images)
    veg = find_region("vegetation", images)
    assert (
        sky.finder == "builtin:sky" and road.finder == "builtin:road" and veg.finder == "builtin:vegetation"
    )
    assert sky.mask.iou(region_truth(ir.shape, 0, 40)) > 0.9
    assert road.mask.iou(region_truth(ir.shape, 70, 120)) > 0.9
    assert veg.mask.iou(region_truth(ir.shape, 40, 70)) > 0.8
    for result in (sky, road, veg):
        assert 0 < result.confidence <= 1
    left_road = find_region("the road on the left", images).mask
    assert left_road.binary[100, 10] and not left_road.binary[100, 150]
    union = find_region("sky and road", images)
    assert union.finder == "builtin:sky+road"
    assert union.mask.area == sky.mask.union(road.mask).area


def grey_street(shape=(120, 160), seed=7):
    """A colourless daylight scene like RoadScene's: a smooth bright sky over a grey,
    finely textured crown (textured in the infrared too, and cooler than the road)
    over a smooth road. The visible image is RGB with equal channels."""
    h, w = shape
    rng = np.random.default_rng(seed)

    def blotches(rows, amplitude):
        return np.kron(rng.random((rows // 2 + 1, w // 2 + 1)), np.ones((2, 2)))[:rows, :w] * amplitude

    grey = np.empty((h, w), np.float32)
    ir = np.empty((h, w), np.float32)
    grey[:40], ir[:40] = 0.85, 0.1
    grey[40:75] = 0.35 + blotches(35, 0.12)
    ir[40:75] = 0.35 + blotches(35, 0.12)
    grey[75:], ir[75:] = 0.45, 0.55
    grey += rng.normal(0, 0.004, grey.shape).astype(np.float32)
    ir += rng.normal(0, 0.004, ir.shape).astype(np.float32)
    vi = np.repeat(np.clip(grey, 0, 1)[:, :, None], 3, axis=2)
    return vi, np.clip(ir, 0, 1)


def test_trees_in_a_grey_visible_image_are_found_by_texture():
    vi, ir = grey_street()
    images = ImageSet(vi, ir)
    trees = find_region("trees", images)
    crown = trees.mask.binary[40:75]
    assert trees.finder == "builtin:vegetation"
    # Above the horizon (the road's top row less a tenth of the height), the crown is covered...
    assert crown[:23].mean() > 0.85
    # ... and neither the sky nor the road is taken.
    assert trees.mask.binary[:38].mean() < 0.02 and trees.mask.binary[77:].mean() < 0.02
    veg = find_region("vegetation", images)
    assert veg.mask.iou(region_truth(ir.shape, 40, 75)) > 0.8
    # Texture alone is a weaker cue than colour: the confidence says so.
    assert 0 < trees.confidence < 0.5


def test_vegetation_is_not_guessed_in_a_dim_grey_image():
    vi, ir = grey_street()
    with pytest.raises(NoRegionFound):  # dusk or a brightened night: texture is noise
        find_region("trees", vi * 0.4, ir)


def test_unknown_phrase_raises_with_the_message():
    vi, ir = synthetic_street()
    with pytest.raises(NoRegionFound) as err:
        find_region("the teapot", vi, ir)
    assert str(err.value) == "no region found for 'the teapot': click, draw a box or paint it"
    assert isinstance(err.value, TerfError)
    with pytest.raises(NoRegionFound):
        find_region("sky and teapots", vi, ir)


def test_sky_is_not_found_when_the_top_is_not_sky():
    vi, ir = synthetic_street()
    vi, ir = vi[50:], ir[50:]  # trees at the top, no sky
    with pytest.raises(NoRegionFound):
        find_region("sky", vi, ir)


def test_finder_registry_and_fallback():
    vi, ir = warm_scene([(70, 40, 82, 80)])

    class Teapots:
        name = "teapots"

        def find(self, phrase, images):
            if "teapot" not in phrase:
                raise NoRegionFound(phrase, "no teapot here")
            return RegionResult(Mask.full(images.shape, label=phrase), self.name, 0.9)

    assert isinstance(Teapots(), RegionFinder)
    register_finder(Teapots())
    try:
        assert [f.name for f in finders()][:2] == ["teapots", "builtin"]
        assert find_region("a teapot", vi, ir).finder == "teapots"
        assert find_region("person", vi, ir).finder == "builtin:thermal"  # falls through
        with pytest.raises(NoRegionFound):
            find_region("a teapot", vi, ir, finder="builtin")
        with pytest.raises(ValueError):
            find_region("person", vi, ir, finder="nonesuch")
    finally:
        unregister_finder("teapots")
    assert [f.name for f in finders()] == ["builtin"]
    with pytest.raises(TypeError):
        register_finder(object())


def test_image_set_checks_sizes_and_accepts_uint8():
    from terf_studio.errors import PairMismatchError

    with pytest.raises(PairMismatchError):
        ImageSet(np.zeros((10, 10, 3)), np.zeros((10, 12)))
    s = ImageSet(np.full((4, 4, 3), 255, np.uint8), np.zeros((4, 4, 3), np.uint8), fused=np.zeros((4, 4)))
    assert s.vi.max() == 1.0 and s.ir.shape == (4, 4) and s.view.ndim == 2


# ---------------------------------------------------------------------------- real pairs


MSRS = SHARED_DATA / "msrs-samples"


@pytest.mark.skipif(not MSRS.is_dir(), reason="shared MSRS samples are not available")
@pytest.mark.parametrize("name", ["00537D", "00633D"])
def test_person_on_a_real_msrs_pair_is_warm(name):
    from terf_studio.imaging import read_image

    vi = read_image(MSRS / "vi" / f"{name}.png")
    ir = read_image(MSRS / "ir" / f"{name}.png")
    result = find_region("person", vi, ir)
    mask = result.mask
    assert result.finder == "builtin:thermal" and result.confidence > 0.5
    assert 0.002 < mask.area / ir.size < 0.1
    assert ir[mask.binary].mean() > ir.mean() + 0.3
    left = find_region("the person on the left", vi, ir).mask
    assert 0 < left.area < mask.area


def test_overlay_tints_and_outlines():
    from terf_studio.regions import overlay

    grey = np.full((10, 10), 128, np.uint8)
    out = overlay(grey, [square((10, 10), 2, 8, 2, 8, colour=(255, 0, 0))], alpha=0.5)
    assert out.shape == (10, 10, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out[0, 0], 128 / 255, atol=1e-6)  # untouched outside
    np.testing.assert_allclose(out[2, 2], (1, 0, 0))  # outline in the mask colour
    assert out[5, 5, 0] > out[5, 5, 1]  # tinted inside


def test_quantized_mask_survives_a_png_round_trip_exactly():
    rng = np.random.default_rng(5)
    mask = Mask(rng.random((9, 11)).astype(np.float32), label="soft")
    for depth in (8, 16):
        q = mask.quantized(depth)
        assert np.abs(q.data - mask.data).max() <= 0.5 / (255 if depth == 8 else 65535) + 1e-7
        assert np.array_equal(Mask.from_png_bytes(q.to_png_bytes(depth)).data, q.data)
        assert q.label == "soft"
