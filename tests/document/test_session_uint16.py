"""The session fuses its 16-bit arrays directly (no float copies of the pair), with the values the
float round trip gave; the illumination cache skips images above its pixel limit."""

import numpy as np
import pytest

from terf_studio.document.session import EditSession, as_u16, from_u16, to_u16
from terf_studio.fusion import load_fuser
from terf_studio.fusion.inference import Fuser
from terf_studio.imaging import write_image
from terf_studio.imaging.io import to_float
from terf_studio.language import Edit, Task
from terf_studio.regions import Mask
from terf_studio.tuning.engines import retinex


def _pair16(h=70, w=90):
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    vi = np.clip(0.5 + 0.3 * np.sin(xx / 8)[..., None] + 0.1 * rng.standard_normal((h, w, 3)), 0, 1)
    ir = np.clip(0.3 + 0.6 * (np.hypot(xx - 30, yy - 35) < 15) + 0.05 * rng.standard_normal((h, w)), 0, 1)
    return to_u16(vi), to_u16(ir)


@pytest.fixture(scope="module")
def fuser():
    return load_fuser("lite", device="cpu")


@pytest.mark.parametrize("tile", [None, 32])
def test_fusing_uint16_into_uint16_equals_the_float_round_trip(fuser, tile):
    vi16, ir16 = _pair16()
    f = Fuser(fuser.net, fuser.device, tile=tile)
    direct = f.fuse(vi16, ir16, out=np.empty((*ir16.shape, 3), np.uint16))
    assert np.array_equal(direct, to_u16(f.fuse(from_u16(vi16), from_u16(ir16))))


def test_session_fuses_its_16_bit_arrays(fuser, monkeypatch):
    vi16, ir16 = _pair16()
    seen = []
    original = Fuser.fuse

    def spy(self, vi, ir, out=None):
        seen.append((vi.dtype, ir.dtype, None if out is None else out.dtype))
        return original(self, vi, ir, out)

    monkeypatch.setattr(Fuser, "fuse", spy)
    session = EditSession(vi16, ir16, fuser)
    assert seen == [(np.uint16, np.uint16, np.uint16)]
    assert session.vi16 is vi16 and session.ir16 is ir16
    assert np.array_equal(session.base16, to_u16(original(fuser, from_u16(vi16), from_u16(ir16))))


def test_8_bit_images_go_onto_the_16_bit_grid_exactly():
    values = np.arange(256, dtype=np.uint8)
    assert np.array_equal(as_u16(values), to_u16(to_float(values)))
    assert as_u16(values).dtype == np.uint16 and as_u16(values)[-1] == 65535


