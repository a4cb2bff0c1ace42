"""The fast engines: conditioned inclination, amortised Retinex, noise-conditioned denoiser,
their files, their use through run_task and the session, and their training loops."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from terf_studio.document.session import EditSession
from terf_studio.errors import ModelError
from terf_studio.fusion import build_network, load_fuser
from terf_studio.imaging.color import rgb_to_grey_np
from terf_studio.language import Edit, Task
from terf_studio.regions import Mask
from terf_studio.tuning import run_task
from terf_studio.tuning.engines import loader
from terf_studio.tuning.engines.conditioned import (
    ConditionedFusion,
    incline_fast,
    load_conditioned,
    save_conditioned,
)
from terf_studio.tuning.engines.denoiser import (
    NoiseConditionedDenoiser,
    denoise_fast,
    estimate_sigma,
    load_denoiser,
    save_denoiser,
)
from terf_studio.tuning.engines.retinex import DecompositionCache, decompose_fast, load_units, prepare, save_units
from terf_studio.tuning.illumination import RetinexUnits
from terf_studio.tuning.specs import TASK_SPECS

H, W = 48, 64

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _scene(h: int = H, w: int = W):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    vi = np.stack([0.45 + 0.25 * np.sin(xx / 3.0), 0.4 + 0.25 * np.sin(yy / 4.0 + xx / 6.0),
                   0.35 + 0.2 * np.cos(yy / 3.5)], -1).astype(np.float32)
    ir = (0.1 + 0.8 * np.exp(-((yy - h / 2) ** 2 + (xx - w / 3) ** 2) / 80.0)).astype(np.float32)
    return vi, ir


@pytest.fixture(scope="module")
def fuser():
    return load_fuser("lite", device="cpu")


@pytest.fixture(scope="module")
def real_scene(fuser):
    """A RoadScene test pair reduced to 160x120 (the inclination engine is judged on real images:
    on the synthetic sinusoids a visible-leaning fusion need not be closer in luma)."""
    import cv2

    from terf_studio.imaging import read_pair
    from terf_studio.paths import SHARED_DATA

    folder = SHARED_DATA / "roadscene"
    if not folder.is_dir():
        pytest.skip("needs ../shared/data/roadscene")
    vi, ir = read_pair(folder / "vi" / "FLIR_00211.jpg", folder / "ir" / "FLIR_00211.jpg")
    vi = cv2.resize(vi, (W, H), interpolation=cv2.INTER_AREA)
    ir = cv2.resize(ir, (W, H), interpolation=cv2.INTER_AREA)
    mask = np.zeros((H, W), np.float32)
    mask[8:40, 10:50] = 1.0
    return vi, ir, fuser.fuse(vi, ir), mask


@pytest.fixture(scope="module")
def scene(fuser):
    vi, ir = _scene()
    mask = np.zeros((H, W), np.float32)
    mask[8:40, 10:50] = 1.0
    return vi, ir, fuser.fuse(vi, ir), mask


def _y(image):
    return rgb_to_grey_np(image)


# --- inclination ---------------------------------------------------------------------------------


def test_lambda_zero_is_the_plain_fusion_bit_for_bit():
    torch.manual_seed(0)
    base = build_network("lite").eval()
    net = ConditionedFusion(base).eval()
    with torch.no_grad():
        assert net.correction is not None
        for film in (net.film_extract, net.film_refine, net.film_integrate, net.film_head, net.correction):
            for p in film.parameters():
                p.normal_(0, 0.5)  # non-trivial FiLM layers: lambda = 0 must still be the identity
        ir, vi = torch.rand(2, 1, 32, 40), torch.rand(2, 3, 32, 40)
        assert torch.equal(net(ir, vi, torch.zeros(2, 1, 32, 40)), base(ir, vi))
        assert not torch.equal(net(ir, vi, torch.full((2, 1, 32, 40), 0.7)), base(ir, vi))


def test_shipped_inclination_leans_each_way_and_composes_regions_in_one_pass(real_scene, fuser):
    vi, ir, fused, _ = real_scene
    net = loader.fast_engine("fast-inclination-lite", torch.device("cpu"), base=fuser.net)
    lam = np.zeros((H, W), np.float32)
    lam[:, : W // 2] = 0.8  # left towards infrared
    lam[:, W // 2 :] = -0.8  # right towards visible
    out = incline_fast(net, vi, ir, lam)
    left, right = np.s_[:, 4 : W // 2 - 4], np.s_[:, W // 2 + 4 : -4]
    d_ir = lambda img, s: float(np.abs(_y(img)[s] - ir[s]).mean())  # noqa: E731
    d_vi = lambda img, s: float(np.abs(_y(img)[s] - _y(vi)[s]).mean())  # noqa: E731
    assert d_ir(out, left) < d_ir(fused, left)
    assert d_vi(out, right) < d_vi(fused, right)
    plain = incline_fast(net, vi, ir, np.zeros((H, W), np.float32))
    assert np.abs(plain - fused).max() < 1e-4  # lambda 0: the plain fusion (up to memory layout rounding)


def test_conditioned_file_round_trip_and_refusals(tmp_path):
    torch.manual_seed(1)
    base = build_network("lite").eval()
    net = ConditionedFusion(base)
    with torch.no_grad():
        net.film_head.net[-1].weight.normal_(0, 0.3)
    path = tmp_path / "fast-inclination-lite.pt"
    save_conditioned(path, net, {"steps": 1})
    again = load_conditioned(path, base)
    ir, vi, lam = torch.rand(1, 1, 16, 16), torch.rand(1, 3, 16, 16), torch.rand(1, 1, 16, 16)
    with torch.no_grad():
        assert torch.equal(again(ir, vi, lam), net(ir, vi, lam))
    other = build_network("lite")  # same shape, other weights: the FiLM layers do not fit it
    with pytest.raises(ModelError, match="other 'lite' fusion weights"):
        load_conditioned(path, other)
    with pytest.raises(ModelError, match="half-resolution"):
        ConditionedFusion(build_network("full"))
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ModelError, match="cannot load engine weights"):
        load_conditioned(damaged, base)
    with pytest.raises(ModelError, match="holds the 'inclination' engine, not 'denoise'"):
        load_denoiser(path)


def test_the_correction_shifts_luminance_by_lambda_and_files_without_it_still_load(tmp_path):
    """The full-resolution correction adds ``lambda * g`` to R, G and B alike: luminance moves by
    exactly that, chroma stays. It is stored in the file; a file saved before it existed (FiLM
    only) loads as FiLM only."""
    from terf_studio.imaging.color import rgb_to_ycrcb

    torch.manual_seed(2)
    base = build_network("lite").eval()
    net = ConditionedFusion(base).eval()
    assert net.correction is not None and net.correction.net[0].in_channels == 4  # Y_out, Y_ir, Y_vi, lambda
    ir, vi = torch.rand(1, 1, 16, 16), torch.rand(1, 3, 16, 16)
    lam = torch.full((1, 1, 16, 16), 0.5)
    with torch.no_grad():
        plain = net(ir, vi, lam)  # the correction starts at zero
        net.correction.net[-1].bias.fill_(0.3)  # g = 0.3 everywhere
        leaned = net(ir, vi, lam)
    y, chroma = (lambda t: rgb_to_ycrcb(t)[:, :1]), (lambda t: rgb_to_ycrcb(t)[:, 1:])  # noqa: E731
    assert torch.allclose(y(leaned) - y(plain), torch.full_like(lam, 0.15), atol=1e-5)
    assert torch.allclose(chroma(leaned), chroma(plain), atol=1e-5)
    path = tmp_path / "fast-inclination-lite.pt"
    save_conditioned(path, net)
    again = load_conditioned(path, base)
    with torch.no_grad():
        assert torch.equal(again(ir, vi, lam), leaned)
    film_only = ConditionedFusion(base, correction=0)
    save_conditioned(tmp_path / "film-only.pt", film_only)
    assert load_conditioned(tmp_path / "film-only.pt", base).correction is None


def test_inclination_runs_on_the_student_network_with_its_deeper_head():
    torch.manual_seed(3)
    base = build_network("student").eval()
    net = ConditionedFusion(base).eval()
    ir, vi = torch.rand(1, 1, 24, 32), torch.rand(1, 3, 24, 32)
    with torch.no_grad():
        for p in net.film_head.parameters():
            p.normal_(0, 0.5)
        assert torch.equal(net(ir, vi, torch.zeros(1, 1, 24, 32)), base(ir, vi))
        assert not torch.equal(net(ir, vi, torch.ones(1, 1, 24, 32)), base(ir, vi))


# --- illumination --------------------------------------------------------------------------------


def test_units_round_trip_and_cache(tmp_path, scene):
    _, _, fused, _ = scene
    torch.manual_seed(2)
    units = RetinexUnits()
    path = tmp_path / "u.pt"
    save_units(path, units)
    again = load_units(path)
    a, b = decompose_fast(units, fused), decompose_fast(again, fused)
    assert np.array_equal(a.illumination, b.illumination)
    assert a.illumination.shape == (H, W) and a.noise.shape == (H, W, 3)
    cache = DecompositionCache(size=2)
    prepare(units, fused, cache=cache)
    assert cache.get(fused) is not None and cache.get(fused + 0.01) is None
    prepare(units, fused * 0.5, cache=cache)
    prepare(units, fused * 0.25, cache=cache)
    assert len(cache) == 2 and cache.get(fused) is None  # the oldest was dropped


def test_prior_units_start_at_the_max_rgb_and_keep_their_kind_in_the_file(tmp_path, scene):
    _, _, fused, _ = scene
    units = RetinexUnits(prior=True)
    units.zero_illumination_head()
    s0 = np.clip(fused.max(-1), 0.02, 0.98)
    np.testing.assert_allclose(decompose_fast(units, fused).illumination, s0, atol=1e-5)
    save_units(tmp_path / "p.pt", units)
    again = load_units(tmp_path / "p.pt")
    assert again.prior is True and load_units_kind(tmp_path / "p.pt") == "prior"
    save_units(tmp_path / "plain.pt", RetinexUnits())
    assert load_units(tmp_path / "plain.pt").prior is False


def load_units_kind(path) -> str:
    return torch.load(path, weights_only=True)["config"]["units"]


@pytest.mark.parametrize("task", ["brighten", "darken"])
def test_fast_illumination_from_the_cache_equals_the_crop_path(scene, fuser, task):
    vi, ir, fused, mask = scene
    from terf_studio.tuning.engines.retinex import CACHE

    CACHE.clear()
    crop = run_task(task, vi=vi, ir=ir, fused=fused, mask=mask, fusion_net=fuser, engine="fast")
    assert crop.params["cached"] is False and crop.params["engine"] == "fast"
    prepare(loader.fast_engine("fast-illumination", torch.device("cpu")), fused)
    cached = run_task(task, vi=vi, ir=ir, fused=fused, mask=mask, fusion_net=fuser, engine="fast")
    assert cached.params["cached"] is True
    inside = mask > 0
    # The crop has a 16-pixel margin and the units see 11x11: inside the mask both agree.
    assert np.abs(cached.image[inside] - crop.image[inside]).max() < 1e-4
    CACHE.clear()


# --- denoise --------------------------------------------------------------------------------------


def test_noise_estimate_reads_the_level_of_gaussian_noise():
    yy, xx = np.mgrid[0:96, 0:128].astype(np.float32)
    clean = np.stack([0.5 + 0.2 * np.sin(xx / 9.0), 0.5 + 0.2 * np.cos(yy / 11.0), 0.45 + 0.1 * np.sin((xx + yy) / 13)],
                     -1).astype(np.float32)
    assert estimate_sigma(clean) < 2 / 255
    for sigma in (10 / 255, 25 / 255, 40 / 255):
        noisy = clean + np.random.default_rng(0).normal(0, sigma, clean.shape).astype(np.float32)
        assert estimate_sigma(noisy) == pytest.approx(sigma, rel=0.12)
    assert estimate_sigma(np.zeros((1, 1), np.float32)) == 0.0


def test_denoiser_round_trip_odd_sizes_and_grey(tmp_path):
    torch.manual_seed(3)
    net = NoiseConditionedDenoiser(width=8, depth=3)
    path = tmp_path / "d.pt"
    save_denoiser(path, net)
    again = load_denoiser(path)
    image = np.random.default_rng(1).random((15, 21, 3)).astype(np.float32)
    assert np.array_equal(denoise_fast(net, image, 0.1), denoise_fast(again, image, 0.1))
    assert denoise_fast(again, image, 0.1).shape == (15, 21, 3)
    assert denoise_fast(again, image[..., 0], 0.1).shape == (15, 21)


def test_shipped_denoiser_raises_psnr_at_the_estimated_level():
    yy, xx = np.mgrid[0:64, 0:96].astype(np.float32)
    clean = np.stack([0.5 + 0.25 * np.sin(xx / 7.0), 0.5 + 0.2 * np.cos(yy / 8.0), 0.4 + 0.2 * np.sin((xx + yy) / 10)],
                     -1).astype(np.float32)
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, 25 / 255, clean.shape), 0, 1).astype(np.float32)
    net = loader.fast_engine("fast-denoise", torch.device("cpu"))
    out = denoise_fast(net, noisy, estimate_sigma(noisy))
    psnr = lambda a: 10 * np.log10(1 / np.mean((a - clean) ** 2))  # noqa: E731
    assert psnr(out) > psnr(noisy) + 5


# --- through run_task ----------------------------------------------------------------------------


MEASURES = {
    "infrared": (lambda img, vi, ir, m: -np.abs(_y(img) - ir)[m].mean()),
    "visible": (lambda img, vi, ir, m: -np.abs(_y(img) - _y(vi))[m].mean()),
    "brighten": (lambda img, vi, ir, m: _y(img)[m].mean()),
    "darken": (lambda img, vi, ir, m: -_y(img)[m].mean()),
}


@pytest.mark.parametrize("task", sorted(MEASURES))
def test_fast_tasks_move_as_named_repeat_further_and_keep_the_outside(scene, real_scene, fuser, task):
    # Inclination: half strength twice (lambda 0.5 then 1.0; lambda stops at 1, its trained range).
    vi, ir, fused, mask = real_scene if task in ("infrared", "visible") else scene
    strength = 0.5 if task in ("infrared", "visible") else 1.0
    inside, outside = mask > 0.5, mask == 0
    r1 = run_task(task, vi=vi, ir=ir, fused=fused, mask=mask, fusion_net=fuser, engine="fast", strength=strength)
    r2 = run_task(task, vi=vi, ir=ir, fused=r1.image, mask=mask, fusion_net=fuser, engine="fast", state=r1.state,
                  strength=strength)
    m = MEASURES[task]
    assert m(r2.image, vi, ir, inside) > m(r1.image, vi, ir, inside) > m(fused, vi, ir, inside)
    assert r1.iterations == 0 and r2.continued and r2.state.engine == "fast"
    assert np.array_equal(r1.image[outside], fused[outside]) and np.array_equal(r2.image[outside], fused[outside])


def test_fast_denoise_through_run_task_and_its_repeat(fuser):
    vi, ir = _scene(64, 96)
    noisy_vi = np.clip(vi + np.random.default_rng(0).normal(0, 25 / 255, vi.shape), 0, 1).astype(np.float32)
    clean, noisy = fuser.fuse(vi, ir), fuser.fuse(noisy_vi, ir)
    r1 = run_task("denoise", vi=noisy_vi, ir=ir, fused=noisy, mask=None, fusion_net=fuser, engine="fast")
    r2 = run_task("denoise", vi=noisy_vi, ir=ir, fused=r1.image, mask=None, fusion_net=fuser, engine="fast",
                  state=r1.state)
    err = lambda a: float(np.mean((a - clean) ** 2))  # noqa: E731
    assert err(r1.image) < err(noisy)
    assert r1.params["sigma"] == pytest.approx(25, rel=0.2)  # grey levels, estimated from the image
    assert r2.continued and r2.params["strength_total"] == pytest.approx(2.0)
    # A repeat runs the network again on its own output: smoother than one pass.
    lap = lambda a: float(np.var(np.diff(a.mean(-1), 2, axis=1)))  # noqa: E731
    assert lap(r2.image) < lap(r1.image)


def test_fast_denoise_strength_blends_and_repeats(scene):
    """Below 1 the strength blends the image with one pass; above 1 it runs further passes."""
    from terf_studio.tuning.engines.denoiser import MAX_PASSES, denoise_with_strength

    _, _, fused, _ = scene
    noisy = np.clip(fused + np.random.default_rng(1).normal(0, 20 / 255, fused.shape), 0, 1).astype(np.float32)
    net = loader.fast_engine("fast-denoise", torch.device("cpu"))
    one = denoise_with_strength(net, noisy, 0.08, 1.0)
    np.testing.assert_allclose(denoise_with_strength(net, noisy, 0.08, 0.5), (noisy + one) / 2, atol=1e-6)
    np.testing.assert_allclose(denoise_with_strength(net, noisy, 0.08, 0.0), noisy, atol=0)
    two = denoise_with_strength(net, noisy, 0.08, 2.0)
    np.testing.assert_allclose(two, denoise_fast(net, one, 0.08), atol=1e-6)
    assert np.array_equal(denoise_with_strength(net, noisy, 0.08, 100.0),
                          denoise_with_strength(net, noisy, 0.08, float(MAX_PASSES)))


@pytest.mark.parametrize("where", ["one pixel", "whole image", "border"])
def test_fast_engine_handles_tiny_whole_and_border_regions(scene, fuser, where):
    vi, ir, fused, _ = scene
    mask = np.zeros((H, W), np.float32)
    if where == "one pixel":
        mask[20, 30] = 1.0
    elif where == "whole image":
        mask[:] = 1.0
    else:
        mask[:12, -15:] = 1.0
    for task in TASK_SPECS:
        r = run_task(task, vi=vi, ir=ir, fused=fused, mask=mask, fusion_net=fuser, engine="fast")
        assert r.image.shape == fused.shape and np.isfinite(r.image).all()
        assert np.array_equal(r.image[mask == 0], fused[mask == 0])


def test_strength_zero_leaves_the_image_bit_identical(scene, fuser):
    vi, ir, fused, mask = scene
    for engine in ("fast", "quick"):
        r = run_task("infrared", vi=vi, ir=ir, fused=fused, mask=mask, fusion_net=fuser, engine=engine, strength=0)
        assert np.array_equal(r.image, fused) and r.iterations == 0


def test_missing_fast_weights_fall_back_to_fine_tuning_with_a_notice(scene, fuser, monkeypatch):
    vi, ir, fused, mask = scene
    monkeypatch.setattr(loader, "find_model", lambda name: None)
    loader.clear_cache()
    r = run_task("brighten", vi=vi, ir=ir, fused=fused, mask=mask, fusion_net=fuser, engine="fast", iterations=2)
    assert r.params["engine"] == "quick" and r.iterations == 2
    assert "fast-illumination.pt" in r.params["notice"] and "fine-tuning" in r.params["notice"]
    monkeypatch.undo()
    loader.clear_cache()


def test_auto_engine_is_fast_on_the_cpu(scene, fuser):
    vi, ir, fused, mask = scene
    r = run_task("visible", vi=vi, ir=ir, fused=fused, mask=mask, fusion_net=fuser, engine="auto", device="cpu")
    assert r.params["engine"] == "fast"


def test_other_lite_weights_fall_back_for_inclination(scene):
    vi, ir, fused, mask = scene
    torch.manual_seed(5)
    other = build_network("lite").eval()
    r = run_task("infrared", vi=vi, ir=ir, fused=fused, mask=mask, fusion_net=other, engine="fast", iterations=1)
    assert r.params["engine"] == "quick" and "other 'lite' fusion weights" in r.params["notice"]


def test_inclination_uses_the_layers_made_for_the_network_in_use(scene, monkeypatch):
    """The student has its own inclination file; where it is missing the fine-tuning runs and the
    notice names that file (not the lite network's, which would not fit)."""
    vi, ir, fused, mask = scene
    student = load_fuser("student", device="cpu")
    r = run_task("infrared", vi=vi, ir=ir, fused=fused, mask=mask, fusion_net=student, engine="fast")
    assert r.params["engine"] == "fast"
    real_find_model = loader.find_model
    monkeypatch.setattr(loader, "find_model", lambda name: None if name == "fast-inclination-student" else
                        real_find_model(name))
    loader.clear_cache()
    r = run_task("infrared", vi=vi, ir=ir, fused=fused, mask=mask, fusion_net=student, engine="fast", iterations=1)
    assert r.params["engine"] == "quick" and "fast-inclination-student.pt" in r.params["notice"]


# --- through the session -------------------------------------------------------------------------


def _session(fuser):
    vi, ir = _scene()
    return EditSession(vi, ir, fuser)


def _mask():
    data = np.zeros((H, W), np.float32)
    data[8:40, 10:50] = 1.0
    return Mask(data, label="box")


def test_session_records_the_engine_and_changes_the_latest_strength(fuser, tmp_path):
    from terf_studio.document.project import load_project, save_project

    session = _session(fuser)
    step = session.apply([Edit(None, Task.BRIGHTEN, strength=1.0)], [_mask()], engine="fast")
    assert step.edits[0].info["engine"] == "fast" and session.strength_adjustable()
    after_one = session.current16.copy()
    preview = session.preview_strength(2.0)
    assert np.array_equal(session.current16, after_one) and len(session.steps) == 1  # a preview changes nothing
    assert _y(preview)[8:40, 10:50].mean() > _y(session.current())[8:40, 10:50].mean()
    assert np.array_equal(session.preview_strength(0.0), session.fused)  # 0: the image before the step
    session.set_strength(2.0)
    assert len(session.steps) == 2 and session.steps[-1].edits[0].edit.strength == 2.0
    assert np.allclose(session.current(), preview, atol=1 / 65535)
    session.undo()
    assert np.array_equal(session.current16, after_one)
    session.redo()
    path = save_project(session, tmp_path / "p.terf")
    reopened = load_project(path, device="cpu")
    assert [s.edits[0].info["engine"] for s in reopened.steps] == ["fast", "fast"]
    # A second change of strength replaces the first one too: it is not applied on top of it.
    half = session.preview_strength(0.5)
    session.set_strength(0.5)
    once = EditSession(*_scene(), fuser)
    once.apply([Edit(None, Task.BRIGHTEN, strength=0.5)], [_mask()], engine="fast")
    assert np.allclose(half, once.current(), atol=2 / 65535) and np.allclose(session.current(), half, atol=1 / 65535)


def test_fine_tuned_steps_keep_their_strength_and_old_projects_say_so(fuser, tmp_path):
    import zipfile

    from terf_studio.document.project import load_project, save_project
    from terf_studio.errors import TerfError

    session = _session(fuser)
    session.apply([Edit(None, Task.BRIGHTEN)], [_mask()], engine="quick", iterations=2)
    assert not session.strength_adjustable()
    with pytest.raises(TerfError, match="fast engine"):
        session.preview_strength(2.0)
    path = save_project(session, tmp_path / "old.terf")
    # A project written before engines were recorded: no "engine" in the step's info.
    with zipfile.ZipFile(path) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    meta = json.loads(entries["project.json"])
    for step in meta["steps"]:
        for e in step["edits"]:
            e["info"].pop("engine", None)
    entries["project.json"] = json.dumps(meta).encode()
    with zipfile.ZipFile(path, "w") as z:
        for n, data in entries.items():
            z.writestr(n, data)
    reopened = load_project(path, device="cpu")
    assert reopened.steps[0].edits[0].info["engine"] == "fine-tune" and not reopened.strength_adjustable()


def test_warm_up_fills_the_illumination_cache(fuser):
    from terf_studio.tuning.engines.retinex import CACHE

    CACHE.clear()
    session = _session(fuser)
    assert session.warm_up_fast_engines()
    assert CACHE.get(session.current()) is not None
    step = session.apply([Edit(None, Task.DARKEN)], [_mask()], engine="fast")
    assert step.edits[0].info["cached"] is True
    CACHE.clear()


# --- training -------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["inclination", "illumination", "denoise"])
def test_each_engine_trains_a_few_steps_and_writes_a_loadable_file(pair_dir, tmp_path, engine):
    import shutil

    from terf_studio.tuning.engines.training import EngineTrainOptions, train_engine

    data = tmp_path / "data"
    shutil.copytree(pair_dir, data / "roadscene")
    out = tmp_path / "out" / f"fast-{engine}.pt"
    meta = train_engine(EngineTrainOptions(engine=engine, data=data, out=out, minutes=5, steps=2, batch_size=2,
                                           crop=32, save_every=1))
    assert meta["steps"] == 2 and np.isfinite(meta["final_loss"])
    assert out.is_file() and (out.parent / f"fast-{engine}-train-log.csv").is_file()
    if engine == "inclination":
        load_conditioned(out, load_fuser("lite", device="cpu").net)
    elif engine == "illumination":
        load_units(out)
    else:
        load_denoiser(out)


def test_fine_tuned_brighten_starts_from_the_trained_units(scene, fuser):
    """A warm start: with no iteration the fine-tuning engines give the decomposition of the
    shipped starting units, and training leaves those shared units untouched."""
    from terf_studio.tuning.illumination import gamma_for, relight

    vi, ir, fused, mask = scene
    units = loader.fast_engine("illumination-start", torch.device("cpu"))
    assert units.prior is False  # the paper's units; the fast engine's have the max-RGB prior
    before = {k: v.clone() for k, v in units.state_dict().items()}
    for engine in ("quick", "exact"):
        r = run_task("brighten", vi=vi, ir=ir, fused=fused, mask=mask, fusion_net=fuser, engine=engine, iterations=0)
        assert r.params["warm_start"] is True and r.params["train_scale"] == 1
        expected = relight(decompose_fast(units, r.box.crop(fused)), gamma_for("brighten"))
        np.testing.assert_allclose(r.raw, expected, atol=1e-5)
        trained = run_task("brighten", vi=vi, ir=ir, fused=fused, mask=mask, fusion_net=fuser, engine=engine,
                           iterations=2)
        assert trained.iterations == 2 and not np.array_equal(trained.image, r.image)
    assert all(torch.equal(before[k], v) for k, v in units.state_dict().items())


def test_warm_start_counts_and_the_scratch_fallback(scene, fuser, monkeypatch):
    from terf_studio.tuning import illumination
    from terf_studio.tuning.tasks import _iterations

    spec = TASK_SPECS["darken"]
    assert _iterations(spec, None, "exact", 1.0, warm=True) == illumination.WARM_EXACT_ITERATIONS
    assert _iterations(spec, None, "exact", 1.0, warm=False) == illumination.EXACT_ITERATIONS
    assert _iterations(spec, None, "quick", 1.0, warm=True) == illumination.WARM_QUICK_ITERATIONS
    assert _iterations(TASK_SPECS["denoise"], None, "exact", 1.0, warm=True) == TASK_SPECS["denoise"].exact_iterations
    vi, ir, fused, mask = scene
    monkeypatch.setattr(loader, "find_model", lambda name: None)
    loader.clear_cache()
    r = run_task("darken", vi=vi, ir=ir, fused=fused, mask=mask, fusion_net=fuser, engine="exact", iterations=1)
    assert r.params["warm_start"] is False and r.iterations == 1
    monkeypatch.undo()
    loader.clear_cache()


def test_a_base_configuration_saved_before_a_new_field_still_matches():
    from terf_studio.fusion.network import LITE, STUDENT
    from terf_studio.tuning.engines.conditioned import _same_network

    saved = LITE.to_dict()
    del saved["head_layers"]  # files written before the field existed
    assert _same_network(saved, LITE) and not _same_network(saved, STUDENT)
    assert not _same_network({**saved, "unknown": 1}, LITE) and not _same_network(None, LITE)
    assert loader.fast_engine("fast-inclination-lite", torch.device("cpu"), load_fuser("lite", device="cpu").net)
