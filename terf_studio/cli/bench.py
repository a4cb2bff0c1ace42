"""``terf-studio bench WHAT``: the benchmarks of :mod:`terf_studio.bench`, one module each."""

from __future__ import annotations

import argparse
import importlib

NAME = "bench"
HELP = "benchmarks (speed, memory, accuracy)"
#: Benchmark modules under ``terf_studio.bench``, each with NAME, HELP, add_arguments and run.
BENCHMARKS: tuple[str, ...] = ("fuse", "edit", "session", "tasks", "batch", "parse", "segment", "gui", "soak")


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="bench", metavar="WHAT")
    sub.required = True
    for name in BENCHMARKS:
        module = importlib.import_module(f"terf_studio.bench.{name}")
        b = sub.add_parser(module.NAME, help=module.HELP)
        module.add_arguments(b)
        b.set_defaults(func=module.run)


def run(args: argparse.Namespace) -> int:
    return int(args.func(args) or 0)  # never reached: each benchmark sets its own func
