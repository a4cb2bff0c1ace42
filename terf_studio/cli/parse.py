"""``terf-studio parse``: turn a text command into an edit plan (rules, optionally the local LLM)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from terf_studio.errors import TerfError
from terf_studio.language.combined import get_parser
from terf_studio.language.plan import EditPlan
from terf_studio.language.words import clean_command

NAME = "parse"
HELP = "turn a text command into an edit plan"


def add_parse_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("text", nargs="?", help="the command, e.g. \"brighten the trees\"")
    parser.add_argument("--batch", metavar="FILE",
                        help="parse one command per line of FILE ('-' for stdin); "
                             "a JSON line with a \"text\" field is read as that text")
    parser.add_argument("--llm", default="auto", metavar="PATH|none|auto",
                        help="GGUF model for the LLM parser; 'none' for rules only; "
                             "'auto' (default): the bundled Gemma 3 270M when installed")
    parser.add_argument("--llm-adapter", default="auto", metavar="PATH|none|auto",
                        help="LoRA adapter GGUF for the model; 'auto' (default): the shipped parser-lora "
                             "with the default model; 'none': the model alone")
    parser.add_argument("--policy", choices=["always", "fallback"], default="always",
                        help="run the LLM on every command (default, shows disagreements) "
                             "or only where the rules leave a gap (faster)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per command")
    return parser


def _format_plan(plan: EditPlan) -> str:
    lines = []
    if plan.action is not None:
        lines.append(f"(editor action) {plan.action.describe()}")
    elif not plan.edits:
        lines.append("(no edits)")
    for i, e in enumerate(plan.edits, 1):
        target = e.target if e.target is not None else "(whole image)"
        lines.append(f"{i}. {e.task.value:<9} {target}  strength {e.strength:g}")
    for d in plan.disagreements:
        lines.append(
            f"   note: edit {d.index + 1} {d.field}: rules={d.rules!r} llm={d.llm!r} -> {d.chosen} ({d.reason})"
        )
    if plan.message and plan.action is None:  # an action's message repeats its description
        lines.append(f"   {plan.message}")
    lines.append(f"   [{plan.parser}, {plan.seconds * 1000:.0f} ms]")
    return "\n".join(lines)


def _batch_text(source: str) -> str:
    """The batch file (or stdin) decoded as UTF-8; anything else is a one-line error."""
    name = "standard input" if source == "-" else f"the batch file {source}"
    try:
        if source == "-":
            stdin = sys.stdin
            data = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode("utf-8", "surrogateescape")
        else:
            data = Path(source).read_bytes()
    except OSError as exc:
        raise TerfError(f"Cannot read {name}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TerfError(f"Cannot read {name}: it is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); "
                        "save it as UTF-8") from None


def _batch_lines(source: str) -> Iterable[str]:
    text = _batch_text(source)
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("{"):
            try:
                item = json.loads(stripped)
                if isinstance(item, dict) and isinstance(item.get("text"), str):
                    yield item["text"]
                    continue
            except ValueError:
                pass
        yield line


def run_parse(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        if args.batch is None and args.text is None:
            raise TerfError("Give a command to parse, or --batch FILE.")
        parser = get_parser(args.llm, getattr(args, "policy", "always"), getattr(args, "llm_adapter", "auto"))
        commands = list(_batch_lines(args.batch)) if args.batch is not None else [args.text]
        for command in commands:
            command = clean_command(command)  # never echo a terminal escape or control character
            plan = parser.parse(command)
            if args.json:
                out.write(json.dumps(plan.to_dict(compact=True)) + "\n")
            else:
                out.write(f"> {command}\n{_format_plan(plan)}\n")
            out.flush()
    except TerfError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


add_arguments = add_parse_arguments
run = run_parse
