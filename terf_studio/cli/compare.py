"""``terf-studio compare``: a picture of a few pairs with the reference fusions beside ours.

Each row shows visible | infrared | pixel mean | pixel max | our network (or the ``--columns``
asked for, e.g. several networks), so a reader can see what the numbers of ``terf-studio eval`` mean.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from terf_studio.cli.common import ARCHES

if TYPE_CHECKING:
    import numpy as np


def add_compare_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--vi-dir", type=Path, required=True)
    p.add_argument("--ir-dir", type=Path, required=True)
    p.add_argument("--names", help="FILE.json:KEY naming the pairs to show (default: all, in name order)")
    p.add_argument("--limit", type=int, default=4, help="number of pairs (rows) to show (default 4)")
    p.add_argument("--height", type=int, default=200, help="tile height in pixels")
    p.add_argument("--arch", choices=ARCHES,
                   help="network configuration (default: lite, or the one the --weights file holds)")
    p.add_argument("--weights")
    p.add_argument("--device", default="auto")
    p.add_argument("--columns", nargs="+", metavar="COLUMN",
                   help="the fusions to show after visible and infrared, in order: mean, max, a network "
                        "(lite, student, full) or NAME=FILE.pt (default: mean max and --arch/--weights)")
    p.add_argument("-o", "--output", required=True, help="output image (.png)")


def _column(spec: str, args: argparse.Namespace) -> tuple[str, Callable[[np.ndarray, np.ndarray], np.ndarray]]:
    """(label, fuse(vi, ir)) for one ``--columns`` entry."""
    from terf_studio.errors import TerfError
    from terf_studio.evaluate import reference_fusion
    from terf_studio.fusion import load_fuser

    if spec in ("mean", "max"):
        return spec, reference_fusion(spec)
    if spec in ARCHES:
        return f"TeRF {spec}", load_fuser(spec, None, args.device).fuse
    label, sep, path = spec.partition("=")
    if not sep or not Path(path).is_file():
        raise TerfError(f"--columns {spec!r}: expected mean, max, {', '.join(ARCHES)} or NAME=FILE.pt")
    return label, load_fuser(None, path, args.device).fuse


def run_compare(args: argparse.Namespace) -> int:
    # Imported here so building the command line does not load torch.
    from terf_studio.evaluate import load_names
    from terf_studio.fusion import load_fuser
    from terf_studio.imaging import read_pair, write_image
    from terf_studio.imaging.compose import comparison_sheet
    from terf_studio.imaging.folders import find_pairs

    names = load_names(args.names) if args.names else None
    pairs = find_pairs(args.vi_dir, args.ir_dir, names)[: args.limit]
    if args.columns:
        columns = [_column(spec, args) for spec in args.columns]
    else:
        fuser = load_fuser(args.arch, args.weights, args.device)
        columns = [_column("mean", args), _column("max", args), (f"TeRF {fuser.arch}", fuser.fuse)]
    rows = []
    for pair in pairs:
        vi, ir = read_pair(pair.vi, pair.ir)
        rows.append([(f"visible {pair.name}", vi), ("infrared", ir)]
                    + [(label, fuse(vi, ir)) for label, fuse in columns])
    write_image(args.output, comparison_sheet(rows, height=args.height))
    print(f"wrote {args.output} ({len(rows)} pairs)")
    return 0


NAME = "compare"
HELP = "a picture of pairs fused by mean, max and our network, side by side"
add_arguments = add_compare_arguments
run = run_compare
