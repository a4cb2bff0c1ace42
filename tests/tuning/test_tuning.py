"""Fine-tuning tasks, composite and repeatability on tiny images (few iterations, fixed seeds)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from terf_studio.errors import CancelledError, TerfError
from terf_studio.fusion import build_network, load_fuser
from terf_studio.imaging.color import rgb_to_grey_np
from terf_studio.language.plan import Task
from terf_studio.tuning import (
    Box,
    CancelToken,
    TaskState,
    bounding_box,
    composite,
    continues,
    feather,
    run_task,
)
from terf_studio.tuning.blur import pixelate

H, W = 32, 40


def _scene(h: int = H, w: int = W):
    """Textured colour visible image, an infrared image with a warm blob, and a mask around it."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    vi = np.stack(
        [0.5 + 0.3 * np.sin(xx / 2.0), 0.45 + 0.3 * np.sin(yy / 3.0 + xx / 5.0), 0.4 + 0.2 * np.cos(yy / 2.5)], -1
    ).astype(np.float32)
    ir = (0.15 + 0.75 * np.exp(-((yy - h / 2) ** 2 + (xx - w / 2) ** 2) / 60.0)).astype(np.float32)
    mask = np.zeros((h, w), np.float32)
    mask[h // 5 : h - h // 5, w // 5 : w - w // 5] = 1.0
    return vi, ir, mask

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def fuser():
    return load_fuser("lite", device="cpu")


@pytest.fixture(scope="module")
def scene(fuser):
    vi, ir, mask = _scene()
    return vi, ir, fuser.fuse(vi, ir), mask


@pytest.fixture
def random_net():
    torch.manual_seed(0)
    return build_network("lite")


def _corr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    sel = mask > 0
    return float(np.corrcoef(a[sel], b[sel])[0, 1])


def _luma(img: np.ndarray, mask: np.ndarray) -> float:
    return float(rgb_to_grey_np(img)[mask > 0].mean())


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a.astype(np.float64) - b) ** 2)))


def _outside_unchanged(result: np.ndarray, base: np.ndarray, mask: np.ndarray) -> bool:
    return np.array_equal(result[mask == 0], base[mask == 0])


# --- masks, boxes, composite --------------------------------------------------------------


def test_bounding_box_margin_clip_and_even_sides():
    m = np.zeros((50, 60), np.float32)
    m[10:21, 30:41] = 0.3
    box = bounding_box(m, margin=4, min_size=1)
    assert box == Box(6, 26, 26, 46)  # 11 + 2 * 4 = 19 rows, widened to an even 20
    assert box.height % 2 == 0 and box.width % 2 == 0
    assert bounding_box(m, margin=100) == Box(0, 0, 50, 60)
    big = bounding_box(m, margin=0, min_size=32)
    assert big.height >= 32 and big.width >= 32 and big.contains(Box(10, 30, 21, 41))
    assert bounding_box(np.zeros((8, 8)), 4) is None


def test_feather_band_and_support():
    m = np.zeros((40, 40), np.float32)
    m[10:30, 10:30] = 1.0
    f = feather(m, 3.0)
    assert f.dtype == np.float32 and f.min() >= 0.0 and f.max() <= 1.0
    assert np.all(f[14:26, 14:26] == 1.0)  # deeper than the radius inside
    support = f > 0
    assert support[7:33, 7:33].sum() == support.sum()  # grows by at most the radius
    assert f[0:6].max() == 0.0 and f[:, 34:].max() == 0.0
    assert 0.0 < f[20, 9] < f[20, 10] < f[20, 11] < 1.0  # a smooth ramp across the boundary
    assert np.array_equal(feather(m, 0), m)


def test_composite_is_bit_identical_outside_and_seam_free_inside():
    rng = np.random.default_rng(1)
    base = rng.random((40, 40, 3), dtype=np.float32)
    edit = rng.random((40, 40, 3), dtype=np.float32)
    m = np.zeros((40, 40), np.float32)
    m[10:30, 10:30] = 1.0
    f = feather(m, 4.0)
    out = composite(base, [(edit, f)])
    assert _outside_unchanged(out, base, f)
    assert np.array_equal(out[f == 1.0], edit[f == 1.0])
    band = (f > 0) & (f < 1)
    lo, hi = np.minimum(base, edit), np.maximum(base, edit)
    assert np.all(out[band] >= lo[band] - 1e-6) and np.all(out[band] <= hi[band] + 1e-6)
    assert np.array_equal(base, composite(base, []))


