"""``terf-studio batch RECIPE``: run a recipe's steps on every pair of two folders (or a list),
on this machine's cores or on a Ray cluster; resumable, with a report of every pair."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from terf_studio.errors import TerfError
from terf_studio.imaging.folders import Pair

NAME = "batch"
HELP = "apply a recipe (a .terf project's steps, or a recipe file) to a folder or list of pairs"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("recipe", help="a .terf project (its applied steps) or a recipe .json/.yaml file")
    p.add_argument("--vi-dir", help="folder of visible images")
    p.add_argument("--ir-dir", help="folder of infrared images with matching names")
    p.add_argument("--pairs", dest="pair_list",
                   help="instead of folders: a text file, one pair per line: VISIBLE INFRARED (paths relative "
                        "to the file; tab, comma or spaces between)")
    p.add_argument("--out-dir", required=True, help="output folder (images, reports, and what --save-projects "
                                                    "and --masks add)")
    p.add_argument("--ext", default="png", help="output format (png, tif, jpg; default png)")
    p.add_argument("--bit-depth", type=int, choices=[8, 16], default=8, help="output bit depth (PNG/TIFF)")
    p.add_argument("--engine", choices=["auto", "fast", "quick", "exact"],
                   help="run every step with this engine (default: each step's own, as recorded)")
    p.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local: processes on this machine (default); ray: tasks on a Ray cluster")
    p.add_argument("--workers", type=int, default=None,
                   help="local: worker processes (default 1); ray: tasks at once (default: the cluster's CPUs)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads per worker (default: this machine's cores / workers; 1 on Ray)")
    p.add_argument("--address", help="ray: the cluster's address (default: start a Ray instance on this machine)")
    p.add_argument("--save-projects", action="store_true", help="also save each pair as a .terf project")
    p.add_argument("--masks", action="store_true", help="also write each edit's mask under OUT/masks/")
    p.add_argument("--resize-ir", action="store_true", help="resize each infrared image to its visible size")
    p.add_argument("--weights", help="fusion weights file (default: the registered model the recipe names)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda, on every worker")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def read_pair_list(path: str | Path) -> list[Pair]:
    """Pairs from a list file: ``VISIBLE INFRARED`` per line, paths relative to the file, blank
    lines and ``#`` comments ignored. Names (the visible file's stem) must be unique."""
    from terf_studio.errors import TerfError

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TerfError(f"cannot read the pair list '{path}': {getattr(exc, 'strerror', None) or exc}") from None
    pairs: list[Pair] = []
    names: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f for f in line.replace("\t", ",").replace(",", " ").split() if f]
        if len(fields) != 2:
            raise TerfError(f"{path}:{number}: expected 'VISIBLE INFRARED', got {line[:80]!r}")
        vi, ir = (path.parent / fields[0]), (path.parent / fields[1])
        for image in (vi, ir):
            if not image.is_file():
                raise TerfError(f"{path}:{number}: '{image}' not found")
        if vi.stem in names:
            raise TerfError(f"{path}:{number}: the name '{vi.stem}' is used twice (line {names[vi.stem]})")
        names[vi.stem] = number
        pairs.append(Pair(vi.stem, vi, ir))
    if not pairs:
        raise TerfError(f"the pair list '{path}' has no pairs")
    return pairs


def run(args: argparse.Namespace) -> int:
    import json

    from tqdm import tqdm

    from terf_studio.cli.outputs import refuse_overwriting_inputs
    from terf_studio.imaging.folders import find_pairs
    from terf_studio.imaging.io import check_output_image_path
    from terf_studio.recipes import load_recipe
    from terf_studio.recipes.batch import BatchOptions, PairRecord, output_paths, run_batch
    from terf_studio.recipes.executors import make_executor

    if args.pair_list and (args.vi_dir or args.ir_dir):
        raise TerfError("give either --vi-dir and --ir-dir, or --pairs LIST, not both")
    if not args.pair_list and not (args.vi_dir and args.ir_dir):
        raise TerfError("batch needs --vi-dir and --ir-dir (or --pairs LIST)")
    if args.workers is not None and args.workers < 1:
        raise TerfError("--workers must be at least 1")
    if args.executor == "local" and args.address:
        raise TerfError("--address is for --executor ray")
    recipe = load_recipe(args.recipe)
    pairs = read_pair_list(args.pair_list) if args.pair_list else find_pairs(Path(args.vi_dir), Path(args.ir_dir))
    out_dir = Path(args.out_dir)
    ext = args.ext.lstrip(".").lower()
    check_output_image_path(out_dir / f"x.{ext}", args.bit_depth)
    options = BatchOptions(ext=ext, bit_depth=args.bit_depth, engine=args.engine, weights=args.weights,
                           device=args.device, resize_ir=args.resize_ir, save_projects=args.save_projects,
                           masks=args.masks)
    outputs = [(role, path) for pair in pairs for role, path in output_paths(out_dir, pair.name, options).items()]
    inputs = [("visible image", p.vi) for p in pairs] + [("infrared image", p.ir) for p in pairs]
    refuse_overwriting_inputs(outputs, inputs + [("recipe", args.recipe), ("weights file", args.weights)])

    print(f"recipe {recipe.hash()} ({len(recipe.steps)} steps) on {len(pairs)} pairs -> {out_dir}", file=sys.stderr)
    for line in recipe.describe():
        print(f"  {line}", file=sys.stderr)
    executor = make_executor(args.executor, args.workers, args.address, args.threads)
    bar = tqdm(total=len(pairs), unit="pair", desc=f"{executor.name} x{executor.workers}", file=sys.stderr)
    failed = 0

    def progress(finished: int, total: int, record: PairRecord) -> None:
        nonlocal failed
        if record.status == "failed":
            failed += 1
            where = f"step {record.step}: " if record.step else ""
            tqdm.write(f"failed: {record.pair}: {where}{record.reason}", file=sys.stderr)
        bar.update(finished - bar.n)
        bar.set_postfix(failed=failed)

    try:
        summary = run_batch(recipe, pairs, out_dir, options, executor, progress=progress)
    finally:
        bar.close()
    if args.json:
        print(json.dumps({"recipe": summary.recipe_hash, "done": summary.count("done"),
                          "skipped": summary.count("skipped"), "failed": summary.count("failed"),
                          "seconds": round(summary.seconds, 3), "pairs_per_second": summary.pairs_per_second,
                          "report": str(out_dir / "batch-report.json")}))
    else:
        print(summary.line())
        print(f"report: {out_dir / 'batch-report.csv'}")
    return 2 if summary.count("failed") else 0