def test_open_reads_the_stored_samples(tmp_path, monkeypatch):
    vi16, ir16 = _pair16(40, 50)
    vi8 = (vi16 // 257).astype(np.uint8)
    write_image(tmp_path / "vi.png", vi8)
    write_image(tmp_path / "ir.tif", ir16, bit_depth=16)
    seen = []
    original = Fuser.fuse

    def spy(self, vi, ir, out=None):
        seen.append((vi.dtype, ir.dtype))
        return original(self, vi, ir, out)

    monkeypatch.setattr(Fuser, "fuse", spy)
    session = EditSession.open(tmp_path / "vi.png", tmp_path / "ir.tif", device="cpu")
    assert seen == [(np.uint16, np.uint16)]
    assert np.array_equal(session.vi16, vi8.astype(np.uint16) * 257) and np.array_equal(session.ir16, ir16)


def test_the_illumination_cache_skips_images_above_its_limit(fuser, monkeypatch):
    vi16, ir16 = _pair16()
    session = EditSession(vi16, ir16, fuser)
    retinex.CACHE.clear()
    monkeypatch.setattr(retinex, "CACHE_MAX_PIXELS", 70 * 90 - 1)
    looked_up = []
    monkeypatch.setattr(retinex.CACHE, "get", lambda image: looked_up.append(image.shape))
    assert session.warm_up_fast_engines() is False
    assert len(retinex.CACHE) == 0
    assert retinex.prepare(None, session.current(), "cpu") is None  # nothing decomposed, no units needed
    mask = np.zeros((70, 90), np.float32)
    mask[10:40, 20:60] = 1
    step = session.apply([Edit(None, Task.BRIGHTEN)], [Mask(mask)], engine="fast")
    assert step.edits[0].info["cached"] is False and not looked_up and len(retinex.CACHE) == 0
    assert session.current16[25, 40].mean() > session.base16[25, 40].mean()  # brightened from the crop


def test_the_illumination_cache_still_fills_below_its_limit(fuser):
    vi16, ir16 = _pair16()
    session = EditSession(vi16, ir16, fuser)
    retinex.CACHE.clear()
    try:
        assert session.warm_up_fast_engines() is True
        assert retinex.CACHE.get(session.current()) is not None
    finally:
        retinex.CACHE.clear()


@pytest.mark.parametrize("task", ["brighten", "infrared", "denoise", "blur"])
def test_a_task_on_16_bit_images_equals_the_float_pass_rounded(fuser, task):
    """run_task takes the stored 16-bit images as they are: the result is the float pass's,
    rounded to 16 bits, and pixels outside the mask are the input's own."""
    from terf_studio.tuning import run_task

    vi16, ir16 = _pair16()
    fused16 = to_u16(fuser.fuse(from_u16(vi16), from_u16(ir16)))
    mask = np.zeros(ir16.shape, np.float32)
    mask[20:50, 25:70] = 1.0
    mask[19, 25:70] = 0.5
    common = dict(mask=mask, fusion_net=fuser.net, engine="fast")
    stored = run_task(task, vi=vi16, ir=ir16, fused=fused16, **common)
    floats = run_task(task, vi=from_u16(vi16), ir=from_u16(ir16), fused=from_u16(fused16), **common)
    assert stored.image.dtype == np.uint16
    assert np.array_equal(stored.image, to_u16(floats.image))
    assert np.array_equal(stored.image[mask == 0], fused16[mask == 0])
    assert not np.array_equal(stored.image, fused16)


def test_a_region_edit_converts_only_its_region(fuser):
    """A small edit on a large 16-bit document allocates about one copy of the image (the new
    state), not float copies of the pair and image (28 bytes a pixel before)."""
    import tracemalloc

    h, w = 1200, 1600
    vi16 = np.full((h, w, 3), 30000, np.uint16)
    ir16 = np.full((h, w), 20000, np.uint16)
    fused16 = np.full((h, w, 3), 25000, np.uint16)
    fused16[::2, ::2] = 40000  # texture for the blur to smooth
    session = EditSession(vi16, ir16, fuser, fused=fused16)
    core = np.zeros((h, w), np.float32)
    core[600:664, 800:864] = 1.0
    mask = Mask(core)  # the user's mask exists before the edit
    assert session.pair_id  # hashed once per document, before the edit
    image_bytes = session.current16.nbytes
    tracemalloc.start()
    try:
        step = session.apply([Edit(None, Task.BLUR)], [mask], engine="fast")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert step.patch is not None and step.patch.box[0] >= 800 - 40 and step.patch.box[2] <= 864 + 40
    # the new state (one copy) plus the mask's bookkeeping (its 16-bit PNG, support bits)
    assert peak < 2.5 * image_bytes, peak / image_bytes  # 8.1 x before


def test_the_illumination_cache_keys_a_document_and_its_float_image_alike():
    image16 = _pair16()[0]
    assert retinex.DecompositionCache.key(image16) == retinex.DecompositionCache.key(from_u16(image16))
    assert retinex.DecompositionCache.key(image16) != retinex.DecompositionCache.key(image16[::-1].copy())


def test_an_8_bit_fused_image_goes_onto_the_grid_exactly(fuser):
    vi16, ir16 = _pair16()
    fused8 = (np.arange(70 * 90 * 3) % 256).astype(np.uint8).reshape(70, 90, 3)
    session = EditSession(vi16, ir16, fuser, fused=fused8)
    assert np.array_equal(session.base16, fused8.astype(np.uint16) * 257)  # it saturated to white before


def test_a_large_patch_waits_in_a_scratch_file(fuser, monkeypatch, tmp_path):
    """The history of a large document does not hold its patches in memory: one above the limit
    goes to a scratch file, comes back for undo/redo and saving, and is removed with its step."""
    import gc
    import os

    from terf_studio.document import session as session_mod
    from terf_studio.document.project import load_project, save_project

    monkeypatch.setattr(session_mod, "SPILL_BYTES", 1000)
    vi16, ir16 = _pair16()
    session = EditSession(vi16, ir16, fuser)
    step = session.apply([Edit(None, Task.BRIGHTEN)], engine="fast")
    assert isinstance(step.patch.data, session_mod.ScratchFile) and os.path.exists(step.patch.data.path)
    assert session.history_bytes() == 0 and step.patch.memory_bytes == 0
    edited = session.current16.copy()
    session.undo()
    assert np.array_equal(session.current16, session.base16)
    session.redo()
    assert np.array_equal(session.current16, edited)
    save_project(session, tmp_path / "p.terf")
    assert np.array_equal(load_project(tmp_path / "p.terf", device="cpu").current16, edited)
    path = step.patch.data.path
    del session, step
    gc.collect()
    assert not os.path.exists(path)
