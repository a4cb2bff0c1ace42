"""Running a recipe's steps on an open session (one pair)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from terf_studio.errors import TerfError
from terf_studio.recipes.recipe import Recipe, RecipeError

if TYPE_CHECKING:
    from terf_studio.document.session import EditSession, SessionProgress, Step
    from terf_studio.tuning.control import CancelToken


class StepFailed(TerfError):
    """A recipe step that failed on a pair: ``step`` is its 1-based number."""

    def __init__(self, step: int, text: str, reason: str) -> None:
        super().__init__(f"step {step} ({text!r}): {reason}")
        self.step, self.text, self.reason = step, text, reason


def apply_recipe(session: EditSession, recipe: Recipe, *, engine: str | None = None,
                 progress: SessionProgress | None = None, cancel: CancelToken | None = None,
                 on_step: Callable[[int, Step], None] | None = None) -> list[Step]:
    """Apply every step of ``recipe`` to ``session`` in order (each one undoable as in the
    editor). ``engine`` overrides the steps' own. Regions marked ``find`` are found again on
    this pair; painted masks must have the pair's size. A failing step raises
    :class:`StepFailed` (a cancel raises as it is); the steps before it stay applied."""
    from terf_studio.errors import CancelledError

    shape = session.vi16.shape[:2]
    steps = []
    for n, step in enumerate(recipe.steps, 1):
        masks = []
        for m, e in enumerate(step.edits, 1):
            if e.mask is not None and e.mask.shape != shape:
                h, w = e.mask.shape
                raise StepFailed(n, step.text, f"the painted mask of edit {m} is {w}x{h} and this pair is "
                                               f"{shape[1]}x{shape[0]}; a painted mask is reused only at its size")
            masks.append(e.mask)
        try:
            applied = session.apply([e.edit for e in step.edits], masks, text=step.text,
                                    engine=engine or step.engine, progress=progress, cancel=cancel)
        except (CancelledError, RecipeError):
            raise
        except TerfError as exc:
            raise StepFailed(n, step.text, str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - one pair's failure is reported, whatever it was
            raise StepFailed(n, step.text, f"{type(exc).__name__}: {' '.join(str(exc).split())}") from exc
        steps.append(applied)
        if on_step is not None:
            on_step(n, applied)
    return steps
