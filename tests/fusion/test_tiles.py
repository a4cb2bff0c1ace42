"""Fusion in overlapping tiles: the grid, the receptive radius, and tiled == whole image."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from terf_studio.fusion import Fuser, FusionConfig, build_network, load_fuser
from terf_studio.fusion import tiled as tiled_mod
from terf_studio.fusion.inference import FUSION_TILES
from terf_studio.fusion.tiled import FUSION_MARGIN
from terf_studio.imaging import tiles as tiles_mod
from terf_studio.imaging.tiles import needs_tiles, tile_grid

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: The full layout (full resolution, pixel shuffle up and stride-2 down, two transformer blocks:
#: three passes) at widths a test can afford.
SMALL_FULL = FusionConfig(name="full", features=8, dense_blocks=2, dense_layers=2, growth=4, transformer_blocks=2,
                          ffn_expansion=2.0)


def _pair(h: int, w: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / 37.0
    vi = np.stack([np.sin(xx), np.cos(yy), np.sin(xx + yy)], -1) * 0.35 + 0.5 + rng.normal(0, 0.05, (h, w, 3))
    ir = np.cos(1.3 * xx) * np.sin(0.8 * yy) * 0.3 + 0.5 + rng.normal(0, 0.05, (h, w))
    return np.clip(vi, 0, 1).astype(np.float32), np.clip(ir, 0, 1).astype(np.float32)


@pytest.mark.parametrize("h, w, tile, margin", [(301, 417, 64, 40), (7, 9, 4, 3), (100, 64, 64, 0), (1, 1, 2, 2)])
def test_cores_cover_the_image_once_and_windows_hold_their_margin(h, w, tile, margin):
    count = np.zeros((h, w), np.int32)
    for t in tile_grid(h, w, tile, margin, align=2):
        count[t.core.slices] += 1
        assert t.core.y0 % 2 == 0 and t.core.x0 % 2 == 0 and t.outer.y0 % 2 == 0 and t.outer.x0 % 2 == 0
        assert t.outer.y0 == max(0, t.core.y0 - margin - margin % 2)
        assert t.outer.y1 == min(h, t.core.y1 + margin + margin % 2)
        inner = t.inner
        assert (inner.height, inner.width) == (t.core.height, t.core.width)
    assert (count == 1).all()


@pytest.mark.parametrize("config", ["lite", "student", SMALL_FULL, "full"])
def test_receptive_radius_is_within_the_margin(config):
    """With the attention matrices held fixed (they are whole-image statistics, handled apart),
    a change to one pixel reaches at most 31 pixels (33 for the student): the tiles' margin covers it."""
    torch.manual_seed(0)
    net = build_network(config).eval()
    n, c = (96, 48) if config == "full" else (128, 64)
    rng = np.random.default_rng(0)
    ir = torch.from_numpy(rng.random((1, 1, n, n), dtype=np.float32))
    vi = torch.from_numpy(rng.random((1, 3, n, n), dtype=np.float32))

    def local(vi_t):
        with torch.inference_mode():
            g, context = net.encode(ir, vi_t)
            for block in net.blocks:
                g = block(g, torch.full((1, g.shape[1], g.shape[1]), 1.0 / g.shape[1]))
            return net.decode(g, context)[0].abs().sum(0).numpy()

    moved = vi.clone()
    moved[..., c, c] += 0.5
    ys, xs = np.nonzero(local(moved) != local(vi))
    assert len(ys) > 0
    radius = max(abs(ys - c).max(), abs(xs - c).max())
    limit = 33 if config == "student" else 31  # the student's head has two more 3x3 layers
    assert 10 <= radius <= limit < FUSION_MARGIN


@pytest.fixture(scope="module")
def lite():
    return load_fuser("lite", device="cpu")


def test_tiled_lite_fusion_equals_the_whole_image_within_a_grey_level(lite, monkeypatch):
    vi, ir = _pair(301, 417)  # odd sides: the bottom and right tiles are padded as the whole image is
    whole = lite.fuse(vi, ir)
    seen = []
    real = tiles_mod.window_tensor
    monkeypatch.setattr(tiled_mod, "window_tensor", lambda a, win, *rest: seen.append(win) or real(a, win, *rest))
    tiled = Fuser(lite.net, lite.device, tile=64).fuse(vi, ir)
    assert tiled.shape == whole.shape and tiled.dtype == np.float32
    assert np.abs(tiled - whole).max() * 255 < 1.0
    assert np.abs(tiled - whole).max() < 1e-4  # in practice it is float rounding
    # Only windows are converted to tensors, never the whole image.
    assert seen and max(w.height * w.width for w in seen) <= (64 + 2 * FUSION_MARGIN) ** 2


def test_tiled_fusion_takes_8_bit_grey_inputs_and_fills_a_given_array(lite):
    vi, ir = _pair(190, 230, seed=2)
    vi8, ir8 = np.rint(vi[..., 0] * 255).astype(np.uint8), np.rint(ir * 255).astype(np.uint8)
    whole = lite.fuse(vi8, ir8)
    out = np.zeros((190, 230, 3), np.uint8)
    result = Fuser(lite.net, lite.device, tile=48).fuse(vi8, ir8, out=out)
    assert result is out
    assert np.abs(out.astype(np.float32) - whole * 255).max() <= 0.51


def test_tiled_full_layout_with_two_attention_blocks_equals_the_whole_image():
    torch.manual_seed(3)
    fuser = Fuser(build_network(SMALL_FULL), torch.device("cpu"))
    vi, ir = _pair(171, 203, seed=3)
    whole = fuser.fuse(vi, ir)
    fuser.tile = 48
    tiled = fuser.fuse(vi, ir)
    assert np.abs(tiled - whole).max() * 255 < 1.0


def test_tiles_need_the_whole_image_attention(lite):
    """Why the passes: each tile with its own attention matrix gives another image."""
    vi, ir = _pair(301, 417)
    whole = lite.fuse(vi, ir)
    naive = np.empty_like(whole)
    for t in tile_grid(301, 417, 64, FUSION_MARGIN):
        win = t.outer.slices
        part = Fuser(lite.net, lite.device, tile=10**6).fuse(vi[win], ir[win])
        inner = t.inner
        naive[t.core.slices] = part[inner.y0 : inner.y1, inner.x0 : inner.x1]
    assert np.abs(naive - whole).max() > 1e-3


def test_normal_sizes_still_run_as_one_pass():
    for arch, tile in FUSION_TILES.items():
        assert not needs_tiles(480, 640, tile, FUSION_MARGIN), arch
    assert needs_tiles(6000, 8000, FUSION_TILES["lite"], FUSION_MARGIN)


def test_a_wrong_output_array_is_a_clear_error(lite):
    from terf_studio.errors import TerfError

    vi, ir = _pair(20, 30)
    with pytest.raises(TerfError, match="output array"):
        lite.fuse(vi, ir, out=np.empty((20, 30), np.float32))


def test_fuse_arrays_tiles_a_large_crop_without_moving_the_network(lite):
    """What the tasks use to fuse a crop (the denoise-the-visible tasks): same result tiled."""
    from terf_studio.fusion.tiled import fuse_arrays

    vi, ir = _pair(150, 210, seed=5)
    whole = fuse_arrays(lite.net, vi[..., 1], ir)
    tiled = fuse_arrays(lite.net, vi[..., 1], ir, tile=48)
    assert whole.shape == (150, 210, 3)
    assert np.abs(tiled - whole).max() < 1e-4
