"""Small building blocks shared by the fine-tuning units: initialisation, devices, tensors."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

import torch
from torch import nn

from terf_studio.device import resolve_device
from terf_studio.tuning.control import CancelToken, ProgressFn, report, step_check


def as_device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cpu")
    if isinstance(device, torch.device):
        return device
    return resolve_device(device)


_M = TypeVar("_M", bound=nn.Module)


def xavier_init(module: _M, seed: int) -> _M:
    """Xavier-uniform weights and zero biases for every convolution, from a fixed seed.

    The paper initialises all fine-tuning units with Xavier initialisation; a private generator
    keeps the result the same on every run and device, so an edit can be replayed exactly.
    """
    generator = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight, generator=generator)
                if m.bias is not None:
                    m.bias.zero_()
    return module


def conv_stack(in_ch: int, out_ch: int, widths: tuple[int, ...] = (16, 32, 64, 32)) -> nn.Sequential:
    """The paper's fine-tuning unit: 3x3 convolutions in -> 16 -> 32 -> 64 -> 32 -> out, ReLU between."""
    layers: list[nn.Module] = []
    c = in_ch
    for w in widths:
        layers += [nn.Conv2d(c, w, 3, padding=1), nn.ReLU(inplace=True)]
        c = w
    layers.append(nn.Conv2d(c, out_ch, 3, padding=1))
    return nn.Sequential(*layers)


def cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of a module's state_dict (safe to keep while the module trains on)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


def fit(parameters: Iterable[torch.Tensor], loss_at: Callable[[int], torch.Tensor], iterations: int, lr: float,
        progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> float:
    """Adam on ``parameters`` for ``iterations`` steps of ``loss_at(step)`` (1-based), checking
    ``cancel`` before each step and reporting after it. Returns the last loss (NaN after none).
    The optimiser starts afresh on each call, as the paper's does on each command."""
    optimiser = torch.optim.Adam(parameters, lr=lr)
    loss_value = float("nan")
    for it in range(1, iterations + 1):
        step_check(cancel)
        optimiser.zero_grad(set_to_none=True)
        loss = loss_at(it)
        loss.backward()
        optimiser.step()
        loss_value = float(loss.detach())
        report(progress, it, iterations, loss_value)
    step_check(cancel)
    return loss_value
