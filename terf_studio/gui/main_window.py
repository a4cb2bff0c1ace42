"""The main window: canvas, command bar, panels, menus; a thin view over the edit session.

Data flows one way: the window builds a job from core objects, the worker runs it, and the
result comes back as a signal; the window then pushes an undoable command. Widgets never run
models and the worker never touches widgets.
"""

from __future__ import annotations

import functools
import gc
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QDragEnterEvent, QDropEvent, QIcon, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QDockWidget,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QToolButton,
    QUndoView,
    QVBoxLayout,
    QWidget,
)

from terf_studio import __version__
from terf_studio.errors import TerfError
from terf_studio.gui.canvas import CanvasView
from terf_studio.gui.command_bar import FIND, WHOLE, CommandBar, PlanPanel
from terf_studio.gui.commands import AddMaskCommand, RemoveMaskCommand, ReplaceMaskCommand, StepCommand
from terf_studio.gui.dialogs import (
    PROJECT_FILTER,
    ExportDialog,
    OpenPairDialog,
    ShortcutsDialog,
    last_dir,
    remember_dir,
)
from terf_studio.gui.engines import EngineMenu
from terf_studio.gui.images import image_to_qimage, mask_to_qimage
from terf_studio.gui.layers import IMAGE_LAYERS, DocumentLayers
from terf_studio.gui.panels import LayersPanel, MasksPanel
from terf_studio.gui.strength import StrengthController
from terf_studio.gui.worker import Job, JobRunner
from terf_studio.language import EditPlan
from terf_studio.regions import Mask, NoRegionFound, Stroke
from terf_studio.paths import resource_path
from terf_studio.document.session import EditSession

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}
RECENT_KEY = "recent"
MAX_RECENT = 8


@functools.cache
def warm_imports() -> None:
    """Import what the worker's jobs use before the window shows: an import holds Python's
    interpreter lock for its whole run, so one on the worker would freeze the window meanwhile."""
    import terf_studio.document.export  # noqa: F401
    import terf_studio.fusion  # noqa: F401
    import terf_studio.language.llm  # noqa: F401
    import terf_studio.document.project  # noqa: F401
    import terf_studio.regions.grounded  # noqa: F401
    import terf_studio.regions.interactive  # noqa: F401
    import terf_studio.tuning  # noqa: F401
    import terf_studio.tuning.engines.conditioned  # noqa: F401 - the fast engines (previews, warm-up)
    import terf_studio.tuning.engines.denoiser  # noqa: F401
    import terf_studio.tuning.engines.loader  # noqa: F401
    import terf_studio.tuning.engines.retinex  # noqa: F401
    import torch

    # The first optimiser step imports torch's compiler stack (sympy, dynamo), and the first
    # convolution backward pass sets up the CPU kernels: about 2 s that would otherwise hold
    # the interpreter lock on the worker during the first fine-tuning (measured: 350 ms stalls).
    weight = torch.zeros(4, 3, 3, 3, requires_grad=True)
    optimiser = torch.optim.Adam([weight], lr=1e-3)
    image = torch.rand(1, 3, 16, 16).contiguous(memory_format=torch.channels_last)
    torch.nn.functional.conv2d(image, weight, padding=1).relu().mean().backward()
    optimiser.step()
    # Those libraries leave millions of long-lived objects; a full garbage collection walking
    # them all held the interpreter lock for ~300 ms mid-job. Freeze them out of future collections.
    gc.collect()
    gc.freeze()


def use_grounded_finder(device: str) -> None:
    """Text targets go to GroundingDINO + SAM first when their packages and weights are installed
    (checked on the file system only; the models load on first use)."""
    from terf_studio.regions.grounded import register_grounded_if_available

    register_grounded_if_available(device=device)


def prompt_segmenter():  # noqa: ANN201
    """The registered learned finder that also segments clicks and boxes (SAM), if any."""
    from terf_studio.regions import finders

    return next((f for f in finders() if hasattr(f, "point_mask") and hasattr(f, "box_mask")), None)


def icon(name: str) -> QIcon:
    return QIcon(str(resource_path("icons", f"{name}.svg")))


def guess_pair(paths: list[str]) -> tuple[str, str]:
    """Which of two dropped images is the infrared one: a folder or name saying so, else the grey one."""
    def says_ir(p: str) -> bool:
        parts = [s.lower() for s in Path(p).parts[-2:]]
        return any(s in ("ir", "infrared", "thermal", "lwir") or "_ir" in s or "ir_" in s or "infrared" in s
                   or "thermal" in s for s in parts)

    a, b = paths
    if says_ir(a) != says_ir(b):
        return (b, a) if says_ir(a) else (a, b)
    from terf_studio.imaging import read_image

    grey_a, grey_b = read_image(a).ndim == 2, read_image(b).ndim == 2
    if grey_a != grey_b:
        return (b, a) if grey_a else (a, b)
    return a, b


