"""Distillation into the student network: cached teacher fusions, augmented crops, the loss."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from terf_studio.fusion import build_network
from terf_studio.fusion.checkpoint import load_network
from terf_studio.fusion.distill import distill_loss, load_targets, prepare_targets, random_sample, texture_distance
from terf_studio.fusion.network import count_parameters
from terf_studio.fusion.training import TrainOptions, split_pairs, train
from terf_studio.imaging import write_image

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def data(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    names = [f"p{i}.png" for i in range(4)]
    for name in names:
        yy, xx = np.mgrid[0:40, 0:52] / 7.0
        vi = np.stack([np.sin(xx), np.cos(yy), np.sin(xx + yy)], -1) * 0.3 + 0.5 + rng.normal(0, 0.03, (40, 52, 3))
        ir = np.cos(xx) * np.sin(yy) * 0.3 + 0.5
        write_image(tmp_path / "data" / "vi" / name, np.clip(vi, 0, 1))
        write_image(tmp_path / "data" / "ir" / name, np.clip(ir, 0, 1))
    (tmp_path / "data" / "split.json").write_text(json.dumps({"train": names, "test": []}))
    return tmp_path


def test_the_student_keeps_lites_stages_with_a_larger_head():
    lite, student = build_network("lite"), build_network("student")
    assert count_parameters(lite) == 32_755  # lite's files still load: its head did not change
    assert count_parameters(student) > count_parameters(lite)
    assert len(student.head) == 7 and len(lite.head) == 3
    assert student.config.head_features == 24 and lite.config.head_features == 8


def test_teacher_fusions_are_cached_once_and_match_the_teacher(data):
    from terf_studio.fusion import load_fuser
    from terf_studio.imaging import read_image, read_pair

    opts = TrainOptions(data=data / "data", out=data / "run", arch="student", val_pairs=1, teacher="lite")
    train_set, held = split_pairs(opts)
    assert len(train_set) == 3 and len(held) == 1
    folder = prepare_targets(train_set, "lite", "cpu")
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{p.name}.png" for p in train_set)
    assert str(folder).startswith(str(data / "cache" / "terf-studio" / "teacher" / "fusion-lite-"))
    stamps = [p.stat().st_mtime_ns for p in sorted(folder.iterdir())]
    prepare_targets(train_set, "lite", "cpu")  # nothing to do the second time
    assert stamps == [p.stat().st_mtime_ns for p in sorted(folder.iterdir())]
    vi, ir = read_pair(train_set[0].vi, train_set[0].ir)
    expected = load_fuser("lite", device="cpu").fuse(vi, ir)
    assert np.abs(read_image(folder / f"{train_set[0].name}.png") - expected).max() <= 1 / 65535 + 1e-6
    targets = load_targets(train_set, folder)
    assert targets[0].shape == (3, 40, 52)
    (folder / f"{train_set[1].name}.png").unlink()
    with pytest.raises(Exception, match="teacher fusions are missing"):
        load_targets(train_set, folder)


def test_augmented_crops_keep_the_teacher_target_aligned():
    rng = random.Random(0)
    vi = torch.rand(3, 60, 80)
    ir = vi.mean(0, keepdim=True)
    changed = kept = 0
    for _ in range(40):
        s = random_sample(ir, vi, vi.clone(), 24, rng)
        assert s.vi.shape == s.target.shape == (3, 24, 24) and s.ir.shape == (1, 24, 24)
        assert torch.allclose(s.ir, s.target.mean(0, keepdim=True), atol=1e-5)  # same window, same scale
        if s.weight == 1.0:
            kept += 1
            assert torch.equal(s.vi, s.target)  # geometry only: the target stays valid
        else:
            changed += 1
            assert not torch.equal(s.vi, s.target)  # its visible image was changed: no distillation
    assert kept > 5 and changed > 5
    small = random_sample(ir[:, :10, :12], vi[:, :10, :12], vi[:, :10, :12], 24, rng)  # smaller than the crop
    assert small.vi.shape == (3, 24, 24)


def test_distill_loss_counts_only_the_weighted_samples():
    target = torch.rand(2, 3, 16, 16)
    student = target.clone()
    assert float(distill_loss(student, target, torch.ones(2))) == 0.0
    student[1] += 0.2
    assert float(distill_loss(student, target, torch.tensor([1.0, 0.0]))) == 0.0
    assert float(distill_loss(student, target, torch.tensor([0.0, 1.0]))) > 0.1


def test_texture_term_penalises_a_smoother_student():
    """A student that blurs the teacher's one-pixel texture is farther with the texture term,
    and the term is zero for an exact copy."""
    target = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    blurred = torch.nn.functional.avg_pool2d(target, 3, stride=1, padding=1, count_include_pad=False)
    y_t, y_b = target[:, :1], blurred[:, :1]
    assert torch.equal(texture_distance(y_t, y_t), torch.zeros(2))
    gap = texture_distance(y_b, y_t)
    assert gap.shape == (2,) and bool((gap > 0.1).all())
    assert float(distill_loss(target, target, torch.ones(2), texture=2.0)) == 0.0
    plain = float(distill_loss(blurred, target, torch.ones(2)))
    assert float(distill_loss(blurred, target, torch.ones(2), texture=2.0)) > plain + 0.2


def test_distillation_training_runs_and_writes_a_student(data):
    opts = TrainOptions(data=data / "data", out=data / "run", arch="student", epochs=2, batch_size=2, crop=24,
                        val_pairs=1, teacher="lite", device="cpu")
    summary = train(opts, progress=False)
    assert summary["epochs"] == 2 and np.isfinite(summary["best_val"])
    net, _ = load_network(data / "run" / "fusion-student.pt", arch="student")
    assert net.config.head_layers == 4
    log = (data / "run" / "log.csv").read_text().strip().splitlines()
    header, rows = log[0].split(","), [line.split(",") for line in log[1:]]
    val, distance = header.index("val_distill"), header.index("distill")
    assert all(np.isfinite(float(r[val])) and float(r[val]) > 0 and np.isfinite(float(r[distance])) for r in rows)
    # The held-out pair has its teacher fusion too: validation measured the distance to it.
    cached = {p.name for p in next((data / "cache" / "terf-studio" / "teacher").iterdir()).iterdir()}
    assert cached == {"p0.png", "p1.png", "p2.png", "p3.png"}


def test_validation_with_the_teacher_adds_the_weighted_distance():
    from terf_studio.fusion.losses import FusionLoss
    from terf_studio.fusion.training import validate

    net = build_network("lite").eval()
    ir, vi = torch.rand(1, 24, 32), torch.rand(3, 24, 32)
    criterion = FusionLoss()
    alone, no_distance = validate(net, criterion, [(ir, vi)], torch.device("cpu"))
    far = torch.zeros(3, 24, 32)
    one, d1 = validate(net, criterion, [(ir, vi)], torch.device("cpu"), [far], teacher_weight=1.0)
    ten, d10 = validate(net, criterion, [(ir, vi)], torch.device("cpu"), [far], teacher_weight=10.0)
    assert np.isnan(no_distance) and d1 == pytest.approx(d10) and d1 > 0.05
    assert one == pytest.approx(alone + d1, rel=1e-5) and ten == pytest.approx(alone + 10 * d1, rel=1e-5)


def test_training_can_start_from_existing_weights(data):
    from terf_studio.fusion.checkpoint import save_weights

    start = build_network("student")
    with torch.no_grad():
        for p in start.parameters():
            p.add_(0.01)
    save_weights(data / "start.pt", start)
    opts = TrainOptions(data=data / "data", out=data / "run", arch="student", epochs=1, batch_size=2, crop=24,
                        val_pairs=1, device="cpu", lr=1e-9, init=data / "start.pt")
    train(opts, progress=False)
    trained, _ = load_network(data / "run" / "last.pt", arch="student")
    fresh = build_network("student").state_dict()
    for name, value in trained.state_dict().items():
        assert torch.allclose(value, start.state_dict()[name], atol=1e-5), name  # lr ~0: still the start
    assert any(not torch.allclose(v, fresh[k]) for k, v in trained.state_dict().items())
    with pytest.raises(Exception, match="not 'student'|for the 'lite' network"):
        save_weights(data / "lite.pt", build_network("lite"))
        train(TrainOptions(data=data / "data", out=data / "run2", arch="student", epochs=1, batch_size=2, crop=24,
                           val_pairs=1, device="cpu", init=data / "lite.pt"), progress=False)
