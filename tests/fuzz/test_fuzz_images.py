"""Fuzzing the image readers: read_image, read_pair, mask files (Mask.load_png, edit --mask).

Inputs: random bytes (with and without an image signature), small valid PNG (8/16-bit, grey,
RGB, RGBA, palette), JPEG (with an EXIF orientation), TIFF and BMP files with random edits, and
headers that declare sizes above the pixel limit (bombs).
"""

from __future__ import annotations

import io
import json
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import cv2
import numpy as np
import tifffile
from fuzzing import mutated, png_declaring, result_or_error, sandbox
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from terf_studio.cli.edit import _read_mask_image
from terf_studio.imaging import read_image
from terf_studio.imaging.io import MAX_PIXELS
from terf_studio.imaging.pair import read_pair
from terf_studio.regions import Mask


def _encode(ext: str, pixels: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(ext, pixels)
    assert ok
    return buf.tobytes()


def _pillow(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


@lru_cache(maxsize=1)
def samples() -> dict[str, bytes]:
    """Small valid files of every kind the readers accept."""
    rng = np.random.default_rng(0)
    rgb8 = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    grey16 = rng.integers(0, 65536, (5, 7), dtype=np.uint16)
    rgb16 = rng.integers(0, 65536, (4, 6, 3), dtype=np.uint16)
    rgba8 = rng.integers(0, 256, (5, 5, 4), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6
    palette = Image.fromarray(rgb8).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    return {
        "a.png": _encode(".png", rgb8),
        "grey16.png": _encode(".png", grey16),
        "rgb16.png": _encode(".png", rgb16),
        "rgba.png": _encode(".png", rgba8),
        "palette.png": _pillow(palette, "PNG"),
        "a.jpg": _encode(".jpg", rgb8),
        "exif.jpg": _pillow(Image.fromarray(rgb8), "JPEG", exif=exif),
        "a.tif": _encode(".tif", rgb8),
        "grey16.tif": _encode(".tif", grey16),
        "deflate.tif": _pillow(Image.fromarray(rgb8), "TIFF", compression="tiff_adobe_deflate"),
        "a.bmp": _encode(".bmp", rgb8),
    }


# Sizes either small or above the limit: an image under the limit may take its full size in memory.
_DIMENSIONS = st.one_of(
    st.tuples(st.integers(0, 2048), st.integers(0, 2048)),
    st.tuples(st.integers(1, 2**31 - 1), st.integers(1, 2**31 - 1)).filter(lambda s: s[0] * s[1] > MAX_PIXELS),
)
_PNG_MODES = st.sampled_from([(8, 0), (16, 0), (8, 2), (16, 2), (8, 3), (8, 4), (16, 6), (1, 0), (7, 2)])

#: Any file the readers may be given: valid, edited, random, or a bomb.
image_files = st.one_of(
    st.sampled_from(sorted(samples().values())),
    st.sampled_from(sorted(samples().values())).flatmap(mutated),
    st.binary(max_size=256),
    st.tuples(st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"BM"]),
              st.binary(max_size=256)).map(b"".join),
    st.builds(lambda size, mode: png_declaring(*size, *mode), _DIMENSIONS, _PNG_MODES),
)


def check_image(image: np.ndarray) -> None:
    assert image.dtype == np.float32
    assert image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3), image.shape
    assert 0 < image.shape[0] * image.shape[1] <= MAX_PIXELS
    assert np.isfinite(image).all() and image.min() >= 0.0 and image.max() <= 1.0


@settings(max_examples=settings().max_examples * 2)
@given(data=image_files, name=st.sampled_from(["x.png", "x.jpg", "x.tif", "x.bmp", "x"]))
def test_read_image_returns_an_image_or_a_one_line_error(data, name):
    with sandbox() as box, warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        path = box.write_input(name, data)
        image = result_or_error(lambda: read_image(path))
    # Found by fuzzing: Pillow's "Corrupt EXIF data" warnings reached the terminal.
    assert not shown, [str(w.message) for w in shown]
    if image is not None:
        check_image(image)


