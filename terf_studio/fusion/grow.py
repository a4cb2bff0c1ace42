"""Growing a half-resolution network's full-resolution head without changing what it computes.

A distilled student that no longer improves may lack capacity where fine detail is made: the
head. :func:`grow_head` builds the same network with a wider and deeper head whose output
equals the old network's exactly, so training continues from the old student instead of
from scratch (function-preserving growth, as in Net2Net):

- the new channels' incoming weights are small random values and their outgoing weights zero,
  so they add nothing at first but receive gradients at once;
- each added layer is an identity convolution followed by a PReLU of slope 1 (the identity).
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from terf_studio.errors import TerfError
from terf_studio.fusion.network import FusionConfig, FusionNet

#: Spread of the new channels' incoming weights (their outgoing weights start at zero).
NEW_WEIGHT_STD = 1e-3


def grow_head(old: FusionNet, config: FusionConfig, seed: int = 0) -> FusionNet:
    """``old`` rebuilt as ``config`` (same network, head at least as wide and as deep)."""
    a, b = old.config, config
    if not a.half_resolution or replace(a, name=b.name, head_features=b.head_features,
                                        head_layers=b.head_layers) != b:
        raise TerfError(f"cannot grow '{a.name}' into '{b.name}': only the head of a half-resolution network grows")
    if b.head_features < a.head_features or b.head_layers < a.head_layers:
        raise TerfError("a grown head must be at least as wide and as deep as the old one")
    generator = torch.Generator().manual_seed(seed)
    new = FusionNet(b)
    state = {k: v for k, v in old.state_dict().items() if not k.startswith(("integrate.", "head."))}
    new.load_state_dict(state, strict=False)
    h0, h1 = a.head_features, b.head_features
    with torch.no_grad():
        _grow_integrate(_convs(old.integrate)[0], _convs(new.integrate)[0], h0, h1, generator)
        old_convs, new_convs = _convs(old.head), _convs(new.head)
        old_acts = [m for m in old.head.modules() if isinstance(m, nn.PReLU)]
        new_acts = [m for m in new.head.modules() if isinstance(m, nn.PReLU)]
        # The first convolution reads (up: h channels, sources: 4 channels).
        old_in = list(range(h0)) + [h0 + i for i in range(4)]
        new_in = list(range(h0)) + [h1 + i for i in range(4)]
        _embed(old_convs[0], new_convs[0], old_in, new_in, h0, generator)
        middle_old = old_convs[1:-1]
        for i, conv in enumerate(new_convs[1:-1]):
            if i < len(middle_old):
                _embed(middle_old[i], conv, list(range(h0)), list(range(h0)), h0, generator)
            else:
                _identity(conv, h0, generator)
        for i, act in enumerate(new_acts):
            act.weight.copy_(old_acts[i].weight if i < len(old_acts) else torch.ones_like(act.weight))
        last_old, last_new = old_convs[-1], new_convs[-1]
        last_new.weight.zero_()
        last_new.weight[:, :h0] = last_old.weight
        _bias(last_new).copy_(_bias(last_old))
    return new


def _convs(module: nn.Module) -> list[nn.Conv2d]:
    return [m for m in module.modules() if isinstance(m, nn.Conv2d)]


def _bias(conv: nn.Conv2d) -> torch.Tensor:
    assert conv.bias is not None  # every convolution of the head and the integration has one
    return conv.bias


def _small(shape: torch.Size, generator: torch.Generator) -> torch.Tensor:
    return torch.randn(shape, generator=generator) * NEW_WEIGHT_STD


def _embed(old: nn.Conv2d, new: nn.Conv2d, old_in: list[int], new_in: list[int], kept_out: int,
           generator: torch.Generator) -> None:
    """``old``'s weights in ``new``'s first ``kept_out`` outputs at the mapped inputs; the new
    outputs get small random weights from every input; new inputs feed the kept outputs zero."""
    new.weight.copy_(_small(new.weight.shape, generator))
    new.weight[:kept_out] = 0.0
    new.weight[:kept_out, new_in] = old.weight[:, old_in]
    _bias(new).zero_()
    _bias(new)[:kept_out] = _bias(old)


def _identity(conv: nn.Conv2d, kept_out: int, generator: torch.Generator) -> None:
    """An added layer: each channel passes through; only the new channels also mix a little."""
    conv.weight.copy_(_small(conv.weight.shape, generator))
    conv.weight[:kept_out] = 0.0
    centre = conv.kernel_size[0] // 2
    for c in range(conv.out_channels):
        conv.weight[c, c, centre, centre] += 1.0
    _bias(conv).zero_()


def _grow_integrate(old: nn.Conv2d, new: nn.Conv2d, h0: int, h1: int, generator: torch.Generator) -> None:
    """The convolution before the pixel shuffle: output ``k * 4 + s`` becomes channel ``k`` at
    sub-position ``s``, so channel ``k < h0`` keeps its four outputs; the new ones are small."""
    new.weight.copy_(_small(new.weight.shape, generator))
    _bias(new).zero_()
    new.weight[: h0 * 4] = old.weight
    _bias(new)[: h0 * 4] = _bias(old)
