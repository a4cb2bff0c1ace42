"""Text -> edit plan: the command bar's parsers (paper eq. 1).

Public API::

    from terf_studio.language import parse, Task, Edit, EditPlan
    plan = parse("brighten the trees and remove noise from the road", llm="auto")

* :func:`parse` / :func:`get_parser` - the combined parser (rules + LLM,
  see :mod:`.combined` for the arbitration rule); ``llm`` is "auto", "none"
  or a GGUF path.
* :func:`parse_rules` / :class:`RuleParser` - the rule parser alone.
* :func:`get_llm_parser` / :func:`load_llm_parser_async` - the cached,
  thread-safe LLM parser (loading is slow: call from a worker thread).
* :class:`Task`, :class:`Edit`, :class:`EditPlan`, :class:`Disagreement`,
  :class:`EditorAction` - the plan's types, with ``to_dict``/``from_dict`` for JSON.
* :func:`read_action` - the editor action ("undo that", "again", "stronger") a command asks for.
* :func:`clean_command` - a command without terminal escapes and control
  characters (every parser applies it; use it before echoing a command).
"""

from .actions import read_action
from .combined import CombinedParser, get_parser, normalise_target, parse
from .llm import LlmParser, default_model_path, get_llm_parser, load_llm_parser_async
from .plan import STRENGTH_WORDS, ActionName, Disagreement, Edit, EditorAction, EditPlan, Task
from .rules import RuleParser, parse_rules
from .words import clean_command

__all__ = [
    "STRENGTH_WORDS",
    "ActionName",
    "CombinedParser",
    "Disagreement",
    "Edit",
    "EditPlan",
    "EditorAction",
    "LlmParser",
    "RuleParser",
    "Task",
    "clean_command",
    "default_model_path",
    "get_llm_parser",
    "get_parser",
    "load_llm_parser_async",
    "normalise_target",
    "parse",
    "parse_rules",
    "read_action",
]