class MainWindow(QMainWindow):
    """One document (a pair or a project) at a time."""

    idle = Signal()  # no job running and no scripted command waiting
    session_changed = Signal()

    def __init__(self, settings: QSettings | None = None, device: str = "auto", llm: str | None = None) -> None:
        super().__init__()
        warm_imports()
        self.settings = settings if settings is not None else QSettings("TeRF Studio", "TeRF Studio")
        self.device = device
        self.llm = llm if llm is not None else str(self.settings.value("parser/llm", "auto"))
        self.session: EditSession | None = None
        self.project_path: Path | None = None
        self.iterations: int | None = None  # an override of the tasks' iteration counts (previews, tests)
        self.script: list[str] = []
        self.pending: dict[str, Any] | None = None  # a plan waiting for the user to give a region
        self.point_prompt: dict[str, Any] | None = None  # clicks that built the selected mask
        self.last_error = ""
        self._shut_down = False
        self._shown_masks: dict[int, Mask] = {}  # the mask each overlay shows now
        self._warm_key: tuple | None = None  # the image the fast engines were last warmed up for
        self._loading = False  # a project's steps are being pushed: no warm-up per step
        self.script_mode = False  # scripted runs report errors in the status bar only
        self.error_box: QMessageBox | None = None
        self.layers = DocumentLayers()
        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(0)  # unlimited: each entry is a patch or a few-kB mask PNG
        self.runner = JobRunner(self)
        self.setWindowIcon(icon("app"))
        self.setAcceptDrops(True)
        self._build_widgets()
        self._build_actions()
        self._build_menus_and_toolbar()
        self.strength_control = StrengthController(self, self.plan_panel.strength)
        self._connect()
        self._restore_layout()
        self._update_title()
        self._update_enabled()

    # =========================================================================================
    # building
    # =========================================================================================
    def _build_widgets(self) -> None:
        self.canvas = CanvasView()
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

        self.plan_panel = PlanPanel()
        self.layers_panel = LayersPanel(self.layers)
        self.masks_panel = MasksPanel(self.layers)
        self.history_view = QUndoView(self.undo_stack)
        self.history_view.setEmptyLabel("Opened")
        self.docks: dict[str, QDockWidget] = {}
        for name, title, widget, area in (
            ("plan", "Plan", self.plan_panel, Qt.DockWidgetArea.RightDockWidgetArea),
            ("masks", "Masks", self.masks_panel, Qt.DockWidgetArea.RightDockWidgetArea),
            ("layers", "Layers", self.layers_panel, Qt.DockWidgetArea.RightDockWidgetArea),
            ("history", "History", self.history_view, Qt.DockWidgetArea.RightDockWidgetArea),
        ):
            dock = QDockWidget(title, self)
            dock.setObjectName(f"dock-{name}")
            dock.setWidget(widget)
            self.addDockWidget(area, dock)
            self.docks[name] = dock
        self.tabifyDockWidget(self.docks["layers"], self.docks["history"])
        self.docks["layers"].raise_()
        self.docks["plan"].setMinimumWidth(400)

        status = self.statusBar()
        self.pixel_label = QLabel()
        self.device_label = QLabel("device: -")
        self.models_label = QLabel("models: -")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        self.progress.setVisible(False)
        self.cancel_button = QToolButton()
        self.cancel_button.setIcon(icon("cancel"))
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.cancel_button.setToolTip("Cancel the running job (Esc)")
        self.cancel_button.setVisible(False)
        status.addWidget(self.pixel_label, 1)
        status.addPermanentWidget(self.progress)
        status.addPermanentWidget(self.cancel_button)
        status.addPermanentWidget(self.models_label)
        status.addPermanentWidget(self.device_label)

    def _action(self, text: str, slot: Callable, shortcut: Any = None, icon_name: str | None = None,
                tip: str | None = None, checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if icon_name:
            action.setIcon(icon(icon_name))
        if shortcut is not None:
            shortcuts = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        keys = ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts())
        action.setToolTip(f"{tip or text.replace('&', '').rstrip('…')}" + (f" ({keys})" if keys else ""))
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        a = self._action
        self.act_open = a("&Open pair…", self.open_pair_dialog, QKeySequence.StandardKey.Open, "open")
        self.act_open_project = a("Open &project…", self.open_project_dialog, "Ctrl+Shift+O")
        self.act_save = a("&Save project", self.save, QKeySequence.StandardKey.Save, "save")
        self.act_save_as = a("Save project &as…", self.save_as, "Ctrl+Shift+S")
        self.act_export = a("&Export…", self.export_dialog, "Ctrl+E", "export")
        self.act_quit = a("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.act_undo = self.undo_stack.createUndoAction(self, "&Undo")
        self.act_undo.setShortcuts([QKeySequence("Ctrl+Z")])
        self.act_undo.setIcon(icon("undo"))
        self.act_redo = self.undo_stack.createRedoAction(self, "&Redo")
        self.act_redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.act_redo.setIcon(icon("redo"))
        for act, keys in ((self.act_undo, "Ctrl+Z"), (self.act_redo, "Ctrl+Shift+Z, Ctrl+Y")):
            act.setToolTip(f"{act.text().replace('&', '')} ({keys})")
            self.addAction(act)
        self.act_cancel = a("&Cancel job", self.cancel, "Esc", "cancel", "Cancel the running job or stroke")
        self.act_focus_bar = a("Go to the command &bar", lambda: self.command_bar.setFocus(), "Ctrl+L")
        self.act_zoom_in = a("Zoom &in", lambda: self.canvas.zoom_by(1.25), QKeySequence.StandardKey.ZoomIn)
        self.act_zoom_out = a("Zoom &out", lambda: self.canvas.zoom_by(0.8), QKeySequence.StandardKey.ZoomOut)
        self.act_actual = a("&Actual size", self.canvas.actual_size, "Ctrl+0")
        self.act_fit = a("&Fit to window", self.canvas.fit, "Ctrl+F", "fit")
        self.act_compare = a("&Before/after split", self._toggle_compare, "C", "compare",
                             "Compare the fusion (left) with the edited result (right)", checkable=True)
        self.act_show_masks = a("Show &masks", self._toggle_masks, "M",
                                tip="Show or hide every mask overlay", checkable=True)
        self.act_show_masks.setChecked(True)
        self.act_llm = a("Use the &local LLM for commands", self._toggle_llm,
                         tip="Read commands with the rule parser and the local LLM (else rules only)",
                         checkable=True)
        self.act_llm.setChecked(self.llm != "none")
        self.act_shortcuts = a("&Keyboard shortcuts", lambda: ShortcutsDialog(self).exec(), "F1")
        self.act_about = a("&About TeRF Studio", self._about)
        self.act_new_mask = a("&New mask", self.new_mask)
        self.act_delete_mask = a("&Delete mask", lambda: self._delete_mask(self.masks_panel.selected_uid()),
                                 QKeySequence.StandardKey.Delete)
        self.act_invert_mask = a("&Invert mask", lambda: self._invert_mask(self.masks_panel.selected_uid()))
        self.act_smaller = a("Smaller brush", lambda: self._resize_brush(1 / 1.25), "[")
        self.act_larger = a("Larger brush", lambda: self._resize_brush(1.25), "]")

        self.tool_group = QActionGroup(self)
        self.tool_actions: dict[str, QAction] = {}
        for tool, text, key, tip in (
            ("navigate", "Navigate", "H", "Navigate: look around (Space-drag or middle-drag pans everywhere)"),
            ("brush", "Brush", "B", "Brush: paint into the selected mask"),
            ("eraser", "Eraser", "E", "Eraser: remove from the selected mask"),
            ("point", "Point", "P", "Point: left click adds a region, right click removes"),
            ("box", "Box", "R", "Box: drag a box around an object"),
        ):
            act = a(text, lambda checked=False, t=tool: self.set_tool(t), key, tool, tip, checkable=True)
            self.tool_group.addAction(act)
            self.tool_actions[tool] = act
        self.tool_actions["navigate"].setChecked(True)

    def _build_menus_and_toolbar(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addActions([self.act_open, self.act_open_project])
        self.recent_menu = file_menu.addMenu("Open &recent")
        file_menu.addSeparator()
        file_menu.addActions([self.act_save, self.act_save_as, self.act_export])
        file_menu.addSeparator()
        file_menu.addAction(self.act_quit)
        edit_menu = menu.addMenu("&Edit")
        edit_menu.addActions([self.act_undo, self.act_redo, self.act_cancel])
        edit_menu.addSeparator()
        edit_menu.addActions([self.act_focus_bar, self.act_llm])
        self.engine_menu = edit_menu.addMenu("E&ngine")
        self.engine_menu.setToolTipsVisible(True)
        self.engines = EngineMenu(self.engine_menu, self.settings, self._on_engine_changed, self)
        self.engine_actions = self.engines.actions
        arch_menu = edit_menu.addMenu("Fusion &network")
        arch_group = QActionGroup(self)
        current = str(self.settings.value("fusion/arch", "auto"))
        for choice, text in (("auto", "Automatic (full on CUDA, lite on the CPU)"),
                             ("lite", "Lite (fast on the CPU)"), ("full", "Full (published layout; slow on the CPU)")):
            act = arch_menu.addAction(text)
            act.setCheckable(True)
            act.setChecked(choice == current)
            act.triggered.connect(lambda checked=False, c=choice: self._set_arch(c))
            arch_group.addAction(act)
        view_menu = menu.addMenu("&View")
        view_menu.addActions([self.act_zoom_in, self.act_zoom_out, self.act_actual, self.act_fit, self.act_compare,
                              self.act_show_masks])
        view_menu.addSeparator()
        for dock in self.docks.values():
            view_menu.addAction(dock.toggleViewAction())
        tools_menu = menu.addMenu("&Tools")
        tools_menu.addActions(list(self.tool_actions.values()))
        tools_menu.addSeparator()
        tools_menu.addActions([self.act_smaller, self.act_larger])
        masks_menu = menu.addMenu("&Masks")
        masks_menu.addActions([self.act_new_mask, self.act_invert_mask, self.act_delete_mask])
        help_menu = menu.addMenu("&Help")
        help_menu.addActions([self.act_shortcuts, self.act_about])
        self._fill_recent_menu()

        tb = self.addToolBar("Main")
        tb.setObjectName("toolbar-main")
        tb.addActions([self.act_open, self.act_save, self.act_export])
        tb.addSeparator()
        tb.addActions([self.act_undo, self.act_redo])
        tb.addSeparator()
        tb.addActions(list(self.tool_actions.values()))
        self.brush_size = QSpinBox()
        self.brush_size.setRange(1, 500)
        self.brush_size.setValue(int(self.canvas.brush_radius))
        self.brush_size.setPrefix("size ")
        self.brush_size.setToolTip("Brush radius in image pixels ([ and ])")
        self.hardness = QDoubleSpinBox()
        self.hardness.setRange(0.0, 1.0)
        self.hardness.setSingleStep(0.1)
        self.hardness.setValue(0.8)
        self.hardness.setPrefix("hardness ")
        self.hardness.setToolTip("Brush edge: 1 is hard, 0 is soft")
        tb.addWidget(self.brush_size)
        tb.addWidget(self.hardness)
        tb.addSeparator()
        tb.addActions([self.act_fit, self.act_compare])
        self.split_slider = QSlider(Qt.Orientation.Horizontal)
        self.split_slider.setRange(0, 100)
        self.split_slider.setValue(50)
        self.split_slider.setMaximumWidth(140)
        self.split_slider.setToolTip("Where the before/after split is (C turns it on)")
        tb.addWidget(self.split_slider)

    def _connect(self) -> None:
        self.command_bar.submitted.connect(self.submit_command)
        self.run_button.clicked.connect(lambda: self.submit_command(self.command_bar.text().strip()))
        self.plan_panel.run_requested.connect(self.run_plan_from_panel)
        self.cancel_button.clicked.connect(self.runner.cancel)
        self.runner.progress.connect(self._on_progress)
        self.runner.finished.connect(self._on_job_finished)
        self.runner.failed.connect(self._on_job_failed)
        self.runner.cancelled.connect(self._on_job_cancelled)
        self.runner.busy_changed.connect(lambda _busy: self._update_enabled())
        # Bound methods, not lambdas: Qt drops them by itself when the window goes away.
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        self.undo_stack.indexChanged.connect(self._on_index_changed)
        self.layers.masks_changed.connect(self._refresh_masks)
        self.layers.looks_changed.connect(self._refresh_looks)
        self.canvas.pixel_hovered.connect(self._show_pixel)
        self.canvas.stroke_finished.connect(self._on_stroke)
        self.canvas.point_clicked.connect(self._on_point)
        self.canvas.box_drawn.connect(self._on_box)
        self.brush_size.valueChanged.connect(lambda v: self.canvas.set_brush_radius(float(v)))
        self.split_slider.valueChanged.connect(lambda _v: self._apply_split())
        self.masks_panel.rename_requested.connect(self._rename_mask)
        self.masks_panel.invert_requested.connect(self._invert_mask)
        self.masks_panel.delete_requested.connect(self._delete_mask)
        self.masks_panel.new_requested.connect(self.new_mask)
        self.masks_panel.list.currentItemChanged.connect(lambda *_: self._update_enabled())

    # =========================================================================================
    # state shown
    # =========================================================================================
    def _on_clean_changed(self, _clean: bool) -> None:
        self._update_title()

    def _on_index_changed(self, _index: int) -> None:
        self._update_enabled()
        self._schedule_warm_up()

    def _update_title(self) -> None:
        if self.session is None:
            name = "no image"
        elif self.project_path is not None:
            name = self.project_path.name
        else:
            name = Path(self.session.vi_path or "pair").name
        self.setWindowTitle(f"{name}[*] — TeRF Studio")
        self.setWindowModified(self.session is not None and not self.undo_stack.isClean())

    def _update_enabled(self) -> None:
        busy = self.runner.busy
        has = self.session is not None
        has_mask = self.masks_panel.selected_uid() is not None
        for act in (self.act_open, self.act_open_project, self.recent_menu.menuAction()):
            act.setEnabled(not busy)
        for act in (self.act_save, self.act_save_as, self.act_export, self.act_new_mask):
            act.setEnabled(has and not busy)
        for act in (self.act_invert_mask, self.act_delete_mask):
            act.setEnabled(has and has_mask and not busy)
        self.act_undo.setEnabled(has and not busy and self.undo_stack.canUndo())
        self.act_redo.setEnabled(has and not busy and self.undo_stack.canRedo())
        self.history_view.setEnabled(not busy)
        self.command_bar.setEnabled(has and not busy)
        self.run_button.setEnabled(has and not busy)
        self.plan_panel.run.setEnabled(has and not busy and self.plan_panel.table.rowCount() > 0)
        self.masks_panel.setEnabled(has and not busy)
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
        if self.session is not None:
            self.canvas.set_layer("result", image_to_qimage(self.session.current16))

    def _show_session_layers(self) -> None:
        s = self.session
        assert s is not None
        self.canvas.clear_layers()
        self._shown_masks = {}
        for key, image in (("vi", s.vi16), ("ir", s.ir16), ("fused", s.base16), ("result", s.current16)):
            self.canvas.set_layer(key, image_to_qimage(image))
        self._refresh_masks()
        self.canvas.fit()

    def _refresh_masks(self) -> None:
        live = {self.layers.key(uid) for uid in self.layers.uids}
        for key in self.canvas.layer_keys():
            if key not in IMAGE_LAYERS and key not in live:
                self.canvas.remove_layer(key)
        shown = {}
        for uid, mask in zip(self.layers.uids, self.layers.masks):
            if self._shown_masks.get(uid) is not mask:  # a stroke re-renders its own mask only
                self.canvas.set_layer(self.layers.key(uid), mask_to_qimage(mask))
            shown[uid] = mask
        self._shown_masks = shown
        self.plan_panel.set_masks([(uid, m.label) for uid, m in zip(self.layers.uids, self.layers.masks)])
        self._refresh_looks()
        self._update_enabled()

    def _refresh_looks(self) -> None:
        keys = self.layers.layer_keys()
        masks_shown = self.act_show_masks.isChecked()
        for depth, key in enumerate(keys):
            look = self.layers.looks[key]
            visible = look.visible and (masks_shown or key in IMAGE_LAYERS)
            self.canvas.style_layer(key, visible, look.opacity, float(len(keys) - depth))

    def _apply_split(self) -> None:
        self.canvas.set_split(self.split_slider.value() / 100.0 if self.act_compare.isChecked() else None)

    def _toggle_compare(self) -> None:
        if self.act_compare.isChecked():
            self.layers.set_look("fused", visible=True)
        self._apply_split()

    def _toggle_masks(self) -> None:
        """All mask overlays on or off (each keeps its own visibility in the Layers panel)."""
        self._refresh_looks()

    @property
    def engine(self) -> str:
        """The engine chosen in Edit > Engine (auto, fast, quick or exact)."""
        return self.engines.engine

    def _on_engine_changed(self, engine: str) -> None:
        self.message(f"engine for the next edits: {engine}")
        self._warm_key = None
        self._schedule_warm_up()

    def _schedule_warm_up(self) -> None:
        """Prepare the fast engines for the image now shown, in the background: it never blocks a
        user job (one submitted meanwhile waits for it) and never reports an error."""
        s = self.session
        if s is None or self._loading or self.engine in ("quick", "exact"):
            return
        key = (id(s), id(s.steps[s.cursor - 1]) if s.cursor else None)
        if key == self._warm_key:
            return
        self._warm_key = key

        def job(progress, cancel) -> bool:  # noqa: ANN001
            return s.warm_up_fast_engines()

        self.runner.submit_background(Job("Warm up the fast engines", job, "warm-up", priority=1))

    def fusion_arch(self) -> str:
        """The network for a newly opened pair: the setting, or on 'auto' full on CUDA and lite on the CPU."""
        choice = str(self.settings.value("fusion/arch", "auto"))
        if choice in ("lite", "full"):
            return choice
        from terf_studio.device import resolve_device

        return "full" if resolve_device(self.device).type == "cuda" else "lite"

    def _set_arch(self, choice: str) -> None:
        self.settings.setValue("fusion/arch", choice)
        self.message(f"fusion network for the next pair opened: {self.fusion_arch()}")

    def _toggle_llm(self) -> None:
        self.llm = "auto" if self.act_llm.isChecked() else "none"
        self.settings.setValue("parser/llm", self.llm)

    def _show_pixel(self, x: int, y: int) -> None:
        s = self.session
        if s is None or x < 0:
            self.pixel_label.setText("")
            return

        def rgb(image: np.ndarray) -> str:
            v = image[y, x].astype(np.uint32) * 255 // 65535
            return f"{int(v)}" if v.ndim == 0 else ",".join(str(int(c)) for c in v)

        self.pixel_label.setText(
            f"x {x}  y {y}   visible {rgb(s.vi16)}   infrared {rgb(s.ir16)}   fused {rgb(s.base16)}   "
            f"result {rgb(s.current16)}   zoom {self.canvas.zoom * 100:.0f}%"
        )

    def _show_models(self, parser: str | None = None) -> None:
        if self.session is None:
            return
        from terf_studio.device import describe_device

        fuser = self.session.fuser
        self.device_label.setText(f"device: {describe_device(fuser.device)}")
        from terf_studio.regions import finders

        names = ", ".join(f.name for f in finders())
        text = f"fusion: {fuser.arch}   regions: {names}"
        if parser:
            text += f"   parser: {parser}"
        self.models_label.setText(text)

    def message(self, text: str, error: bool = False) -> None:
        if error:
            self.last_error = text
        self.statusBar().showMessage(text, 0 if error else 8000)

    # =========================================================================================
    # opening and saving
    # =========================================================================================
    def open_pair_dialog(self) -> None:
        if not self._may_discard():
            return
        dialog = OpenPairDialog(self.settings, self)
        if dialog.exec():
            self.open_pair(dialog.vi.text(), dialog.ir.text(), resize_ir=dialog.resize_ir.isChecked())

    def open_project_dialog(self) -> None:
        if not self._may_discard():
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open a project", last_dir(self.settings), PROJECT_FILTER)
        if path:
            remember_dir(self.settings, path)
            self.open_project(path)

    def open_pair(self, vi: str, ir: str, resize_ir: bool = False) -> bool:
        """Read and fuse a pair on the worker; the window shows it when done."""
        if not vi or not ir:
            self.message("choose both a visible and an infrared image", error=True)
            return False
        device, arch = self.device, self.fusion_arch()

        def job(progress, cancel) -> EditSession:  # noqa: ANN001
            progress("reading and fusing", 0, 1)
            session = EditSession.open(vi, ir, arch=arch, device=device, resize_ir=resize_ir)
            use_grounded_finder(device)
            progress("reading and fusing", 1, 1)
            return session

        return self._submit(Job(f"Open {Path(vi).name}", job, "open", {"recent": f"{vi}|{ir}", "project": None}))

    def open_project(self, path: str) -> bool:
        device = self.device

        def job(progress, cancel) -> EditSession:  # noqa: ANN001
            from terf_studio.document.project import load_project

            progress("opening project", 0, 1)
            session = load_project(path, device=device)
            use_grounded_finder(device)
            return session

        return self._submit(Job(f"Open {Path(path).name}", job, "open", {"recent": path, "project": path}))

    def _set_session(self, session: EditSession, project: str | None) -> None:
        self._loading = True  # one warm-up at the end, not one per history entry pushed
        try:
            self._show_session(session, project)
        finally:
            self._loading = False
        self._warm_key = None
        self._schedule_warm_up()
        self.session_changed.emit()

    def _show_session(self, session: EditSession, project: str | None) -> None:
        self.session = session
        self.project_path = Path(project) if project else None
        self.pending = None
        self.point_prompt = None
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
        self._show_session_layers()
        self._show_models()
        self.plan_panel.show_plan(EditPlan())
        self.plan_panel.summary.setText("Type a command above, or click, box or paint a mask.")
        self._update_title()
        self._update_enabled()

    def save(self) -> bool:
        if self.project_path is None:
            return self.save_as()
        return self.save_project(str(self.project_path))

    def save_as(self) -> bool:
        if self.session is None:
            return False
        start = str(self.project_path or Path(last_dir(self.settings)) / (Path(self.session.vi_path or "pair").stem + ".terf"))
        path, _ = QFileDialog.getSaveFileName(self, "Save project", start, PROJECT_FILTER)
        if not path:
            return False
        if not path.lower().endswith(".terf"):
            path += ".terf"
        remember_dir(self.settings, path)
        return self.save_project(path)

    def save_project(self, path: str) -> bool:
        from terf_studio.document.project import save_project

        if self.session is None or self.runner.busy:
            return False
        try:
            save_project(self.session, path)
        except (TerfError, OSError) as exc:
            self._error(f"could not save the project: {exc}")
            return False
        self.project_path = Path(path)
        self.undo_stack.setClean()
        self._add_recent(path)
        self._update_title()
        self.message(f"saved {path}")
        return True

    def export_dialog(self) -> None:
        if self.session is None:
            return
        stem = Path(self.session.vi_path or "result").stem
        dialog = ExportDialog(self.settings, str(Path(last_dir(self.settings)) / f"{stem}-edited.png"), self)
        if dialog.exec():
            c = dialog.choice()
            remember_dir(self.settings, c.path)
            self.export(c.path, c.bit_depth, c.source, c.masks, c.comparison)

    def export(self, path: str, bit_depth: int = 8, source: str = "result", masks: bool = False,
               comparison: bool = False) -> list[Path]:
        from terf_studio.document.export import export_session

        if self.session is None:
            return []
        try:
            files = export_session(self.session, path, bit_depth=bit_depth, source=source, masks=masks,
                                   comparison=comparison)
        except (TerfError, OSError) as exc:
            self._error(f"could not export: {exc}")
            return []
        self.message(f"exported {', '.join(f.name for f in files)}")
        return files

    # -- recent files ---------------------------------------------------------------------------
    def recent(self) -> list[str]:
        value = self.settings.value(RECENT_KEY, [])
        return [str(v) for v in (value if isinstance(value, list) else [value] if value else [])]

    def _add_recent(self, entry: str) -> None:
        entries = [entry] + [e for e in self.recent() if e != entry]
        self.settings.setValue(RECENT_KEY, entries[:MAX_RECENT])
        self._fill_recent_menu()

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for entry in self.recent():
            label = " + ".join(Path(p).name for p in entry.split("|"))
            act = self.recent_menu.addAction(label)
            act.setToolTip(entry)
            act.triggered.connect(lambda checked=False, e=entry: self._open_recent(e))
        self.recent_menu.setEnabled(bool(self.recent()))

    def _open_recent(self, entry: str) -> None:
        if not self._may_discard():
            return
        if "|" in entry:
            self.open_pair(*entry.split("|", 1))
        else:
            self.open_project(entry)

    # -- drag and drop ---------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_paths(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = self._dropped_paths(event)
        if paths is None or not self._may_discard():
            return
        event.acceptProposedAction()
        if len(paths) == 1:
            self.open_project(paths[0])
        else:
            try:
                self.open_pair(*guess_pair(paths))
            except TerfError as exc:
                self._error(str(exc))

    @staticmethod
    def _dropped_paths(event) -> list[str] | None:  # noqa: ANN001
        if not event.mimeData().hasUrls():
            return None
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if len(paths) == 1 and paths[0].lower().endswith(".terf"):
            return paths
        if len(paths) == 2 and all(Path(p).suffix.lower() in IMAGE_SUFFIXES for p in paths):
            return paths
        return None

    # =========================================================================================
    # commands and plans
    # =========================================================================================
    def submit_command(self, text: str) -> bool:
        """Parse ``text`` on the worker; the plan is shown, then run (same path as typing + Enter)."""
        if self.session is None or not text.strip():
            return False
        llm = self.llm

        def job(progress, cancel):  # noqa: ANN001
            from terf_studio.language import parse

            progress("reading the command", 0, 1)
            return parse(text, llm=llm, policy="fallback")

        ok = self._submit(Job(f"Read '{text}'", job, "parse", {"text": text}))
        if ok:
            self.command_bar.clear()
        return ok

    def run_plan_from_panel(self) -> bool:
        """Run the plan table as it stands (corrected task/target, chosen regions)."""
        if self.session is None:
            return False
        try:
            edits = self.plan_panel.edits()
        except ValueError as exc:
            self._error(str(exc))
            return False
        masks: dict[int, Mask] = {}
        for row in range(len(edits)):
            choice = self.plan_panel.region(row)
            if choice not in (FIND, WHOLE):
                masks[row] = self.layers.mask(int(choice))
        return self._run_plan(edits, masks, self.plan_panel.text or "edited plan")

    def _run_plan(self, edits: list, masks: dict[int, Mask], text: str) -> bool:
        session = self.session
        assert session is not None
        engine, iterations = self.engine, self.iterations
        self.plan_panel.show_notice("")

        def job(progress, cancel):  # noqa: ANN001
            def report(label: str, i: int, n: int, loss: float) -> None:
                progress(label, i, n, loss)

            return session.apply(edits, masks, text=text, engine=engine, iterations=iterations,
                                 progress=report, cancel=cancel)

        return self._submit(Job(text, job, "apply", {"edits": edits, "masks": masks, "text": text}))

    def _on_plan(self, plan: EditPlan, text: str) -> None:
        self.plan_panel.show_plan(plan)
        self._show_models(plan.parser)
        if not plan.edits:
            self.message(plan.message or f"no edit understood in '{text}'", error=True)
            return
        self._run_plan(list(plan.edits), {}, text)

    def _on_step(self, step, context: dict[str, Any]) -> None:  # noqa: ANN001
        """A plan ran: one undo entry, holding the masks the finders made as new mask layers."""
        assert self.session is not None
        command = StepCommand(self.session, step, self.refresh_image)
        for i, applied in enumerate(step.edits):
            if i not in context["masks"] and applied.mask_png is not None:
                found = applied.mask.with_meta(colour=self.layers.next_colour())
                command.add_mask(self.layers, found)
        self._push(command)
        took = ", ".join(f"{a.edit.task.value} {a.info.get('seconds', 0):.1f} s"
                         + (f", {a.info['engine']}" if a.info.get("engine") else "") for a in step.edits)
        notices = list(dict.fromkeys(str(a.info["notice"]) for a in step.edits if a.info.get("notice")))
        self.message(f"done: {step.text} ({took})" + "".join(f"; {n}" for n in notices))
        if notices:
            self.plan_panel.show_notice("; ".join(notices))

    def _ask_for_region(self, exc: NoRegionFound, context: dict[str, Any]) -> None:
        """No region for a target: keep the plan and let the user click, box or paint it."""
        edits, masks = context["edits"], dict(context["masks"])
        candidates = [i for i, e in enumerate(edits) if i not in masks and e.target is not None]
        missing = next((i for i in candidates if edits[i].target == exc.phrase), candidates[0])
        self.pending = {"edits": edits, "masks": masks, "text": context["text"], "index": missing}
        target = edits[missing].target
        self.plan_panel.show_notice(
            f"No region found for '{target}': click it (Point tool), draw a box (Box tool) or paint it "
            f"(Brush), then press Run plan. A click or a box continues at once.")
        self.message(str(exc), error=True)
        self.set_tool("point")

    def _continue_pending(self, uid: int) -> None:
        pending, self.pending = self.pending, None
        if pending is None:
            return
        masks = dict(pending["masks"])
        masks[pending["index"]] = self.layers.mask(uid)
        if pending["index"] < self.plan_panel.table.rowCount():
            self.plan_panel.set_region(pending["index"], uid)
        self._run_plan(pending["edits"], masks, pending["text"])

    # =========================================================================================
    # masks: strokes, clicks, boxes
    # =========================================================================================
    def set_tool(self, tool: str) -> None:
        self.canvas.set_tool(tool)
        self.tool_actions[tool].setChecked(True)

    def _resize_brush(self, factor: float) -> None:
        self.brush_size.setValue(max(1, round(self.brush_size.value() * factor + (0.5 if factor > 1 else -0.5))))

    def _push(self, command) -> None:  # noqa: ANN001
        """Push an undoable command; an action after an undo drops the undone session steps too."""
        if self.session is not None and not isinstance(command, StepCommand):
            self.session.discard_redo()
        self.undo_stack.push(command)

    def new_mask(self, label: str | None = None) -> int | None:
        if self.session is None:
            return None
        shape = self.session.vi16.shape[:2]
        label = label or f"mask {len(self.layers.masks) + 1}"
        command = AddMaskCommand(self.layers, Mask.empty(shape, label=label, colour=self.layers.next_colour()),
                                 f"New mask '{label}'")
        self._push(command)
        self.masks_panel.select(command.uid)
        return command.uid

    def _on_stroke(self, points: list, mode: str) -> None:
        if self.session is None or self.runner.busy:
            return
        stroke = Stroke(tuple(points), self.canvas.brush_radius, self.hardness.value(), mode)
        uid = self.masks_panel.selected_uid()
        if uid is None:
            if mode == "erase":
                self.message("select a mask to erase from", error=True)
                return
            shape = self.session.vi16.shape[:2]
            base = Mask.empty(shape, label=f"paint {len(self.layers.masks) + 1}", colour=self.layers.next_colour(),
                              source="manual")
            command = AddMaskCommand(self.layers, stroke.apply(base), "Brush stroke (new mask)")
            self._push(command)
            self.masks_panel.select(command.uid)
            return
        new = stroke.apply(self.layers.mask(uid))
        self._push(ReplaceMaskCommand(self.layers, uid, new, "Brush stroke" if mode == "add" else "Eraser stroke"))
        self.point_prompt = None

    def _images(self):  # noqa: ANN202
        from terf_studio.regions import ImageSet

        s = self.session
        assert s is not None
        return ImageSet(s.vi, s.ir, s.current())

    def _on_point(self, x: float, y: float, positive: bool) -> None:
        if self.session is None or self.runner.busy:
            return
        uid = self.masks_panel.selected_uid()
        prompt = self.point_prompt
        if prompt is None or prompt["uid"] != uid or uid not in self.layers.uids:
            if not positive:
                self.message("left-click the object first; right clicks then remove parts", error=True)
                return
            prompt = {"uid": None, "positives": [], "negatives": []}
        (prompt["positives"] if positive else prompt["negatives"]).append((x - 0.5, y - 0.5))
        images = self._images()
        positives, negatives = list(prompt["positives"]), list(prompt["negatives"])

        def job(progress, cancel):  # noqa: ANN001
            from terf_studio.regions import point_region

            learned = prompt_segmenter()
            if learned is not None:  # SAM (loads here, on the worker, the first time)
                return learned.point_mask(images, positives, negatives, label="point")
            return point_region(images, positives=positives, negatives=negatives)

        self._submit(Job("Point region", job, "region", {"prompt": prompt, "label": "point"}))

    def _on_box(self, x0: float, y0: float, x1: float, y1: float) -> None:
        if self.session is None or self.runner.busy:
            return
        images = self._images()
        box = (int(round(x0)), int(round(y0)), int(round(x1)), int(round(y1)))

        def job(progress, cancel):  # noqa: ANN001
            from terf_studio.regions import box_region

            learned = prompt_segmenter()
            if learned is not None:
                return learned.box_mask(images, box, label="box")
            return box_region(images, box=box)

        self._submit(Job("Box region", job, "region", {"prompt": None, "label": "box"}))

    def _on_region(self, mask: Mask, context: dict[str, Any]) -> None:
        prompt, kind = context["prompt"], context["label"]
        if prompt is not None and prompt["uid"] in self.layers.uids:  # a further click refines its mask
            uid = prompt["uid"]
            old = self.layers.mask(uid)
            self._push(ReplaceMaskCommand(self.layers, uid, mask.with_meta(label=old.label, colour=old.colour),
                                          "Point click"))
        else:
            # A mask made for a plan waiting on a region is named after its target.
            label = self.pending["edits"][self.pending["index"]].target if self.pending else None
            label = label or f"{kind} {len(self.layers.masks) + 1}"
            command = AddMaskCommand(self.layers, mask.with_meta(label=label, colour=self.layers.next_colour()),
                                     f"{kind.capitalize()} mask")
            self._push(command)
            uid = command.uid
            if prompt is not None:
                prompt["uid"] = uid
        self.point_prompt = prompt
        self.masks_panel.select(uid)
        self.message(f"mask from a {kind}: {mask.area} pixels, confidence {mask.confidence:.2f}")
        if self.pending is not None:
            self._continue_pending(uid)

    def _rename_mask(self, uid: int, label: str) -> None:
        self._push(ReplaceMaskCommand(self.layers, uid, self.layers.mask(uid).with_meta(label=label),
                                      f"Rename mask to '{label}'"))

    def _invert_mask(self, uid: int | None) -> None:
        if uid is not None:
            self._push(ReplaceMaskCommand(self.layers, uid, self.layers.mask(uid).invert(), "Invert mask"))

    def _delete_mask(self, uid: int | None) -> None:
        if uid is not None and not self.runner.busy:
            self._push(RemoveMaskCommand(self.layers, uid, f"Delete mask '{self.layers.mask(uid).label}'"))

    # =========================================================================================
    # jobs
    # =========================================================================================
    def _submit(self, job: Job) -> bool:
        if not self.runner.submit(job):
            self.message("wait for the running job to finish (or press Esc to cancel it)", error=True)
            return False
        self.progress.setRange(0, 0)
        self.progress.setFormat(job.name)
        self.message(f"{job.name}…")
        return True

    def cancel(self) -> None:
        if self.canvas.cancel_gesture():
            return
        if self.runner.busy:
            self.runner.cancel()
            self.message("cancelling…")
        elif self.pending is not None:
            self.pending = None
            self.plan_panel.show_notice("")
            self.message("the plan waiting for a region was dropped")

    def _on_progress(self, label: str, i: int, n: int, loss: float) -> None:
        self.progress.setRange(0, max(n, 1))
        self.progress.setValue(i)
        loss_text = "" if math.isnan(loss) else f" · loss {loss:.4f}"
        self.progress.setFormat(f"{label}: {i}/{n}")
        self.statusBar().showMessage(f"{label}: {i} of {n}{loss_text}")

    def _on_job_finished(self, job: Job, result: Any) -> None:
        try:
            if job.kind == "open":
                self._set_session(result, job.context["project"])
                self._add_recent(job.context["recent"])
                self.message(f"opened {job.name[5:]}")
            elif job.kind == "parse":
                self._on_plan(result, job.context["text"])
            elif job.kind == "apply":
                self._on_step(result, job.context)
            elif job.kind == "region":
                self._on_region(result, job.context)
            elif job.kind == "strength":
                self.strength_control.on_step(result)
        except TerfError as exc:
            self._error(str(exc))
        self._after_job()

    def _on_job_failed(self, job: Job, message: str, exc: Exception) -> None:
        if job.kind == "apply" and isinstance(exc, NoRegionFound):
            self._ask_for_region(exc, job.context)
            self.script.clear()  # a scripted run cannot click for the user
        else:
            self._error(message)
        self._after_job()

    def _on_job_cancelled(self, job: Job) -> None:
        self.message(f"cancelled: {job.name}; nothing changed")
        self.script.clear()
        self._after_job()

    def _after_job(self) -> None:
        self._update_enabled()
        if self.runner.busy:  # a follow-up job (the plan after its parse) is running
            return
        if self.script and self.session is not None:
            self.submit_command(self.script.pop(0))
            return
        self.idle.emit()

    def _error(self, message: str) -> None:
        """Errors become a status message and a (non-blocking) message box, never a crash."""
        self.message(message, error=True)
        if self.isVisible() and not self.script_mode:
            box = QMessageBox(QMessageBox.Icon.Warning, "TeRF Studio", message, QMessageBox.StandardButton.Ok, self)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()
            self.error_box = box

    def run_script(self, commands: list[str]) -> None:
        """Run typed commands one after another, as if typed (scripted runs, demos)."""
        self.script = list(commands)
        if not self.runner.busy and self.session is not None and self.script:
            self.submit_command(self.script.pop(0))

    # =========================================================================================
    # closing
    # =========================================================================================
    def ask_unsaved(self) -> QMessageBox.StandardButton:
        """Save, Discard or Cancel (a separate method so tests can answer it)."""
        return QMessageBox.question(
            self, "Unsaved changes", "The project has unsaved changes. Save them?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )

    def _may_discard(self) -> bool:
        if self.session is None or self.undo_stack.isClean():
            return True
        answer = self.ask_unsaved()
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def closeEvent(self, event) -> None:  # noqa: ANN001
        if not self._may_discard():
            event.ignore()
            return
        self._save_layout()
        self.shutdown()
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

    def _about(self) -> None:
        QMessageBox.about(self, "About TeRF Studio",
                          f"<b>TeRF Studio {__version__}</b><br>Visible + infrared image fusion you can steer "
                          "with words, clicks and paint.<br>Method: TeRF (ACM MM 2024).")

    def showEvent(self, event) -> None:  # noqa: ANN001
        super().showEvent(event)
        if self.session is not None:
            QTimer.singleShot(0, self.canvas.fit)
