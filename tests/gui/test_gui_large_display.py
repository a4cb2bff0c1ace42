"""Huge images are shown reduced: the window converts a small pixmap, scaled back to the image."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QRectF  # noqa: E402

from terf_studio.gui.canvas import CanvasView  # noqa: E402
from terf_studio.gui.images import FULL_SIZE_KEY, display_factor, image_to_qimage, mask_to_qimage  # noqa: E402
from terf_studio.regions import Mask  # noqa: E402


def test_a_large_image_is_reduced_by_a_whole_factor_and_says_its_size():
    image = np.zeros((300, 400, 3), np.uint16)
    image[:, 200:] = 65535
    q = image_to_qimage(image, max_pixels=10_000)
    assert display_factor(300, 400, 10_000) == 4
    assert (q.width(), q.height()) == (100, 75) and q.text(FULL_SIZE_KEY) == "400x300"
    assert q.pixelColor(10, 10).red() == 0 and q.pixelColor(90, 10).red() == 255
    small = image_to_qimage(image[:50, :60])
    assert (small.width(), small.height()) == (60, 50) and small.text(FULL_SIZE_KEY) == ""
    m = mask_to_qimage(Mask(np.ones((300, 400), np.float32)), max_pixels=10_000)
    assert (m.width(), m.height()) == (100, 75) and m.text(FULL_SIZE_KEY) == "400x300"


def test_the_canvas_places_a_reduced_layer_over_the_whole_image(qtbot):
    view = CanvasView()
    qtbot.addWidget(view)
    view.set_layer("result", image_to_qimage(np.full((300, 400, 3), 0.5, np.float32), max_pixels=10_000))
    assert view.image_size == (400, 300)
    rect = view.layer_item("result").sceneBoundingRect()
    assert (rect.width(), rect.height()) == (400, 300)
    view.set_layer("result", image_to_qimage(np.full((300, 400, 3), 0.5, np.float32)))  # full size again
    rect = view.layer_item("result").sceneBoundingRect()
    assert (rect.width(), rect.height()) == (400, 300) and view.layer_item("result").transform().isIdentity()
    view.set_split(0.5)
    view.grab()  # paints with the split clip


def _checkered_view(qtbot, opacity: float = 1.0, max_pixels: int = 10_000):
    """A 400x300 checkerboard of single pixels, shown reduced (by 4: a flat grey) with its renderer."""
    from terf_studio.gui.images import region_renderer

    image = np.zeros((300, 400, 3), np.uint16)
    image[(np.indices((300, 400)).sum(0) % 2) == 1] = 65535
    view = CanvasView()
    qtbot.addWidget(view)
    view.resize(220, 180)
    view.show()
    view.set_layer("result", image_to_qimage(image, max_pixels=max_pixels), region_renderer(image))
    view.style_layer("result", True, opacity, 1.0)
    return view, image


def _centre_pixels(view) -> set[int]:
    shot = view.viewport().grab().toImage()
    cx, cy = shot.width() // 2, shot.height() // 2
    return {shot.pixelColor(cx + dx, cy + dy).red() for dx in range(-3, 4) for dy in range(-3, 4)}


def test_zoomed_in_past_the_reduction_the_view_shows_the_image_itself(qtbot):
    view, _ = _checkered_view(qtbot, max_pixels=30_000)  # reduced by 2
    view.set_zoom(0.45)  # the nearest whole step is 2: the reduced layer is as fine as the screen
    view.detail.refresh()
    view.detail.wait()
    assert view.detail.item("result") is None  # fitted: the reduced layer is as fine as the screen
    assert max(_centre_pixels(view)) < 200  # a grey average, no checkerboard
    view.set_zoom(3.0)
    view.centerOn(200, 150)
    view.detail.refresh()
    view.detail.wait()
    item = view.detail.item("result")
    assert item is not None and item.transform().m11() == 1.0  # drawn from the image, pixel for pixel
    region = item.sceneBoundingRect()
    seen = view.mapToScene(view.viewport().rect()).boundingRect()
    assert region.contains(seen.intersected(QRectF(0, 0, 400, 300)))
    assert region.width() * region.height() < 400 * 300  # the region in view, not the image
    assert {0, 255} <= _centre_pixels(view)  # the checkerboard itself
    assert view.layer_item("result").hole is not None
    renders = view.detail.renders
    view.detail.refresh()  # nothing moved: nothing drawn again
    assert view.detail.renders == renders
    view.set_zoom(0.4)
    view.detail.refresh()
    view.detail.wait()
    assert view.detail.item("result") is None and view.layer_item("result").hole is None


def test_between_the_reduction_and_full_size_the_detail_has_the_screens_resolution(qtbot):
    view, _ = _checkered_view(qtbot)  # reduced by 4
    view.set_zoom(0.5)
    view.detail.refresh()
    view.detail.wait()
    assert view.detail.item("result").transform().m11() == 2.0


def test_the_detail_follows_its_layers_look_and_the_split(qtbot):
    view, _ = _checkered_view(qtbot, opacity=0.5)
    view.set_zoom(3.0)
    view.centerOn(200, 150)
    view.detail.refresh()
    view.detail.wait()
    item, layer = view.detail.item("result"), view.layer_item("result")
    assert item.opacity() == 0.5 and item.zValue() == layer.zValue() + 0.5
    # Half transparent, the layer is not drawn twice: under the detail it has a hole.
    hole = layer.mapRectToScene(layer.hole)
    assert hole == item.sceneBoundingRect()
    view.set_split(0.5)
    assert item.split_x == layer.split_x == 200.0
    view.grab()  # paints both with the split clip
    view.style_layer("result", False, 0.5, 1.0)
    assert not item.isVisible()
    view.detail.refresh()
    view.detail.wait()
    assert view.detail.item("result") is None  # a hidden layer keeps no detail
    view.set_layer("result", image_to_qimage(np.zeros((300, 400, 3), np.uint16), max_pixels=10_000))
    view.style_layer("result", True, 1.0, 1.0)
    view.detail.refresh()
    view.detail.wait()
    assert view.detail.item("result") is None  # an image given without a renderer (a preview) has none


def test_a_mask_overlay_gets_its_detail_too(qtbot):
    from terf_studio.gui.images import mask_region_renderer

    view, _ = _checkered_view(qtbot)
    data = np.zeros((300, 400), np.float32)
    data[:, 201:] = 1.0  # an edge inside a reduction cell
    mask = Mask(data)
    view.set_layer("mask-1", mask_to_qimage(mask, max_pixels=10_000), mask_region_renderer(mask))
    view.style_layer("mask-1", True, 1.0, 2.0)
    view.set_zoom(4.0)
    view.centerOn(201, 150)
    view.detail.refresh()
    view.detail.wait()
    item = view.detail.item("mask-1")
    assert item is not None
    picture = item.pixmap().toImage()
    x = 201 - int(item.pos().x())
    assert picture.pixelColor(x - 1, 5).alpha() == 0 and picture.pixelColor(x, 5).alpha() == 255


def test_the_editor_shows_the_detail_of_a_reduced_document(qtbot, make_window, pair, monkeypatch):
    import terf_studio.gui.images as images
    from terf_studio.gui.images import to_uint8

    monkeypatch.setattr(images, "DISPLAY_MAX_PIXELS", 1_000)  # the 72x56 scene is shown reduced by 3
    window = make_window()
    with qtbot.waitSignal(window.idle, timeout=240_000):
        window.open_pair(*pair)
    canvas = window.canvas
    canvas.detail.wait()  # the reduced layers are made off the GUI thread, then shown and fitted
    assert canvas.layer_item("result").transform().m11() == pytest.approx(3.0, abs=0.1)
    for key in ("vi", "ir", "fused", "result"):
        look = window.layers.looks[key]
        assert canvas.layer_item(key).isVisible() == look.visible and canvas.layer_item(key).opacity() == look.opacity
    assert canvas.image_size == (72, 56) and canvas.zoom > 1.0  # fitted to the window
    canvas.set_zoom(6.0)
    canvas.centerOn(36, 28)
    canvas.detail.refresh()
    canvas.detail.wait()
    item = canvas.detail.item("result")
    assert item is not None and item.transform().m11() == 1.0
    x0, y0 = int(item.pos().x()), int(item.pos().y())
    shown = item.pixmap().toImage()
    expected = to_uint8(window.session.current16)
    for x, y in ((x0, y0), (x0 + 5, y0 + 7), (x0 + shown.width() - 1, y0 + shown.height() - 1)):
        colour = shown.pixelColor(x - x0, y - y0)
        assert (colour.red(), colour.green(), colour.blue()) == tuple(int(v) for v in expected[y, x])
    renders, before = canvas.detail.renders, canvas.layer_item("result").pixmap().cacheKey()
    window.refresh_image()  # a new result (an edit, undo, redo): its reduced picture is made off the GUI thread
    assert canvas.layer_item("result").pixmap().cacheKey() == before  # the previous one shows meanwhile
    canvas.detail.wait()
    assert canvas.layer_item("result").pixmap().cacheKey() != before
    canvas.detail.refresh()
    canvas.detail.wait()
    assert canvas.detail.renders == renders + 1 and canvas.detail.item("result") is not None
    shown = []
    set_layer = canvas.set_layer
    monkeypatch.setattr(canvas, "set_layer", lambda key, *rest: (shown.append(key), set_layer(key, *rest)))
    window.refresh_image()
    window.refresh_image()  # two in a row: only the newest is shown
    canvas.detail.wait()
    assert shown == ["result"]
    canvas.clear_layers()
    window.refresh_image()
    assert canvas.layer_item("result") is None  # nothing shown synchronously for a reduced result
    qtbot.waitUntil(lambda: canvas.layer_item("result") is not None, timeout=10_000)


def test_the_detail_is_drawn_off_the_gui_thread_once_the_view_rests(qtbot):
    import threading

    view, image = _checkered_view(qtbot)
    threads = []
    inner = view.detail._sources["result"].render

    def render(*args):
        threads.append(threading.current_thread())
        return inner(*args)

    view.detail._sources["result"].render = render
    view.set_zoom(3.0)  # schedules a refresh for when the view rests
    view.centerOn(200, 150)
    qtbot.waitUntil(lambda: view.detail.item("result") is not None, timeout=10_000)
    assert threads and all(t is not threading.main_thread() for t in threads)
