"""Options several commands share."""

from __future__ import annotations

import argparse

#: The fusion networks a command can name (terf_studio.fusion.network.CONFIGS, kept torch-free here).
ARCHES = ("lite", "student", "full")


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--arch", choices=ARCHES,
                   help="network configuration (default: lite, or the one the --weights file holds)")
    p.add_argument("--weights", help="weights file (default: the registered model for --arch)")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda")
