"""``terf-studio fuse``: one pair, or every pair of two folders matched by file name (or stem)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from terf_studio.cli.common import add_model_arguments
from terf_studio.cli.outputs import refuse_constant_output, refuse_overwriting_inputs
from terf_studio.device import describe_device
from terf_studio.errors import TerfError
from terf_studio.fusion import load_fuser
from terf_studio.imaging import read_pair, store, write_image
from terf_studio.imaging.folders import find_pairs
from terf_studio.imaging.io import check_output_image_path

if TYPE_CHECKING:
    from terf_studio.fusion.inference import Fuser


def fuse_stored(fuser: Fuser, vi_path: str | os.PathLike, ir_path: str | os.PathLike, output: str | os.PathLike,
                bit_depth: int, resize_ir: bool) -> np.ndarray:
    """Read a pair as stored (uint8/uint16) and fuse it into a uint8 or uint16 array of the output's
    bit depth: no float copy of a whole image is made (the fusion converts a tile at a time), and a
    large result is kept in a scratch file (:mod:`terf_studio.imaging.store`). A flat result from
    non-flat inputs is refused."""
    vi, ir = read_pair(vi_path, ir_path, resize_ir=resize_ir, stored=True)
    out = store.empty((*ir.shape[:2], 3), np.uint8 if bit_depth == 8 else np.uint16)  # on disk when large
    fused = fuser.fuse(vi, ir, out=out)
    refuse_constant_output(fused, (vi, ir), output, bit_depth)
    return fused


def fuse_one(args: argparse.Namespace) -> int:
    check_output_image_path(args.output, args.bit_depth)
    refuse_overwriting_inputs({"output image": args.output},
                              {"visible image": args.vis, "infrared image": args.ir, "weights file": args.weights})
    fuser = load_fuser(args.arch, args.weights, args.device)
    t0 = time.perf_counter()
    fused = fuse_stored(fuser, args.vis, args.ir, args.output, args.bit_depth, args.resize_ir)
    seconds = time.perf_counter() - t0
    write_image(args.output, fused, bit_depth=args.bit_depth, in_place=True)
    where = describe_device(fuser.device)
    print(f"fused {args.vis} + {args.ir} -> {args.output} ({fuser.arch}, {where}, {seconds:.2f} s)")
    return 0


def fuse_folders(args: argparse.Namespace) -> int:
    pairs = find_pairs(Path(args.vi_dir), Path(args.ir_dir))
    out_dir = Path(args.out_dir)
    ext = args.ext.lstrip(".")
    check_output_image_path(out_dir / f"fused.{ext}", args.bit_depth)
    outputs = {pair.name: out_dir / f"{pair.name}.{ext}" for pair in pairs}
    inputs = [("visible image", pair.vi) for pair in pairs] + [("infrared image", pair.ir) for pair in pairs]
    # every output against every input: one pair's output may be another pair's input
    refuse_overwriting_inputs([("output image", out) for out in outputs.values()],
                              inputs + [("weights file", args.weights)])
    fuser = load_fuser(args.arch, args.weights, args.device)
    failures = []
    for pair in tqdm(pairs, desc=f"fusing ({fuser.arch})", unit="pair"):
        try:
            fused = fuse_stored(fuser, pair.vi, pair.ir, outputs[pair.name], args.bit_depth, args.resize_ir)
            write_image(outputs[pair.name], fused, bit_depth=args.bit_depth, in_place=True)
        except TerfError as exc:  # one bad pair must not stop the batch
            failures.append(str(exc))
            tqdm.write(f"skipped: {exc}", file=sys.stderr)
    print(f"fused {len(pairs) - len(failures)} of {len(pairs)} pairs into {out_dir}")
    return 2 if failures else 0


NAME = "fuse"
HELP = "fuse a visible + infrared pair, or two folders of pairs"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("vis", nargs="?", help="visible image")
    p.add_argument("ir", nargs="?", help="infrared image")
    p.add_argument("-o", "--output", help="output image (.png, .tif, .tiff, .jpg)")
    p.add_argument("--vi-dir", help="batch: folder of visible images")
    p.add_argument("--ir-dir", help="batch: folder of infrared images with matching names")
    p.add_argument("--out-dir", help="batch: output folder")
    p.add_argument("--ext", default="png", help="batch: output format (png, tif, jpg; default png)")
    p.add_argument("--bit-depth", type=int, choices=[8, 16], default=8, help="output bit depth (PNG/TIFF)")
    p.add_argument("--resize-ir", action="store_true", help="resize the infrared image to the visible size")
    add_model_arguments(p)


def run(args: argparse.Namespace) -> int:
    batch = args.vi_dir or args.ir_dir or args.out_dir
    if batch:
        if args.vis or args.ir or args.output:
            raise TerfError("give either VIS IR -o OUT, or --vi-dir --ir-dir --out-dir, not both")
        if not (args.vi_dir and args.ir_dir and args.out_dir):
            raise TerfError("batch fusion needs all of --vi-dir, --ir-dir and --out-dir")
        return fuse_folders(args)
    if not (args.vis and args.ir and args.output):
        raise TerfError("usage: terf-studio fuse VIS IR -o OUT (or --vi-dir D --ir-dir D --out-dir D)")
    return fuse_one(args)
