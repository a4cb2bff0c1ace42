"""The fast engines on large crops run in overlapping tiles with the whole-image result."""

from __future__ import annotations

import numpy as np
import pytest

from terf_studio.fusion import load_fuser
from terf_studio.fusion.tiled import FUSION_MARGIN
from terf_studio.imaging.tiles import needs_tiles
from terf_studio.tuning.engines import conditioned, denoiser, retinex
from terf_studio.tuning.engines.conditioned import incline_fast, load_conditioned
from terf_studio.tuning.engines.denoiser import denoise_fast, load_denoiser
from terf_studio.tuning.engines.loader import fast_weights_path
from terf_studio.tuning.engines.retinex import decompose_fast, load_units

pytestmark = pytest.mark.usefixtures("one_torch_thread")

H, W = 211, 289  # odd sides, several 64-pixel tiles


def _image(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W] / 23.0
    img = np.stack([np.sin(xx), np.cos(yy), np.sin(xx - yy)], -1) * 0.3 + 0.5 + rng.normal(0, 0.06, (H, W, 3))
    return np.clip(img, 0, 1).astype(np.float32)


@pytest.fixture(scope="module")
def fuser():
    return load_fuser("lite", device="cpu")


@pytest.mark.parametrize("signs", ["mixed", "zero"])
def test_tiled_inclination_equals_the_whole_crop(fuser, signs):
    net = load_conditioned(fast_weights_path("fast-inclination-lite"), fuser.net)
    vi, ir = _image(1), _image(2).mean(-1)
    lam = np.zeros((H, W), np.float32)
    if signs == "mixed":
        lam[30:180, 40:250] = 0.8
        lam[90:140, 10:120] = -0.6
    whole = incline_fast(net, vi, ir, lam)
    tiled = incline_fast(net, vi, ir, lam, tile=64)
    assert np.abs(tiled - whole).max() < 1e-4  # far inside the 1 grey level (0.0039) asked for


def test_tiled_decomposition_equals_the_whole_image():
    units = load_units(fast_weights_path("fast-illumination"))
    image = _image(3)
    whole, tiled = decompose_fast(units, image), decompose_fast(units, image, tile=64)
    for name in ("source", "illumination", "reflectance", "noise"):
        a, b = getattr(whole, name), getattr(tiled, name)
        assert a.shape == b.shape and b.dtype == np.float32
        assert np.abs(a - b).max() < 1e-4, name


@pytest.mark.parametrize("grey", [False, True])
def test_tiled_denoise_equals_the_whole_image(grey):
    net = load_denoiser(fast_weights_path("fast-denoise"))
    image = _image(4)
    if grey:
        image = image[..., 0]
    whole = denoise_fast(net, image, 0.06)
    tiled = denoise_fast(net, image, 0.06, tile=64)
    assert tiled.shape == image.shape
    assert np.abs(tiled - whole).max() < 1e-4


def test_normal_crops_are_not_tiled():
    """A 640x480 image runs in one pass, so results there are exactly what they were."""
    assert not needs_tiles(480, 640, conditioned.INCLINATION_TILE, FUSION_MARGIN)
    assert not needs_tiles(480, 640, retinex.RETINEX_TILE, retinex.RETINEX_MARGIN)
    assert not needs_tiles(480, 640, denoiser.DENOISE_TILE, denoiser.DENOISE_MARGIN)
