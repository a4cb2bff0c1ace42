"""``terf-studio train``: train the fusion network on a folder of pairs."""

from __future__ import annotations

import argparse

NAME = "train"
HELP = "train the fusion network on a folder of pairs"


def add_arguments(p: argparse.ArgumentParser) -> None:
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
    )
    summary = train(opts)
    if summary.get("stopped"):
        print(f"stopped: {summary['stopped']}")
    print(f"trained {summary['epochs']} epochs in {summary['seconds']:.0f} s; best validation loss "
          f"{summary['best_val']:.4f}; weights: {summary['weights']}")
    return 0
