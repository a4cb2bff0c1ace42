"""TIFF written a strip at a time (imaging/tiff_stream.py): what OpenCV and Pillow read back."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from terf_studio.errors import CancelledError
from terf_studio.imaging import png_stream, tiff_stream
from terf_studio.imaging.io import read_image_stored, write_image


@pytest.mark.parametrize(("shape", "dtype"), [((37, 53, 3), np.uint16), ((37, 53), np.uint8),
                                              ((40, 33, 3), np.uint8), ((33, 41), np.uint16)])
def test_streamed_tiffs_read_back_exactly(tmp_path, shape, dtype):
    rng = np.random.default_rng(1)
    image = (rng.random(shape) * np.iinfo(dtype).max).astype(dtype)
    image[:5] = image[:5, :1]  # some flat rows, so the predictor's wrap is exercised on both signs
    path = tmp_path / "out.tif"
    with open(path, "wb") as f:
        tiff_stream.write_tiff(f, image)
    assert np.array_equal(read_image_stored(path), image)  # the project's reader
    by_cv2 = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(by_cv2[..., ::-1] if by_cv2.ndim == 3 else by_cv2, image)
    if dtype == np.uint8 or len(shape) == 2:  # Pillow reads 16-bit RGB as 8-bit
        assert np.array_equal(np.array(Image.open(path)), image)


def test_write_image_streams_a_large_tiff_with_the_same_pixels(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    image = rng.random((70, 90, 3)).astype(np.float32)
    write_image(tmp_path / "whole.tiff", image, bit_depth=16)  # below the threshold: OpenCV
    monkeypatch.setattr(png_stream, "STREAM_BYTES", 1000)  # every image here is "large"
    write_image(tmp_path / "streamed.tiff", image, bit_depth=16)
    whole, streamed = read_image_stored(tmp_path / "whole.tiff"), read_image_stored(tmp_path / "streamed.tiff")
    assert streamed.dtype == np.uint16 and np.array_equal(whole, streamed)


def test_a_cancelled_tiff_stops_between_strips(tmp_path):
    def cancel() -> None:
        raise CancelledError("cancelled")

    with open(tmp_path / "x.tif", "wb") as f, pytest.raises(CancelledError):
        tiff_stream.write_tiff(f, np.zeros((64, 64), np.uint8), check=cancel)
