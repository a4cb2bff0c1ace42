"""Choosing the compute device: CUDA when present, else the CPU."""

from __future__ import annotations

import torch

from terf_studio.errors import TerfError


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise TerfError(f"device '{name}' was asked for but CUDA is not available here (torch {torch.__version__})")
        return torch.device(name)
    raise TerfError(f"unknown device '{name}': use auto, cpu or cuda")


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"CUDA ({torch.cuda.get_device_name(device)})"
    return f"CPU ({torch.get_num_threads()} threads)"