def test_composite_applies_in_order_and_accepts_patches():
    base = np.zeros((20, 20, 3), np.float32)
    a, b = np.full_like(base, 0.25), np.full_like(base, 0.75)
    ma = np.zeros((20, 20), np.float32)
    ma[0:12] = 1.0
    mb = np.zeros((20, 20), np.float32)
    mb[8:20] = 1.0
    out = composite(base, [(a, ma), (b, mb)])
    assert np.all(out[0:8] == 0.25) and np.all(out[8:20] == 0.75)
    box = Box(8, 0, 20, 20)
    out2 = composite(base, [(a, ma), (b[box.slices], mb, box)])
    assert np.array_equal(out, out2)
    with pytest.raises(TerfError):
        composite(base, [(b[box.slices], ma, box)])  # mask reaches outside the patch


def test_pixelate_of_a_crop_matches_the_whole_image():
    rng = np.random.default_rng(2)
    img = rng.random((30, 37, 3), dtype=np.float32)
    whole = pixelate(img, 5)
    box = Box(5, 10, 25, 30)  # cell-aligned interior
    assert np.allclose(pixelate(box.crop(img), 5, origin=(box.top, box.left)), whole[box.slices], atol=1e-6)


# --- the tasks ----------------------------------------------------------------------------


@pytest.mark.parametrize("task", ["brighten", "darken"])
def test_illumination_moves_luminance_and_repeats_further(scene, task):
    vi, ir, fused, mask = scene
    r1 = run_task(task, vi=vi, ir=ir, fused=fused, mask=mask, iterations=5)
    r2 = run_task(task, vi=vi, ir=ir, fused=r1.image, mask=mask, state=r1.state)
    l0, l1, l2 = _luma(fused, mask), _luma(r1.image, mask), _luma(r2.image, mask)
    if task == "brighten":
        assert l2 > l1 > l0 + 0.01
    else:
        assert l2 < l1 < l0 - 0.01
    assert r2.continued and r2.iterations == 0 and r2.state.steps == 2
    assert r2.params["gamma"] == pytest.approx(r1.params["gamma"] ** 2)
    for r in (r1, r2):
        assert _outside_unchanged(r.image, fused, mask)


@pytest.mark.parametrize("task", ["infrared", "visible"])
def test_inclination_moves_correlation_with_infrared(scene, fuser, task):
    vi, ir, fused, mask = scene
    r1 = run_task(task, vi=vi, ir=ir, fused=fused, mask=mask, fusion_net=fuser, iterations=5)
    r2 = run_task(task, vi=vi, ir=ir, fused=r1.image, mask=mask, fusion_net=fuser, iterations=5, state=r1.state)
    c0, c1, c2 = (_corr(rgb_to_grey_np(x), ir, mask) for x in (fused, r1.image, r2.image))
    if task == "infrared":
        assert c2 > c1 > c0
    else:
        assert c2 < c1 < c0
    assert r2.continued and r2.state.iterations == 10
    assert _outside_unchanged(r1.image, fused, mask) and _outside_unchanged(r2.image, fused, mask)


def test_inclination_leaves_the_given_network_untouched(scene, random_net):
    vi, ir, fused, mask = scene
    before = {k: v.clone() for k, v in random_net.state_dict().items()}
    run_task("infrared", vi=vi, ir=ir, fused=fused, mask=mask, fusion_net=random_net, iterations=2)
    assert all(torch.equal(before[k], v) for k, v in random_net.state_dict().items())


def test_denoise_raises_psnr_and_repeats_further():
    h, w = 48, 64
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    clean = np.stack(
        [0.5 + 0.25 * np.sin(xx / 6.0), 0.5 + 0.25 * np.cos(yy / 7.0), 0.5 + 0.2 * np.sin((xx + yy) / 9.0)], -1
    ).astype(np.float32)
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, 25 / 255, clean.shape), 0, 1).astype(np.float32)
    ir = clean.mean(-1)
    r1 = run_task("denoise", mode="fused", vi=clean, ir=ir, fused=noisy, mask=None, iterations=20)
    r2 = run_task("denoise", mode="fused", vi=clean, ir=ir, fused=r1.image, mask=None, iterations=20, state=r1.state)
    p0, p1, p2 = _psnr(noisy, clean), _psnr(r1.image, clean), _psnr(r2.image, clean)
    assert p2 > p1 > p0
    assert r2.continued


