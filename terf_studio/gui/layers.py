"""The window's document view-model: mask layers with stable ids, and each layer's look.

Masks live in ``session.masks`` (core, saved in projects as 16-bit PNG; they are kept on that
grid here, so a reopened project has exactly the same masks). Undo commands need to find "the
same mask" after other masks were added or deleted, so each mask layer gets an id here, kept
in step with ``session.masks`` by the only three methods that change it.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from terf_studio.document.session import EditSession
from terf_studio.regions import Mask

IMAGE_LAYERS = {"result": "Edited result", "fused": "Fused", "ir": "Infrared", "vi": "Visible"}
MASK_PREFIX = "mask:"
MASK_COLOURS = [(255, 80, 80), (80, 200, 255), (120, 230, 90), (255, 180, 40), (210, 110, 255),
                (255, 120, 200), (60, 220, 200), (240, 240, 90)]


@dataclass
class LayerLook:
    visible: bool = True
    opacity: float = 1.0


class DocumentLayers(QObject):
    """Mask layers of the open session plus the order and look of every layer."""

    masks_changed = Signal()
    looks_changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.session: EditSession | None = None
        self.uids: list[int] = []
        self._next_uid = 0
        self.looks: dict[str, LayerLook] = {}
        self.order: list[str] = []  # top first
        self.reset(None)

    def reset(self, session: EditSession | None) -> None:
        self.session = session
        self.looks = {
            "result": LayerLook(True, 1.0),
            "fused": LayerLook(True, 1.0),
            "ir": LayerLook(False, 1.0),
            "vi": LayerLook(False, 1.0),
        }
        self.order = list(IMAGE_LAYERS)
        self.uids = []
        for _mask in session.masks if session is not None else []:
            self._adopt(len(self.uids), self._new_uid())
        self.masks_changed.emit()
        self.looks_changed.emit()

    # -- masks --------------------------------------------------------------------------------
    @property
    def masks(self) -> list[Mask]:
        return self.session.masks if self.session is not None else []

    def _new_uid(self) -> int:
        self._next_uid += 1
        return self._next_uid

    def _adopt(self, index: int, uid: int) -> None:
        self.uids.insert(index, uid)
        key = MASK_PREFIX + str(uid)
        self.looks.setdefault(key, LayerLook(True, 0.45))
        if key not in self.order:
            self.order.insert(0, key)

    def key(self, uid: int) -> str:
        return MASK_PREFIX + str(uid)

    def index_of(self, uid: int) -> int:
        return self.uids.index(uid)

    def mask(self, uid: int) -> Mask:
        return self.masks[self.index_of(uid)]

    def next_colour(self) -> tuple[int, int, int]:
        used = {m.colour for m in self.masks}
        for colour in MASK_COLOURS:
            if colour not in used:
                return colour
        return MASK_COLOURS[len(self.masks) % len(MASK_COLOURS)]

    def insert(self, mask: Mask, index: int | None = None, uid: int | None = None) -> int:
        """Add a mask layer (at the top by default); returns its id."""
        assert self.session is not None
        index = len(self.masks) if index is None else index
        uid = self._new_uid() if uid is None else uid
        self.session.masks.insert(index, mask.quantized(16))
        self._adopt(index, uid)
        self.masks_changed.emit()
        return uid

    def remove(self, uid: int) -> tuple[Mask, int]:
        """Take a mask layer out; returns (mask, index) so it can be put back."""
        assert self.session is not None
        index = self.index_of(uid)
        mask = self.session.masks.pop(index)
        self.uids.pop(index)
        self.masks_changed.emit()
        return mask, index

    def replace(self, uid: int, mask: Mask) -> Mask:
        assert self.session is not None
        index = self.index_of(uid)
        old = self.session.masks[index]
        self.session.masks[index] = mask.quantized(16)
        self.masks_changed.emit()
        return old

    # -- looks --------------------------------------------------------------------------------
    def layer_keys(self) -> list[str]:
        """Layers to show, top first: image layers and the masks that exist."""
        live = set(IMAGE_LAYERS) | {self.key(u) for u in self.uids}
        return [k for k in self.order if k in live]

    def title(self, key: str) -> str:
        if key in IMAGE_LAYERS:
            return IMAGE_LAYERS[key]
        uid = int(key[len(MASK_PREFIX):])
        return f"Mask: {self.mask(uid).label or 'unnamed'}"

    def set_look(self, key: str, visible: bool | None = None, opacity: float | None = None) -> None:
        look = self.looks.setdefault(key, LayerLook())
        if visible is not None:
            look.visible = bool(visible)
        if opacity is not None:
            look.opacity = float(min(max(opacity, 0.0), 1.0))
        self.looks_changed.emit()

    def move(self, key: str, offset: int) -> None:
        """Move a layer up (negative offset) or down in the drawing order."""
        keys = self.layer_keys()
        i = keys.index(key)
        j = min(max(i + offset, 0), len(keys) - 1)
        if i == j:
            return
        keys.insert(j, keys.pop(i))
        hidden = [k for k in self.order if k not in keys]
        self.order = keys + hidden
        self.looks_changed.emit()
