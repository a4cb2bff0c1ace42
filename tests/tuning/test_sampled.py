"""Fine-tuning a box too large to train whole: crops to train, tiles to apply (tuning/sampled.py)."""

from __future__ import annotations

import numpy as np
import pytest

from terf_studio.tuning import budget
from terf_studio.tuning.region import Box
from terf_studio.tuning.sampled import CropSampler
from terf_studio.tuning.tasks import run_task


def _pair(h: int = 40, w: int = 50) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    vi = rng.random((h, w, 3), dtype=np.float32) * 0.6
    ir = rng.random((h, w), dtype=np.float32)
    return vi, ir, ((vi + ir[..., None]) / 2).astype(np.float32)


@pytest.mark.parametrize(("task", "mode"), [("brighten", None), ("infrared", None), ("denoise", "fused"),
                                            ("denoise", "visible")])
def test_crops_as_large_as_the_box_give_the_whole_box_fine_tuning(monkeypatch, task, mode):
    """The same start, losses and steps: with a crop that is the whole box, training on crops is
    the whole-box training, and applying in tiles gives its image."""
    vi, ir, fused = _pair()
    kwargs = dict(vi=vi, ir=ir, fused=fused, mask=None, engine="exact", iterations=3, mode=mode)
    whole = run_task(task, **kwargs)
    monkeypatch.setenv(budget.ENV, "0.001")
    sampled = run_task(task, **kwargs)
    assert whole.state is not None and "sampled_crop" not in whole.params
    assert sampled.state is None and sampled.params["sampled_crop"] == "50x40"
    assert sampled.iterations == 3 and sampled.loss == pytest.approx(whole.loss, rel=1e-4)
    assert np.abs(sampled.image - whole.image).max() < 1.0 / 255
    assert np.abs(sampled.image - fused).max() > 1.0 / 255  # it did edit


def test_a_sampled_edit_changes_only_its_region_and_goes_the_way_its_name_says(monkeypatch):
    from terf_studio.tuning import sampled

    monkeypatch.setenv(budget.ENV, "0.001")
    monkeypatch.setattr(sampled, "CROP_SIDE", 24)
    vi, ir, fused = _pair(64, 80)
    mask = np.zeros((64, 80), np.float32)
    mask[10:40, 20:60] = 1.0
    out = run_task("brighten", vi=vi, ir=ir, fused=fused, mask=mask, engine="quick", iterations=4)
    assert out.params["sampled_crop"] == "24x24" and out.params["engine"] == "quick"
    assert np.array_equal(out.image[mask == 0], fused[mask == 0])
    assert out.image[mask == 1].mean() > fused[mask == 1].mean() + 0.02
    u16 = (fused * 65535).astype(np.uint16)  # a 16-bit document keeps its type
    out16 = run_task("darken", vi=vi, ir=ir, fused=u16, mask=mask, engine="quick", iterations=2)
    assert out16.image.dtype == np.uint16 and out16.image[mask == 1].mean() < u16[mask == 1].mean()


def test_crops_are_centred_on_the_region_and_stay_in_the_box():
    box = Box(100, 200, 400, 600)  # rows 100:400, columns 200:600
    mask = np.zeros((600, 900), np.float32)
    mask[360:380, 560:590] = 1.0  # a small region in the box's lower right corner
    sampler = CropSampler(box, mask, side=64, seed=1)
    hits = 0
    for _ in range(50):
        rows, cols = sampler.window()
        assert 0 <= rows.start and rows.stop <= box.height and 0 <= cols.start and cols.stop <= box.width
        assert rows.stop - rows.start == 64 and cols.stop - cols.start == 64 and rows.start % 2 == 0
        hits += mask[box.top + rows.start:box.top + rows.stop, box.left + cols.start:box.left + cols.stop].any()
    assert hits >= 45
