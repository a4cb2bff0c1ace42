"""Lean towards infrared / visible: fine-tune a copy of the fusion network on this pair.

Paper section 2.4.1: the pretrained fusion network is unlocked and optimised on the pair with
the inclination losses (eq. 10-11 for visible, eq. 12-13 for infrared; the gradient and colour
terms stay those of eq. 6-7), Adam with lr 8e-5, 50 epochs per command. Here one *epoch* is one
Adam step on the whole (cropped) pair: the "data set" of a command is that single pair, so an
epoch over it is one batch. The output is the fine-tuned network's fusion of the same pair.

The network given is never modified: a deep copy is trained, and its weights (a CPU
state_dict) are returned so that a repeated command reloads them and trains further
(paper 2.4.4). The optimiser starts afresh on each command, as the paper's does.
During training the output is not clamped (a clamp would zero the gradient of every pixel
outside [0, 1]); the returned image is clamped to [0, 1].
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from terf_studio.errors import TerfError
from terf_studio.fusion.inference import pad_to_multiple
from terf_studio.fusion.losses import FusionLoss
from terf_studio.fusion.network import FusionNet
from terf_studio.imaging.color import to_numpy, to_tensor
from terf_studio.tuning.control import CancelToken, ProgressFn
from terf_studio.tuning.units import as_device, cpu_state, fit

LR = 8e-5
EXACT_EPOCHS = 50
DIRECTIONS = ("infrared", "visible")


@dataclass(frozen=True)
class Inclination:
    image: np.ndarray  # (H, W, 3) float32, the fine-tuned network's fusion of the pair
    weights: dict[str, torch.Tensor]  # the fine-tuned network's state_dict, on the CPU
    loss: float
    epochs: int


def incline(
    net: FusionNet,
    vi: np.ndarray,
    ir: np.ndarray,
    *,
    towards: str,
    epochs: int = EXACT_EPOCHS,
    lr: float = LR,
    weights: Mapping[str, torch.Tensor] | None = None,
    device: str | torch.device = "cpu",
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Inclination:
    """Fine-tune a copy of ``net`` (starting from ``weights`` when given) towards a source.

    ``vi`` (H, W, 3) and ``ir`` (H, W) float in [0, 1]; any size (padded for the network).
    """
    if towards not in DIRECTIONS:
        raise TerfError(f"inclination goes towards 'infrared' or 'visible', not {towards!r}")
    dev = as_device(device)
    model = copy.deepcopy(net).to(dev)
    if weights is not None:
        model.load_state_dict(weights)
    model.train()
    for p in model.parameters():
        p.requires_grad_(True)
    vi_t = to_tensor(vi).to(dev)
    ir_t = to_tensor(ir).to(dev)
    if vi_t.shape[1] == 1:
        vi_t = vi_t.expand(-1, 3, -1, -1)
    h, w = vi_t.shape[-2:]
    vi_p, _ = pad_to_multiple(vi_t, model.config.multiple)
    ir_p, _ = pad_to_multiple(ir_t, model.config.multiple)
    criterion = FusionLoss(mode=towards)

    def loss_at(_: int) -> torch.Tensor:
        return criterion(model(ir_p, vi_p)[..., :h, :w], ir_t, vi_t)[0]

    loss_value = fit(model.parameters(), loss_at, epochs, lr, progress, cancel)
    model.eval()
    with torch.no_grad():
        image = to_numpy(model(ir_p, vi_p)[..., :h, :w].clamp(0.0, 1.0).float())
    return Inclination(image=image, weights=cpu_state(model), loss=loss_value, epochs=epochs)
