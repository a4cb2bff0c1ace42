"""Large PNGs decoded a band of rows at a time (imaging.png_bands) equal OpenCV's whole decode."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from band_images import noisy
from PIL import Image

from terf_studio.errors import ImageReadError
from terf_studio.imaging import io as image_io
from terf_studio.imaging import png_bands, png_stream, store


def _png_with_every_filter(image: np.ndarray, chunk_bytes: int = 1000) -> bytes:
    """A PNG whose rows use the five filter types in turn (None, Sub, Up, Average, Paeth), its
    compressed data split over several IDAT chunks: what other encoders may write."""
    height, width = image.shape[:2]
    channels = 1 if image.ndim == 2 else image.shape[2]
    big = image.dtype == np.uint16
    raw = image.astype(">u2" if big else np.uint8).reshape(height, -1).view(np.uint8).astype(np.int32)
    bpp = channels * (2 if big else 1)
    rows = []
    for r in range(height):
        x = raw[r]
        up = raw[r - 1] if r else np.zeros_like(x)
        left = np.concatenate([np.zeros(bpp, np.int32), x[:-bpp]])
        upleft = np.concatenate([np.zeros(bpp, np.int32), up[:-bpp]])
        kind = r % 5
        if kind == 0:
            pred = np.zeros_like(x)
        elif kind == 1:
            pred = left
        elif kind == 2:
            pred = up
        elif kind == 3:
            pred = (left + up) // 2
        else:
            p = left + up - upleft
            pa, pb, pc = np.abs(p - left), np.abs(p - up), np.abs(p - upleft)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upleft))
        rows.append(bytes([kind]) + ((x - pred) % 256).astype(np.uint8).tobytes())
    compressed = zlib.compress(b"".join(rows))
    colour = {1: 0, 3: 2, 4: 6}[channels]
    pieces = (compressed[i : i + chunk_bytes] for i in range(0, len(compressed), chunk_bytes))
    idats = b"".join(png_stream.chunk(b"IDAT", piece) for piece in pieces)
    ihdr = struct.pack(">IIBBBBB", width, height, 16 if big else 8, colour, 0, 0, 0)
    return png_stream.SIGNATURE + png_stream.chunk(b"IHDR", ihdr) + idats + png_stream.chunk(b"IEND", b"")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_bands_equal_the_whole_decode(dtype: type, channels: int) -> None:
    shape = (97, 61) if channels == 1 else (97, 61, channels)
    ok, encoded = cv2.imencode(".png", noisy(shape, dtype))
    data = encoded.tobytes()
    whole = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
    for rows in (1, 5, 96, 500):
        got = png_bands.decode_in_bands(data, rows)
        assert got is not None and got.dtype == whole.dtype and np.array_equal(got, whole), rows


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_every_filter_type_and_split_image_data(dtype: type, channels: int) -> None:
    shape = (53, 37) if channels == 1 else (53, 37, channels)
    pixels = noisy(shape, dtype)
    data = _png_with_every_filter(pixels)
    whole = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    opencv_order = pixels[:, :, [2, 1, 0, 3][:channels]] if channels > 1 else pixels
    assert np.array_equal(whole, opencv_order)  # the test's own encoder is right
    for rows in (1, 3, 10, 64):
        assert np.array_equal(png_bands.decode_in_bands(data, rows), whole), rows


def test_layouts_not_covered_are_left_to_the_whole_decode() -> None:
    for image in (Image.new("P", (8, 8)), Image.new("LA", (8, 8)), Image.new("1", (8, 8))):
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        assert png_bands.decode_in_bands(buffer.getvalue()) is None
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "PNG", transparency=(0, 0, 0))
    assert png_bands.decode_in_bands(buffer.getvalue()) is None


def test_damage_is_reported() -> None:
    ok, encoded = cv2.imencode(".png", noisy((64, 64, 3), np.uint8))
    data = bytearray(encoded.tobytes())
    with pytest.raises(png_bands.DamagedPng, match="truncated"):
        png_bands.decode_in_bands(bytes(data[: len(data) // 2]), 8)
    idat = data.index(b"IDAT")
    data[idat + 40] ^= 0xFF
    with pytest.raises(png_bands.DamagedPng, match="checksum"):
        png_bands.decode_in_bands(bytes(data), 8)


def test_read_image_uses_bands_for_a_large_png(monkeypatch, tmp_path: Path) -> None:
    """Through the real reader: above the scratch threshold a PNG is decoded in bands (OpenCV's
    whole decode is not called), upright by its eXIf orientation, with the same samples."""
    monkeypatch.setenv("TERF_STUDIO_SCRATCH", str(tmp_path / "scratch"))
    pixels = noisy((90, 70, 3), np.uint16)
    ok, encoded = cv2.imencode(".png", pixels[:, :, ::-1])
    data = encoded.tobytes()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 clockwise
    payload = exif.tobytes()
    payload = payload[6:] if payload.startswith(b"Exif\x00\x00") else payload  # eXIf holds the TIFF part
    chunk = png_stream.chunk(b"eXIf", payload)
    at = data.index(b"IDAT") - 4
    (tmp_path / "rotated.png").write_bytes(data[:at] + chunk + data[at:])
    small = image_io.read_image_stored(tmp_path / "rotated.png")  # below the threshold: OpenCV + Pillow
    monkeypatch.setenv("TERF_STUDIO_DISK_ARRAYS_MB", "0.01")
    decoded_rows: list[int] = []
    real_imdecode = cv2.imdecode

    def imdecode(buffer: np.ndarray, flags: int) -> np.ndarray:
        out = real_imdecode(buffer, flags)
        decoded_rows.append(out.shape[0])
        return out

    monkeypatch.setattr(png_bands, "BAND_ROWS", 16)
    monkeypatch.setattr(png_bands.cv2, "imdecode", imdecode)
    large = image_io.read_image_stored(tmp_path / "rotated.png")
    assert decoded_rows and max(decoded_rows) <= 17  # never the whole image at once
    assert store.on_disk(large) and large.shape == (70, 90, 3)
    assert np.array_equal(large, np.rot90(pixels, -1)) and np.array_equal(large, small)
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="cut.png.*truncated"):
        image_io.read_image_stored(tmp_path / "cut.png")
