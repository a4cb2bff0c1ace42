"""``terf-studio eval``: quality metrics over a folder of pairs (see :mod:`terf_studio.evaluate`)."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from terf_studio.cli.common import ARCHES
from terf_studio.errors import TerfError
from terf_studio.evaluate import (
    EvalResult,
    FuseFn,
    evaluate_pairs,
    format_comparison,
    format_table,
    load_names,
    reference_fusion,
    write_csv,
)
from terf_studio.imaging.folders import find_pairs

NAME = "eval"
HELP = "fusion quality metrics over a folder of pairs"


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of the evaluation command to ``parser``."""
    parser.add_argument("--vi-dir", required=True, type=Path, metavar="D",
                        help="folder of visible images")
    parser.add_argument("--ir-dir", required=True, type=Path, metavar="D",
                        help="folder of infrared images (same file names)")
    parser.add_argument("--names", metavar="FILE.json:KEY",
                        help="evaluate only the names listed under KEY of a JSON file "
                             "(e.g. split.json:test); FILE.json alone if it holds a list")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--fused-dir", type=Path, metavar="D",
                        help="folder of fused images, matched to the pairs by file stem")
    source.add_argument("--arch", choices=ARCHES,
                        help="fuse with our network of this architecture")
    source.add_argument("--method", choices=("mean", "max"),
                        help="reference fusion: pixel mean or maximum of the grey sources")
    source.add_argument("--compare", nargs="+", metavar="SOURCE",
                        help="several methods side by side, one row each: a folder of fused images "
                             "(NAME=DIR or DIR), model:ARCH (lite, student, full), model:FILE.pt (a weights file), "
                             "method:mean, method:max; NAME=model:... or NAME=method:... names a row")
    parser.add_argument("--weights", metavar="PATH", help="network weights (with --arch)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="device for --arch (default: auto)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object instead of a table")
    parser.add_argument("--csv", type=Path, metavar="PATH",
                        help="also write one row per image and a mean row to this CSV file")
    parser.add_argument("--limit", type=_positive_int, metavar="N",
                        help="evaluate only the first N pairs")


def _model_fusion(args: argparse.Namespace) -> tuple[FuseFn, bool]:
    """Load our network; returns its fuse function and whether it runs on CUDA."""
    from terf_studio.fusion import load_fuser

    fuser = load_fuser(args.arch, weights=args.weights, device=args.device)
    return fuser.fuse, getattr(fuser.device, "type", str(fuser.device)) == "cuda"


def _evaluate_source(spec: str, args: argparse.Namespace, names: list[str] | None) -> EvalResult:
    """One ``--compare`` row: ``model:ARCH``, ``model:FILE.pt``, ``method:NAME``, ``NAME=DIR`` or
    ``DIR``; ``NAME=model:...`` or ``NAME=method:...`` names the row."""
    name, sep, rest = spec.partition("=")
    if sep and rest.startswith(("model:", "method:")):
        return dataclasses.replace(_evaluate_source(rest, args, names), method=name)
    kind, _, value = spec.partition(":")
    if kind == "model" and (value in ARCHES or value.endswith(".pt")):
        pairs = find_pairs(args.vi_dir, args.ir_dir, names)[: args.limit]
        from terf_studio.fusion import load_fuser

        is_file = value.endswith(".pt")
        if is_file and not Path(value).is_file():
            raise TerfError(f"--compare {spec!r}: no such weights file")
        fuser = load_fuser(None if is_file else value, weights=value if is_file else None, device=args.device)
        on_cuda = getattr(fuser.device, "type", str(fuser.device)) == "cuda"
        label = f"model:{Path(value).stem if is_file else value}"
        return evaluate_pairs(pairs, label, fuser.fuse, timed=True, warm_up=on_cuda)
    if kind == "method" and value in ("mean", "max"):
        pairs = find_pairs(args.vi_dir, args.ir_dir, names)[: args.limit]
        return evaluate_pairs(pairs, value, reference_fusion(value))
    label, sep, folder = spec.partition("=")
    folder_path = Path(folder if sep else spec)
    if not folder_path.is_dir():
        raise TerfError(f"--compare {spec!r}: not a folder, model:ARCH, model:FILE.pt or method:mean|max")
    pairs = find_pairs(args.vi_dir, args.ir_dir, names, folder_path)[: args.limit]
    return evaluate_pairs(pairs, label if sep else folder_path.name)


def run(args: argparse.Namespace) -> int:
    """Run the evaluation described by ``args``; returns the exit status (0).

    Raises :class:`~terf_studio.errors.TerfError` (one line) for missing
    folders, unmatched pairs, unreadable images or bad options.
    """
    if args.weights and not args.arch:
        raise TerfError("--weights is only used with --arch")
    names = load_names(args.names) if args.names else None
    pairs = find_pairs(args.vi_dir, args.ir_dir, names, args.fused_dir)
    if args.limit:
        pairs = pairs[:args.limit]
    if args.compare and args.weights:
        raise TerfError("--weights is only used with --arch")

    if args.compare:
        results = [_evaluate_source(spec, args, names) for spec in args.compare]
        if args.csv:
            raise TerfError("--csv takes one method; with --compare use --json")
        print(json.dumps([r.to_json_dict() for r in results]) if args.json else format_comparison(results))
        return 0
    if args.fused_dir:
        result = evaluate_pairs(pairs, f"fused:{args.fused_dir}")
    elif args.arch:
        fuse, on_cuda = _model_fusion(args)
        result = evaluate_pairs(pairs, f"model:{args.arch}", fuse, timed=True, warm_up=on_cuda)
    else:
        result = evaluate_pairs(pairs, args.method, reference_fusion(args.method))

    if args.csv:
        write_csv(result, args.csv)
    if args.json:
        print(json.dumps(result.to_json_dict()))
    else:
        print(format_table(result))
    return 0
