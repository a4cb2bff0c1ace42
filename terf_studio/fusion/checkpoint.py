"""Saving and loading fusion weights (``torch.load(..., weights_only=True)`` only).

A weights file is a dict ``{"format": FORMAT, "config": FusionConfig fields, "state_dict": ...,
"meta": {...}}``. Training checkpoints add the optimiser state and the epoch; both load here.
"""

from __future__ import annotations

import os
import pickle
import warnings
from pathlib import Path
from typing import Any

import torch

from terf_studio.errors import ModelError
from terf_studio.fusion.network import FusionConfig, FusionNet, get_config
from terf_studio.weights.integrity import archive_problem
from terf_studio.weights.manifest import REGENERATE, shipped_problem

FORMAT = "terf-fusion/1"


def save_weights(path: str | os.PathLike, net: FusionNet, meta: dict[str, Any] | None = None, **extra: Any) -> None:
    """Write ``net`` (and any extra entries such as optimiser state) atomically to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "config": net.config.to_dict(), "state_dict": net.state_dict(), "meta": meta or {}}
    payload.update(extra)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_weights_file(path: str | os.PathLike, what: str = "weights") -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU, after checking that the file is whole:
    a shipped file must match ``models/MANIFEST.json`` and every file must be a zip archive whose
    CRCs match (torch does not check them, so damaged bytes would load as wrong weights).
    Every failure is one short line of our own naming ``what`` the file was meant to be."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{what} file '{path}' not found")
    try:
        shipped = shipped_problem(path)
        if shipped:
            raise ModelError(f"cannot load {what}: {shipped}; restore it from the source tree, or after retraining "
                             f"run `{REGENERATE}`")
        damaged = archive_problem(path)
    except OSError as exc:
        raise ModelError(f"cannot read {what} '{path}': {exc.strerror or exc}") from None
    if damaged:
        raise ModelError(f"cannot load {what} '{path}': {damaged}")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols; the error below says enough
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt or foreign files
        raise ModelError(f"cannot load {what} '{path}': {_load_failure(exc)}") from None


def _load_failure(exc: Exception) -> str:
    """A short reason of our own for a failed ``torch.load`` (torch's own messages run to many
    lines and suggest ``weights_only=False``, which would run the file's code)."""
    if isinstance(exc, pickle.UnpicklingError) and "weights only" in str(exc).lower():
        return "it holds Python objects, not only tensors and plain data (refused: loading them could run code)"
    if isinstance(exc, (EOFError, pickle.UnpicklingError)):
        return "its data is truncated or damaged"
    if isinstance(exc, MemoryError):
        return "not enough memory to load it"
    return f"not a readable PyTorch weights file ({type(exc).__name__})"


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a weights file safely; every failure is a one-line ModelError."""
    payload = load_weights_file(path, "weights")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelError(f"'{path}' is not a TeRF Studio fusion weights file (expected format {FORMAT})")
    return payload


def load_network(path: str | os.PathLike, arch: str | None = None) -> tuple[FusionNet, dict[str, Any]]:
    """Build the network stored in ``path``; with ``arch`` given, the file must be that network
    (by name: a file of an earlier, smaller ``student`` head still loads as a student)."""
    payload = read_checkpoint(path)
    try:
        config = FusionConfig(**payload["config"])
    except TypeError as exc:
        raise ModelError(f"weights '{path}' describe an unknown network configuration: {exc}") from None
    if arch is not None and get_config(arch).name != config.name:
        raise ModelError(f"weights '{path}' are for the '{config.name}' network, not '{arch}'")
    net = FusionNet(config)
    try:
        net.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ModelError(f"weights '{path}' do not fit the '{config.name}' network: {first}") from None
    return net, payload
