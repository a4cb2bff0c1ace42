"""Huge images are shown reduced: the window converts a small pixmap, scaled back to the image."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

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
