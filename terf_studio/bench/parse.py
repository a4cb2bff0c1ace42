"""``terf-studio bench parse``: accuracy and latency of the text parsers.

Benchmark conventions
---------------------
Scores are per command, over the whole data set:

* **task accuracy**: the ordered list of tasks equals the expected list
  (so a missed or extra edit is wrong; a command expecting no edit is right
  when none is found);
* **target accuracy**: the ordered list of targets matches the expected list,
  comparing targets lower-cased, as words only, without the articles
  "the"/"a"/"an" ("the man on the left" == "man on left"); None (the whole
  image) only equals None. A target also matches when it is the expected one
  followed by a phrase that places it ("boat on the water", "headlamp of the
  bike" for "boat", "headlamp"): the same object, named more closely, which
  the grounding model reads as well. Dropping a place the expected target has
  ("man" for "man on the left") is wrong: that place picks the object;
* **exact-plan accuracy**: tasks, targets and strengths all equal;
* **latency**: wall time of ``parse`` per command after the model is loaded
  (mean and 95th percentile, nearest rank).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

from terf_studio.errors import TerfError
from terf_studio.language.combined import CombinedParser, get_parser, normalise_target
from terf_studio.language.plan import EditPlan
from terf_studio.language.rules import RuleParser
from terf_studio.paths import RESOURCES_DIR

if TYPE_CHECKING:
    from terf_studio.language.llm.parser import LlmParser

#: The default command set: direct commands written by someone else, with expected plans.
DEFAULT_COMMANDS = RESOURCES_DIR / "commands" / "commands.jsonl"


def default_bench_data() -> Path:
    return DEFAULT_COMMANDS


def add_bench_parse_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--data", action="append", metavar="FILE",
                        help="JSON-lines command set (text + expected edits); may repeat; "
                             "default: resources/commands/commands.jsonl")
    parser.add_argument("--llm", default="auto", metavar="PATH|none|auto",
                        help="GGUF model for the LLM rows ('none': rules only)")
    parser.add_argument("--llm-adapter", metavar="PATH|none|auto", default="auto",
                        help="a LoRA adapter GGUF for the model (default: the shipped parser-lora with the "
                             "default model; 'none': the model alone)")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N commands")
    parser.add_argument("--failures", action="store_true", help="list each parser's wrong commands")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    return parser


def load_command_set(paths: Iterable[Path | str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for path in paths:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise TerfError(f"Cannot read the command set {path}: {exc.strerror or exc}") from exc
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                if not isinstance(item.get("text"), str) or not isinstance(item.get("edits"), list):
                    raise ValueError("needs 'text' and 'edits'")
            except (ValueError, AttributeError) as exc:
                raise TerfError(f"{path}:{n}: not a command record ({exc})") from exc
            item.setdefault("tags", [])
            items.append(item)
    return items


#: Words that open a phrase placing a target ("... on the water", "... of the bike").
PLACING_WORDS = frozenset({"on", "in", "at", "near", "by", "under", "behind", "beside", "next", "over", "along",
                           "inside", "of", "across", "around", "above", "below", "between", "outside"})


def same_target(read: str | None, expected: str | None) -> bool:
    """Whether a read target names the expected one (see the module's conventions)."""
    got, want = normalise_target(read), normalise_target(expected)
    if got is None or want is None:
        return got == want
    if got == want:
        return True
    rest = got[len(want):].split() if got.startswith(want + " ") else []
    return len(rest) >= 2 and rest[0] in PLACING_WORDS


def score(plan: EditPlan, expected: list[dict[str, Any]]) -> tuple[bool, bool, bool]:
    """(task right, target right, whole plan right) for one command."""
    tasks = [e.task.value for e in plan.edits] == [e["task"] for e in expected]
    targets = len(plan.edits) == len(expected) and all(
        same_target(e.target, x.get("target")) for e, x in zip(plan.edits, expected)
    )
    strengths = len(plan.edits) == len(expected) and all(
        math.isclose(e.strength, float(x.get("strength", 1.0))) for e, x in zip(plan.edits, expected)
    )
    return tasks, targets, tasks and targets and strengths


def _p95(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


class _Tally:
    def __init__(self) -> None:
        self.n = 0
        self.task = self.target = self.exact = 0
        self.seconds: list[float] = []
        self.by_tag: dict[str, list[int]] = {}
        self.failures: list[dict[str, Any]] = []

    def add(self, item: dict[str, Any], plan: EditPlan, seconds: float) -> None:
        task, target, exact = score(plan, item["edits"])
        self.n += 1
        self.task += task
        self.target += target
        self.exact += exact
        self.seconds.append(seconds)
        for tag in item.get("tags", []):
            counts = self.by_tag.setdefault(tag, [0, 0, 0, 0])
            counts[0] += 1
            counts[1] += task
            counts[2] += target
            counts[3] += exact
        if not exact:
            self.failures.append({
                "text": item["text"],
                "wrong": [
                    name
                    for name, ok in (("task", task), ("target", target), ("strength", exact or not (task and target)))
                    if not ok
                ],
                "got": [e.to_dict(with_text=False) for e in plan.edits],
                "expected": item["edits"],
            })

    def result(self, with_failures: bool) -> dict[str, Any]:
        n = max(self.n, 1)
        out: dict[str, Any] = {
            "commands": self.n,
            "task_accuracy": round(self.task / n, 4),
            "target_accuracy": round(self.target / n, 4),
            "exact_accuracy": round(self.exact / n, 4),
            "mean_seconds": round(sum(self.seconds) / n, 4),
            "p95_seconds": round(_p95(self.seconds), 4),
            "max_seconds": round(max(self.seconds, default=0.0), 4),
            "by_tag": {
                tag: {"commands": c[0], "task": round(c[1] / c[0], 3), "target": round(c[2] / c[0], 3),
                      "exact": round(c[3] / c[0], 3)}
                for tag, c in sorted(self.by_tag.items())
            },
        }
        if with_failures:
            out["failures"] = self.failures
        return out


def bench(items: list[dict[str, Any]], llm: str = "auto", with_failures: bool = False,
          adapter: str | None = "auto") -> dict[str, Any]:
    """Score rules, LLM, combined and combined-with-fallback on ``items`` (the LLM with
    ``adapter``: "auto", "none" or a LoRA GGUF, as :func:`get_parser` takes it)."""
    result: dict[str, Any] = {
        "commands": len(items),
        "target_comparison": "lower case, words only, without the/a/an; null (whole image) equals only null; "
                             "the expected target followed by a placing phrase (on/in/of/near... + words) counts",
        "scores": "per command: ordered task list / target list / full plan equal to the expected one",
        "parsers": {},
    }
    rules = RuleParser()
    tally = _Tally()
    for item in items:
        start = time.perf_counter()
        plan = rules.parse(item["text"])
        tally.add(item, plan, time.perf_counter() - start)
    result["parsers"]["rules"] = tally.result(with_failures)

    start = time.perf_counter()
    combined = get_parser(llm, "always", adapter)
    load_seconds = time.perf_counter() - start
    if combined.llm is None:
        result["llm"] = None
        result["llm_error"] = combined.llm_error or "the LLM parser is off (--llm none)"
        return result
    result["llm"] = {
        "model": str(cast("LlmParser", combined.llm).model_path),
        "adapter": str(cast("LlmParser", combined.llm).adapter or "none"),
        "name": getattr(combined.llm, "model_name", ""),
        "mode": getattr(combined.llm, "mode", ""),
        "load_seconds": round(load_seconds, 3),
    }
    llm_tally, both_tally = _Tally(), _Tally()
    disagreements = 0
    for item in items:
        start = time.perf_counter()
        plan = combined.parse(item["text"])
        both_tally.add(item, plan, time.perf_counter() - start)
        llm_plan = plan.readings.get("llm")
        if llm_plan is not None:
            llm_tally.add(item, llm_plan, llm_plan.seconds)
        disagreements += bool(plan.disagreements)
    result["parsers"]["llm"] = llm_tally.result(with_failures)
    result["parsers"]["combined"] = both_tally.result(with_failures)
    result["parsers"]["combined"]["commands_with_disagreements"] = disagreements

    fallback = CombinedParser(combined.llm, policy="fallback")
    fb_tally = _Tally()
    for item in items:
        start = time.perf_counter()
        plan = fallback.parse(item["text"])
        fb_tally.add(item, plan, time.perf_counter() - start)
    result["parsers"]["combined_fallback"] = fb_tally.result(with_failures)
    return result


def _format_bench(result: dict[str, Any]) -> str:
    lines = [f"{result['commands']} commands; targets compared {result['target_comparison']}"]
    if result.get("llm"):
        llm = result["llm"]
        lines.append(f"LLM: {llm['name'] or llm['model']} ({llm['mode']}, adapter {llm['adapter']}), "
                     f"loaded in {llm['load_seconds']:.1f} s")
    elif result.get("llm_error"):
        lines.append(f"LLM: not used ({result['llm_error']})")
    lines.append(f"{'parser':<18}{'task':>7}{'target':>8}{'exact':>7}{'mean ms':>9}{'p95 ms':>8}")
    for name, r in result["parsers"].items():
        lines.append(
            f"{name:<18}{r['task_accuracy']:>7.3f}{r['target_accuracy']:>8.3f}{r['exact_accuracy']:>7.3f}"
            f"{r['mean_seconds'] * 1000:>9.1f}{r['p95_seconds'] * 1000:>8.1f}"
        )
    for name, r in result["parsers"].items():
        for f in r.get("failures", []):
            lines.append(f"  [{name}] {f['text']!r}: wrong {', '.join(f['wrong'])}; got {f['got']}")
    return "\n".join(lines)


def run_bench_parse(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        paths = args.data or [default_bench_data()]
        items = load_command_set(paths)
        if args.limit and args.limit > 0:
            items = items[: args.limit]
        if not items:
            raise TerfError("The command set is empty.")
        result = bench(items, args.llm, args.failures, adapter=args.llm_adapter)
        result["data"] = [str(p) for p in paths]
        if args.json:
            out.write(json.dumps(result) + "\n")
        else:
            out.write(_format_bench(result) + "\n")
    except TerfError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


NAME = "parse"
HELP = "accuracy and latency of the text parsers"
add_arguments = add_bench_parse_arguments
run = run_bench_parse
