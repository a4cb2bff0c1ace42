"""The fast inclination engine is cached per fusion network and goes with that network."""

from __future__ import annotations

import gc

import torch

from terf_studio.fusion import load_fuser
from terf_studio.tuning.engines import loader


def test_one_engine_per_network_released_with_it():
    cpu = torch.device("cpu")
    a, b = load_fuser("lite", device="cpu").net, load_fuser("lite", device="cpu").net
    engine_a = loader.fast_engine("fast-inclination-lite", cpu, base=a)
    assert loader.fast_engine("fast-inclination-lite", cpu, base=a) is engine_a
    assert loader.fast_engine("fast-inclination-lite", cpu, base=b) is not engine_a
    held = len(loader._per_base)
    del a, b, engine_a
    gc.collect()
    assert len(loader._per_base) == held - 2  # each document's network takes its engine along
