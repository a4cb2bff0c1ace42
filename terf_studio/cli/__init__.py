"""The ``terf-studio`` command line: one module per command in this package.

Every command module has ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``;
:data:`COMMANDS` lists them in the order ``--help`` shows. Every user-facing failure is a
:class:`~terf_studio.errors.TerfError` printed on one line (exit status 2). Set
``TERF_STUDIO_DEBUG=1`` to see tracebacks of unexpected errors. Nothing in the core imports
this package.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from terf_studio import __version__
from terf_studio.errors import TerfError

#: Command modules under ``terf_studio.cli`` (imported when the parser is built).
COMMANDS: tuple[str, ...] = ("fuse", "edit", "batch", "export", "train", "train_engine", "eval", "compare", "parse",
                             "segment", "models", "doctor", "gui", "install_desktop", "bench")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="terf-studio", description="Visible + infrared image fusion you can steer.")
    parser.add_argument("--version", action="version", version=f"terf-studio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"terf_studio.cli.{name}")
        p = sub.add_parser(module.NAME, help=module.HELP)
        module.add_arguments(p)
        p.set_defaults(func=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
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
