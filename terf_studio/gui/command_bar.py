"""The command bar (type an edit, Enter runs it) and the plan panel that shows what will run."""

from __future__ import annotations

from typing import cast

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from terf_studio.gui.strength import StrengthSlider
from terf_studio.language import Edit, EditPlan
from terf_studio.language.plan import MAX_STRENGTH, TASK_NAMES, Task

#: Words offered while typing (the task vocabulary and common starts of a command).
COMPLETIONS = sorted({
    "brighten", "darken", "denoise", "blur", "lighten", "illuminate", "dim", "remove the noise on",
    "make the person lean towards infrared", "make the trees lean towards visible",
    "brighten the trees", "darken the sky", "denoise the road", "blur the car",
    "highlight the heat signature of", "more texture on", "more detail on", "more colour on",
    "a bit", "much more", "slightly", "the whole image",
})
FIND = "find from text"
WHOLE = "whole image"


class CommandBar(QLineEdit):
    """A line edit with command history (Up/Down) and completion of task words."""

    submitted = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText('Type an edit and press Enter, e.g. "brighten the trees and denoise the road"')
        self.setClearButtonEnabled(True)
        completer = QCompleter(QStringListModel(COMPLETIONS, self), self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.setCompleter(completer)
        self.history: list[str] = []
        self._pos = 0
        self.returnPressed.connect(self._submit)

    def _submit(self) -> None:
        text = self.text().strip()
        if not text:
            return
        if not self.history or self.history[-1] != text:
            self.history.append(text)
        self._pos = len(self.history)
        self.submitted.emit(text)

    def keyPressEvent(self, event) -> None:  # noqa: ANN001
        popup = self.completer().popup()
        if popup is not None and popup.isVisible():
            return super().keyPressEvent(event)
        if event.key() == Qt.Key.Key_Up and self.history:
            self._pos = max(0, self._pos - 1)
            self.setText(self.history[self._pos])
            return
        if event.key() == Qt.Key.Key_Down and self.history:
            self._pos = min(len(self.history), self._pos + 1)
            self.setText(self.history[self._pos] if self._pos < len(self.history) else "")
            return
        super().keyPressEvent(event)


class PlanPanel(QWidget):
    """The parsed plan as an editable table: task, target, strength and which region to use.

    ``run_requested`` asks the window to run the table as it stands (after the user corrected a
    task or a target, or picked a mask for a target the finders could not find). Below the table,
    ``strength`` changes the latest step's strength (see :mod:`terf_studio.gui.strength`).
    """

    run_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel("No command yet.")
        self.summary.setWordWrap(True)
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setObjectName("notice")
        self.notice.setVisible(False)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Task", "Target", "Strength", "Region"])
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.run = QPushButton("Run plan")
        self.run.setToolTip("Run the plan as shown (after correcting a task, a target or a region)")
        self.run.setEnabled(False)
        self.run.clicked.connect(self.run_requested)
        self.strength = StrengthSlider()
        self.strength.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.run)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.summary)
        layout.addWidget(self.notice)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.strength)
        layout.addLayout(buttons)
        self.text = ""
        self._masks: list[tuple[int, str]] = []

    # -- filling -------------------------------------------------------------------------------
    def set_masks(self, masks: list[tuple[int, str]]) -> None:
        """The mask layers a row may use: (id, label)."""
        chosen = [self.region(r) for r in range(self.table.rowCount())]
        self._masks = list(masks)
        for row, choice in enumerate(chosen):
            self._fill_regions(row, choice)
        if chosen:
            self._fit_columns()

    def _fill_regions(self, row: int, choice: int | str) -> None:
        combo = self.table.cellWidget(row, 3)
        if not isinstance(combo, QComboBox):
            combo = QComboBox()
            self.table.setCellWidget(row, 3, combo)
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(FIND, FIND)
        combo.addItem(WHOLE, WHOLE)
        for uid, label in self._masks:
            combo.addItem(f"mask: {label or 'unnamed'}", uid)
        index = combo.findData(choice)
        combo.setCurrentIndex(index if index >= 0 else 0)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        combo.blockSignals(False)

    def show_plan(self, plan: EditPlan) -> None:
        self.text = plan.text
        self.table.setRowCount(0)
        for edit in plan.edits:
            self._add_row(edit)
        self.run.setEnabled(bool(plan.edits))
        parts = [f"{e.task.value} → {e.target or 'whole image'}"
                 + (f" ×{e.strength:g}" if e.strength != 1.0 else "") for e in plan.edits]
        summary = "; ".join(parts) if parts else plan.action.describe() if plan.action else "nothing to do"
        lines = [f"<b>{summary}</b> <span style='color:gray'>({plan.parser}, {plan.seconds * 1000:.0f} ms)</span>"]
        if plan.message and plan.action is None:  # an action's message repeats the summary
            lines.append(plan.message)
        for d in plan.disagreements:
            lines.append(f"parsers disagreed on {d.field} of edit {d.index + 1}: rules {d.rules!r}, "
                         f"LLM {d.llm!r}; used {d.chosen} ({d.reason})")
        self.summary.setText("<br>".join(lines))
        self.show_notice("")

    def _add_row(self, edit: Edit) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        task = QComboBox()
        task.addItems(list(TASK_NAMES))
        task.setCurrentText(edit.task.value)
        self.table.setCellWidget(row, 0, task)
        target = QLineEdit(edit.target or "")
        target.setPlaceholderText("whole image")
        self.table.setCellWidget(row, 1, target)
        strength = QDoubleSpinBox()
        strength.setRange(0.1, MAX_STRENGTH)
        strength.setSingleStep(0.25)
        strength.setValue(edit.strength)
        self.table.setCellWidget(row, 2, strength)
        self._fill_regions(row, FIND if edit.target else WHOLE)
        self._fit_columns()

    def _fit_columns(self) -> None:
        """Cell widgets do not size their columns by themselves: fit task, strength and region."""
        for column in (0, 2, 3):
            widths = [self.table.cellWidget(r, column).sizeHint().width() for r in range(self.table.rowCount())]
            header = self.table.horizontalHeader().sectionSizeHint(column)
            self.table.setColumnWidth(column, max([header, *widths]) + 4)

    def show_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    # -- reading -------------------------------------------------------------------------------
    # The cells of a row are the widgets _add_row put there; QTableWidget.cellWidget only says QWidget.
    def task_box(self, row: int) -> QComboBox:
        return cast(QComboBox, self.table.cellWidget(row, 0))

    def target_box(self, row: int) -> QLineEdit:
        return cast(QLineEdit, self.table.cellWidget(row, 1))

    def strength_box(self, row: int) -> QDoubleSpinBox:
        return cast(QDoubleSpinBox, self.table.cellWidget(row, 2))

    def edits(self) -> list[Edit]:
        """The table as edits (a row whose region is 'whole image' has no target)."""
        out = []
        for row in range(self.table.rowCount()):
            task = self.task_box(row).currentText()
            target = self.target_box(row).text().strip() or None
            if self.region(row) == WHOLE:
                target = None
            out.append(Edit(target, Task(task), self.strength_box(row).value(), self.text))  # the box lists TASK_NAMES
        return out

    def region(self, row: int) -> int | str:
        """FIND, WHOLE or a mask id."""
        combo = self.table.cellWidget(row, 3)
        return combo.currentData() if isinstance(combo, QComboBox) else FIND

    def set_region(self, row: int, choice: int | str) -> None:
        self._fill_regions(row, choice)