def test_denoise_visible_mode_fuses_the_denoised_visible_image(scene, random_net):
    vi, ir, fused, mask = scene
    r = run_task("denoise", vi=vi, ir=ir, fused=fused, mask=mask, fusion_net=random_net, iterations=2)
    assert r.mode == "visible" and r.raw.shape == (r.box.height, r.box.width, 3)
    assert r.params["denoised"].shape == r.raw.shape
    assert _outside_unchanged(r.image, fused, mask)


@pytest.mark.parametrize("mode", ["gaussian", "pixelate"])
def test_blur_smooths_inside_only_and_repeats_further(scene, mode):
    vi, ir, fused, mask = scene
    r1 = run_task("blur", mode=mode, vi=vi, ir=ir, fused=fused, mask=mask, strength=0.5)
    r2 = run_task("blur", mode=mode, vi=vi, ir=ir, fused=r1.image, mask=mask, strength=0.5, state=r1.state)

    def roughness(img):
        y = rgb_to_grey_np(img)[mask > 0].reshape(-1)
        return float(np.abs(np.diff(y)).mean())

    assert roughness(r2.image) < roughness(r1.image) < roughness(fused)
    assert r1.iterations == 0 and r2.continued
    assert _outside_unchanged(r1.image, fused, mask) and _outside_unchanged(r2.image, fused, mask)


def test_soft_mask_result_lies_between_base_and_edit(scene):
    vi, ir, fused, mask = scene
    soft = feather(mask, 3.0)
    r = run_task("brighten", vi=vi, ir=ir, fused=fused, mask=soft, iterations=3)
    assert _outside_unchanged(r.image, fused, soft)
    band = (soft > 0) & (soft < 1)
    full = np.zeros_like(fused)
    full[r.box.slices] = r.raw
    lo, hi = np.minimum(fused, full), np.maximum(fused, full)
    assert np.all(r.image[band] >= lo[band] - 1e-6) and np.all(r.image[band] <= hi[band] + 1e-6)


def test_progress_is_called_every_iteration(scene):
    vi, ir, fused, mask = scene
    calls = []
    run_task("darken", vi=vi, ir=ir, fused=fused, mask=mask, iterations=4, progress=lambda *a: calls.append(a))
    assert [c[:2] for c in calls] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert all(isinstance(c[2], float) and np.isfinite(c[2]) for c in calls)


@pytest.mark.parametrize("task", ["infrared", "denoise", "brighten"])
def test_cancel_mid_way_raises_and_keeps_the_state(scene, random_net, task):
    vi, ir, fused, mask = scene
    first = run_task(task, vi=vi, ir=ir, fused=fused, mask=mask, fusion_net=random_net, iterations=2)
    weights = first.state.payload.get("weights", {})
    snapshot = {k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in weights.items()}
    token = CancelToken()
    seen = []

    def progress(i, n, loss):
        seen.append(i)
        if i == 2:
            token.cancel()

    # brighten continues without optimising, so cancel a fresh run there
    state = None if task == "brighten" else first.state
    with pytest.raises(CancelledError):
        run_task(task, vi=vi, ir=ir, fused=first.image, mask=mask, fusion_net=random_net, iterations=50,
                 state=state, progress=progress, cancel=token)
    assert seen == [1, 2]  # stopped within one iteration
    assert first.state.steps == 1 and first.state.iterations == 2
    for k, v in snapshot.items():
        assert torch.equal(first.state.payload["weights"][k], v)


def test_cancel_before_start():
    vi, ir, mask = _scene()
    token = CancelToken()
    token.cancel()
    with pytest.raises(CancelledError):
        run_task("blur", vi=vi, ir=ir, fused=vi, mask=mask, cancel=token)


