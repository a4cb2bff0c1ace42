"""A fine-tuning that would not fit in memory is refused before it starts (tuning/budget.py)."""

from __future__ import annotations

import numpy as np
import pytest

from terf_studio.errors import TerfError
from terf_studio.tuning import budget
from terf_studio.tuning.budget import check_fine_tuning_fits
from terf_studio.tuning.region import Box
from terf_studio.tuning.tasks import run_task


def test_the_estimate_follows_the_box_and_the_task():
    photo = Box(0, 0, 3000, 4000)  # 12 MP: about 28 GB to fine-tune brighten
    with pytest.raises(TerfError, match=r"about 27\.9 GB to fine-tune brighten over a 4000x3000 region.*fast engine"):
        check_fine_tuning_fits("brighten", "exact", photo, available=16 * 1024)
    check_fine_tuning_fits("brighten", "exact", photo, available=64 * 1024)
    check_fine_tuning_fits("brighten", "exact", Box(0, 0, 480, 640), available=2 * 1024)
    check_fine_tuning_fits("blur", "exact", photo, available=1.0)  # nothing is trained


def test_run_task_refuses_a_fine_tuning_that_does_not_fit_and_the_fast_engine_still_runs(monkeypatch):
    rng = np.random.default_rng(0)
    vi = rng.random((40, 50, 3), dtype=np.float32)
    ir = rng.random((40, 50), dtype=np.float32)
    fused = (vi + ir[..., None]) / 2
    monkeypatch.setattr(budget, "available_mb", lambda: 1.0)  # 1 MB free
    with pytest.raises(TerfError, match="quick engine would need about .* to fine-tune infrared over a 50x40 region"):
        run_task("infrared", vi=vi, ir=ir, fused=fused, mask=None, engine="quick", iterations=1)
    result = run_task("brighten", vi=vi, ir=ir, fused=fused, mask=None, engine="fast")
    assert result.params["engine"] == "fast" and not np.array_equal(result.image, fused)
