"""Growing the student's head keeps its output and gives the new channels gradients."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from terf_studio.errors import TerfError
from terf_studio.fusion.grow import grow_head
from terf_studio.fusion.network import FULL, LITE, FusionNet

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = replace(LITE, name="student", head_features=8, head_layers=2)
BIG = replace(SMALL, head_features=12, head_layers=4)


def _trained_like(config):
    torch.manual_seed(1)
    net = FusionNet(config)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.1)  # not a fresh initialisation: every weight matters
    return net.eval()


def test_a_grown_head_computes_what_the_old_one_did():
    old = _trained_like(SMALL)
    new = grow_head(old, BIG).eval()
    assert sum(p.numel() for p in new.head.parameters()) > sum(p.numel() for p in old.head.parameters())
    ir, vi = torch.rand(2, 1, 30, 42), torch.rand(2, 3, 30, 42)
    with torch.no_grad():
        assert torch.allclose(new(ir, vi), old(ir, vi), atol=1e-6)


def test_the_new_channels_learn():
    new = grow_head(_trained_like(SMALL), BIG)
    ir, vi = torch.rand(1, 1, 24, 24), torch.rand(1, 3, 24, 24)
    new(ir, vi).square().mean().backward()
    last = [m for m in new.head if isinstance(m, torch.nn.Conv2d)][-1]
    assert last.weight.grad[:, SMALL.head_features:].abs().sum() > 0  # the new channels' outgoing weights
    assert new.integrate[0].weight.grad[SMALL.head_features * 4:].abs().sum() == 0  # still zero behind them
    added = [m for m in new.head if isinstance(m, torch.nn.Conv2d)][2]
    assert added.weight.grad.abs().sum() > 0


def test_only_a_half_resolution_head_grows_and_never_shrinks():
    with pytest.raises(TerfError, match="only the head"):
        grow_head(FusionNet(FULL), replace(FULL, head_features=32))
    with pytest.raises(TerfError, match="only the head"):
        grow_head(FusionNet(SMALL), replace(BIG, features=24))
    with pytest.raises(TerfError, match="at least as wide"):
        grow_head(FusionNet(BIG), SMALL)


def test_training_from_a_smaller_head_grows_it(tmp_path, monkeypatch):
    import json

    import numpy as np

    from terf_studio.fusion import network
    from terf_studio.fusion.checkpoint import load_network, save_weights
    from terf_studio.fusion.training import TrainOptions, train
    from terf_studio.imaging import write_image

    rng = np.random.default_rng(0)
    names = [f"p{i}.png" for i in range(3)]
    for name in names:
        write_image(tmp_path / "data" / "vi" / name, rng.random((32, 40, 3)))
        write_image(tmp_path / "data" / "ir" / name, rng.random((32, 40)))
    (tmp_path / "data" / "split.json").write_text(json.dumps({"train": names, "test": []}))
    save_weights(tmp_path / "small.pt", _trained_like(SMALL))
    monkeypatch.setitem(network.CONFIGS, "student", BIG)
    train(TrainOptions(data=tmp_path / "data", out=tmp_path / "run", arch="student", epochs=1, batch_size=2,
                       crop=24, val_pairs=1, device="cpu", init=tmp_path / "small.pt"), progress=False)
    grown, _ = load_network(tmp_path / "run" / "last.pt")
    assert grown.config == BIG
