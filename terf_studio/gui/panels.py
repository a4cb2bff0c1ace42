"""Dock panels: layers (show/hide, order, opacity) and masks (name, colour, visibility)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from terf_studio.gui.layers import MASK_PREFIX, DocumentLayers


def colour_icon(rgb: tuple[int, int, int], size: int = 14) -> QIcon:
    pix = QPixmap(size, size)
    pix.fill(QColor(*rgb))
    return QIcon(pix)


class LayersPanel(QWidget):
    """One row per layer, top first: a checkbox shows/hides it; the slider sets its opacity."""

    def __init__(self, layers: DocumentLayers, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layers = layers
        self.list = QListWidget()
        self.list.setToolTip("Tick to show a layer; the top of the list is drawn on top")
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setToolTip("Opacity of the selected layer")
        self.up = QPushButton("Up")
        self.down = QPushButton("Down")
        self.up.setToolTip("Draw the selected layer higher")
        self.down.setToolTip("Draw the selected layer lower")
        row = QHBoxLayout()
        row.addWidget(QLabel("Opacity"))
        row.addWidget(self.opacity, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.up)
        buttons.addWidget(self.down)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list, 1)
        layout.addLayout(row)
        layout.addLayout(buttons)
        self._updating = False
        layers.looks_changed.connect(self.refresh)
        layers.masks_changed.connect(self.refresh)
        self.list.itemChanged.connect(self._item_changed)
        self.list.currentItemChanged.connect(self._selection_changed)
        self.opacity.valueChanged.connect(self._opacity_changed)
        self.up.clicked.connect(lambda: self._move(-1))
        self.down.clicked.connect(lambda: self._move(1))
        self.refresh()

    def selected_key(self) -> str | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def refresh(self) -> None:
        selected = self.selected_key()
        self._updating = True
        self.list.clear()
        for key in self.layers.layer_keys():
            look = self.layers.looks[key]
            item = QListWidgetItem(self.layers.title(key))
            item.setData(Qt.ItemDataRole.UserRole, key)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if look.visible else Qt.CheckState.Unchecked)
            if key.startswith(MASK_PREFIX):
                item.setIcon(colour_icon(self.layers.mask(int(key[len(MASK_PREFIX):])).colour))
            self.list.addItem(item)
            if key == selected:
                self.list.setCurrentItem(item)
        self._updating = False
        self._selection_changed()

    def _item_changed(self, item: QListWidgetItem) -> None:
        if not self._updating:
            self.layers.set_look(item.data(Qt.ItemDataRole.UserRole),
                                 visible=item.checkState() == Qt.CheckState.Checked)

    def _selection_changed(self, *_) -> None:  # noqa: ANN002
        key = self.selected_key()
        enabled = key is not None
        for w in (self.opacity, self.up, self.down):
            w.setEnabled(enabled)
        if key is not None:
            self._updating = True
            self.opacity.setValue(round(self.layers.looks[key].opacity * 100))
            self._updating = False

    def _opacity_changed(self, value: int) -> None:
        key = self.selected_key()
        if key is not None and not self._updating:
            self.layers.set_look(key, opacity=value / 100.0)

    def _move(self, offset: int) -> None:
        key = self.selected_key()
        if key is not None:
            self.layers.move(key, offset)


class MasksPanel(QWidget):
    """The masks: select the one the brush paints into; rename (double-click), invert, delete."""

    rename_requested = Signal(int, str)  # uid, new label
    invert_requested = Signal(int)
    delete_requested = Signal(int)
    new_requested = Signal()

    def __init__(self, layers: DocumentLayers, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layers = layers
        self.list = QListWidget()
        self.list.setToolTip("The brush paints into the selected mask; double-click a name to rename it")
        self.new = QPushButton("New")
        self.invert = QPushButton("Invert")
        self.delete = QPushButton("Delete")
        self.new.setToolTip("A new empty mask to paint into")
        self.invert.setToolTip("Swap the inside and outside of the selected mask")
        self.delete.setToolTip("Delete the selected mask (Del)")
        buttons = QHBoxLayout()
        for b in (self.new, self.invert, self.delete):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self._updating = False
        layers.masks_changed.connect(self.refresh)
        layers.looks_changed.connect(self.refresh)
        self.list.itemChanged.connect(self._item_changed)
        self.list.currentItemChanged.connect(self._update_buttons)
        self.new.clicked.connect(self.new_requested)
        self.invert.clicked.connect(lambda: self._emit(self.invert_requested))
        self.delete.clicked.connect(lambda: self._emit(self.delete_requested))
        self.refresh()

    def selected_uid(self) -> int | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def select(self, uid: int | None) -> None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == uid:
                self.list.setCurrentItem(item)
                return

    def refresh(self) -> None:
        selected = self.selected_uid()
        self._updating = True
        self.list.clear()
        for uid, mask in zip(self.layers.uids, self.layers.masks):
            look = self.layers.looks[self.layers.key(uid)]
            item = QListWidgetItem(colour_icon(mask.colour), mask.label or "unnamed")
            item.setData(Qt.ItemDataRole.UserRole, uid)
            item.setToolTip(f"made by {mask.source}, confidence {mask.confidence:.2f}, {mask.area} pixels")
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEditable)
            item.setCheckState(Qt.CheckState.Checked if look.visible else Qt.CheckState.Unchecked)
            self.list.addItem(item)
            if uid == selected:
                self.list.setCurrentItem(item)
        if self.list.currentItem() is None and self.list.count():
            self.list.setCurrentRow(self.list.count() - 1)
        self._updating = False
        self._update_buttons()

    def _update_buttons(self, *_) -> None:  # noqa: ANN002
        has = self.selected_uid() is not None
        self.invert.setEnabled(has)
        self.delete.setEnabled(has)

    def _item_changed(self, item: QListWidgetItem) -> None:
        if self._updating:
            return
        uid = item.data(Qt.ItemDataRole.UserRole)
        visible = item.checkState() == Qt.CheckState.Checked
        if self.layers.looks[self.layers.key(uid)].visible != visible:
            self.layers.set_look(self.layers.key(uid), visible=visible)
        label = item.text().strip()
        if label and label != self.layers.mask(uid).label:
            self.rename_requested.emit(uid, label)

    def _emit(self, signal) -> None:  # noqa: ANN001
        uid = self.selected_uid()
        if uid is not None:
            signal.emit(uid)
