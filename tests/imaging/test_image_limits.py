"""One pixel limit for every decoder, our own message instead of Pillow's warning, and output
paths checked before any work (issue 14)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from terf_studio.errors import ImageReadError, TerfError
from terf_studio.imaging import io as image_io
from terf_studio.imaging import read_image, write_image


@pytest.mark.parametrize("ext", ["png", "jpg", "tif", "bmp"])
def test_images_above_the_pixel_limit_are_refused_before_decoding(tmp_path, monkeypatch, ext):
    path = tmp_path / f"a.{ext}"
    write_image(path, np.full((20, 30, 3), 0.5))
    monkeypatch.setattr(image_io, "MAX_PIXELS", 20 * 30 - 1)
    with pytest.raises(ImageReadError, match=r"too large \(30x20 is") as info:
        read_image(path)
    assert f"a.{ext}" in str(info.value) and len(str(info.value).splitlines()) == 1
    monkeypatch.setattr(image_io, "MAX_PIXELS", 20 * 30)
    assert read_image(path).shape == (20, 30)


def test_pillows_decompression_bomb_warning_never_reaches_the_user(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    write_image(path, np.random.default_rng(0).random((10, 15)))
    # Pillow warns above MAX_IMAGE_PIXELS (here 100) and refuses above twice that (200)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_image(path).shape == (10, 15)


def test_png_dimensions_reads_the_header_only():
    assert image_io.png_dimensions(image_io.cv2.imencode(".png", np.zeros((7, 9), np.uint16))[1].tobytes()) == (9, 7)
    with pytest.raises(ValueError):
        image_io.png_dimensions(b"GIF89a" + bytes(30))


def test_check_pixel_limit(monkeypatch):
    image_io.check_pixel_limit(100, 100, "image 'x'")
    with pytest.raises(ImageReadError, match="empty size"):
        image_io.check_pixel_limit(0, 10, "image 'x'")
    with pytest.raises(ImageReadError, match=r"cannot read image 'x': it is too large \(20000x20000 is 400 MP"):
        image_io.check_pixel_limit(20000, 20000, "image 'x'")


@pytest.mark.parametrize(
    ("name", "depth", "message"),
    [
        ("x.xyz", 8, "unsupported file type '.xyz'"),
        ("x.jpg", 16, "supports 8-bit, not 16-bit"),
        ("x", 8, "unsupported"),
    ],
)
def test_output_paths_are_checked_without_writing(tmp_path, name, depth, message):
    with pytest.raises(TerfError, match=message):
        image_io.check_output_image_path(tmp_path / name, depth)
    assert list(tmp_path.iterdir()) == []


def test_an_output_that_is_a_folder_is_refused(tmp_path):
    (tmp_path / "out.png").mkdir()
    with pytest.raises(TerfError, match="it is a directory"):
        image_io.check_output_image_path(tmp_path / "out.png")
    assert image_io.check_output_image_path(tmp_path / "ok.TIF", 16) == ".tif"
