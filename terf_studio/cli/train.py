"""``terf-studio train``: train the fusion network on a folder of pairs."""

from __future__ import annotations

import argparse

NAME = "train"
HELP = "train the fusion network on a folder of pairs"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="folder with vi/, ir/ and optionally split.json")
    p.add_argument("--split", default="train", help="split.json key to train on (default: train)")
    p.add_argument("--arch", choices=["lite", "student", "full"], default="lite",
                   help="network to train (student: lite with a larger full-resolution head, for --teacher)")
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
    p.add_argument("--teacher", help="distil from this network (an arch such as full, or a weights file): its "
                                     "fusion of each training pair is cached once, then matched beside the paper's "
                                     "loss; crops at several scales and photometric changes of the visible image")
    p.add_argument("--teacher-weight", type=float, default=1.0, help="weight of the distillation loss (default 1)")
    p.add_argument("--texture-weight", type=float, default=0.0,
                   help="with --teacher: also match the teacher's one-pixel differences and spatial frequency, "
                        "with this weight inside the distillation loss (default 0: off)")
    p.add_argument("--max-scale", type=float, default=2.0,
                   help="with --teacher: crops of up to this many times --crop, reduced to it (default 2)")
    p.add_argument("--init", default=None,
                   help="start from these weights of the same network (e.g. models/fusion-student.pt) instead of "
                        "a random initialisation")
    p.add_argument("--prepare-teacher", action="store_true",
                   help="only compute and cache the teacher's fusions of the training and validation pairs "
                        "(resumable), then stop")


def run(args: argparse.Namespace) -> int:
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
        teacher=args.teacher,
        teacher_weight=args.teacher_weight,
        texture_weight=args.texture_weight,
        max_scale=args.max_scale,
        init=Path(args.init) if args.init else None,
    )
    if args.prepare_teacher:
        from terf_studio.fusion.training import prepare_teacher

        print(f"teacher fusions in {prepare_teacher(opts)}")
        return 0
    summary = train(opts)
    if summary.get("stopped"):
        print(f"stopped: {summary['stopped']}")
    print(f"trained {summary['epochs']} epochs in {summary['seconds']:.0f} s; best validation loss "
          f"{summary['best_val']:.4f}; weights: {summary['weights']}")
    return 0
