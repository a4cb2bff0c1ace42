"""The main window: canvas, command bar, panels, menus; a thin view over the edit session.

Data flows one way: the window builds a job from core objects, the worker runs it, and the
job's own callback takes the result back on the GUI thread, which pushes an undoable command.
Widgets never run models and the worker never touches widgets. The window builds the widgets
and wires its collaborators: :class:`Jobs`, :class:`Files`, :class:`Plans`, :class:`MaskTools`,
:class:`Display`, and the actions declared in :mod:`.actions`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QShowEvent,
    QUndoCommand,
    QUndoStack,
)
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QUndoView,
    QVBoxLayout,
    QWidget,
)

from terf_studio import __version__
from terf_studio.document.session import EditSession
from terf_studio.errors import TerfError
from terf_studio.gui.canvas import CanvasView
from terf_studio.gui.command_bar import CommandBar, PlanPanel
from terf_studio.gui.commands import StepCommand
from terf_studio.gui.dialogs import ShortcutsDialog
from terf_studio.gui.engines import EngineMenu
from terf_studio.gui.layers import DocumentLayers
from terf_studio.gui.models_dialog import ModelsDialog
from terf_studio.gui.panels import LayersPanel, MasksPanel
from terf_studio.gui.preferences import PreferencesDialog, llm_choice
from terf_studio.gui.recovery import Recovery
from terf_studio.gui.strength import StrengthController
from terf_studio.gui.welcome import WelcomePanel, sample_pair
from terf_studio.gui.window import actions, widgets
from terf_studio.gui.window.actions import icon
from terf_studio.gui.window.display import Display
from terf_studio.gui.window.files import Files, dropped_paths
from terf_studio.gui.window.jobs import Jobs, warm_imports
from terf_studio.gui.window.mask_tools import MaskTools
from terf_studio.gui.window.plans import PendingPlan, Plans
from terf_studio.gui.window.recipes import Recipes
from terf_studio.gui.worker import JobRunner
from terf_studio.language import EditPlan
from terf_studio.memory import release_free_memory


class MainWindow(QMainWindow):
    """One document (a pair or a project) at a time."""

    idle = Signal()  # no job running and no scripted command waiting
    session_changed = Signal()

    def __init__(self, settings: QSettings | None = None, device: str = "auto", llm: str | None = None,
                 recovery_dir: Path | None = None) -> None:
        """``settings`` and ``recovery_dir`` (where autosaves go) default to the user's."""
        super().__init__()
        warm_imports()
        self.settings = settings if settings is not None else QSettings("TeRF Studio", "TeRF Studio")
        self.device = device
        self.llm = llm if llm is not None else llm_choice(self.settings)
        self.session: EditSession | None = None
        self.project_path: Path | None = None
        self.iterations: int | None = None  # an override of the tasks' iteration counts (previews, tests)
        self.script: list[str] = []  # typed commands still to run, one after another
        self.last_error = ""
        self.script_mode = False  # scripted runs report errors in the status bar only
        self.error_box: QMessageBox | None = None
        self._shut_down = False
        self.layers = DocumentLayers()
        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(0)  # unlimited: each entry is a patch or a few-kB mask PNG
        self.runner = JobRunner(self)
        self.setWindowIcon(icon("app"))
        self.setAcceptDrops(True)
        self._build_widgets()
        self.jobs = Jobs(self)
        self.files = Files(self)
        self.recipes = Recipes(self)
        self.plans = Plans(self)
        self.mask_tools = MaskTools(self)
        self.display = Display(self)
        self.recovery = Recovery(self, recovery_dir)
        self._build_actions()
        self.strength_control = StrengthController(self, self.plan_panel.strength)
        self._connect()
        self._restore_layout()
        self.update_title()
        self.update_enabled()

    # -- building ------------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.canvas = CanvasView()
        self.welcome = WelcomePanel(self.canvas)  # over the empty canvas until a document opens
        self.command_bar = CommandBar()
        self.run_button = QPushButton(icon("run"), "Run")
        self.run_button.setToolTip("Run the typed command (Enter)")
        bar = QHBoxLayout()
        bar.setContentsMargins(6, 6, 6, 2)
        bar.addWidget(QLabel("Edit:"))
        bar.addWidget(self.command_bar, 1)
        bar.addWidget(self.run_button)
        centre = QWidget()
        layout = QVBoxLayout(centre)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(bar)
        layout.addWidget(self.canvas, 1)
        self.setCentralWidget(centre)
        self._build_docks()
        self._build_status_bar()
        self._build_tool_widgets()

    def _build_docks(self) -> None:
        self.plan_panel = PlanPanel()
        self.layers_panel = LayersPanel(self.layers)
        self.masks_panel = MasksPanel(self.layers)
        self.history_view = QUndoView(self.undo_stack)
        self.history_view.setEmptyLabel("Opened")
        self.docks: dict[str, QDockWidget] = {}
        for name, title, widget in (("plan", "Plan", self.plan_panel), ("masks", "Masks", self.masks_panel),
                                    ("layers", "Layers", self.layers_panel), ("history", "History", self.history_view)):
            dock = QDockWidget(title, self)
            dock.setObjectName(f"dock-{name}")
            dock.setWidget(widget)
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
            self.docks[name] = dock
        self.tabifyDockWidget(self.docks["layers"], self.docks["history"])
        self.docks["layers"].raise_()
        self.docks["plan"].setMinimumWidth(400)

    def _build_status_bar(self) -> None:
        self.pixel_label = QLabel()
        self.device_label = QLabel("device: -")
        self.models_label = QLabel("models: -")
        self.progress = widgets.progress_bar()
        self.cancel_button = widgets.cancel_button()
        status = self.statusBar()
        status.addWidget(self.pixel_label, 1)
        for widget in (self.progress, self.cancel_button, self.models_label, self.device_label):
            status.addPermanentWidget(widget)

    def _build_tool_widgets(self) -> None:
        """The toolbar's brush size, brush hardness and split position."""
        self.brush_size = widgets.brush_size_box(self.canvas.brush_radius)
        self.hardness = widgets.hardness_box()
        self.split_slider = widgets.split_slider()

    def _build_actions(self) -> None:
        premade = {"undo": self.undo_stack.createUndoAction(self, "&Undo"),
                   "redo": self.undo_stack.createRedoAction(self, "&Redo")}
        self.actions_by_id: dict[str, QAction] = actions.make_actions(self, premade)
        a = self.actions_by_id
        self.act_undo, self.act_redo = a["undo"], a["redo"]
        self.act_compare, self.act_show_masks, self.act_llm = a["compare"], a["show_masks"], a["llm"]
        self.tool_actions = {tool: a[f"tool-{tool}"] for tool in actions.TOOLS}
        self.act_show_masks.setChecked(True)
        self.act_llm.setChecked(self.llm != "none")
        self.tool_actions["navigate"].setChecked(True)
        actions.build_menus(self, a, {"recent": self.files.add_recent_menu, "engine": self._add_engine_menu,
                                      "arch": self.files.add_arch_menu, "docks": self._add_dock_toggles})
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("toolbar-main")
        actions.build_toolbar(toolbar, a, {"brush_size": self.brush_size, "hardness": self.hardness,
                                           "split": self.split_slider})

    def _add_engine_menu(self, parent: QMenu) -> None:
        self.engine_menu = parent.addMenu("E&ngine")
        self.engine_menu.setToolTipsVisible(True)
        self.engines = EngineMenu(self.engine_menu, self.settings, self.jobs.on_engine_changed, self)
        self.engine_actions = self.engines.actions

    def _add_dock_toggles(self, menu: QMenu) -> None:
        for dock in self.docks.values():
            menu.addAction(dock.toggleViewAction())

    def _connect(self) -> None:
        self.command_bar.submitted.connect(self.submit_command)
        self.run_button.clicked.connect(lambda: self.submit_command(self.command_bar.text().strip()))
        self.plan_panel.run_requested.connect(self.run_plan_from_panel)
        self.cancel_button.clicked.connect(self.runner.cancel)
        self.runner.busy_changed.connect(lambda _busy: self.update_enabled())
        # Bound methods, not lambdas: Qt drops them by itself when the window goes away.
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        self.undo_stack.indexChanged.connect(self._on_index_changed)
        self.undo_stack.indexChanged.connect(self.recovery.document_changed)
        self.undo_stack.cleanChanged.connect(self.recovery.document_changed)
        self.layers.masks_changed.connect(self.display.refresh_masks)
        self.layers.looks_changed.connect(self.display.refresh_looks)
        self.canvas.pixel_hovered.connect(self.display.show_pixel)
        self.canvas.stroke_finished.connect(self.mask_tools.on_stroke)
        self.canvas.point_clicked.connect(self.mask_tools.on_point)
        self.canvas.box_drawn.connect(self.mask_tools.on_box)
        self.brush_size.valueChanged.connect(lambda v: self.canvas.set_brush_radius(float(v)))
        self.split_slider.valueChanged.connect(lambda _v: self.display.apply_split())
        self.masks_panel.rename_requested.connect(self.mask_tools.rename)
        self.masks_panel.invert_requested.connect(self.mask_tools.invert)
        self.masks_panel.delete_requested.connect(self.mask_tools.delete)
        self.masks_panel.new_requested.connect(self.mask_tools.new_mask)
        self.masks_panel.list.currentItemChanged.connect(lambda *_: self.update_enabled())
        self.welcome.open_pair_requested.connect(self.files.open_pair_dialog)
        self.welcome.open_project_requested.connect(self.files.open_project_dialog)
        self.welcome.sample_requested.connect(self.open_sample)
        self.welcome.models_requested.connect(self.show_models)

    # -- the document --------------------------------------------------------------------------
    def set_session(self, session: EditSession, project: str | None) -> None:
        """Show ``session`` (opened from ``project``, if any); its history becomes undo entries."""
        self.jobs.loading = True  # one warm-up at the end, not one per history entry pushed
        try:
            self._show_session(session, project)
        finally:
            self.jobs.loading = False
        release_free_memory()  # the previous document's arrays are gone: hand their pages back
        self.jobs.warm_key = None
        self.jobs.schedule_warm_up()
        self.session_changed.emit()

    def _show_session(self, session: EditSession, project: str | None) -> None:
        self.session = session
        self.project_path = Path(project) if project else None
        self.plans.pending = None
        self.mask_tools.reset()
        self.undo_stack.clear()
        self.layers.reset(session)
        # A project's history becomes undo entries: push each step (already applied), then go
        # back to where the project was saved.
        cursor = session.cursor
        session.go_to(len(session.steps))
        for step in session.steps:
            self.undo_stack.push(StepCommand(session, step, self.refresh_image))
        self.undo_stack.setIndex(cursor)
        self.undo_stack.setClean()
        self.display.show_session_layers()
        self.display.show_models()
        self.plan_panel.show_plan(EditPlan())
        self.plan_panel.summary.setText("Type a command above, or click, box or paint a mask.")
        self.update_title()
        self.update_enabled()

    def push(self, command: QUndoCommand) -> None:
        """Push an undoable command; an action after an undo drops the undone session steps too."""
        if self.session is not None and not isinstance(command, StepCommand):
            self.session.discard_redo()
        self.undo_stack.push(command)

    @property
    def pending(self) -> PendingPlan | None:
        """A plan waiting for the user to give a region."""
        return self.plans.pending

    @property
    def engine(self) -> str:
        """The engine chosen in Edit > Engine (auto, fast, quick or exact)."""
        return self.engines.engine

    # -- what the window shows -----------------------------------------------------------------
    def _on_clean_changed(self, _clean: bool) -> None:
        self.update_title()

    def _on_index_changed(self, _index: int) -> None:
        self.update_enabled()
        self.jobs.schedule_warm_up()

    def update_title(self) -> None:
        if self.session is None:
            name = "no image"
        elif self.project_path is not None:
            name = self.project_path.name
        else:
            name = Path(self.session.vi_path or "pair").name
        self.setWindowTitle(f"{name}[*] — TeRF Studio")
        self.setWindowModified(self.session is not None and not self.undo_stack.isClean())

    def update_enabled(self) -> None:
        """Enable what can be done now: nothing that would clash with a running job."""
        busy = self.runner.busy
        has = self.session is not None
        has_mask = self.masks_panel.selected_uid() is not None
        a = self.actions_by_id
        recent = self.files.recent_menu
        for act in (a["open"], a["open_project"], a["open_sample"],
                    *([recent.menuAction()] if recent is not None else [])):
            act.setEnabled(not busy)
        self.welcome.setVisible(not has)
        self.welcome.setEnabled(not busy)
        for name in ("save", "save_as", "export", "new_mask", "save_recipe", "apply_recipe"):
            a[name].setEnabled(has and not busy)
        for name in ("invert_mask", "delete_mask"):
            a[name].setEnabled(has and has_mask and not busy)
        self.act_undo.setEnabled(has and not busy and self.undo_stack.canUndo())
        self.act_redo.setEnabled(has and not busy and self.undo_stack.canRedo())
        self.history_view.setEnabled(not busy)
        for widget in (self.command_bar, self.run_button, self.masks_panel):
            widget.setEnabled(has and not busy)
        self.plan_panel.run.setEnabled(has and not busy and self.plan_panel.table.rowCount() > 0)
        for tool, act in self.tool_actions.items():
            act.setEnabled(has and (tool == "navigate" or not busy))
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if not busy:
            self.progress.reset()
        if hasattr(self, "strength_control"):
            self.strength_control.refresh()

    def refresh_image(self) -> None:
        """Show the session's current result (after an edit, undo or redo)."""
        self.display.refresh_image()

    def message(self, text: str, error: bool = False) -> None:
        if error:
            self.last_error = text
        self.statusBar().showMessage(text, 0 if error else 8000)

    def error(self, message: str) -> None:
        """Errors become a status message and a (non-blocking) message box, never a crash."""
        self.message(message, error=True)
        if self.isVisible() and not self.script_mode:
            box = QMessageBox(QMessageBox.Icon.Warning, "TeRF Studio", message, QMessageBox.StandardButton.Ok, self)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()
            self.error_box = box

    # -- action callbacks and the public API (tests, scripted runs) ------------------------------
    def set_tool(self, tool: str) -> None:
        self.canvas.set_tool(tool)
        self.tool_actions[tool].setChecked(True)

    def toggle_llm(self) -> None:
        self.llm = llm_choice(self.settings, self.act_llm.isChecked())  # the model file set in Preferences
        self.settings.setValue("parser/llm", "auto" if self.act_llm.isChecked() else "none")

    def _toggle_compare(self) -> None:  # terf_studio/gui/app.py calls this for --split
        self.display.toggle_compare()

    def show_shortcuts(self) -> None:
        ShortcutsDialog(actions.shortcut_rows(self.actions_by_id), self).exec()

    def show_models(self) -> ModelsDialog:
        """Help > Models (window-modal, not blocking)."""
        self.models_dialog = ModelsDialog(self)
        self.models_dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.models_dialog.open()
        return self.models_dialog

    def show_preferences(self) -> PreferencesDialog:
        """Edit > Preferences (window-modal, not blocking)."""
        self.preferences_dialog = PreferencesDialog(self)
        self.preferences_dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.preferences_dialog.open()
        return self.preferences_dialog

    def open_sample(self) -> bool:
        """Open the bundled synthetic sample pair (Try a sample)."""
        if not self.may_discard():
            return False
        try:
            vi, ir = sample_pair()
        except TerfError as exc:
            self.error(str(exc))
            return False
        return self.open_pair(str(vi), str(ir))

    def about(self) -> None:
        QMessageBox.about(self, "About TeRF Studio",
                          f"<b>TeRF Studio {__version__}</b><br>Visible + infrared image fusion you can steer "
                          "with words, clicks and paint.<br>Method: TeRF (ACM MM 2024).")

    def open_pair(self, vi: str, ir: str, resize_ir: bool = False) -> bool:
        return self.files.open_pair(vi, ir, resize_ir)

    def open_project(self, path: str) -> bool:
        return self.files.open_project(path)

    def save(self) -> bool:
        return self.files.save()

    def save_project(self, path: str) -> bool:
        return self.files.save_project(path)

    def export(self, path: str, bit_depth: int = 8, source: str = "result", masks: bool = False,
               comparison: bool = False) -> list[Path]:
        return self.files.export(path, bit_depth, source, masks, comparison)

    def recent(self) -> list[str]:
        return self.files.recent()

    def submit_command(self, text: str) -> bool:
        return self.plans.submit_command(text)

    def run_plan_from_panel(self) -> bool:
        return self.plans.run_from_panel()

    def run_script(self, commands: list[str]) -> None:
        self.jobs.run_script(commands)

    def new_mask(self, label: str | None = None) -> int | None:
        return self.mask_tools.new_mask(label)

    def cancel(self) -> None:
        self.jobs.cancel()

    # -- drag and drop -------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if dropped_paths(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        self.files.drop(event)

    # -- closing -------------------------------------------------------------------------------
    def ask_unsaved(self) -> QMessageBox.StandardButton:
        """Save, Discard or Cancel (a separate method so tests can answer it)."""
        return QMessageBox.question(
            self, "Unsaved changes", "The project has unsaved changes. Save them?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )

    def may_discard(self) -> bool:
        """True when the document may go: saved, nothing to save, or the user says so."""
        if self.session is None or self.undo_stack.isClean():
            return True
        answer = self.ask_unsaved()
        if answer == QMessageBox.StandardButton.Save:
            return self.files.save()
        return answer == QMessageBox.StandardButton.Discard

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.may_discard():
            event.ignore()
            return
        self._save_layout()
        self.shutdown()
        self.recovery.finish()  # a clean close: nothing to recover
        event.accept()

    def shutdown(self) -> None:
        """Stop the worker and detach from the undo stack (closing the window does this too)."""
        if self._shut_down:
            return
        self._shut_down = True
        for signal in (self.undo_stack.indexChanged, self.undo_stack.cleanChanged):
            try:
                signal.disconnect()
            except (RuntimeError, TypeError):
                pass
        self.recovery.stop()  # an autosave in progress ends now; a clean close removes its file anyway
        self.runner.shutdown()

    def _save_layout(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())

    def _restore_layout(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 880)
        state = self.settings.value("window/state")
        if state is not None:
            self.restoreState(state)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.session is not None:
            QTimer.singleShot(0, self.canvas.fit)
