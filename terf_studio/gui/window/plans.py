"""Typed commands and plans: parse a command on the worker, show its plan, run it, and when a
target has no region keep the plan waiting until the user gives one (click, box or paint)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from terf_studio.gui.command_bar import FIND, WHOLE
from terf_studio.gui.commands import StepCommand
from terf_studio.gui.worker import Progress
from terf_studio.language import ActionName, EditorAction, EditPlan
from terf_studio.regions import Mask, NoRegionFound
from terf_studio.tuning import CancelToken

if TYPE_CHECKING:
    from terf_studio.document.session import Step
    from terf_studio.gui.window.main_window import MainWindow
    from terf_studio.language import Edit


@dataclass
class PendingPlan:
    """A plan that stopped because edit ``index`` found no region for its target."""

    edits: list[Edit]
    masks: dict[int, Mask]
    text: str
    index: int

    @property
    def target(self) -> str | None:
        return self.edits[self.index].target


class Plans(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.pending: PendingPlan | None = None

    def submit_command(self, text: str) -> bool:
        """Parse ``text`` on the worker; the plan is shown, then run (same path as typing + Enter)."""
        w = self.window
        if w.session is None or not text.strip():
            return False
        llm = w.llm

        def job(progress: Progress, cancel: CancelToken) -> EditPlan:
            from terf_studio.language import parse

            progress("reading the command", 0, 1)
            return parse(text, llm=llm, policy="fallback")

        ok = w.jobs.start(f"Read '{text}'", job, lambda plan: self._on_plan(plan, text))
        if ok:
            w.command_bar.clear()
        return ok

    def run_from_panel(self) -> bool:
        """Run the plan table as it stands (corrected task/target, chosen regions)."""
        w = self.window
        if w.session is None:
            return False
        try:
            edits = w.plan_panel.edits()
        except ValueError as exc:
            w.error(str(exc))
            return False
        masks: dict[int, Mask] = {}
        for row in range(len(edits)):
            choice = w.plan_panel.region(row)
            if choice not in (FIND, WHOLE):
                masks[row] = w.layers.mask(int(choice))
        return self.run(edits, masks, w.plan_panel.text or "edited plan")

    def run(self, edits: list[Edit], masks: dict[int, Mask], text: str) -> bool:
        """Apply ``edits`` on the worker (``masks``: the regions given for some of them)."""
        session = self.window.session
        assert session is not None
        engine, iterations = self.window.engine, self.window.iterations
        self.window.plan_panel.show_notice("")

        def job(progress: Progress, cancel: CancelToken) -> Step:
            def report(label: str, i: int, n: int, loss: float) -> None:
                progress(label, i, n, loss)

            return session.apply(edits, masks, text=text, engine=engine, iterations=iterations,
                                 progress=report, cancel=cancel)

        def failed(message: str, exc: Exception) -> None:
            if isinstance(exc, NoRegionFound):
                self._ask_for_region(exc, PendingPlan(edits, dict(masks), text, index=0))
                self.window.script.clear()  # a scripted run cannot click for the user
            else:
                self.window.error(message)

        return self.window.jobs.start(text, job, lambda step: self._on_step(step, masks), failed)

    def _on_plan(self, plan: EditPlan, text: str) -> None:
        self.window.plan_panel.show_plan(plan)
        self.window.display.show_models(plan.parser)
        if plan.action is not None:
            self.run_action(plan.action, text)
            return
        if not plan.edits:
            self.window.message(plan.message or f"no edit understood in '{text}'", error=True)
            return
        self.run(list(plan.edits), {}, text)

    def run_action(self, action: EditorAction, text: str) -> bool:
        """An editor action typed as a command: undo/redo through the undo stack (as Ctrl+Z, so
        mask changes count too), again/stronger/weaker as a job that makes a new step."""
        w = self.window
        session = w.session
        assert session is not None
        if action.name in (ActionName.UNDO, ActionName.REDO):
            undo = action.name is ActionName.UNDO
            moved = []
            for _ in range(action.times):
                if not (w.undo_stack.canUndo() if undo else w.undo_stack.canRedo()):
                    break
                moved.append(w.undo_stack.undoText() if undo else w.undo_stack.redoText())
                w.undo_stack.undo() if undo else w.undo_stack.redo()
            if not moved:
                w.message(f"nothing to {action.name.value}", error=True)
                return False
            w.message(f"{'undid' if undo else 'redid'}: " + "; ".join(moved))
            return True
        engine, iterations = w.engine, w.iterations

        def job(progress: Progress, cancel: CancelToken) -> Step:
            from terf_studio.document.actions import apply_action

            def report(label: str, i: int, n: int, loss: float) -> None:
                progress(label, i, n, loss)

            return apply_action(session, action, engine=engine, iterations=iterations, progress=report,
                                cancel=cancel)

        # The step's regions are those of the step it repeats: already mask layers.
        return w.jobs.start(text, job, lambda step: self._on_step(step, {}, new_masks=False))

    def _on_step(self, step: Step, given: dict[int, Mask], new_masks: bool = True) -> None:
        """A plan ran: one undo entry, holding the masks the finders made as new mask layers."""
        w = self.window
        assert w.session is not None
        command = StepCommand(w.session, step, w.display.refresh_image)
        for i, applied in enumerate(step.edits if new_masks else []):
            found = None if i in given else applied.mask  # None when the edit needed no region
            if found is not None:
                command.add_mask(w.layers, found.with_meta(colour=w.layers.next_colour()), applied.mask_png)
        w.push(command)
        took = ", ".join(f"{a.edit.task.value} {a.info.get('seconds', 0):.1f} s"
                         + (f", {a.info['engine']}" if a.info.get("engine") else "") for a in step.edits)
        notices = list(dict.fromkeys(str(a.info["notice"]) for a in step.edits if a.info.get("notice")))
        w.message(f"done: {step.text} ({took})" + "".join(f"; {n}" for n in notices))
        if notices:
            w.plan_panel.show_notice("; ".join(notices))

    def _ask_for_region(self, exc: NoRegionFound, plan: PendingPlan) -> None:
        """No region for a target: keep the plan and let the user click, box or paint it."""
        candidates = [i for i, e in enumerate(plan.edits) if i not in plan.masks and e.target is not None]
        plan.index = next((i for i in candidates if plan.edits[i].target == exc.phrase), candidates[0])
        self.pending = plan
        self.window.plan_panel.show_notice(
            f"No region found for '{plan.target}': click it (Point tool), draw a box (Box tool) or paint it "
            f"(Brush), then press Run plan. A click or a box continues at once.")
        self.window.message(str(exc), error=True)
        self.window.set_tool("point")

    def continue_pending(self, uid: int) -> None:
        """The waiting plan runs on, with mask ``uid`` as the region it lacked."""
        pending, self.pending = self.pending, None
        if pending is None:
            return
        masks = dict(pending.masks)
        masks[pending.index] = self.window.layers.mask(uid)
        if pending.index < self.window.plan_panel.table.rowCount():
            self.window.plan_panel.set_region(pending.index, uid)
        self.run(pending.edits, masks, pending.text)

    def drop_pending(self) -> None:
        if self.pending is not None:
            self.pending = None
            self.window.plan_panel.show_notice("")
            self.window.message("the plan waiting for a region was dropped")
