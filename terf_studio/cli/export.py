"""``terf-studio export``: write the result of a saved project, as the editor's File > Export does.

The same :func:`~terf_studio.document.export.export_session` writes the files, so the output is
byte for byte what the editor exports after opening the project (and undoing to ``--step N``).
Nothing is recomputed: the project holds the fused image and every step's pixels.
"""

from __future__ import annotations

import argparse

from terf_studio.document.export import EXPORT_FORMATS, export_session
from terf_studio.document.project import load_project
from terf_studio.errors import TerfError

NAME = "export"
HELP = "export the result of a saved project (.terf) as PNG/TIFF, with its masks if asked"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("project", metavar="PROJECT.terf", help="a project saved by the editor or by edit --save-project")
    p.add_argument("-o", "--output", required=True, help="output image (.png, .tif, .tiff)")
    p.add_argument("--step", type=int, metavar="N",
                   help="the result after the first N steps (0: the fusion before any edit; "
                        "default: where the project was saved)")
    p.add_argument("--bit-depth", type=int, choices=[8, 16], default=8, help="output bit depth (default 8)")
    p.add_argument("--masks", metavar="DIR",
                   help="also write the project's mask layers into DIR (OUTPUT-NAME.mask-K-LABEL.png)")
    p.add_argument("--source", choices=["result", "fused"], default="result",
                   help="the edited result (default) or the unedited fusion")
    p.add_argument("--comparison", action="store_true",
                   help="also write OUTPUT-NAME.comparison.png (visible | infrared | fused | edited)")


def run(args: argparse.Namespace) -> int:
    if not args.output.lower().endswith(EXPORT_FORMATS):  # before the project is read
        raise TerfError(f"export as .png or .tif/.tiff, not '{args.output}'")
    from terf_studio.cli.outputs import refuse_overwriting_inputs

    refuse_overwriting_inputs({"output image": args.output}, {"project": args.project})
    session = load_project(args.project, device="cpu")  # nothing is computed: the CPU is enough
    refuse_overwriting_inputs({"output image": args.output},
                              {"visible image the project came from": session.vi_path,
                               "infrared image the project came from": session.ir_path})
    total = len(session.steps)
    if args.step is not None:
        if not 0 <= args.step <= total:
            raise TerfError(f"--step must be between 0 and {total} (the project has {total} steps), not {args.step}")
        session.go_to(args.step)
    files = export_session(session, args.output, bit_depth=args.bit_depth, source=args.source,
                           masks=args.masks is not None, comparison=args.comparison, mask_dir=args.masks)
    print(f"exported {args.project} (after step {session.cursor} of {total}) -> {', '.join(str(f) for f in files)}")
    return 0
