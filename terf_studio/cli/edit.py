"""``terf-studio edit VIS IR --command TEXT -o OUT``: parse, find regions, fine-tune, write."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from terf_studio.cli.common import ARCHES
from terf_studio.tuning.specs import ENGINE_CHOICES

if TYPE_CHECKING:
    import numpy as np
    from tqdm import tqdm

    from terf_studio.document.session import EditSession
    from terf_studio.language import EditorAction
    from terf_studio.regions import Mask


def add_edit_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("vis", nargs="?", help="visible image (or give --project)")
    p.add_argument("ir", nargs="?", help="infrared image")
    p.add_argument("--project", help="continue a saved .terf project instead of VIS IR")
    p.add_argument("-c", "--command", action="append", required=True,
                   help='an edit in words, e.g. "brighten the trees"; repeat for several steps. '
                        '"undo that", "again", "stronger", "a bit weaker" act on the latest step')
    p.add_argument("--mask", action="append", default=[],
                   help="mask PNG for the command's edits, in order (one mask: used for every edit)")
    speed = p.add_mutually_exclusive_group()
    speed.add_argument("--engine", choices=ENGINE_CHOICES, default="auto",
                       help="auto (default: fast on a CPU, fine-tuning on CUDA), fast (trained engines, about a "
                       "second), quick (the paper's fine-tuning, shortened counts) or exact")
    speed.add_argument("--exact", dest="engine", action="store_const", const="exact",
                       help="the paper's test-time fine-tuning with its iteration counts (= --engine exact)")
    speed.add_argument("--quick", dest="engine", action="store_const", const="quick",
                       help="the paper's fine-tuning with fewer iterations, measured to look the same "
                            "(= --engine quick)")
    p.add_argument("-o", "--output", required=True, help="result image (.png, .tif, .jpg)")
    p.add_argument("--bit-depth", type=int, choices=[8, 16], default=8)
    p.add_argument("--save-project", help="also save the session as a .terf project")
    p.add_argument("--llm", default="none",
                   help="text parser: none (rules only, default), auto (rules + the embedded LLM) or a GGUF path")
    p.add_argument("--arch", choices=ARCHES,
                   help="network configuration (default: lite, or the one the --weights file holds)")
    p.add_argument("--weights")
    p.add_argument("--device", default="auto")
    p.add_argument("--resize-ir", action="store_true")
    p.add_argument("--json", action="store_true", help="print the applied steps as JSON")


def run_edit(args: argparse.Namespace) -> int:
    from terf_studio.cli.outputs import refuse_constant_output, refuse_overwriting_inputs
    from terf_studio.document.project import check_project_path, load_project, save_project
    from terf_studio.document.session import EditSession
    from terf_studio.errors import TerfError
    from terf_studio.imaging import write_image
    from terf_studio.imaging.io import check_output_image_path
    from terf_studio.language import clean_command, parse
    from terf_studio.regions import Mask

    if args.project and (args.vis or args.ir):
        raise TerfError("give either VIS IR or --project, not both")
    if not args.project and not (args.vis and args.ir):
        raise TerfError("usage: terf-studio edit VIS IR --command TEXT -o OUT (or --project P.terf)")
    # every output is checked before any work: a wrong name must not cost a whole edit
    check_output_image_path(args.output, args.bit_depth)
    if args.save_project:
        check_project_path(args.save_project)
    inputs = [("visible image", args.vis), ("infrared image", args.ir), ("weights file", args.weights)]
    inputs += [("mask", m) for m in args.mask]
    refuse_overwriting_inputs({"output image": args.output}, [*inputs, ("project", args.project)])
    refuse_overwriting_inputs({"project": args.save_project}, inputs)  # over --project is fine: saves are atomic
    mask_images = [_read_mask_image(path) for path in args.mask]  # an empty mask fails before the fusion

    if args.project:
        session = load_project(args.project, device=args.device)
        refuse_overwriting_inputs({"output image": args.output, "project": args.save_project},
                                  {"visible image the project came from": session.vi_path,
                                   "infrared image the project came from": session.ir_path})
    else:
        session = EditSession.open(args.vis, args.ir, args.arch, args.weights, args.device, args.resize_ir)
    # the 16-bit arrays themselves: float copies of a large pair would take gigabytes
    refuse_constant_output(session.base16, (session.vi16, session.ir16), args.output, args.bit_depth)
    from terf_studio.regions.grounded import register_grounded_if_available

    register_grounded_if_available(device=args.device)  # GroundingDINO + SAM first when installed
    shape = session.vi16.shape[:2]
    masks = [_as_mask(Mask, image, path, shape) for image, path in zip(mask_images, args.mask, strict=True)]

    for text in args.command:
        text = clean_command(text)  # no terminal escapes in progress bars, messages or the project
        plan = parse(text, llm=args.llm)
        if plan.action is not None:
            _run_action(session, plan.action, text, args.engine)
            continue
        if not plan.edits:
            raise TerfError(f"no edit understood in {text!r}: try e.g. 'brighten the sky' or 'denoise the road'")
        given = masks * len(plan.edits) if len(masks) == 1 else masks
        if len(given) > len(plan.edits):
            raise TerfError(f"{len(masks)} masks given for {len(plan.edits)} edits in {text!r}")
        bar, progress = _progress_bar(text)
        try:
            step = session.apply(plan, given, text=text, engine=args.engine, progress=progress)
        finally:
            bar.close()
        for applied in step.edits:
            where = applied.edit.target or "whole image"
            info = applied.info
            print(f"{applied.edit.task.value} -> {where}: {info.get('engine')} engine, "
                  f"{info.get('iterations', 0)} iterations, {info.get('seconds', 0):.1f} s"
                  + (f", region by {info['finder']}" if info.get("finder") else ""), file=sys.stderr)
            if info.get("notice"):
                print(f"notice: {info['notice']}", file=sys.stderr)
    result = session.current16
    refuse_constant_output(result, (session.vi16, session.ir16), args.output, args.bit_depth,
                           cause="the edits left a flat image (try a lower strength or a smaller region)")
    write_image(args.output, result, bit_depth=args.bit_depth)
    if args.save_project:
        save_project(session, args.save_project)
    if args.json:
        print(json.dumps({"output": args.output, "steps": session.history()}))
    else:
        print(f"wrote {args.output}" + (f" and {args.save_project}" if args.save_project else ""))
    return 0


def _run_action(session: EditSession, action: EditorAction, text: str, engine: str) -> None:
    """An editor action typed as a command ("undo that", "again", "stronger") on the session."""
    from terf_studio.document.actions import apply_action
    from terf_studio.errors import TerfError
    from terf_studio.language import ActionName

    if action.name in (ActionName.UNDO, ActionName.REDO):
        move = session.undo if action.name is ActionName.UNDO else session.redo
        moved = [step for _ in range(action.times) if (step := move()) is not None]
        if not moved:
            raise TerfError(f"{text!r}: there is no step to {action.name.value}")
        for step in moved:
            print(f"{action.name.value}: {step.text}", file=sys.stderr)
        return
    bar, progress = _progress_bar(text)
    try:
        step = apply_action(session, action, engine=engine, progress=progress)
    finally:
        bar.close()
    print(f"{action.name.value}: {step.text}", file=sys.stderr)


def _progress_bar(text: str) -> tuple[tqdm, Callable[[str, int, int, float], None]]:
    """A progress bar on stderr for one command and the progress callback that moves it."""
    from tqdm import tqdm

    bar = tqdm(total=0, desc=text, unit="it", file=sys.stderr, leave=False)
    shown: dict[str, str | None] = {"label": None}

    def progress(label: str, i: int, n: int, loss: float) -> None:
        if bar.total != n or shown["label"] != label:  # a new edit of the command starts
            shown["label"] = label
            bar.reset(total=n)
            bar.set_description(label)
        bar.n = i
        bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        bar.refresh()

    return bar, progress


def _read_mask_image(path: str) -> np.ndarray:
    """A mask file as a grey float image; an all-black mask is an error (see below)."""
    from terf_studio.errors import TerfError
    from terf_studio.imaging import read_image

    image = read_image(path)
    if image.ndim == 3:
        image = image.mean(axis=2)
    # An all-black mask selects no pixel, so the edit would run and change nothing: refused before
    # any work (a non-zero exit scripts notice, rather than a notice after a full run).
    if not image.any():
        raise TerfError(f"mask '{path}' is all black: it selects no pixel, so the edit would change nothing "
                        "(white marks the region to edit)")
    return image


def _as_mask(mask_cls: type[Mask], image: np.ndarray, path: str, shape: tuple[int, int]) -> Mask:
    from terf_studio.errors import TerfError

    if image.shape != shape:
        raise TerfError(f"mask '{path}' is {image.shape[1]}x{image.shape[0]} but the images are {shape[1]}x{shape[0]}")
    return mask_cls(image, label=Path(path).stem, source="file")


NAME = "edit"
HELP = "edit a pair by text: parse, find regions, run the tasks, write the result"
add_arguments = add_edit_arguments
run = run_edit
