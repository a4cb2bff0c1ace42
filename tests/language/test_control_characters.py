"""Terminal escapes and control characters never reach targets or plans (issue 14)."""

from __future__ import annotations

import pytest

from terf_studio.language import CombinedParser, clean_command, parse_rules
from terf_studio.language.plan import EditPlan


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("brighten the \x1b[31mtrees\x1b[0m", "brighten the trees"),  # CSI colour
        ("brighten the \x9b1;31mtrees", "brighten the trees"),  # C1 CSI
        ("blur\x1b]0;owned\x07 the road", "blur the road"),  # OSC title, ended by BEL
        ("blur\x1b]8;;http://x\x1b\\ the road", "blur the road"),  # OSC ended by ST
        ("darken \x1b(Bthe sky", "darken the sky"),  # charset designation
        ("darken\x07 the\x00 sky\x7f", "darken  the  sky "),  # BEL, NUL, DEL: a space each
        ("darken\rthe sky\x85", "darken the sky "),  # CR and NEL
        ("keep\ttabs and\nnewlines", "keep\ttabs and\nnewlines"),
        ("brighten the trees", "brighten the trees"),
        ("blur the \udcffroad", "blur the \ufffdroad"),  # a non-UTF-8 byte of the command line
        ("", ""),
    ],
)
def test_clean_command(raw, clean):
    assert clean_command(raw) == clean


def test_escape_parameters_do_not_end_up_in_targets():
    plan = parse_rules("brighten the \x1b[31mtrees\x07")
    assert [e.target for e in plan.edits] == ["trees"]
    assert "\x1b" not in plan.text and "\x07" not in plan.text and "\x1b" not in plan.message


class _EchoLlm:
    """An LLM stand-in that records what it was given."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def parse(self, text: str) -> EditPlan:
        self.seen.append(text)
        return EditPlan(text=text, parser="llm")


def test_the_combined_parser_cleans_before_both_readers():
    llm = _EchoLlm()
    plan = CombinedParser(llm).parse("denoise the \x1b[1mroad\x1b[0m\x07")
    assert llm.seen == ["denoise the road "]
    assert [e.target for e in plan.edits] == ["road"] and "\x1b" not in plan.text
