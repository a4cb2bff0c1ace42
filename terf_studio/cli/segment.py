"""``terf-studio segment``: a mask for a target phrase, clicks or a box, as a PNG.

Finders (``--finder``):

``builtin``  the weight-free code in :mod:`terf_studio.regions`: the text finder (warm
             objects, sky, road, vegetation), region growing from clicks, GrabCut in a box.
``grounded`` GroundingDINO (text -> boxes) and Segment Anything / MobileSAM (boxes and clicks
             -> masks), :mod:`terf_studio.regions.grounded`; it needs the ``[grounding]``
             extra and model files, and says which are missing.
``auto``     (default) grounded when everything it needs is present, else builtin; for text,
             the builtin finder also takes over when the grounded one finds nothing.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from terf_studio.errors import ModelError, TerfError

if TYPE_CHECKING:
    from terf_studio.regions.grounded.finder import GroundedFinder

FINDERS = ("auto", "grounded", "builtin")


def _numbers(text: str, count: int, what: str) -> tuple[float, ...]:
    parts = text.replace(" ", "").split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != count:
        raise argparse.ArgumentTypeError(f"{what} must be {count} numbers separated by commas, not '{text}'")
    return values


def _point(text: str) -> tuple[float, float]:
    x, y = _numbers(text, 2, "a point (X,Y)")
    return x, y


def _box(text: str) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = _numbers(text, 4, "a box (X0,Y0,X1,Y1)")
    return x0, y0, x1, y1


def add_segment_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("vis", help="visible image")
    p.add_argument("ir", help="infrared image (same size)")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--text", help="target phrase, e.g. 'person', 'the sky', 'people and cars'")
    target.add_argument("--point", action="append", type=_point, metavar="X,Y",
                        help="a click on the object in pixels (repeat for more clicks)")
    target.add_argument("--box", type=_box, metavar="X0,Y0,X1,Y1", help="a box around the object in pixels")
    p.add_argument("--negative", action="append", type=_point, default=[], metavar="X,Y",
                   help="with --point: a click on what is not the object (repeatable)")
    p.add_argument("-o", "--output", required=True, help="the mask PNG to write (white = inside)")
    p.add_argument("--finder", choices=FINDERS, default="auto", help="which finder (default: auto)")
    p.add_argument("--sam", choices=["sam-vit-h", "sam-vit-l", "sam-vit-b", "mobile-sam"],
                   help="grounded: which Segment Anything model (default: the best present)")
    p.add_argument("--fused", help="the fused image, seen as the user sees it (default: the visible image)")
    p.add_argument("--overlay", help="also write a picture of the mask over the image")
    p.add_argument("--device", default="auto", help="grounded: auto, cpu or cuda")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


# ---------------------------------------------------------------------------- the grounded finder


SAM_FAMILY = ("sam-vit-h", "sam-vit-l", "sam-vit-b", "mobile-sam")


def _files_present(text: bool, sam: str | None) -> bool:
    """Whether the model files the grounded finder would need are present: a cheap check,
    so that ``auto`` does not import the grounded package (and torch) when they are not."""
    from terf_studio.weights import registry

    if not any(registry.find_model(n) is not None for n in ((sam,) if sam else SAM_FAMILY)):
        return False
    return not text or all(registry.find_model(n) is not None for n in ("groundingdino-swint-ogc", "bert-base-uncased"))


def _grounded_module() -> ModuleType | None:
    """The grounded finder package, or None when this installation does not have it."""
    try:
        from terf_studio.regions import grounded
    except ImportError:
        return None
    return grounded


def _grounded_package(required: bool) -> ModuleType | None:
    """The grounded package; None (auto) or a ModelError (``--finder grounded``) without it."""
    grounded = _grounded_module()
    if grounded is None and required:
        raise ModelError("--finder grounded: this installation has no grounded finder "
                         "(terf_studio.regions.grounded); use --finder builtin")
    return grounded


def _grounded_ready(args: argparse.Namespace, required: bool, text: bool) -> tuple[ModuleType, dict] | None:
    """(package, status) when the grounded finder has what ``text`` targets (or clicks and
    boxes) need; None (auto) or a ModelError (``--finder grounded``) when something is missing."""
    if not required and not _files_present(text, args.sam):
        return None
    grounded = _grounded_package(required)
    if grounded is None:
        return None
    status = grounded.grounded_status(args.sam, text=text)
    if not status["ready"]:
        if required:
            raise ModelError("--finder grounded needs: " + "; ".join(status["missing"]))
        return None
    return grounded, status


def _grounded_for_text(args: argparse.Namespace, required: bool) -> GroundedFinder | None:
    """Register the grounded finder for a text target (see :func:`_grounded_ready`)."""
    ready = _grounded_ready(args, required, text=True)
    return None if ready is None else ready[0].register_grounded_if_available(args.sam, device=args.device)


def _grounded_for_prompts(args: argparse.Namespace, required: bool) -> GroundedFinder | None:
    """A grounded finder for clicks and boxes, which need only a SAM-family model and its
    packages, not GroundingDINO (see :func:`_grounded_ready`)."""
    ready = _grounded_ready(args, required, text=False)
    return None if ready is None else ready[0].GroundedFinder(sam=ready[1]["sam"], device=args.device)


# ---------------------------------------------------------------------------- the command


def segment(args: argparse.Namespace) -> dict:
    """Find the mask, write it (and the overlay); return what the command reports."""
    from terf_studio.imaging import read_image, write_image
    from terf_studio.regions import (
        ImageSet,
        box_region,
        find_region,
        overlay,
        point_region,
    )

    if args.negative and not args.point:
        raise TerfError("--negative goes with --point")
    images = ImageSet(read_image(args.vis), read_image(args.ir), read_image(args.fused) if args.fused else None)
    required = args.finder == "grounded"
    t0 = time.perf_counter()
    detail = ""
    if args.text is not None:
        if not args.text.strip():
            raise TerfError("--text needs a target phrase")
        if args.finder != "builtin":
            _grounded_for_text(args, required)
        found = find_region(args.text, images, finder="grounded" if required else
                            ("builtin" if args.finder == "builtin" else None))
        mask, finder, confidence, detail = found.mask, found.finder, found.confidence, found.detail
    else:
        learned = None if args.finder == "builtin" else _grounded_for_prompts(args, required)
        try:
            if args.point:
                if learned is not None:
                    mask = learned.point_mask(images, args.point, args.negative, label="point")
                else:
                    mask = point_region(images, positives=args.point, negatives=args.negative, label="point")
            elif learned is not None:
                mask = learned.box_mask(images, args.box, label="box")
            else:
                mask = box_region(images, box=args.box, label="box")
        except ValueError as exc:  # a click or box outside the image
            raise TerfError(str(exc)) from None
        finder = mask.source if learned is not None else f"builtin:{mask.source}"
        confidence = mask.confidence
        if mask.is_empty:
            what = "clicks" if args.point else "box"
            raise TerfError(f"the {what} gave an empty mask: click elsewhere, draw a box or paint it")
    seconds = time.perf_counter() - t0
    mask.save_png(args.output)
    if args.overlay:
        write_image(args.overlay, overlay(images.view, [mask]))
    h, w = mask.shape
    bbox = mask.bbox()
    return {
        "output": str(Path(args.output)),
        "overlay": str(Path(args.overlay)) if args.overlay else None,
        "finder": finder,
        "confidence": round(float(confidence), 3),
        "area": mask.area,
        "fraction": round(mask.area / float(h * w), 4),
        "bbox": list(bbox) if bbox is not None else None,
        "detail": detail,
        "seconds": round(seconds, 3),
    }


def run_segment(args: argparse.Namespace) -> int:
    report = segment(args)
    if args.json:
        print(json.dumps(report))
        return 0
    note = f"; {report['detail']}" if report["detail"] else ""
    print(f"mask by {report['finder']} (confidence {report['confidence']:.2f}): {report['area']:,} pixels, "
          f"{100 * report['fraction']:.1f}% of the image{note}")
    print(f"wrote {report['output']}" + (f" and {report['overlay']}" if report["overlay"] else ""))
    return 0


NAME = "segment"
HELP = "a mask PNG for a target phrase, clicks or a box"
add_arguments = add_segment_arguments
run = run_segment
