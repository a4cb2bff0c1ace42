"""File > Save recipe… and File > Apply recipe to folder…: the session's applied steps as a
recipe file, and the same steps run over a folder of pairs on the worker (progress, cancel; the
pairs already written stay), then a list of the results that opens any pair as a project."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSettings, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from terf_studio.errors import TerfError
from terf_studio.gui.dialogs import PathField, last_dir, remember_dir
from terf_studio.gui.worker import Progress
from terf_studio.tuning import CancelToken

if TYPE_CHECKING:
    from terf_studio.gui.window.main_window import MainWindow
    from terf_studio.recipes import Recipe
    from terf_studio.recipes.batch import BatchSummary

RECIPE_FILTER = "TeRF Studio recipes (*.json)"


class ApplyRecipeDialog(QDialog):
    """The folders of a recipe run, with the steps it will apply."""

    def __init__(self, recipe: Recipe, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Apply recipe to folder")
        start = last_dir(settings)
        self.vi_dir = PathField(settings, "Folder of visible images", folder=True, text=start)
        self.ir_dir = PathField(settings, "Folder of infrared images (same names)", folder=True, text=start)
        self.out_dir = PathField(settings, "Output folder", folder=True, text=start)
        self.masks = QCheckBox("Also write each edit's mask")
        steps = QLabel("\n".join(recipe.describe()))
        steps.setWordWrap(True)
        steps.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form = QFormLayout()
        form.addRow("Visible images:", self.vi_dir)
        form.addRow("Infrared images:", self.ir_dir)
        form.addRow("Write to:", self.out_dir)
        form.addRow("", self.masks)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Run")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Steps (regions found from text are found again on each pair):"))
        layout.addWidget(steps)
        layout.addLayout(form)
        layout.addWidget(QLabel("Each pair is also saved as a project; pairs made by this recipe before are skipped."))
        layout.addWidget(buttons)


class RecipeResultsDialog(QDialog):
    """Every pair of a run: its status, the failing step and why; Open (or a double click)
    opens a finished pair's project in the window."""

    def __init__(self, summary: BatchSummary, out_dir: Path, window: MainWindow) -> None:
        super().__init__(window)
        self.main, self.out_dir = window, out_dir
        self.setWindowTitle("Recipe results")
        self.table = QTableWidget(len(summary.records), 4)
        self.table.setHorizontalHeaderLabels(["Pair", "Status", "Step", "Why"])
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        for row, record in enumerate(summary.records):
            values = [record.pair, record.status, "" if record.step is None else str(record.step), record.reason]
            for column, value in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(value))
        self.table.resizeColumnsToContents()
        self.table.cellDoubleClicked.connect(lambda row, _col: self.open_row(row))
        self.open_button = QPushButton("Open as project")
        self.open_button.clicked.connect(lambda: self.open_row(self.table.currentRow()))
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        buttons.addWidget(QLabel(f"{summary.line()}\nin {out_dir}"), 1)
        buttons.addWidget(self.open_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.resize(720, 420)

    def project_of(self, row: int) -> Path | None:
        item = self.table.item(row, 0) if row >= 0 else None
        status = self.table.item(row, 1) if row >= 0 else None
        if item is None or status is None or status.text() not in ("done", "skipped"):
            return None
        path = self.out_dir / f"{item.text()}.terf"
        return path if path.is_file() else None

    def open_row(self, row: int) -> bool:
        path = self.project_of(row)
        if path is None:
            self.main.message("that pair has no project (it failed or was not run)", error=True)
            return False
        if not self.main.may_discard():
            return False
        self.accept()
        return self.main.files.open_project(str(path))


class Recipes(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.results: RecipeResultsDialog | None = None

    def current_recipe(self) -> Recipe | None:
        from terf_studio.recipes.recipe import recipe_from_session

        w = self.window
        if w.session is None:
            return None
        try:
            return recipe_from_session(w.session, name=Path(w.session.vi_path or "recipe").stem)
        except TerfError as exc:
            w.message(str(exc), error=True)
            return None

    def save_dialog(self) -> None:
        recipe = self.current_recipe()
        if recipe is None:
            return
        start = str(Path(last_dir(self.window.settings)) / f"{recipe.name or 'recipe'}.recipe.json")
        path, _ = QFileDialog.getSaveFileName(self.window, "Save recipe", start, RECIPE_FILTER)
        if path:
            remember_dir(self.window.settings, path)
            self.save(path if path.lower().endswith(".json") else path + ".json", recipe)

    def save(self, path: str, recipe: Recipe | None = None) -> bool:
        from terf_studio.recipes import save_recipe

        recipe = recipe or self.current_recipe()
        if recipe is None:
            return False
        try:
            save_recipe(recipe, path)
        except TerfError as exc:
            self.window.error(f"could not save the recipe: {exc}")
            return False
        self.window.message(f"saved the recipe ({len(recipe.steps)} steps) to {path}")
        return True

    def apply_dialog(self) -> None:
        recipe = self.current_recipe()
        if recipe is None:
            return
        dialog = ApplyRecipeDialog(recipe, self.window.settings, self.window)
        if dialog.exec():
            self.apply(recipe, dialog.vi_dir.text(), dialog.ir_dir.text(), dialog.out_dir.text(),
                       masks=dialog.masks.isChecked())

    def apply(self, recipe: Recipe, vi_dir: str, ir_dir: str, out_dir: str, masks: bool = False) -> bool:
        """Run ``recipe`` over the pairs of two folders on the worker; every finished pair is
        written at once (and saved as a project), so a cancel keeps them."""
        from terf_studio.cli.outputs import refuse_overwriting_inputs
        from terf_studio.imaging.folders import find_pairs
        from terf_studio.recipes.batch import BatchOptions, output_paths

        w = self.window
        if not (vi_dir and ir_dir and out_dir):
            w.message("choose the visible, infrared and output folders", error=True)
            return False
        try:
            pairs = find_pairs(Path(vi_dir), Path(ir_dir))
            options = BatchOptions(device=str(w.session.fuser.device) if w.session else "cpu", save_projects=True,
                                   masks=masks)
            outputs = [(role, p) for pair in pairs for role, p in output_paths(Path(out_dir), pair.name,
                                                                                options).items()]
            refuse_overwriting_inputs(outputs, [("visible image", p.vi) for p in pairs]
                                      + [("infrared image", p.ir) for p in pairs])
        except TerfError as exc:
            w.error(str(exc))
            return False
        latest: list[BatchSummary] = []

        def job(progress: Progress, cancel: CancelToken) -> BatchSummary:
            from terf_studio.recipes.batch import run_batch
            from terf_studio.recipes.executors import LocalExecutor

            progress("recipe", 0, len(pairs))
            summary = run_batch(recipe, pairs, out_dir, options, LocalExecutor(1),
                                progress=lambda done, total, record: progress(f"recipe: {record.pair}", done, total),
                                should_stop=lambda: cancel.cancelled)
            latest.append(summary)
            return summary

        def show(summary: BatchSummary) -> None:
            w.message(f"recipe: {summary.line()}")
            self.results = RecipeResultsDialog(summary, Path(out_dir), w)
            self.results.show()

        return w.jobs.start(f"Apply recipe to {len(pairs)} pairs", job, show,
                            on_cancel=lambda: show(latest[0]) if latest else None)
