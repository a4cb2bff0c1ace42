"""Tests for terf_studio.imaging: file I/O, pair checks, colour conversions."""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from terf_studio.errors import ImageReadError, PairMismatchError, TerfError
from terf_studio.imaging import (
    check_pair,
    grey_to_rgb,
    read_image,
    read_pair,
    rgb_to_grey_np,
    rgb_to_y,
    rgb_to_ycrcb,
    to_float,
    to_numpy,
    to_tensor,
    to_uint8,
    write_image,
    ycrcb_to_rgb,
)
from terf_studio.paths import PROJECT_ROOT, SHARED_DATA

DATA = SHARED_DATA
RNG = np.random.default_rng(1234)


def random_u8(*shape: int) -> np.ndarray:
    return RNG.integers(0, 256, shape, dtype=np.uint8)


def random_u16(*shape: int) -> np.ndarray:
    return RNG.integers(0, 65536, shape, dtype=np.uint16)


def with_orientation(image: Image.Image, orientation: int) -> bytes:
    exif = image.getexif()
    exif[0x0112] = orientation
    return exif.tobytes()


def assert_read_error(path: Path, reason: str) -> None:
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    message = str(info.value)
    assert path.name in message
    assert "\n" not in message
    assert reason in message


# --- round trips -------------------------------------------------------------


@pytest.mark.parametrize("ext", [".png", ".tif", ".tiff"])
@pytest.mark.parametrize("shape", [(5, 7), (5, 7, 3)])
def test_16_bit_round_trip_is_exact(tmp_path: Path, ext: str, shape: tuple[int, ...]) -> None:
    pixels = random_u16(*shape)
    path = tmp_path / f"img{ext}"
    write_image(path, pixels, bit_depth=16)
    image = read_image(path)
    assert image.dtype == np.float32 and image.shape == shape
    np.testing.assert_array_equal(np.rint(image * 65535).astype(np.uint16), pixels)
    # Written in RGB order: OpenCV reads BGR, so its last channel is our first.
    stored = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert stored.dtype == np.uint16
    np.testing.assert_array_equal(stored[..., ::-1] if len(shape) == 3 else stored, pixels)


@pytest.mark.parametrize("ext", [".png", ".tif", ".bmp"])
@pytest.mark.parametrize("shape", [(6, 4), (6, 4, 3)])
def test_8_bit_round_trip_is_exact(tmp_path: Path, ext: str, shape: tuple[int, ...]) -> None:
    pixels = random_u8(*shape)
    path = tmp_path / f"img{ext}"
    write_image(path, pixels.astype(np.float32) / 255)
    image = read_image(path)
    assert image.shape == shape
    np.testing.assert_array_equal(to_uint8(image), pixels)
    np.testing.assert_allclose(image, pixels / 255, atol=1e-7)


def test_reads_rgb_written_by_pillow_in_rgb_order(tmp_path: Path) -> None:
    pixels = np.zeros((2, 3, 3), np.uint8)
    pixels[0, 0] = (255, 0, 0)
    pixels[1, 2] = (0, 0, 128)
    Image.fromarray(pixels).save(tmp_path / "rgb.png")
    image = read_image(tmp_path / "rgb.png")
    np.testing.assert_array_equal(image[0, 0], [1, 0, 0])
    np.testing.assert_allclose(image[1, 2], [0, 0, 128 / 255])


def test_16_bit_is_scaled_by_65535(tmp_path: Path) -> None:
    Image.fromarray(np.array([[0, 257, 65535]], np.uint16)).save(tmp_path / "g16.png")
    image = read_image(tmp_path / "g16.png")
    np.testing.assert_allclose(image, [[0, 257 / 65535, 1]], rtol=0, atol=1e-7)