@lru_cache(maxsize=1)
def band_tiff_samples() -> list[bytes]:
    """TIFFs in several strips or tiles: what the band decoder (imaging.tiff_bands) reads."""
    rng = np.random.default_rng(1)
    rgb16 = rng.integers(0, 65536, (12, 7, 3), dtype=np.uint16)
    rgb8 = rng.integers(0, 256, (12, 7, 3), dtype=np.uint8)
    grey8 = rng.integers(0, 256, (40, 20), dtype=np.uint8)

    def written(image: np.ndarray, **options: object) -> bytes:
        buffer = io.BytesIO()
        tifffile.imwrite(buffer, image, photometric="rgb" if image.ndim == 3 else "minisblack", **options)
        return buffer.getvalue()

    return [
        written(rgb16, rowsperstrip=2),
        written(rgb16, rowsperstrip=3, compression="zlib", predictor=True),
        written(grey8, tile=(16, 16), compression="zlib"),
        written(np.moveaxis(rgb8, -1, 0), planarconfig="separate", rowsperstrip=4),
        written(rgb8, byteorder=">"),
        _pillow(Image.fromarray(rgb8), "TIFF", compression="tiff_lzw", strip_size=7 * 3 * 2),
    ]


@contextmanager
def _every_image_in_bands(box) -> Iterator[None]:
    """Images of any size count as large (scratch files, TIFFs decoded in bands) while in use."""
    saved = {k: os.environ.get(k) for k in ("TERF_STUDIO_DISK_ARRAYS_MB", "TERF_STUDIO_SCRATCH")}
    os.environ.update(TERF_STUDIO_DISK_ARRAYS_MB="0.000001", TERF_STUDIO_SCRATCH=str(box.root / "tmp"))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@given(data=st.one_of(st.sampled_from(band_tiff_samples()), st.sampled_from(band_tiff_samples()).flatmap(mutated)))
def test_tiff_in_bands_gives_an_image_or_a_one_line_error(data):
    with sandbox() as box, _every_image_in_bands(box):
        path = box.write_input("x.tif", data)
        image = result_or_error(lambda: read_image(path))
    if image is not None:
        check_image(image)


@given(vi=image_files, ir=image_files, resize=st.booleans())
def test_read_pair_returns_a_pair_or_a_one_line_error(vi, ir, resize):
    with sandbox() as box:
        vi_path, ir_path = box.write_input("vi.png", vi), box.write_input("ir.png", ir)
        pair = result_or_error(lambda: read_pair(vi_path, ir_path, resize_ir=resize))
    if pair is not None:
        vi_image, ir_image = pair
        check_image(vi_image)
        check_image(ir_image)
        assert ir_image.ndim == 2 and ir_image.shape == vi_image.shape[:2]


@given(data=image_files)
def test_edit_mask_file_is_a_mask_or_a_one_line_error(data):
    with sandbox() as box:
        path = box.write_input("mask.png", data)
        mask = result_or_error(lambda: _read_mask_image(str(path)))
    if mask is not None:
        check_image(mask)
        assert mask.ndim == 2 and mask.any()


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=8,
)
_MASK_META = st.one_of(
    st.fixed_dictionaries({}, optional={k: _JSON for k in ("label", "colour", "source", "confidence")}).map(json.dumps),
    _JSON.map(json.dumps),
    st.text(max_size=40),
)


def _mask_png(pixels: np.ndarray, meta: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("terf-mask", meta)
    return _pillow(Image.fromarray(pixels), "PNG", pnginfo=info)


@lru_cache(maxsize=1)
def mask_samples() -> list[bytes]:
    grid = np.zeros((6, 7), np.float32)
    grid[1:4, 2:6] = 1.0
    soft = np.linspace(0, 1, 42, dtype=np.float32).reshape(6, 7)
    return [
        Mask(grid, label="road", source="box").to_png_bytes(8),
        Mask(soft, label="sky", colour=(1, 2, 3), confidence=0.5).to_png_bytes(16),
        _encode(".png", (soft[:, :, None] * np.array([255, 128, 0])).astype(np.uint8)),
    ]


mask_files = st.one_of(
    st.sampled_from(mask_samples()),
    st.sampled_from(mask_samples()).flatmap(mutated),
    st.builds(lambda meta: _mask_png((np.arange(20).reshape(4, 5) * 13).astype(np.uint8), meta), _MASK_META),
    image_files,
)


@given(data=mask_files)
def test_mask_png_loads_as_a_mask_or_a_one_line_error(data):
    """Found by fuzzing: saved metadata such as {"colour": null} raised a TypeError."""
    with sandbox() as box:
        path = box.write_input("mask.png", data)
        mask = result_or_error(lambda: Mask.load_png(path))
    if mask is not None:
        check_image(mask.data)
        assert mask.data.ndim == 2
        assert len(mask.colour) == 3 and all(0 <= c <= 255 for c in mask.colour)
        assert 0.0 <= mask.confidence <= 1.0 and isinstance(mask.label, str)


def test_mask_png_above_the_pixel_limit_is_refused_before_decoding():
    with sandbox() as box:
        path = box.write_input("mask.png", png_declaring(20000, 20000, 16, 0))
        assert result_or_error(lambda: Mask.load_png(path)) is None
