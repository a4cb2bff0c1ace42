"""Known-answer tests for terf_studio.metrics (small images, fast)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from terf_studio import metrics as M


def checkerboard(h: int = 16, w: int = 16) -> np.ndarray:
    """uint8 one-pixel checkerboard of 0 and 255."""
    yy, xx = np.mgrid[:h, :w]
    return (((yy + xx) % 2) * 255).astype(np.uint8)


def vertical_stripes(h: int = 16, w: int = 16) -> np.ndarray:
    """Grey 0/255 columns alternating along x (constant down each column)."""
    return np.tile((np.arange(w) % 2) * 255.0, (h, 1))


@pytest.fixture
def textured() -> np.ndarray:
    rng = np.random.default_rng(1)
    base = rng.uniform(0, 255, (48, 48))
    return np.clip(base + 40 * np.sin(np.arange(48) / 3.0)[None, :], 0, 255)


# ---- to_grey255 -----------------------------------------------------------

def test_to_grey255_uint8_no_overflow_and_float_scale() -> None:
    board = checkerboard()
    g = M.to_grey255(board)
    assert g.dtype == np.float64
    assert g.max() == 255.0 and g.min() == 0.0
    np.testing.assert_allclose(M.to_grey255(board.astype(np.float32) / 255.0), g, atol=1e-4)


def test_to_grey255_luma_weights_and_uint16() -> None:
    rgb = np.zeros((4, 4, 3), dtype=np.uint8)
    rgb[..., 0] = 255  # pure red
    assert M.to_grey255(rgb)[0, 0] == pytest.approx(0.299 * 255)
    rgb16 = np.full((4, 4, 3), 65535, dtype=np.uint16)
    assert M.to_grey255(rgb16)[0, 0] == pytest.approx(255.0)
    grey16 = np.full((4, 4), 65535 // 5 * 1, dtype=np.uint16)  # 13107 = 65535 / 5
    assert M.to_grey255(grey16)[0, 0] == pytest.approx(51.0)


def test_to_grey255_rejects_float_on_0_255_scale() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        M.to_grey255(np.full((4, 4), 200.0))
    with pytest.raises(ValueError):
        M.to_grey255(np.zeros((4, 4), dtype=np.int32))
    with pytest.raises(ValueError):
        M.to_grey255(np.zeros((4, 4, 2)))


# ---- no-reference metrics -------------------------------------------------

def test_constant_image_has_zero_information() -> None:
    const = np.full((20, 24), 137.0)
    assert M.en(const) == 0.0
    assert M.sd(const) == 0.0
    assert M.sf(const) == 0.0
    assert M.ag(const) == 0.0


def test_entropy_hand_cases() -> None:
    two = np.zeros((8, 8))
    two[:, 4:] = 200.0
    assert M.en(two) == pytest.approx(1.0)
    four = np.repeat(np.array([[0.0, 60.0, 120.0, 250.0]]), 8, axis=0)
    assert M.en(four) == pytest.approx(2.0)
    # every one of 256 levels once: the maximum, 8 bits
    assert M.en(np.arange(256, dtype=np.float64).reshape(16, 16)) == pytest.approx(8.0)


def test_uint8_checkerboard_sd_sf_ag() -> None:
    board = checkerboard()
    for img in (M.to_grey255(board), board):  # uint8 straight in must not wrap either
        assert M.sd(img) == pytest.approx(127.5)
        assert M.sf(img) == pytest.approx(255.0 * math.sqrt(2.0))
        assert M.ag(img) == pytest.approx(255.0)
        assert M.en(img) == pytest.approx(1.0)


def test_vertical_stripes_sf_and_ag() -> None:
    stripes = vertical_stripes()
    # RF = 255 (every horizontal step is 255), CF = 0
    assert M.sf(stripes) == pytest.approx(255.0)
    assert M.sf(stripes.T) == pytest.approx(255.0)
    assert M.ag(stripes) == pytest.approx(255.0 / math.sqrt(2.0))
    # SF averages over the differences that exist, not over H*W
    ramp = np.tile(np.arange(5, dtype=np.float64) * 10.0, (3, 1))
    assert M.sf(ramp) == pytest.approx(10.0)


# ---- mutual information ---------------------------------------------------

def test_mi_of_image_with_itself_is_its_entropy(textured: np.ndarray) -> None:
    assert M.mi_pair(textured, textured) == pytest.approx(M.en(textured), abs=1e-9)
    const = np.full_like(textured, 90.0)
    assert M.mi_pair(textured, const) == pytest.approx(0.0, abs=1e-12)
    # fused == ir, vi carries nothing -> MI = EN(ir)
    assert M.mi(textured, textured, const) == pytest.approx(M.en(textured), abs=1e-9)


def test_mi_bits_versus_nats(textured: np.ndarray) -> None:
    other = np.roll(textured, 3, axis=1)
    bits = M.mi_pair(textured, other)
    nats = M.mi_pair(textured, other, base=math.e)
    assert bits > 0
    assert nats == pytest.approx(bits * math.log(2.0))


def test_mi_of_independent_halves_is_zero() -> None:
    # a varies along x, b along y: the joint histogram factorises exactly
    a = np.tile(np.array([0.0, 255.0] * 4), (8, 1))
    b = a.T.copy()
    assert M.mi_pair(a, b) == pytest.approx(0.0, abs=1e-12)
    assert M.mi_pair(a, a) == pytest.approx(1.0)


# ---- SSIM -----------------------------------------------------------------

def test_ssim_identity_and_sum(textured: np.ndarray) -> None:
    assert M.ssim_pair(textured, textured) == pytest.approx(1.0)
    vi = 255.0 - textured
    pair = M.ssim_pair(textured, vi)
    assert pair < 0.5
    assert M.ssim(textured, textured, vi) == pytest.approx(1.0 + pair)


def test_ssim_known_value_for_constant_images() -> None:
    # uniform images: SSIM = (2 m1 m2 + C1) / (m1^2 + m2^2 + C1)
    a = np.full((16, 16), 100.0)
    b = np.full((16, 16), 200.0)
    c1 = (0.01 * 255) ** 2
    expected = (2 * 100 * 200 + c1) / (100**2 + 200**2 + c1)
    assert M.ssim_pair(a, b) == pytest.approx(expected)


def test_ssim_needs_a_full_window() -> None:
    with pytest.raises(ValueError):
        M.ssim_pair(np.zeros((8, 8)), np.zeros((8, 8)))


# ---- VIF ------------------------------------------------------------------

def test_vif_of_image_with_itself_is_one(textured: np.ndarray) -> None:
    assert abs(M.vif_pair(textured, textured) - 1.0) < 1e-6
    big = np.random.default_rng(2).uniform(0, 255, (64, 80))
    assert abs(M.vif_pair(big, big) - 1.0) < 1e-6


def test_vif_drops_with_noise_and_blur(textured: np.ndarray) -> None:
    rng = np.random.default_rng(3)
    noisy = textured + rng.normal(0, 25, textured.shape)
    flat = np.full_like(textured, textured.mean())
    v_noisy = M.vif_pair(textured, noisy)
    assert 0.0 < v_noisy < 0.9
    assert M.vif_pair(textured, flat) == pytest.approx(0.0, abs=1e-12)
    assert M.vif(textured, textured, noisy) == pytest.approx(
        M.vif_pair(textured, textured) + M.vif_pair(noisy, textured))


def test_vif_uint8_input_equals_float_input(textured: np.ndarray) -> None:
    as8 = np.rint(textured).astype(np.uint8)
    assert M.vif_pair(as8, as8[::-1]) == pytest.approx(
        M.vif_pair(as8.astype(np.float64), as8[::-1].astype(np.float64)))


# ---- Qabf -----------------------------------------------------------------

QABF_MAX = (0.9994 / (1 + math.exp(-15 * (1 - 0.5)))) * (0.9879 / (1 + math.exp(-22 * (1 - 0.8))))


def test_qabf_perfect_transfer_reaches_its_maximum(textured: np.ndarray) -> None:
    assert M.qabf(textured, textured, textured) == pytest.approx(QABF_MAX, rel=1e-9)
    assert QABF_MAX == pytest.approx(0.9748, abs=1e-4)


def test_qabf_orders_fusions(textured: np.ndarray) -> None:
    ir = textured
    vi = vertical_stripes(48, 48).T  # horizontal edges only
    half = M.qabf(ir, ir, vi, pad="replicate")  # keeps ir's edges, loses vi's
    assert 0.05 < half < QABF_MAX
    flat = np.full_like(ir, 128.0)
    assert M.qabf(flat, ir, vi, pad="replicate") < 0.01
    assert M.qabf(ir, ir, np.full_like(ir, 7.0), pad="replicate") == pytest.approx(QABF_MAX)
    assert M.qabf(flat, flat, flat, pad="replicate") == 0.0


def test_qabf_zero_padding_rewards_the_image_frame(textured: np.ndarray) -> None:
    # with zero padding the frame is an edge in every image, so a flat fused
    # image still "transfers" edges; replicate padding does not
    vi = vertical_stripes(48, 48).T
    flat = np.full_like(textured, 128.0)
    assert M.qabf(flat, textured, vi) > 0.05
    assert M.qabf(flat, flat, flat) == pytest.approx(QABF_MAX)
    with pytest.raises(ValueError):
        M.qabf(flat, flat, flat, pad="mirror")


# ---- SCD ------------------------------------------------------------------

def orthogonal_sources(n: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Two zero-correlation sources: x-stripes and y-stripes of equal variance."""
    x = np.tile((np.arange(n) % 2) * 100.0 + 50.0, (n, 1))
    return x, x.T.copy()


