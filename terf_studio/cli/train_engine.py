"""``terf-studio train-engine``: train one fast engine once, offline (see
:mod:`terf_studio.tuning.engines.training`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from terf_studio.paths import SHARED_DATA

DEFAULT_OUT = {
    "inclination": "models/fast-inclination-BASE.pt",
    "illumination": "models/fast-illumination.pt",
    "denoise": "models/fast-denoise.pt",
}
DEFAULT_CROP = {"inclination": 128, "illumination": 96, "denoise": 96}
DEFAULT_BATCH = {"inclination": 8, "illumination": 8, "denoise": 16}


def add_train_engine_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("engine", choices=sorted(DEFAULT_OUT), help="which fast engine")
    p.add_argument("--data", default=str(SHARED_DATA),
                   help="folder with roadscene/ (train split used) and msrs-samples/")
    p.add_argument("--out", help="weights file (default: models/fast-ENGINE.pt)")
    p.add_argument("--minutes", type=float, default=20.0, help="wall-clock budget")
    p.add_argument("--steps", type=int, default=None, help="stop after this many steps")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--crop", type=int, default=None)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N training pairs")
    p.add_argument("--units", choices=("prior", "paper"), default="prior",
                   help="illumination: units with the max-RGB prior (the fast engine, default) or the paper's plain "
                   "units (the fine-tuning engines' start, models/illumination-start.pt)")
    p.add_argument("--resume", action="store_true", help="continue from the weights in --out (fresh optimiser)")
    p.add_argument("--base", default="lite",
                   help="inclination: the fusion network (its installed weights) the engine is trained on")


def run_train_engine(args: argparse.Namespace) -> int:
    from terf_studio.tuning.engines.training import EngineTrainOptions, train_engine

    opts = EngineTrainOptions(
        engine=args.engine, data=Path(args.data),
        out=Path(args.out or DEFAULT_OUT[args.engine].replace("BASE", args.base)),
        minutes=args.minutes, steps=args.steps, batch_size=args.batch_size or DEFAULT_BATCH[args.engine],
        crop=args.crop or DEFAULT_CROP[args.engine], lr=args.lr, seed=args.seed, threads=args.threads,
        limit=args.limit, resume=args.resume, prior_units=args.units == "prior", base=args.base,
    )
    meta = train_engine(opts)
    print(f"trained the {args.engine} engine for {meta['steps']} steps in {meta['seconds']:.0f} s "
          f"(last loss {meta['final_loss']:.5f}); weights: {opts.out}")
    return 0


NAME = "train-engine"
HELP = "train a fast engine (inclination, illumination, denoise) once, offline"
add_arguments = add_train_engine_arguments
run = run_train_engine
