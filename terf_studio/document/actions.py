"""Editor actions on a session's history ("again", "stronger", "weaker"), shared by the editor and
``terf-studio edit``. Undo and redo are the caller's: the editor goes through its undo stack
(which also holds mask changes), the command line through :meth:`EditSession.undo`.

* **again** applies the latest step's edits once more, on the same regions (no region is looked
  up again); like any repeat, each task continues from its state (paper 2.4.4).
* **stronger / weaker** on a step the fast engine made re-render it at its strength times / divided
  by the action's factor (as the strength slider does; undo returns to the old strength). A step
  made by fine-tuning keeps its strength: stronger applies it again at ``(factor - 1)`` times its
  strength, continuing further; weaker cannot take it back and says so.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from terf_studio.document.session import STRENGTH_SUFFIX, EditSession, SessionProgress, Step
from terf_studio.errors import TerfError
from terf_studio.language import ActionName, EditorAction
from terf_studio.language.plan import MAX_STRENGTH

if TYPE_CHECKING:
    from terf_studio.tuning.control import CancelToken

#: Actions that make a new step (undo and redo move along the existing ones).
STEP_ACTIONS = (ActionName.AGAIN, ActionName.STRONGER, ActionName.WEAKER)


def _latest(session: EditSession, action: EditorAction) -> Step:
    if session.cursor == 0:
        raise TerfError(f"'{action.name.value}' acts on the latest step, and there is none yet: type an edit first")
    return session.steps[session.cursor - 1]


def apply_action(
    session: EditSession,
    action: EditorAction,
    *,
    engine: str = "auto",
    iterations: int | None = None,
    progress: SessionProgress | None = None,
    cancel: CancelToken | None = None,
) -> Step:
    """Run ``action`` (one of :data:`STEP_ACTIONS`) on ``session``: the new step, already pushed."""
    if action.name not in STEP_ACTIONS:
        raise TerfError(f"'{action.name.value}' moves along the history; it makes no step")
    latest = _latest(session, action)
    base_text = STRENGTH_SUFFIX.sub("", latest.text)
    if action.name is ActionName.AGAIN:
        step = latest
        for _ in range(action.times):
            step = _reapply(session, latest, 1.0, f"{base_text} (again)", engine, iterations, progress, cancel)
        return step
    if session.strength_adjustable():
        current = float(latest.edits[0].edit.strength)
        wanted = current * action.factor if action.name is ActionName.STRONGER else current / action.factor
        if wanted > MAX_STRENGTH:
            if current >= MAX_STRENGTH:
                raise TerfError(f"the latest step is already at the highest strength ({MAX_STRENGTH:g}); "
                                "repeat it ('again') to go further")
            wanted = MAX_STRENGTH
        return session.set_strength(round(wanted, 4), cancel=cancel)
    if action.name is ActionName.WEAKER:
        raise TerfError("the latest step was fine-tuned, so its strength cannot be lowered: undo it (Ctrl+Z) "
                        "and ask for less, or use the fast engine, whose steps change strength")
    return _reapply(session, latest, action.factor - 1.0, f"{base_text} (stronger)", engine, iterations,
                    progress, cancel)


def _reapply(session: EditSession, latest: Step, scale: float, text: str, engine: str, iterations: int | None,
             progress: SessionProgress | None, cancel: CancelToken | None) -> Step:
    """``latest``'s edits once more (strength times ``scale``) on its regions, as a new step."""
    edits = [replace(a.edit, strength=min(MAX_STRENGTH, a.edit.strength * scale)) for a in latest.edits]
    masks = {i: a.mask for i, a in enumerate(latest.edits) if a.mask is not None}
    return session.apply(edits, masks, text=text, engine=engine, iterations=iterations, progress=progress,
                         cancel=cancel)
