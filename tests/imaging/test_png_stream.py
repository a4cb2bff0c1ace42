"""PNG written and read a band of rows at a time (imaging.png_stream)."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest

from terf_studio.imaging import png_stream, store


def _image(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    top = 65536 if dtype == np.uint16 else 256
    image = rng.integers(0, top, shape).astype(dtype)
    image[: shape[0] // 2] = image[:1]  # flat rows compress; the rest does not
    return image


@pytest.mark.parametrize("shape", [(300, 257, 3), (300, 257), (1, 5, 3), (129, 1)])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_a_streamed_png_is_the_image_for_opencv_and_for_the_streaming_reader(shape, dtype):
    image = _image(shape, dtype)
    buffer = io.BytesIO()
    png_stream.write_png(buffer, image)
    decoded = cv2.imdecode(np.frombuffer(buffer.getvalue(), np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded.ndim == 3:
        decoded = decoded[..., ::-1]
    assert decoded.dtype == dtype and np.array_equal(decoded, image)
    out = np.zeros_like(image)
    png_stream.read_png_into(io.BytesIO(buffer.getvalue()), out)
    assert np.array_equal(out, image)


def test_the_reader_takes_opencvs_files_or_says_it_cannot_stream_them():
    image = _image((200, 150, 3), np.uint16, seed=1)
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))
    out = np.zeros_like(image)
    try:
        png_stream.read_png_into(io.BytesIO(encoded.tobytes()), out)
    except png_stream.UnsupportedPng:
        return  # filters 3-4: the caller decodes it whole
    assert np.array_equal(out, image)


def test_damaged_or_mismatched_data_is_a_value_error():
    image = _image((64, 40, 3), np.uint8)
    buffer = io.BytesIO()
    png_stream.write_png(buffer, image)
    data = buffer.getvalue()
    with pytest.raises(ValueError, match="truncated|rows"):
        png_stream.read_png_into(io.BytesIO(data[: len(data) // 2]), np.zeros_like(image))
    with pytest.raises(ValueError, match="not"):
        png_stream.read_png_into(io.BytesIO(data), np.zeros((64, 41, 3), np.uint8))
    with pytest.raises(ValueError, match="not PNG"):
        png_stream.read_png_into(io.BytesIO(b"GIF89a" + data), np.zeros_like(image))
    garbled = bytearray(data)
    garbled[60:80] = b"\xff" * 20
    with pytest.raises(ValueError):
        png_stream.read_png_into(io.BytesIO(bytes(garbled)), np.zeros_like(image))


def test_write_image_streams_a_large_png_atomically(tmp_path, monkeypatch):
    from terf_studio.imaging import write_image
    from terf_studio.imaging.io import read_image_stored

    monkeypatch.setattr(png_stream, "STREAM_BYTES", 1000)  # every image here is "large"
    image = _image((120, 90, 3), np.uint16, seed=2)
    write_image(tmp_path / "out.png", image, bit_depth=16)
    assert np.array_equal(read_image_stored(tmp_path / "out.png"), image)
    grey = _image((120, 90), np.uint8, seed=3)
    write_image(tmp_path / "grey.png", grey, bit_depth=8)
    assert np.array_equal(read_image_stored(tmp_path / "grey.png"), grey)

    def full_disk(f, pixels, level=3):
        f.write(b"\x89PNG")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(png_stream, "write_png", full_disk)
    with pytest.raises(Exception, match="No space left"):
        write_image(tmp_path / "out.png", image, bit_depth=16)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grey.png", "out.png"]  # no .part, old file kept
    assert np.array_equal(read_image_stored(tmp_path / "out.png"), image)


def test_a_large_mask_png_is_streamed_with_its_metadata(monkeypatch):
    from terf_studio.regions import Mask

    rng = np.random.default_rng(4)
    data = np.zeros((70, 50), np.float32)
    data[10:40, 5:30] = rng.random((30, 25)).astype(np.float32)
    mask = Mask(data, label="trees", colour=(1, 2, 3)).quantized(16)
    small = mask.to_png_bytes(bit_depth=16)
    monkeypatch.setattr(png_stream, "STREAM_BYTES", 100)
    large = mask.to_png_bytes(bit_depth=16)
    assert large != small  # another encoder...
    for data_bytes in (small, large):  # ...the same mask
        back = Mask.from_png_bytes(data_bytes)
        assert np.array_equal(back.data, mask.data) and back.label == "trees" and back.colour == (1, 2, 3)
    monkeypatch.setenv("TERF_STUDIO_DISK_ARRAYS_MB", "0.001")  # decoded a band at a time, onto disk
    for data_bytes in (small, large):
        back = Mask.from_png_bytes(data_bytes)
        assert store.on_disk(back.data) and np.array_equal(back.data, mask.data) and back.label == "trees"