def test_scd_known_values() -> None:
    ir, vi = orthogonal_sources()
    assert M.scd(ir + vi, ir, vi) == pytest.approx(2.0)
    # mean fusion of uncorrelated equal-variance sources: 2 * (1 / sqrt 2)
    assert M.scd((ir + vi) / 2, ir, vi) == pytest.approx(math.sqrt(2.0))
    # f = vi: f - vi = 0 (correlation 0), f - ir = vi - ir against vi
    assert M.scd(vi, ir, vi) == pytest.approx(1.0 / math.sqrt(2.0))


# ---- PSNR -----------------------------------------------------------------

def test_psnr_known_values() -> None:
    zeros = np.zeros((8, 8))
    assert M.psnr_ref(zeros, np.full((8, 8), 25.5)) == pytest.approx(20.0)
    assert M.psnr_ref(zeros, zeros) == math.inf
    f = np.full((8, 8), 100.0)
    ir = f + 10.0  # MSE 100
    vi = f - math.sqrt(300.0)  # MSE 300
    assert M.psnr(f, ir, vi) == pytest.approx(10 * math.log10(255.0**2 / 200.0))


# ---- compute_all ----------------------------------------------------------

def test_compute_all_keys_and_inputs(textured: np.ndarray) -> None:
    ir = np.rint(textured).astype(np.uint8)
    vi_rgb = np.stack([ir, ir[::-1], ir[:, ::-1]], axis=-1)
    fused = (M.to_grey255(vi_rgb) + ir) / 2 / 255.0
    out = M.compute_all(fused, ir, vi_rgb)
    assert tuple(out) == M.METRIC_NAMES
    assert all(math.isfinite(v) for v in out.values())
    assert out["EN"] == pytest.approx(M.en(fused * 255))
    with pytest.raises(ValueError):
        M.compute_all(fused[:-1], ir, vi_rgb)


def test_qabf_ignores_float_round_off_on_horizontal_edges() -> None:
    # horizontal stripes: sx == 0 exactly; the same image with float32-sized
    # noise must keep the orientation (+pi/2), not flip to -pi/2
    stripes = vertical_stripes(24, 24).T
    noisy = stripes + np.random.default_rng(5).uniform(-2e-5, 2e-5, stripes.shape)
    assert M.qabf(noisy, stripes, stripes) == pytest.approx(QABF_MAX, rel=1e-6)
