"""Whether a fine-tuning trains on the whole box or on crops is decided before it starts (tuning/budget.py)."""

from __future__ import annotations

from terf_studio.tuning import budget
from terf_studio.tuning.budget import need_mb, trains_whole
from terf_studio.tuning.region import Box


def test_the_estimate_follows_the_box_the_task_and_the_budget(monkeypatch):
    photo = Box(0, 0, 3000, 4000)  # 12 MP: about 28 GB to fine-tune brighten whole
    assert round(need_mb("brighten", photo) / 1024, 1) == 27.9
    assert need_mb("blur", photo) == 0
    monkeypatch.delenv(budget.ENV, raising=False)
    assert not trains_whole("brighten", photo, available=64 * 1024)  # over the 1.5 GB default
    assert trains_whole("brighten", Box(0, 0, 480, 640), available=64 * 1024)  # 0.3 MP: 0.7 GB
    assert not trains_whole("brighten", Box(0, 0, 480, 640), available=500)  # less is free than it needs
    assert trains_whole("blur", photo, available=1.0)  # nothing is trained
    monkeypatch.setenv(budget.ENV, str(40 * 1024))  # a large machine may fine-tune a photo whole
    assert trains_whole("brighten", photo, available=64 * 1024)
    monkeypatch.setenv(budget.ENV, "not a number")  # a bad setting falls back to the default
    assert budget.budget_mb(available=64 * 1024) == budget.DEFAULT_BUDGET_MB
    assert trains_whole("brighten", photo, on_gpu=True) and not trains_whole("brighten", Box(0, 0, 5000, 4000),
                                                                               on_gpu=True)
