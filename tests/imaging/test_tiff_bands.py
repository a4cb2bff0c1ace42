"""Large TIFFs decoded a band of strips or tiles at a time (imaging.tiff_bands) equal OpenCV's
whole decode, whatever wrote them."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from band_images import noisy
from PIL import Image

from terf_studio.errors import ImageReadError
from terf_studio.imaging import io as image_io
from terf_studio.imaging import store, tiff_bands, tiff_stream


def _tifffile(image: np.ndarray, **options: object) -> bytes:
    buffer = io.BytesIO()
    if options.get("planarconfig") == "separate":
        image = np.moveaxis(image, -1, 0)
    photometric = "rgb" if image.ndim == 3 else "minisblack"
    tifffile.imwrite(buffer, image, photometric=photometric, **options)
    return buffer.getvalue()


def _pillow(image: np.ndarray, **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "TIFF", **options)
    return buffer.getvalue()


def _whole(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)


def _assert_bands_equal_whole(data: bytes, band_rows: tuple[int, ...] = (1, 7, 40, 500)) -> None:
    whole = _whole(data)
    assert whole is not None
    head = tiff_bands.layout(data)
    assert head is not None
    for rows in band_rows:
        got = tiff_bands.decode_in_bands(data, head, rows)
        assert got.dtype == whole.dtype and got.shape == whole.shape, rows
        assert np.array_equal(got, whole), rows


RGB16 = noisy((83, 61, 3), np.uint16)
RGB8 = noisy((83, 61, 3), np.uint8)
GREY8 = noisy((83, 61), np.uint8)


@pytest.mark.parametrize("options", [
    {},  # uncompressed, one strip: cut at any row
    {"rowsperstrip": 5},
    {"compression": "zlib", "rowsperstrip": 9},
    {"compression": "zlib", "predictor": True, "rowsperstrip": 4},
    {"tile": (16, 16)},
    {"tile": (16, 32), "compression": "zlib"},
    {"byteorder": ">", "rowsperstrip": 10, "compression": "zlib"},
    {"byteorder": ">"},
])
@pytest.mark.parametrize("image", [RGB16, GREY8], ids=["rgb16", "grey8"])
def test_bands_equal_the_whole_decode(image: np.ndarray, options: dict) -> None:
    if image.ndim == 2 and options == {"tile": (16, 16)}:
        pytest.skip("OpenCV cannot read tifffile's uncompressed grey tiles, whole or in bands")
    _assert_bands_equal_whole(_tifffile(image, **options))
    assert np.array_equal(tiff_bands.decode_in_bands(_tifffile(image, **options), tiff_bands.layout(
        _tifffile(image, **options))), image[..., ::-1] if image.ndim == 3 else image)


@pytest.mark.parametrize("options", [
    {"rowsperstrip": 6},
    {},
    {"tile": (16, 16), "compression": "zlib"},
])
def test_colour_planes(options: dict) -> None:
    """Samples stored plane by plane (8-bit: OpenCV decodes those right, whole or in bands)."""
    data = _tifffile(RGB8, planarconfig="separate", **options)
    head = tiff_bands.layout(data)
    assert head is not None and head.planes == 3
    _assert_bands_equal_whole(data)
    assert np.array_equal(_whole(data), RGB8[..., ::-1])


def test_16_bit_colour_planes_are_refused(tmp_path: Path) -> None:
    """OpenCV and Pillow both return wrong samples for these: a clear error, not a wrong picture."""
    path = tmp_path / "planes16.tif"
    path.write_bytes(_tifffile(RGB16, planarconfig="separate"))
    with pytest.raises(ImageReadError, match="planes16.tif.*planar TIFF.*not supported"):
        image_io.read_image_stored(path)


@pytest.mark.parametrize("compression", ["tiff_lzw", "packbits", "tiff_adobe_deflate", "jpeg"])
def test_other_compressions(compression: str) -> None:
    """Compressions the project cannot write: libtiff decodes each band as it would the file."""
    data = _pillow(noisy((83, 61, 3), np.uint8), compression=compression, strip_size=61 * 3 * 6)
    head = tiff_bands.layout(data)
    assert head is not None and head.compressed and head.segment_rows < 10
    _assert_bands_equal_whole(data)


def test_rgba_and_the_projects_own_writer() -> None:
    _assert_bands_equal_whole(_tifffile(noisy((70, 50, 4), np.uint8), rowsperstrip=8, extrasamples=["unassalpha"]))
    buffer = io.BytesIO()
    tiff_stream.write_tiff(buffer, RGB16)
    _assert_bands_equal_whole(buffer.getvalue())


def test_layouts_not_covered_are_left_to_the_whole_decode() -> None:
    # one compressed strip (no gain), and no TIFF at all
    assert tiff_bands.layout(_tifffile(RGB16, compression="zlib")) is None
    assert tiff_bands.layout(b"\x89PNG\r\n\x1a\n" + bytes(40)) is None
    # BigTIFF
    assert tiff_bands.layout(_tifffile(GREY8, bigtiff=True)) is None


def test_damage_is_reported() -> None:
    data = _tifffile(RGB16, compression="zlib", rowsperstrip=4)
    with pytest.raises(tiff_bands.DamagedTiff, match="truncated"):
        tiff_bands.layout(data[: len(data) - 500])  # the directory is at the front, the last strips are cut
    head = tiff_bands.layout(data)
    assert head is not None
    damaged = bytearray(data)
    start = int(head.offsets[3])
    damaged[start : start + int(head.counts[3])] = bytes(int(head.counts[3]))  # a strip zeroed
    with pytest.raises(tiff_bands.DamagedTiff, match="does not decode"):
        tiff_bands.decode_in_bands(bytes(damaged), head, 8)


def test_read_image_uses_bands_for_a_large_tiff(monkeypatch, tmp_path: Path) -> None:
    """Through the real reader: above the scratch threshold a TIFF is decoded in bands (OpenCV
    never sees the whole image), with the same samples as the small-file path."""
    monkeypatch.setenv("TERF_STUDIO_SCRATCH", str(tmp_path / "scratch"))
    path = tmp_path / "large.tif"
    path.write_bytes(_tifffile(RGB16, compression="zlib", predictor=True, rowsperstrip=3))
    small = image_io.read_image_stored(path)  # below the threshold: OpenCV's whole decode
    monkeypatch.setenv("TERF_STUDIO_DISK_ARRAYS_MB", "0.01")
    decoded_rows: list[int] = []
    real_imdecode = cv2.imdecode

    def imdecode(buffer: np.ndarray, flags: int) -> np.ndarray:
        out = real_imdecode(buffer, flags)
        decoded_rows.append(-1 if out is None else out.shape[0])
        return out

    monkeypatch.setattr(tiff_bands, "BAND_ROWS", 16)
    monkeypatch.setattr(tiff_bands.cv2, "imdecode", imdecode)
    large = image_io.read_image_stored(path)
    assert decoded_rows and max(decoded_rows) <= 16 and min(decoded_rows) > 0
    assert store.on_disk(large) and np.array_equal(large, small) and np.array_equal(large, RGB16)
    data = path.read_bytes()
    head = tiff_bands.layout(data)
    assert head is not None
    damaged = bytearray(data)
    damaged[int(head.offsets[5]) : int(head.offsets[5]) + int(head.counts[5])] = bytes(int(head.counts[5]))
    (tmp_path / "damaged.tif").write_bytes(bytes(damaged))
    with pytest.raises(ImageReadError, match="damaged.tif.*does not decode"):
        image_io.read_image_stored(tmp_path / "damaged.tif")


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_as_opencv_applies_it(monkeypatch, tmp_path: Path, orientation: int) -> None:
    """OpenCV turns a TIFF upright by its Orientation tag even for unchanged samples; the bands
    leave the tag out and the reader turns the result the same way."""
    monkeypatch.setenv("TERF_STUDIO_SCRATCH", str(tmp_path / "scratch"))
    path = tmp_path / "turned.tif"
    path.write_bytes(_tifffile(RGB8, rowsperstrip=4, extratags=[(274, 3, 1, orientation, True)]))
    whole = image_io.read_image_stored(path)
    monkeypatch.setenv("TERF_STUDIO_DISK_ARRAYS_MB", "0.001")
    calls = []
    real_decode = tiff_bands.decode_in_bands
    monkeypatch.setattr(tiff_bands, "decode_in_bands", lambda *a: calls.append(1) or real_decode(*a))
    banded = image_io.read_image_stored(path)
    assert calls and store.on_disk(banded) and np.array_equal(banded, whole)
    assert (whole.shape[:2] == RGB8.shape[:2]) == (orientation < 5)
