"""Loading the fast engines' weights once per process (through the model registry).

:func:`fast_engine` returns the loaded module for a task or raises a one-line
:class:`~terf_studio.errors.ModelError` saying which file is missing; callers fall back to
fine-tuning with that message as a notice. Loaded modules are cached by file and device; the
conditioned fusion network is cached per base network (its FiLM layers sit on a copy of that
network) and goes when that network goes: each opened pair loads its own, so a cache keyed by
``id(base)`` grew by one network per document (and could hand a new network the engine of an
old one whose id it reused).
"""

from __future__ import annotations

import copy
import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Literal, overload

import torch
from torch import nn

from terf_studio.errors import ModelError
from terf_studio.fusion.network import FusionNet
from terf_studio.weights.registry import find_model, get_spec

if TYPE_CHECKING:
    from terf_studio.tuning.illumination import RetinexUnits

_lock = threading.Lock()
_cache: dict[tuple, nn.Module] = {}
_per_base: weakref.WeakKeyDictionary[nn.Module, dict[tuple, nn.Module]] = weakref.WeakKeyDictionary()


def fast_weights_path(model: str) -> Path:
    path = find_model(model)
    if path is None:
        spec = get_spec(model)
        raise ModelError(f"the fast engine's weights '{spec.filename}' ({model}) are missing; get them with "
                         f"{spec.how_to_get}")
    return path


def _key(path: Path, device: torch.device, extra: object = None) -> tuple:
    stat = path.stat()
    return (str(path), stat.st_mtime_ns, stat.st_size, str(device), extra)


@overload
def fast_engine(
    model: Literal["fast-illumination"], device: torch.device, base: FusionNet | None = None
) -> RetinexUnits: ...


@overload
def fast_engine(model: str, device: torch.device, base: FusionNet | None = None) -> nn.Module: ...


def fast_engine(model: str, device: torch.device, base: FusionNet | None = None) -> nn.Module:
    """The loaded fast engine ``model`` (a registry name) on ``device``."""
    from terf_studio.tuning.engines.conditioned import load_conditioned
    from terf_studio.tuning.engines.denoiser import load_denoiser
    from terf_studio.tuning.engines.retinex import load_units

    path = fast_weights_path(model)
    if model.startswith("fast-inclination"):
        if base is None:
            raise ModelError("the fast inclination engine needs the fusion network it was trained on")
    key = _key(path, device)
    with _lock:
        cache = _per_base.setdefault(base, {}) if base is not None and model.startswith("fast-inclination") else _cache
        found = cache.get(key)
        if found is not None:
            return found
        if model.startswith("fast-inclination"):
            assert base is not None
            # torch's stub for Module.to lacks memory_format, which Module.to accepts.
            plain = copy.deepcopy(base).to(device, memory_format=torch.contiguous_format)  # type: ignore[call-overload]
            module: nn.Module = load_conditioned(path, plain)
        elif model in ("fast-illumination", "illumination-start"):
            module = load_units(path)
        elif model == "fast-denoise":
            module = load_denoiser(path)
        else:
            raise ModelError(f"no fast engine is called {model!r}")
        module = module.to(device).eval()
        cache[key] = module
        return module


def clear_cache() -> None:
    with _lock:
        _cache.clear()
        _per_base.clear()
