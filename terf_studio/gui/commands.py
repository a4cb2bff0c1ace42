"""QUndoCommands: every change to the document is one of these, so Ctrl+Z undoes it."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QUndoCommand

from terf_studio.document.session import EditSession, Step
from terf_studio.gui.layers import DocumentLayers
from terf_studio.regions import Mask

#: How undo commands already stored a mask, by the mask object the layers hold: a stroke's
#: "before" is usually the previous command's "after", so it is not encoded twice.
_encoded: weakref.WeakKeyDictionary[Mask, tuple[bytes, dict[str, Any]]] = weakref.WeakKeyDictionary()


class _StoredMask:
    """A mask kept as the 16-bit PNG a project stores (``Mask.to_png_bytes``), so the undo history
    stays small. Exact: the layers keep every mask on that 16-bit grid.

    ``png``, when given, already holds the mask's pixels (the PNG a session step keeps for the
    mask its finder made, encoded on the worker); the mask's own label and colour override its
    metadata, and nothing is encoded on the GUI thread.
    """

    def __init__(self, mask: Mask, png: bytes | None = None) -> None:
        if png is not None:
            self.png, self.meta = png, {"label": mask.label, "colour": mask.colour, "source": mask.source,
                                        "confidence": mask.confidence}
        else:
            self.png, self.meta = _encoded.get(mask) or (mask.to_png_bytes(bit_depth=16), {})

    def load(self) -> Mask:
        return Mask.from_png_bytes(self.png, **self.meta)

    def remember(self, held: Mask) -> None:
        """``held`` (the mask the layers keep for this one) is stored as this."""
        _encoded[held] = (self.png, self.meta)


class AddMaskCommand(QUndoCommand):
    def __init__(self, layers: DocumentLayers, mask: Mask, text: str, png: bytes | None = None) -> None:
        super().__init__(text)
        self.layers = layers
        self._mask = _StoredMask(mask, png)
        self.uid: int | None = None
        self._index: int | None = None
        self._first: Mask | None = mask  # used once, to skip re-decoding on the first redo

    def redo(self) -> None:
        mask = self._first if self._first is not None else self._mask.load()
        self._first = None
        self.uid = self.layers.insert(mask, self._index, self.uid)
        self._mask.remember(self.layers.mask(self.uid))

    def undo(self) -> None:
        assert self.uid is not None  # undo follows redo, which set it
        _, self._index = self.layers.remove(self.uid)


class RemoveMaskCommand(QUndoCommand):
    def __init__(self, layers: DocumentLayers, uid: int, text: str = "Delete mask") -> None:
        super().__init__(text)
        self.layers, self.uid = layers, uid
        self._mask: _StoredMask | None = None
        self._index = 0

    def redo(self) -> None:
        mask, self._index = self.layers.remove(self.uid)
        self._mask = _StoredMask(mask)

    def undo(self) -> None:
        assert self._mask is not None
        self.layers.insert(self._mask.load(), self._index, self.uid)
        self._mask.remember(self.layers.mask(self.uid))


class ReplaceMaskCommand(QUndoCommand):
    """A brush or eraser stroke, a click that refines a mask, a rename, an invert."""

    def __init__(self, layers: DocumentLayers, uid: int, new: Mask, text: str) -> None:
        super().__init__(text)
        self.layers, self.uid = layers, uid
        self._old = _StoredMask(layers.mask(uid))
        self._new = _StoredMask(new)
        self._first: Mask | None = new

    def redo(self) -> None:
        mask = self._first if self._first is not None else self._new.load()
        self._first = None
        self.layers.replace(self.uid, mask)
        self._new.remember(self.layers.mask(self.uid))

    def undo(self) -> None:
        self.layers.replace(self.uid, self._old.load())
        self._old.remember(self.layers.mask(self.uid))


class StepCommand(QUndoCommand):
    """An applied command (session step) and the mask layers its finders made.

    The worker has already applied the step when this is pushed, so the first redo only adds
    the masks. (The mask commands are kept as plain members rather than Qt child commands:
    PySide would let their Python side be collected while Qt still calls them.)
    """

    def __init__(self, session: EditSession, step: Step, on_change: Callable[[], None],
                 text: str | None = None) -> None:
        super().__init__(text or step.text)
        self.session, self.step, self.on_change = session, step, on_change
        self.mask_commands: list[AddMaskCommand] = []
        self._first = True

    def add_mask(self, layers: DocumentLayers, mask: Mask, png: bytes | None = None) -> None:
        """A mask layer that comes and goes with the step (``png``: its pixels, already encoded)."""
        self.mask_commands.append(AddMaskCommand(layers, mask, f"mask '{mask.label}'", png))

    def redo(self) -> None:
        if not self._first:
            redone = self.session.redo()
            assert redone is self.step, "the session's history is out of step with the undo stack"
        self._first = False
        for command in self.mask_commands:
            command.redo()
        self.on_change()

    def undo(self) -> None:
        for command in reversed(self.mask_commands):
            command.undo()
        undone = self.session.undo()
        assert undone is self.step, "the session's history is out of step with the undo stack"
        self.on_change()
