"""Files of the fast engines: ``{"format": FORMAT, "engine": name, "config": {...},
"state_dict": ..., "meta": {...}}``, read with ``torch.load(..., weights_only=True)`` only."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from terf_studio.errors import ModelError
from terf_studio.fusion.checkpoint import load_weights_file

FORMAT = "terf-engine/1"


def save_engine(path: str | os.PathLike, engine: str, module: nn.Module, config: dict[str, Any],
                meta: dict[str, Any] | None = None) -> None:
    """Write an engine's weights atomically (a temporary file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in module.state_dict().items()}
    payload = {"format": FORMAT, "engine": engine, "config": dict(config), "state_dict": state, "meta": meta or {}}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def read_engine(path: str | os.PathLike, engine: str) -> dict[str, Any]:
    """The payload of an engine file; every failure is a one-line :class:`ModelError`."""
    payload = load_weights_file(path, "engine weights")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelError(f"'{path}' is not a TeRF Studio engine file (expected format {FORMAT})")
    if payload.get("engine") != engine:
        raise ModelError(f"'{path}' holds the '{payload.get('engine')}' engine, not '{engine}'")
    return payload


_M = TypeVar("_M", bound=nn.Module)


def load_state(module: _M, payload: dict[str, Any], path: str | os.PathLike) -> _M:
    """Load ``payload``'s state_dict into ``module`` with a one-line error when it does not fit."""
    try:
        module.load_state_dict(payload["state_dict"])
    except (RuntimeError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise ModelError(f"engine weights '{path}' do not fit the network: {first}") from None
    return module.eval()