def test_write_rounds_and_clips(tmp_path: Path) -> None:
    values = np.array([[0.6 / 255, 1.4 / 255, -0.3, 1.7, np.nan, 0.5]], np.float32)
    write_image(tmp_path / "r.png", values)
    result = to_uint8(read_image(tmp_path / "r.png"))
    np.testing.assert_array_equal(result, [[1, 1, 0, 255, 0, 128]])
    write_image(tmp_path / "r16.png", np.array([[65534.6 / 65535, 0.4 / 65535]]), bit_depth=16)
    stored = cv2.imread(str(tmp_path / "r16.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(stored, [[65535, 0]])


def test_write_uint8_as_16_bit_scales_by_257(tmp_path: Path) -> None:
    write_image(tmp_path / "u.tif", np.array([[0, 1, 255]], np.uint8), bit_depth=16)
    stored = cv2.imread(str(tmp_path / "u.tif"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(stored, [[0, 257, 65535]])


def test_write_creates_parent_folders_and_replaces_files(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "out.jpg"
    write_image(path, np.zeros((4, 4)))
    write_image(path, np.ones((4, 4)))
    assert read_image(path).min() > 0.98
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.jpg"]


@pytest.mark.parametrize(
    ("name", "bit_depth", "expected"),
    [
        ("x.gif", 8, "'.gif'"),
        ("x.webp", 8, "'.webp'"),
        ("x.jpg", 16, "16-bit"),
        ("x.png", 12, "12-bit"),
    ],
)
def test_write_rejects_unsupported_type_or_depth(
    tmp_path: Path, name: str, bit_depth: int, expected: str
) -> None:
    with pytest.raises(TerfError) as info:
        write_image(tmp_path / name, np.zeros((2, 2)), bit_depth=bit_depth)
    assert expected in str(info.value) and name in str(info.value)
    assert "\n" not in str(info.value)
    assert not (tmp_path / name).exists()


def test_write_rejects_bad_shape(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_image(tmp_path / "x.png", np.zeros((2, 2, 4)))


def test_to_uint8_and_to_float() -> None:
    np.testing.assert_array_equal(to_uint8(np.array([65535, 32896, 0], np.uint16)), [255, 128, 0])
    pixels = random_u8(3, 3)
    assert to_uint8(pixels) is pixels
    assert to_float(pixels).dtype == np.float32
    np.testing.assert_allclose(to_float(np.array([255, 51], np.uint8)), [1.0, 0.2], atol=1e-7)
    with pytest.raises(ValueError):
        to_float(np.zeros(3, np.int32))


# --- colour layouts ----------------------------------------------------------


def test_equal_channels_read_as_grey(tmp_path: Path) -> None:
    grey = random_u8(5, 6)
    cv2.imwrite(str(tmp_path / "eq.png"), np.dstack([grey, grey, grey]))
    image = read_image(tmp_path / "eq.png")
    assert image.shape == (5, 6)
    np.testing.assert_array_equal(to_uint8(image), grey)


def test_rgba_drops_alpha(tmp_path: Path) -> None:
    rgba = random_u8(4, 5, 4)
    rgba[..., 3] = 255  # keep the stored colour exact whatever the encoder does with alpha
    rgba[0, 0, 3] = 0
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    image = read_image(tmp_path / "rgba.png")
    assert image.shape == (4, 5, 3)
    np.testing.assert_array_equal(to_uint8(image), rgba[..., :3])


def test_palette_and_grey_alpha_png(tmp_path: Path) -> None:
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[0, 0] = (200, 10, 30)
    rgb[1, 1] = (0, 90, 250)
    palette = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    palette.save(tmp_path / "p.png")
    np.testing.assert_array_equal(to_uint8(read_image(tmp_path / "p.png")), rgb)

    grey = random_u8(3, 3)
    Image.fromarray(grey).convert("LA").save(tmp_path / "la.png")
    image = read_image(tmp_path / "la.png")
    assert image.shape == (3, 3)
    np.testing.assert_array_equal(to_uint8(image), grey)


def test_bmp_written_by_pillow(tmp_path: Path) -> None:
    rgb = random_u8(3, 5, 3)
    Image.fromarray(rgb).save(tmp_path / "x.bmp")
    np.testing.assert_array_equal(to_uint8(read_image(tmp_path / "x.bmp")), rgb)


# --- orientation -------------------------------------------------------------


def test_jpeg_exif_orientation_6_is_rotated_clockwise(tmp_path: Path) -> None:
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :8] = 255  # a white band on the left
    image = Image.fromarray(pixels)
    image.save(tmp_path / "o6.jpg", exif=with_orientation(image, 6), quality=95)
    result = read_image(tmp_path / "o6.jpg")
    assert result.shape == (40, 20)  # the stored file is 20 rows x 40 columns
    assert result[:6].mean() > 0.95  # rotated 90 degrees clockwise: the band is on top
    assert result[10:].mean() < 0.05


UPRIGHT = {  # EXIF orientation -> how to turn the stored pixels upright
    1: lambda x: x,
    2: np.fliplr,
    3: lambda x: np.rot90(x, 2),
    4: np.flipud,
    5: lambda x: np.swapaxes(x, 0, 1),
    6: lambda x: np.rot90(x, -1),
    7: lambda x: np.rot90(np.fliplr(x), -1),
    8: lambda x: np.rot90(x, 1),
}


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("kind", ["png", "jpeg", "tiff8", "tiff16"])
def test_every_orientation(tmp_path: Path, kind: str, orientation: int) -> None:
    if kind == "tiff16":
        pixels, scale = random_u16(6, 10), 65535
    else:  # flat 8x8 blocks survive JPEG almost unchanged
        pixels, scale = np.kron(random_u8(3, 5, 3), np.ones((8, 8, 1), np.uint8)), 255
    image = Image.fromarray(pixels)
    path = tmp_path / f"o{orientation}.{'jpg' if kind == 'jpeg' else kind[:3]}"
    options = {"quality": 100, "subsampling": 0} if kind == "jpeg" else {}
    image.save(path, exif=with_orientation(image, orientation), **options)
    expected = UPRIGHT[orientation](pixels) / scale
    if kind != "tiff16":  # check the table against Pillow (which does not rotate 16-bit TIFF)
        with Image.open(path) as stored:
            pillow = np.asarray(ImageOps.exif_transpose(stored), dtype=np.float64) / scale
        np.testing.assert_allclose(pillow, expected, atol=6 / 255 if kind == "jpeg" else 0)
    result = read_image(path)
    assert result.shape == expected.shape
    np.testing.assert_allclose(result, expected, atol=6 / 255 if kind == "jpeg" else 1e-6)


# --- read errors -------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    assert_read_error(tmp_path / "nowhere.png", "file not found")


def test_directory(tmp_path: Path) -> None:
    (tmp_path / "folder.png").mkdir()
    assert_read_error(tmp_path / "folder.png", "directory")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    assert_read_error(tmp_path / "empty.png", "file is empty")


@pytest.mark.parametrize(
    ("name", "content"),
    [("notes.png", b"just some text, not pixels\n"), ("anim.gif", None), ("bad.jpg", b"\x00" * 64)],
)
def test_not_a_supported_image(tmp_path: Path, name: str, content: bytes | None) -> None:
    path = tmp_path / name
    if content is None:
        Image.fromarray(random_u8(4, 4)).save(path)
    else:
        path.write_bytes(content)
    assert_read_error(path, "not a PNG, JPEG, TIFF or BMP image")


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp"])
def test_truncated_file(tmp_path: Path, ext: str) -> None:
    source = tmp_path / f"whole{ext}"
    cv2.imwrite(str(source), random_u8(32, 32, 3))
    data = source.read_bytes()
    cut = tmp_path / f"cut{ext}"
    cut.write_bytes(data[: len(data) // 2])
    assert_read_error(cut, "truncated")


def test_truncated_tiff(tmp_path: Path) -> None:
    source = tmp_path / "whole.tif"
    Image.fromarray(random_u8(32, 32, 3)).save(source)
    data = source.read_bytes()
    (tmp_path / "cut.tif").write_bytes(data[: len(data) // 2])
    assert_read_error(tmp_path / "cut.tif", "truncated")


def test_garbage_after_a_png_signature(tmp_path: Path) -> None:
    path = tmp_path / "garbage.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(RNG.integers(0, 256, 200, dtype=np.uint8)))
    assert_read_error(path, "PNG")


def test_huge_declared_size_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    Image.fromarray(random_u8(2, 2)).save(path)
    data = bytearray(path.read_bytes())
    data[16:24] = struct.pack(">II", 40000, 40000)  # IHDR width and height
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    assert_read_error(path, "too large")


def test_float_tiff_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "float.tif"
    assert cv2.imwrite(str(path), np.full((4, 4), 0.5, np.float32))
    assert_read_error(path, "float32 samples are not supported")


# --- pairs -------------------------------------------------------------------


def test_pair_of_equal_size_is_returned_unchanged() -> None:
    vi = RNG.random((4, 6, 3), dtype=np.float32)
    ir = RNG.random((4, 6), dtype=np.float32)
    out_vi, out_ir = check_pair(vi, ir)
    np.testing.assert_array_equal(out_vi, vi)
    np.testing.assert_array_equal(out_ir, ir)


def test_mismatched_pair_names_both_sizes() -> None:
    with pytest.raises(PairMismatchError) as info:
        check_pair(np.zeros((480, 640, 3), np.float32), np.zeros((240, 320), np.float32))
    message = str(info.value)
    assert "640x480" in message and "320x240" in message and "--resize-ir" in message
    assert message.index("640x480") < message.index("320x240")
    assert "\n" not in message


def test_read_pair_mismatch_names_the_files(tmp_path: Path) -> None:
    write_image(tmp_path / "vis.png", np.zeros((3, 5, 3)) + 0.5)
    write_image(tmp_path / "therm.png", np.zeros((4, 4)))
    with pytest.raises(PairMismatchError) as info:
        read_pair(tmp_path / "vis.png", tmp_path / "therm.png")
    message = str(info.value)
    assert "vis.png" in message and "therm.png" in message
    assert "5x3" in message and "4x4" in message


def test_read_pair_with_resize(tmp_path: Path) -> None:
    write_image(tmp_path / "vis.png", np.zeros((3, 5, 3)) + 0.5)
    write_image(tmp_path / "therm.png", np.zeros((4, 4)))
    vi, ir = read_pair(tmp_path / "vis.png", tmp_path / "therm.png", resize_ir=True)
    assert vi.shape == (3, 5) and ir.shape == (3, 5)  # a grey-valued visible image reads as grey


def test_resize_ir_shrinks_by_area_averaging() -> None:
    ir = np.array([[0, 1, 0.2, 0.4], [1, 0, 0.6, 0.8]] * 2, np.float32)
    _, out = check_pair(np.zeros((2, 2), np.float32), ir, resize_ir=True)
    np.testing.assert_allclose(out, [[0.5, 0.5], [0.5, 0.5]], atol=1e-6)


def test_resize_ir_enlarges_and_stays_in_range() -> None:
    ir = np.zeros((4, 4), np.float32)
    ir[::2, ::2] = 1  # cubic interpolation overshoots on this pattern
    vi, out = check_pair(np.zeros((9, 7, 3), np.float32), ir, resize_ir=True)
    assert out.shape == (9, 7) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1 and out.max() > 0.9


def test_colour_infrared_becomes_luma() -> None:
    ir = np.zeros((2, 2, 3), np.float32)
    ir[..., 0] = 1  # pure red
    _, out = check_pair(np.zeros((2, 2, 3), np.float32), ir)
    assert out.shape == (2, 2)
    np.testing.assert_allclose(out, 0.299, atol=1e-6)


def test_real_roadscene_pair() -> None:
    folder = DATA / "roadscene"
    if not (folder / "vi").is_dir():
        pytest.skip("shared RoadScene samples are not available")
    vi_path = sorted((folder / "vi").glob("*.jpg"))[0]
    vi, ir = read_pair(vi_path, folder / "ir" / vi_path.name, resize_ir=True)
    assert vi.ndim in (2, 3) and ir.shape == vi.shape[:2]
    assert 0 <= ir.min() < ir.max() <= 1


# --- colour ------------------------------------------------------------------


def test_ycrcb_round_trip() -> None:
    rgb = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(ycrcb_to_rgb(rgb_to_ycrcb(rgb)), rgb, atol=1e-5)


def test_ycrcb_matches_opencv_channel_order() -> None:
    rgb = np.random.default_rng(3).random((4, 4, 3), dtype=np.float32)
    expected = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)  # float: Y, Cr, Cb with offset 0.5
    result = to_numpy(rgb_to_ycrcb(to_tensor(rgb)))
    np.testing.assert_allclose(result, expected, atol=1e-3)


def test_luma_of_white_and_black() -> None:
    white, black = torch.ones(1, 3, 2, 2), torch.zeros(1, 3, 2, 2)
    assert torch.allclose(rgb_to_y(white), torch.ones(1, 1, 2, 2), atol=1e-6)
    assert torch.equal(rgb_to_y(black), torch.zeros(1, 1, 2, 2))
    assert torch.allclose(rgb_to_ycrcb(white)[:, 0], torch.ones(1, 2, 2), atol=1e-6)
    assert torch.equal(rgb_to_ycrcb(black)[:, 0], torch.zeros(1, 2, 2))
    np.testing.assert_allclose(rgb_to_grey_np(np.ones((2, 2, 3), np.float32)), 1, atol=1e-6)


def test_rgb_to_y_equals_ycrcb_luma_and_numpy_luma() -> None:
    rgb = np.random.default_rng(5).random((3, 4, 3), dtype=np.float32)
    y = rgb_to_y(to_tensor(rgb))
    assert y.shape == (1, 1, 3, 4)
    assert torch.allclose(y, rgb_to_ycrcb(to_tensor(rgb))[:, :1], atol=1e-6)
    np.testing.assert_allclose(to_numpy(y), rgb_to_grey_np(rgb), atol=1e-6)
    opencv_grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    np.testing.assert_allclose(rgb_to_grey_np(rgb), opencv_grey, atol=1e-6)


def test_grey_to_rgb_and_passthroughs() -> None:
    grey = torch.rand(2, 1, 3, 3)
    rgb = grey_to_rgb(grey)
    assert rgb.shape == (2, 3, 3, 3)
    assert all(torch.equal(rgb[:, c], grey[:, 0]) for c in range(3))
    assert grey_to_rgb(rgb) is rgb
    assert rgb_to_y(grey) is grey
    flat = np.zeros((2, 2), np.float32)
    assert rgb_to_grey_np(flat) is flat
    with pytest.raises(ValueError):
        grey_to_rgb(torch.zeros(1, 2, 3, 3))


@pytest.mark.parametrize("shape", [(3, 5), (3, 5, 3)])
def test_tensor_round_trip_copies(shape: tuple[int, ...]) -> None:
    img = np.random.default_rng(7).random(shape, dtype=np.float32)
    t = to_tensor(img)
    assert t.shape == ((1, 1, 3, 5) if len(shape) == 2 else (1, 3, 3, 5))
    assert t.dtype == torch.float32
    if len(shape) == 3:
        assert torch.equal(t[0, 1], torch.from_numpy(img[..., 1]))
    back = to_numpy(t)
    np.testing.assert_array_equal(back, img)
    t.zero_()
    assert img.max() > 0 and back.max() > 0  # neither side shares memory with the tensor
    with pytest.raises(ValueError):
        to_numpy(torch.zeros(2, 3, 4, 4))


def test_reading_does_not_import_torch(tmp_path: Path) -> None:
    write_image(tmp_path / "x.png", np.zeros((2, 2)))
    code = (
        "import sys; from terf_studio.imaging import read_image; "
        f"read_image({str(tmp_path / 'x.png')!r}); assert 'torch' not in sys.modules"
    )
    root = PROJECT_ROOT
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)
