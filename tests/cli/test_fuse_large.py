"""terf-studio fuse on stored (uint8/uint16) arrays: the same image as the float path, in tiles
as without them, and no float copy of a whole image (what keeps large pairs within 2 GB)."""

import tracemalloc

import cv2
import numpy as np
import pytest

from terf_studio.cli import main
from terf_studio.cli.fuse import fuse_stored
from terf_studio.fusion import load_fuser
from terf_studio.fusion.inference import FUSION_TILES, Fuser
from terf_studio.imaging import read_pair
from terf_studio.imaging.io import _quantize, read_image_stored


def _write_rgb(path, rgb):
    cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1]))


@pytest.fixture
def scene(tmp_path):
    """An 8-bit RGB visible image, a grey and a colour infrared image (90x120: one tile)."""
    rng = np.random.default_rng(7)
    h, w = 90, 120
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 120 + 60 * np.sin(xx / 9) * np.cos(yy / 7)
    vi = np.clip(base[..., None] + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)
    ir = np.clip(80 + 100 * (np.hypot(xx - 40, yy - 50) < 20) + rng.normal(0, 8, (h, w)), 0, 255).astype(np.uint8)
    ir_rgb = np.clip(ir[..., None] + rng.integers(-12, 12, (h, w, 3)), 0, 255).astype(np.uint8)
    _write_rgb(tmp_path / "vi.png", vi)
    cv2.imwrite(str(tmp_path / "ir.png"), ir)
    _write_rgb(tmp_path / "ir_rgb.png", ir_rgb)
    cv2.imwrite(str(tmp_path / "ir_small.png"), cv2.resize(ir, (w // 2, h // 2), interpolation=cv2.INTER_AREA))
    return tmp_path


def _fuse_cli(scene, ir_name, out_name, *extra):
    out = scene / out_name
    assert main(["fuse", str(scene / "vi.png"), str(scene / ir_name), "-o", str(out), "--device", "cpu",
                 *extra]) == 0
    return cv2.imread(str(out), cv2.IMREAD_UNCHANGED)[..., ::-1]


def _float_path(scene, ir_name, bit_depth=8, resize_ir=False):
    """What fuse wrote before: float32 pair, float32 result, quantized on writing."""
    vi, ir = read_pair(scene / "vi.png", scene / ir_name, resize_ir=resize_ir)
    return _quantize(load_fuser("lite", device="cpu").fuse(vi, ir), bit_depth)


def _levels(a, b, scale=1):
    return int(np.abs(a.astype(np.int64) - b.astype(np.int64)).max()) / scale


def test_grey_infrared_equals_the_float_path_exactly(scene):
    assert np.array_equal(_fuse_cli(scene, "ir.png", "f.png"), _float_path(scene, "ir.png"))


def test_16_bit_output_equals_the_float_path(scene):
    fused = _fuse_cli(scene, "ir.png", "f.tif", "--bit-depth", "16")
    assert fused.dtype == np.uint16
    assert np.array_equal(fused, _float_path(scene, "ir.png", 16))


@pytest.mark.parametrize("ir_name, extra", [("ir_rgb.png", ()), ("ir_small.png", ("--resize-ir",))])
def test_colour_or_resized_infrared_within_one_grey_level(scene, ir_name, extra):
    fused = _fuse_cli(scene, ir_name, "f.png", *extra)
    assert _levels(fused, _float_path(scene, ir_name, resize_ir=bool(extra))) <= 1


def test_tiled_cli_equals_the_untiled_result(scene, monkeypatch):
    whole = _fuse_cli(scene, "ir.png", "whole.png")
    monkeypatch.setitem(FUSION_TILES, "lite", 32)
    spy = _spy_on_fuse(monkeypatch)
    tiled = _fuse_cli(scene, "ir.png", "tiled.png")
    assert spy and spy[0]["tile"] == 32  # 90x120 is several 32-pixel tiles
    assert _levels(tiled, whole) <= 1


def _spy_on_fuse(monkeypatch):
    calls = []
    original = Fuser.fuse

    def fuse(self, vi, ir, out=None):
        calls.append({"vi": vi.dtype, "ir": ir.dtype, "out": None if out is None else out.dtype, "tile": self.tile})
        return original(self, vi, ir, out)

    monkeypatch.setattr(Fuser, "fuse", fuse)
    return calls


@pytest.mark.parametrize("bit_depth, dtype", [(8, np.uint8), (16, np.uint16)])
def test_the_fusion_gets_stored_arrays_and_an_output_of_the_bit_depth(scene, monkeypatch, bit_depth, dtype):
    spy = _spy_on_fuse(monkeypatch)
    _fuse_cli(scene, "ir_rgb.png", f"f{bit_depth}.png", "--bit-depth", str(bit_depth))
    assert spy == [{"vi": np.uint8, "ir": np.uint8, "out": dtype, "tile": FUSION_TILES["lite"]}]


def test_batch_fusion_gets_stored_arrays(scene, monkeypatch):
    for name in ("vi", "ir", "out"):
        (scene / name).mkdir()
    (scene / "vi.png").rename(scene / "vi" / "a.png")
    (scene / "ir.png").rename(scene / "ir" / "a.png")
    spy = _spy_on_fuse(monkeypatch)
    assert main(["fuse", "--vi-dir", str(scene / "vi"), "--ir-dir", str(scene / "ir"), "--out-dir",
                 str(scene / "out"), "--device", "cpu"]) == 0
    assert spy and spy[0]["vi"] == np.uint8 and spy[0]["out"] == np.uint8
    assert (scene / "out" / "a.png").exists()


def test_no_float_copy_of_the_whole_image(tmp_path, monkeypatch):
    """numpy's allocations (traced) stay well below one float32 copy of the visible image."""
    rng = np.random.default_rng(1)
    h, w = 600, 800
    _write_rgb(tmp_path / "vi.png", rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    cv2.imwrite(str(tmp_path / "ir.png"), rng.integers(0, 256, (h, w), dtype=np.uint8))
    monkeypatch.setitem(FUSION_TILES, "lite", 128)
    fuser = load_fuser("lite", device="cpu")
    tracemalloc.start()
    try:
        fused = fuse_stored(fuser, tmp_path / "vi.png", tmp_path / "ir.png", tmp_path / "f.png", 8, False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert fused.dtype == np.uint8 and fused.shape == (h, w, 3)
    assert peak < h * w * 3 * 4, f"{peak / (h * w):.1f} bytes a pixel"  # the old path held 28


def test_stored_reader_keeps_the_samples(tmp_path):
    rgb16 = np.random.default_rng(2).integers(0, 65536, (20, 30, 3), dtype=np.uint16)
    _write_rgb(tmp_path / "a.png", rgb16)
    stored = read_image_stored(tmp_path / "a.png")
    assert stored.dtype == np.uint16 and np.array_equal(stored, rgb16)
