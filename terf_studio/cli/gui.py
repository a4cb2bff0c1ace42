"""``terf-studio gui`` (and ``terf-studio`` alone): open the editor window."""

from __future__ import annotations

import argparse

NAME = "gui"
HELP = "open the editor window (the default with no command)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="*", metavar="VIS IR | PROJECT.terf",
                   help="a visible and an infrared image, or a project, to open")
    p.add_argument("--sample", action="store_true",
                   help="open the bundled sample pair (a synthetic night street, resources/samples/)")
    p.add_argument("--run", action="append", default=[], metavar="COMMAND",
                   help="run this command as if typed (repeat for several)")
    p.add_argument("--screenshot", metavar="PATH", help="save a picture of the window once idle")
    p.add_argument("--exit-when-idle", action="store_true", help="quit once every command has run")
    p.add_argument("--size", default="1400x880", help="window size for scripted runs (WxH)")
    p.add_argument("--split", type=float, metavar="FRACTION",
                   help="start with the before/after split on, at this fraction of the width (0-1)")
    p.add_argument("--hide-masks", action="store_true", help="start with the mask overlays hidden (View > Show masks)")
    p.add_argument("--iterations", type=int, help="fine-tuning iterations per edit (previews; default: the task's)")
    p.add_argument("--engine", metavar="ENGINE",
                   help="auto, fast, quick or exact for this run (default: as last set in Edit > Engine)")
    p.add_argument("--llm", choices=["auto", "none"], help="use the local LLM for commands (default: as last set)")
    p.add_argument("--device", help="auto (CUDA when available), cpu or cuda (default: as set in Edit > Preferences, "
                                    "else auto)")
    p.add_argument("--save-settings", action="store_true",
                   help="let a scripted run (--run, --screenshot, --exit-when-idle) change your settings "
                        "(recent files, window layout, engine); by default it reads them and changes nothing")
    p.add_argument("--recover", choices=["ask", "restore", "discard", "ignore"],
                   help="unsaved work left by an editor that did not close normally: ask (the default), restore "
                        "it, discard it, or ignore it for now (the default for scripted runs)")


def run(args: argparse.Namespace) -> int:
    from terf_studio.gui.app import run_gui

    return run_gui(args)
