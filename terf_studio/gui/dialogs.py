"""Dialogs: open a pair, export, the shortcuts sheet."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.tif *.tiff *.bmp);;All files (*)"
PROJECT_FILTER = "TeRF Studio projects (*.terf)"
LAST_DIR = "paths/last_dir"


def last_dir(settings: QSettings) -> str:
    return str(settings.value(LAST_DIR, str(Path.home())))


def remember_dir(settings: QSettings, path: str) -> None:
    settings.setValue(LAST_DIR, str(Path(path).parent))


class PathField(QWidget):
    """A path and its Browse… button: a file to open, a file to save (``save``) or a folder
    (``folder``)."""

    def __init__(self, settings: QSettings, title: str, save: bool = False, filter: str = IMAGE_FILTER,
                 folder: bool = False, text: str = "") -> None:
        super().__init__()
        self.settings, self.title, self.save, self.filter, self.folder = settings, title, save, filter, folder
        self.edit = QLineEdit(text)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(browse)

    def _browse(self) -> None:
        start = self.edit.text() or last_dir(self.settings)
        if self.folder:
            path = QFileDialog.getExistingDirectory(self, self.title, start)
        elif self.save:
            path, _ = QFileDialog.getSaveFileName(self, self.title, start, self.filter)
        else:
            path, _ = QFileDialog.getOpenFileName(self, self.title, start, self.filter)
        if path:
            self.edit.setText(path)
            remember_dir(self.settings, path)

    def text(self) -> str:
        return self.edit.text().strip()


def _finish_form_dialog(dialog: QDialog, form: QFormLayout, accept: QDialogButtonBox.StandardButton) -> None:
    """The form, then ``accept`` and Cancel buttons below it; as wide as a path needs."""
    buttons = QDialogButtonBox(accept | QDialogButtonBox.StandardButton.Cancel)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    layout.addLayout(form)
    layout.addWidget(buttons)
    dialog.resize(560, dialog.sizeHint().height())


class OpenPairDialog(QDialog):
    """Two pickers (visible, infrared) that start in the last folder used."""

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open an image pair")
        self.vi = PathField(settings, "Visible image")
        self.ir = PathField(settings, "Infrared image")
        self.resize_ir = QCheckBox("Resize the infrared image to the visible image's size")
        form = QFormLayout()
        form.addRow("Visible", self.vi)
        form.addRow("Infrared", self.ir)
        form.addRow(self.resize_ir)
        _finish_form_dialog(self, form, QDialogButtonBox.StandardButton.Open)


@dataclass
class ExportChoice:
    path: str
    bit_depth: int
    source: str
    masks: bool
    comparison: bool


class ExportDialog(QDialog):
    def __init__(self, settings: QSettings, suggested: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.path = PathField(settings, "Export as", save=True, filter="PNG (*.png);;TIFF (*.tif *.tiff)")
        self.path.edit.setText(suggested)
        self.source = QComboBox()
        self.source.addItem("Edited result", "result")
        self.source.addItem("Fusion before edits", "fused")
        self.bit_depth = QComboBox()  # not "depth": that would hide QPaintDevice.depth()
        self.bit_depth.addItem("8 bits per channel", 8)
        self.bit_depth.addItem("16 bits per channel", 16)
        self.masks = QCheckBox("Also the masks (one PNG each)")
        self.comparison = QCheckBox("Also a side-by-side comparison sheet")
        form = QFormLayout()
        form.addRow("File (.png, .tif)", self.path)
        form.addRow("Image", self.source)
        form.addRow("Depth", self.bit_depth)
        form.addRow(self.masks)
        form.addRow(self.comparison)
        _finish_form_dialog(self, form, QDialogButtonBox.StandardButton.Save)

    def choice(self) -> ExportChoice:
        return ExportChoice(self.path.text(), self.bit_depth.currentData(), self.source.currentData(),
                            self.masks.isChecked(), self.comparison.isChecked())


class ShortcutsDialog(QDialog):
    """The shortcut sheet: ``rows`` of (keys, what they do), made from the window's action specs
    (terf_studio.gui.window.actions.shortcut_rows)."""

    def __init__(self, rows: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        table = QTableWidget(len(rows), 2)
        table.setHorizontalHeaderLabels(["Keys", "Action"])
        table.verticalHeader().setVisible(False)
        for row, (keys, action) in enumerate(rows):
            table.setItem(row, 0, QTableWidgetItem(keys))
            table.setItem(row, 1, QTableWidgetItem(action))
        table.resizeColumnsToContents()
        table.horizontalHeader().setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        layout.addWidget(buttons)
        self.resize(520, 560)
