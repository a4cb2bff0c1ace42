"""Mask tools: brush and eraser strokes, point clicks and boxes (segmented on the worker), and the
mask commands (new, rename, invert, delete); each change is one undo entry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from terf_studio.gui.commands import (
    AddMaskCommand,
    RemoveMaskCommand,
    ReplaceMaskCommand,
)
from terf_studio.gui.worker import Progress
from terf_studio.regions import Mask, Stroke
from terf_studio.regions.base import PromptSegmenter
from terf_studio.tuning import CancelToken

if TYPE_CHECKING:
    from terf_studio.gui.window.main_window import MainWindow
    from terf_studio.regions import ImageSet


def prompt_segmenter() -> PromptSegmenter | None:
    """The registered learned finder that also segments clicks and boxes (SAM), if any."""
    from terf_studio.regions import finders

    return next((f for f in finders() if isinstance(f, PromptSegmenter)), None)


@dataclass
class PointPrompt:
    """The clicks that built a mask; a further click refines that mask (``uid``, once it exists)."""

    uid: int | None = None
    positives: list[tuple[float, float]] = field(default_factory=list)
    negatives: list[tuple[float, float]] = field(default_factory=list)


class MaskTools(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.layers = window.layers
        self.point_prompt: PointPrompt | None = None  # clicks that built the selected mask

    def reset(self) -> None:
        self.point_prompt = None

    def _can_edit(self) -> bool:
        return self.window.session is not None and not self.window.runner.busy

    def _selected(self) -> int | None:
        return self.window.masks_panel.selected_uid()

    def _add(self, mask: Mask, text: str) -> int:
        command = AddMaskCommand(self.layers, mask, text)
        self.window.push(command)
        assert command.uid is not None
        self.window.masks_panel.select(command.uid)
        return command.uid

    def resize_brush(self, factor: float) -> None:
        size = self.window.brush_size
        size.setValue(max(1, round(size.value() * factor + (0.5 if factor > 1 else -0.5))))

    # -- mask commands ---------------------------------------------------------------------------
    def new_mask(self, label: str | None = None) -> int | None:
        if self.window.session is None:
            return None
        label = label or f"mask {len(self.layers.masks) + 1}"
        shape = self.window.session.vi16.shape[:2]
        return self._add(Mask.empty(shape, label=label, colour=self.layers.next_colour()), f"New mask '{label}'")

    def rename(self, uid: int, label: str) -> None:
        self.window.push(ReplaceMaskCommand(self.layers, uid, self.layers.mask(uid).with_meta(label=label),
                                            f"Rename mask to '{label}'"))

    def invert(self, uid: int | None) -> None:
        if uid is not None:
            self.window.push(ReplaceMaskCommand(self.layers, uid, self.layers.mask(uid).invert(), "Invert mask"))

    def delete(self, uid: int | None) -> None:
        if uid is not None and not self.window.runner.busy:
            self.window.push(RemoveMaskCommand(self.layers, uid, f"Delete mask '{self.layers.mask(uid).label}'"))

    def invert_selected(self) -> None:
        self.invert(self._selected())

    def delete_selected(self) -> None:
        self.delete(self._selected())

    # -- strokes -------------------------------------------------------------------------------
    def on_stroke(self, points: list, mode: str) -> None:
        if not self._can_edit():
            return
        session = self.window.session
        assert session is not None
        stroke = Stroke(tuple(points), self.window.canvas.brush_radius, self.window.hardness.value(), mode)
        uid = self._selected()
        if uid is None:
            if mode == "erase":
                self.window.message("select a mask to erase from", error=True)
                return
            base = Mask.empty(session.vi16.shape[:2], label=f"paint {len(self.layers.masks) + 1}",
                              colour=self.layers.next_colour(), source="manual")
            self._add(stroke.apply(base), "Brush stroke (new mask)")
            return
        new = stroke.apply(self.layers.mask(uid))
        self.window.push(ReplaceMaskCommand(self.layers, uid, new,
                                            "Brush stroke" if mode == "add" else "Eraser stroke"))
        self.point_prompt = None

    # -- clicks and boxes ----------------------------------------------------------------------
    def _images(self) -> ImageSet:
        from terf_studio.regions import ImageSet

        s = self.window.session
        assert s is not None
        return ImageSet(s.vi, s.ir, s.current())

    def on_point(self, x: float, y: float, positive: bool) -> None:
        if not self._can_edit():
            return
        uid = self._selected()
        prompt = self.point_prompt
        if prompt is None or prompt.uid != uid or uid not in self.layers.uids:
            if not positive:
                self.window.message("left-click the object first; right clicks then remove parts", error=True)
                return
            prompt = PointPrompt()
        (prompt.positives if positive else prompt.negatives).append((x - 0.5, y - 0.5))
        images = self._images()
        positives, negatives = list(prompt.positives), list(prompt.negatives)

        def job(progress: Progress, cancel: CancelToken) -> Mask:
            from terf_studio.regions import point_region

            learned = prompt_segmenter()
            if learned is not None:  # SAM (loads here, on the worker, the first time)
                return learned.point_mask(images, positives, negatives, label="point")
            return point_region(images, positives=positives, negatives=negatives)

        self.window.jobs.start("Point region", job, lambda mask: self._on_region(mask, "point", prompt))

    def on_box(self, x0: float, y0: float, x1: float, y1: float) -> None:
        if not self._can_edit():
            return
        images = self._images()
        box = (round(x0), round(y0), round(x1), round(y1))

        def job(progress: Progress, cancel: CancelToken) -> Mask:
            from terf_studio.regions import box_region

            learned = prompt_segmenter()
            if learned is not None:
                return learned.box_mask(images, box, label="box")
            return box_region(images, box=box)

        self.window.jobs.start("Box region", job, lambda mask: self._on_region(mask, "box", None))

    def _on_region(self, mask: Mask, kind: str, prompt: PointPrompt | None) -> None:
        """A click or box found ``mask``: it refines the clicked mask, or becomes a new one (named
        after the target of a plan waiting for a region, which then runs on)."""
        pending = self.window.plans.pending
        if prompt is not None and prompt.uid in self.layers.uids:
            uid = prompt.uid
            old = self.layers.mask(uid)
            self.window.push(ReplaceMaskCommand(self.layers, uid, mask.with_meta(label=old.label, colour=old.colour),
                                                "Point click"))
        else:
            label = (pending.target if pending else None) or f"{kind} {len(self.layers.masks) + 1}"
            uid = self._add(mask.with_meta(label=label, colour=self.layers.next_colour()), f"{kind.capitalize()} mask")
            if prompt is not None:
                prompt.uid = uid
        self.point_prompt = prompt
        self.window.masks_panel.select(uid)
        self.window.message(f"mask from a {kind}: {mask.area} pixels, confidence {mask.confidence:.2f}")
        if pending is not None:
            self.window.plans.continue_pending(uid)
