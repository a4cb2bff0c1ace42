"""``terf-studio fuse``: one pair, or every pair of two folders matched by file name (or stem)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tqdm import tqdm

from terf_studio.device import describe_device
from terf_studio.errors import TerfError
from terf_studio.fusion import load_fuser
from terf_studio.imaging import read_pair, write_image
from terf_studio.imaging.folders import find_pairs

def fuse_one(args: argparse.Namespace) -> int:
    fuser = load_fuser(args.arch, args.weights, args.device)
    vi, ir = read_pair(args.vis, args.ir, resize_ir=args.resize_ir)
    t0 = time.perf_counter()
    fused = fuser.fuse(vi, ir)
    seconds = time.perf_counter() - t0
    write_image(args.output, fused, bit_depth=args.bit_depth)
    print(f"fused {args.vis} + {args.ir} -> {args.output} ({fuser.arch}, {describe_device(fuser.device)}, {seconds:.2f} s)")
    return 0


def fuse_folders(args: argparse.Namespace) -> int:
    pairs = find_pairs(Path(args.vi_dir), Path(args.ir_dir))
    out_dir = Path(args.out_dir)
    fuser = load_fuser(args.arch, args.weights, args.device)
    ext = args.ext.lstrip(".")
    failures = []
    for pair in tqdm(pairs, desc=f"fusing ({fuser.arch})", unit="pair"):
        try:
            vi, ir = read_pair(pair.vi, pair.ir, resize_ir=args.resize_ir)
            write_image(out_dir / f"{pair.name}.{ext}", fuser.fuse(vi, ir), bit_depth=args.bit_depth)
        except TerfError as exc:  # one bad pair must not stop the batch
            failures.append(str(exc))
            tqdm.write(f"skipped: {exc}", file=sys.stderr)
    print(f"fused {len(pairs) - len(failures)} of {len(pairs)} pairs into {out_dir}")
    return 2 if failures else 0
