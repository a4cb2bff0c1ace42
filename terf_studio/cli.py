"""The ``terf-studio`` command line: fuse, edit, train, eval, compare, parse, models, segment, bench,
doctor.

Every user-facing failure is a :class:`~terf_studio.errors.TerfError` printed on one line
(exit status 2). Set ``TERF_STUDIO_DEBUG=1`` to see tracebacks of unexpected errors.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from terf_studio import __version__
from terf_studio.errors import TerfError


def _add_model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--arch", choices=["lite", "full"], default="lite", help="network configuration (default: lite)")
    p.add_argument("--weights", help="weights file (default: the registered model for --arch)")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="terf-studio", description="Visible + infrared image fusion you can steer.")
    parser.add_argument("--version", action="version", version=f"terf-studio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("fuse", help="fuse a visible + infrared pair, or two folders of pairs")
    p.add_argument("vis", nargs="?", help="visible image")
    p.add_argument("ir", nargs="?", help="infrared image")
    p.add_argument("-o", "--output", help="output image (.png, .tif, .tiff, .jpg)")
    p.add_argument("--vi-dir", help="batch: folder of visible images")
    p.add_argument("--ir-dir", help="batch: folder of infrared images with matching names")
    p.add_argument("--out-dir", help="batch: output folder")
    p.add_argument("--ext", default="png", help="batch: output format (png, tif, jpg; default png)")
    p.add_argument("--bit-depth", type=int, choices=[8, 16], default=8, help="output bit depth (PNG/TIFF)")
    p.add_argument("--resize-ir", action="store_true", help="resize the infrared image to the visible size")
    _add_model_arguments(p)
    p.set_defaults(func=_cmd_fuse)

    p = sub.add_parser("train", help="train the fusion network on a folder of pairs")
    p.add_argument("--data", required=True, help="folder with vi/, ir/ and optionally split.json")
    p.add_argument("--split", default="train", help="split.json key to train on (default: train)")
    p.add_argument("--arch", choices=["lite", "full"], default="lite")
    p.add_argument("--out", default=None, help="output folder (default: runs/ARCH)")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--crop", type=int, default=128, help="random crop size in pixels")
    p.add_argument("--crops-per-pair", type=int, default=1, help="crops drawn from each pair per epoch")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--val-pairs", type=int, default=6, help="training pairs held out for validation")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="use only the first N pairs (quick runs)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="wall-clock budget: start no epoch that would end after it (then --resume continues)")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=_cmd_train)

    from terf_studio.compare_command import add_compare_arguments, run_compare
    from terf_studio.edit_command import add_edit_arguments, run_edit
    from terf_studio.evaluate import add_eval_arguments, run_eval
    from terf_studio.gui.app import add_gui_arguments, run_gui
    from terf_studio.language.cli import add_bench_parse_arguments, add_parse_arguments, run_bench_parse, run_parse
    from terf_studio.models_command import add_models_arguments, run_models
    from terf_studio.segment_command import add_segment_arguments, run_segment
    from terf_studio.train_engine_command import add_train_engine_arguments, run_train_engine

    for name, help_text, add_arguments, func in (
        ("eval", "fusion quality metrics over a folder of pairs", add_eval_arguments, run_eval),
        ("edit", "edit a pair by text: parse, find regions, fine-tune, write the result", add_edit_arguments, run_edit),
        ("compare", "a picture of pairs fused by mean, max and our network, side by side", add_compare_arguments,
         run_compare),
        ("parse", "turn a text command into an edit plan", add_parse_arguments, run_parse),
        ("models", "model files: list, add one you have, download one", add_models_arguments, run_models),
        ("segment", "a mask PNG for a target phrase, clicks or a box", add_segment_arguments, run_segment),
        ("gui", "open the editor window (the default with no command)", add_gui_arguments, run_gui),
        ("train-engine", "train a fast engine (inclination, illumination, denoise) once, offline",
         add_train_engine_arguments, run_train_engine),
    ):
        p = sub.add_parser(name, help=help_text)
        add_arguments(p)
        p.set_defaults(func=func)

    bench = sub.add_parser("bench", help="benchmarks (speed, memory, accuracy)").add_subparsers(dest="bench", metavar="WHAT")
    bench.required = True
    p = bench.add_parser("fuse", help="seconds per 640x480 pair and peak memory, lite and full")
    p.add_argument("--arch", action="append", choices=["lite", "full"], help="only these (default: both)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_bench_fuse)
    from terf_studio.bench.edit import add_bench_edit_arguments, run_bench_edit

    p = bench.add_parser("edit", help="each task's engines on fixed regions: direction, agreement, speed")
    add_bench_edit_arguments(p)
    p.set_defaults(func=run_bench_edit)
    p = bench.add_parser("tasks", help="the paper's Table 2: tasks I-VII on whole RoadScene test pairs, metrics, seconds")
    p.add_argument("--pairs", type=int, default=3, help="the first N test pairs (default 3)")
    p.add_argument("--data", help="RoadScene folder with vi/, ir/, split.json (default ../shared/data/roadscene)")
    speed = p.add_mutually_exclusive_group()
    speed.add_argument("--exact", action="store_true", help="the paper's iteration counts")
    speed.add_argument("--quick", dest="exact", action="store_false", help="the quick default counts")
    p.add_argument("--engines", default=None,
                   help="comma-separated engines (fast, quick, exact) to run and compare; the last is the reference")
    p.add_argument("--iterations", type=int, default=None, help="override every task's iteration count")
    p.add_argument("--max-minutes", type=float, default=None, help="start no new pair after this long")
    p.add_argument("--no-timing", action="store_true", help="skip the 640x480 quarter-mask timing")
    p.add_argument("--seed", type=int, default=0)
    _add_model_arguments(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_bench_tasks)
    p = bench.add_parser("parse", help="accuracy and latency of the text parsers")
    add_bench_parse_arguments(p)
    p.set_defaults(func=run_bench_parse)
    from terf_studio.bench.segment import add_bench_segment_arguments, run_bench_segment

    p = bench.add_parser("segment", help="seconds per mask: builtin point, box and text finders (and more rows)")
    add_bench_segment_arguments(p)
    p.set_defaults(func=run_bench_segment)
    from terf_studio.bench.gui import add_bench_gui_arguments, run_bench_gui

    p = bench.add_parser("gui", help="how long the window's GUI thread is held up while jobs run")
    add_bench_gui_arguments(p)
    p.set_defaults(func=run_bench_gui)

    p = sub.add_parser("doctor", help="device, versions, and which models are present")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_doctor)
    return parser


def _cmd_fuse(args: argparse.Namespace) -> int:
    from terf_studio.fuse_command import fuse_folders, fuse_one

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


def _cmd_train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from terf_studio.fusion.training import TrainOptions, train

    opts = TrainOptions(
        data=Path(args.data),
        out=Path(args.out or f"runs/{args.arch}"),
        arch=args.arch,
        split=args.split,
        epochs=args.epochs,
        batch_size=args.batch_size,
        crop=args.crop,
        crops_per_pair=args.crops_per_pair,
        lr=args.lr,
        val_pairs=args.val_pairs,
        seed=args.seed,
        resume=args.resume,
        device=args.device,
        limit=args.limit,
        max_minutes=args.max_minutes,
    )
    summary = train(opts)
    if summary.get("stopped"):
        print(f"stopped: {summary['stopped']}")
    print(f"trained {summary['epochs']} epochs in {summary['seconds']:.0f} s; best validation loss "
          f"{summary['best_val']:.4f}; weights: {summary['weights']}")
    return 0


def _cmd_bench_fuse(args: argparse.Namespace) -> int:
    import json

    from terf_studio.bench.fuse import bench_fuse, format_fuse_table

    rows = bench_fuse(args.arch or ["lite", "full"], repeats=args.repeats, device=args.device)
    print(json.dumps(rows, indent=2) if args.json else format_fuse_table(rows))
    return 0


def _cmd_bench_tasks(args: argparse.Namespace) -> int:
    from terf_studio.bench.tasks import run_bench_tasks

    return run_bench_tasks(args)


def _cmd_doctor(args: argparse.Namespace) -> int:
    import json

    from terf_studio.doctor import doctor_report, format_doctor

    report = doctor_report()
    print(json.dumps(report, indent=2) if args.json else format_doctor(report))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):  # no command: open the editor
        args = parser.parse_args(["gui"])
    try:
        return int(args.func(args) or 0)
    except TerfError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line for the user, the traceback on request
        if os.environ.get("TERF_STUDIO_DEBUG"):
            raise
        print(f"internal error: {type(exc).__name__}: {exc} (set TERF_STUDIO_DEBUG=1 for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
