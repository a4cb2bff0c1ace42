"""Help > Models: every registered model, whether it is installed and where, what it adds, and
"Add model file..." running the same checks as ``terf-studio models add``.

The rows come from :func:`terf_studio.weights.registry.model_status` (what ``models list`` and
``doctor`` print); adding calls :func:`terf_studio.weights.registry.install_model` on the
window's worker (a large file's checksum takes seconds).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from terf_studio.gui.worker import Progress
from terf_studio.tuning import CancelToken
from terf_studio.weights.registry import REGISTRY, Installed, install_model, model_status, search_dirs

if TYPE_CHECKING:
    from terf_studio.gui.window.main_window import MainWindow

COLUMNS = ("Model", "State", "What it adds", "Where / how to get it")
LLM_MODEL = "gemma-3-270m"  # assembled on first use from its Python package when that is installed


def _state(row: dict) -> tuple[str, str]:
    """(state, where) for one :func:`model_status` row."""
    spec = REGISTRY[row["name"]]
    if row["present"]:
        return ("shipped" if spec.shipped else "installed"), row["path"]
    if row["name"] == LLM_MODEL:
        from terf_studio.language.llm import default_model_available, default_model_path

        if default_model_available():
            return "installed", f"assembled on first use into {default_model_path(assemble=False)}"
    where = row["how_to_get"] + (f" (passed over: {row['problem']})" if row["problem"] else "")
    return ("optional, missing" if not spec.shipped else "missing"), where


class ModelsDialog(QDialog):
    """The models table with Add model file... and Refresh; ``refresh()`` reads the registry again."""

    def __init__(self, window: MainWindow, parent: QWidget | None = None) -> None:
        super().__init__(parent if parent is not None else window)
        self.main = window
        self.setWindowTitle("Models")
        self.folders = QLabel()
        self.folders.setWordWrap(True)
        self.folders.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(True)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        for column, mode in enumerate((QHeaderView.ResizeMode.ResizeToContents,
                                       QHeaderView.ResizeMode.ResizeToContents,
                                       QHeaderView.ResizeMode.Stretch, QHeaderView.ResizeMode.Stretch)):
            header.setSectionResizeMode(column, mode)
        self.model_choice = QComboBox()
        self.model_choice.addItems(list(REGISTRY))
        self.add_button = QPushButton("Add model file…")
        self.add_button.setToolTip("Check a model file (or folder) you have and copy it into your model folder, "
                                   "as `terf-studio models add` does")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        refresh = QPushButton("Refresh")
        row = QHBoxLayout()
        row.addWidget(QLabel("Add as:"))
        row.addWidget(self.model_choice, 1)
        row.addWidget(self.add_button)
        row.addWidget(refresh)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.folders)
        layout.addWidget(self.table, 1)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.add_button.clicked.connect(self.add_file_dialog)
        refresh.clicked.connect(self.refresh)
        buttons.rejected.connect(self.reject)
        self.table.currentCellChanged.connect(self._follow_selection)
        self.resize(1000, 560)
        self.refresh()

    def refresh(self) -> None:
        """Read the registry again (after an add, or a file copied by hand)."""
        self.folders.setText("Model folders, searched in order: " + ", ".join(str(d) for d in search_dirs()))
        rows = model_status()
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            state, where = _state(row)
            for column, text in enumerate((row["name"], state, row["description"], where)):
                item = QTableWidgetItem(text)
                item.setToolTip(text if column else f"{row['name']}: {row['licence']}")
                self.table.setItem(i, column, item)
        self.table.resizeRowsToContents()

    def state_of(self, name: str) -> str:
        """The State column of model ``name`` (tests, scripts)."""
        for i in range(self.table.rowCount()):
            first, state = self.table.item(i, 0), self.table.item(i, 1)
            if first is not None and state is not None and first.text() == name:
                return state.text()
        raise KeyError(name)

    def _follow_selection(self, row: int, *_args: int) -> None:
        item = self.table.item(row, 0) if row >= 0 else None
        if item is not None:
            self.model_choice.setCurrentText(item.text())

    def add_file_dialog(self) -> None:
        name = self.model_choice.currentText()
        spec = REGISTRY[name]
        if spec.is_folder:
            path = QFileDialog.getExistingDirectory(self, f"The {name} folder ({', '.join(spec.files)})")
        else:
            path, _ = QFileDialog.getOpenFileName(self, f"The {name} file ({spec.filename})")
        if path:
            self.add_model(name, path)

    def add_model(self, name: str, path: str) -> bool:
        """Check and install ``path`` as model ``name`` on the worker; the table and the status
        line show the outcome. False when the worker is busy."""

        def job(progress: Progress, cancel: CancelToken) -> Installed:
            progress(f"checking {name}", 0, 1)
            return install_model(name, path)

        self.status.setText(f"checking {path} as {name}…")
        self.add_button.setEnabled(False)
        started = self.main.jobs.start(f"Add {name}", job, self._added, on_error=self._failed,
                                         on_cancel=self._cancelled)
        if not started:
            self.add_button.setEnabled(True)
            self.status.setText("wait for the running job to finish, then add the model")
        return started

    def _added(self, done: Installed) -> None:
        self.add_button.setEnabled(True)
        self.status.setText(f"installed {done.name} at {done.path} ({done.checked})")
        self.main.message(f"installed {done.name}")
        self.refresh()

    def _failed(self, message: str, exc: Exception) -> None:
        self.add_button.setEnabled(True)
        self.status.setText(f"not added: {message}")
        self.main.message(f"not added: {message}", error=True)

    def _cancelled(self) -> None:
        self.add_button.setEnabled(True)
        self.status.setText("cancelled; nothing was installed")
