"""Text -> edit plan: the command bar's parsers (paper eq. 1)."""

from .plan import Disagreement, Edit, EditPlan, Task
from .rules import RuleParser, parse_rules

__all__ = ["Disagreement", "Edit", "EditPlan", "RuleParser", "Task", "parse_rules"]