def test_continuation_rules(scene):
    vi, ir, fused, mask = scene
    r = run_task(Task.BRIGHTEN, vi=vi, ir=ir, fused=fused, mask=mask, iterations=2)
    assert r.task == "brighten"
    assert continues(r.state, "brighten", mask) and continues(r.state, Task.BRIGHTEN, mask, vi=vi, ir=ir)
    assert not continues(r.state, "darken", mask)
    assert not continues(None, "brighten", mask)
    other = np.zeros_like(mask)
    other[0:6, 0:6] = 1.0
    assert not continues(r.state, "brighten", other)
    assert not continues(r.state, "brighten", mask, vi=vi[::-1].copy(), ir=ir)
    fresh = run_task("darken", vi=vi, ir=ir, fused=r.image, mask=mask, iterations=2, state=r.state)
    assert not fresh.continued and fresh.state.steps == 1


def test_crop_reports_pixels_and_full_image_option():
    vi, ir, _ = _scene(64, 80)
    fused = vi.copy()
    mask = np.zeros((64, 80), np.float32)
    mask[20:30, 30:40] = 1.0
    r = run_task("brighten", vi=vi, ir=ir, fused=fused, mask=mask, iterations=1, margin=4)
    assert r.total_pixels == 64 * 80 and r.optimised_pixels == r.box.area < r.total_pixels
    assert r.raw.shape == (r.box.height, r.box.width, 3)
    full = run_task("brighten", vi=vi, ir=ir, fused=fused, mask=mask, iterations=1, crop=False)
    assert full.optimised_pixels == full.total_pixels and full.raw.shape == fused.shape


def test_empty_mask_is_a_no_op_and_bad_input_is_refused(scene):
    vi, ir, fused, mask = scene
    r = run_task("darken", vi=vi, ir=ir, fused=fused, mask=np.zeros_like(mask))
    assert np.array_equal(r.image, fused) and r.state is None and r.optimised_pixels == 0
    with pytest.raises(TerfError):
        run_task("sharpen", vi=vi, ir=ir, fused=fused, mask=mask)
    with pytest.raises(TerfError):
        run_task("brighten", vi=vi, ir=ir, fused=fused, mask=mask[:-1])
    with pytest.raises(TerfError):
        run_task("blur", vi=vi, ir=ir, fused=fused, mask=mask, mode="swirl")
    with pytest.raises(TerfError):
        run_task("brighten", vi=vi, ir=ir, fused=fused, mask=mask, strength=-0.5)
    with pytest.raises(TerfError):
        run_task("brighten", vi=vi, ir=ir, fused=fused, mask=mask, engine="slow")
    # Strength 0 (a slider at its left end) is allowed and changes nothing.
    zero = run_task("brighten", vi=vi, ir=ir, fused=fused, mask=mask, strength=0)
    assert np.array_equal(zero.image, fused) and zero.iterations == 0


def test_same_inputs_give_the_same_pixels(scene):
    vi, ir, fused, mask = scene
    a = run_task("brighten", vi=vi, ir=ir, fused=fused, mask=mask, iterations=3)
    b = run_task("brighten", vi=vi, ir=ir, fused=fused, mask=mask, iterations=3)
    assert np.array_equal(a.image, b.image)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_tasks_run_on_cuda(scene, fuser):
    vi, ir, fused, mask = scene
    for task in ("infrared", "brighten", "denoise"):
        r = run_task(task, vi=vi, ir=ir, fused=fused, mask=mask, fusion_net=fuser, iterations=2, device="cuda")
        assert _outside_unchanged(r.image, fused, mask)


def test_state_round_trips_through_torch_save(tmp_path, scene, random_net):
    vi, ir, fused, mask = scene
    for task, kwargs in (("brighten", {}), ("infrared", {"fusion_net": random_net}), ("blur", {})):
        r1 = run_task(task, vi=vi, ir=ir, fused=fused, mask=mask, iterations=2, **kwargs)
        path = tmp_path / f"{task}.pt"
        torch.save(r1.state.to_dict(), path)
        restored = TaskState.from_dict(torch.load(path, weights_only=True))
        assert restored.key == r1.state.key and continues(restored, task, mask, vi=vi, ir=ir)
        a = run_task(task, vi=vi, ir=ir, fused=r1.image, mask=mask, iterations=2, state=r1.state, **kwargs)
        b = run_task(task, vi=vi, ir=ir, fused=r1.image, mask=mask, iterations=2, state=restored, **kwargs)
        assert a.continued and b.continued and np.array_equal(a.image, b.image)
    with pytest.raises(TerfError):
        TaskState.from_dict({"format": "something else"})
