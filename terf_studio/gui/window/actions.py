"""The window's actions as data: one list of specs per menu, from which the menus, the toolbar,
the tooltips and the keyboard-shortcut sheet (Help > Keyboard shortcuts) are all built, so each
shortcut is spelled once, here.

A spec names its callback as an attribute path from the window ("files.save", "canvas.fit"),
resolved when the actions are built; ``args`` are passed to it. Menu entries that are not plain
actions (the recent files, the engine choice, the dock toggles) are ``@name`` placeholders that
the window fills in; ``-`` is a separator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from PySide6.QtGui import QAction, QActionGroup, QIcon, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QToolBar, QWidget

from terf_studio.paths import resource_path

Key = str | QKeySequence.StandardKey
SEP = "-"

#: How the keys read in tooltips and in the shortcut sheet.
NATIVE = QKeySequence.SequenceFormat.NativeText


@dataclass(frozen=True)
class ActionSpec:
    id: str
    text: str
    callback: str  # attribute path from the window
    shortcuts: tuple[Key, ...] = ()
    icon: str | None = None
    tip: str | None = None  # tooltip and shortcut-sheet text (default: the text)
    checkable: bool = False
    args: tuple = ()

    @property
    def plain_text(self) -> str:
        return self.tip or self.text.replace("&", "").rstrip("…")


def _tool(tool: str, text: str, key: str, tip: str) -> ActionSpec:
    return ActionSpec(f"tool-{tool}", text, "set_tool", (key,), tool, tip, checkable=True, args=(tool,))


FILE_ACTIONS = [
    ActionSpec("open", "&Open pair…", "files.open_pair_dialog", (QKeySequence.StandardKey.Open,), "open",
               "Open an image pair"),
    ActionSpec("open_project", "Open &project…", "files.open_project_dialog", ("Ctrl+Shift+O",),
               tip="Open a project"),
    ActionSpec("open_sample", "Open the sa&mple pair", "open_sample", tip="Open the bundled synthetic sample pair"),
    "@recent",
    SEP,
    ActionSpec("save", "&Save project", "files.save", (QKeySequence.StandardKey.Save,), "save"),
    ActionSpec("save_as", "Save project &as…", "files.save_as", ("Ctrl+Shift+S",)),
    ActionSpec("export", "&Export…", "files.export_dialog", ("Ctrl+E",), "export", "Export the result"),
    SEP,
    ActionSpec("save_recipe", "Save &recipe…", "recipes.save_dialog",
               tip="Save the applied steps as a recipe file, to run on other pairs (terf-studio batch)"),
    ActionSpec("apply_recipe", "Appl&y recipe to folder…", "recipes.apply_dialog",
               tip="Run the applied steps on every pair of a folder (regions from text are found again)"),
    SEP,
    ActionSpec("quit", "&Quit", "close", (QKeySequence.StandardKey.Quit,)),
]
EDIT_ACTIONS = [
    ActionSpec("undo", "&Undo", "undo_stack.undo", ("Ctrl+Z",), "undo"),
    ActionSpec("redo", "&Redo", "undo_stack.redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "redo"),
    ActionSpec("cancel", "&Cancel job", "jobs.cancel", ("Esc",), "cancel", "Cancel the running job or stroke"),
    SEP,
    ActionSpec("focus_bar", "Go to the command &bar", "command_bar.setFocus", ("Ctrl+L",)),
    ActionSpec("llm", "Use the &local LLM for commands", "toggle_llm",
               tip="Read commands with the rule parser and the local LLM (else rules only)", checkable=True),
    "@engine",
    "@arch",
    SEP,
    ActionSpec("preferences", "&Preferences…", "show_preferences", ("Ctrl+,",),
               tip="Device, network, engine, LLM, model folder, theme"),
]
VIEW_ACTIONS = [
    ActionSpec("zoom_in", "Zoom &in", "canvas.zoom_by", (QKeySequence.StandardKey.ZoomIn,), args=(1.25,)),
    ActionSpec("zoom_out", "Zoom &out", "canvas.zoom_by", (QKeySequence.StandardKey.ZoomOut,), args=(0.8,)),
    ActionSpec("actual", "&Actual size", "canvas.actual_size", ("Ctrl+0",), tip="Actual size (100%)"),
    ActionSpec("fit", "&Fit to window", "canvas.fit", ("Ctrl+F",), "fit"),
    ActionSpec("compare", "&Before/after split", "display.toggle_compare", ("C",), "compare",
               "Compare the fusion (left) with the edited result (right)", checkable=True),
    ActionSpec("show_masks", "Show &masks", "display.refresh_looks", ("M",),
               tip="Show or hide every mask overlay", checkable=True),
    SEP,
    "@docks",
]
TOOL_ACTIONS = [
    _tool("navigate", "Navigate", "H", "Navigate: look around (Space-drag or middle-drag pans everywhere)"),
    _tool("brush", "Brush", "B", "Brush: paint into the selected mask"),
    _tool("eraser", "Eraser", "E", "Eraser: remove from the selected mask"),
    _tool("point", "Point", "P", "Point: left click adds a region, right click removes"),
    _tool("box", "Box", "R", "Box: drag a box around an object"),
    SEP,
    ActionSpec("smaller", "Smaller brush", "mask_tools.resize_brush", ("[",), args=(1 / 1.25,)),
    ActionSpec("larger", "Larger brush", "mask_tools.resize_brush", ("]",), args=(1.25,)),
]
MASK_ACTIONS = [
    ActionSpec("new_mask", "&New mask", "mask_tools.new_mask"),
    ActionSpec("invert_mask", "&Invert mask", "mask_tools.invert_selected"),
    ActionSpec("delete_mask", "&Delete mask", "mask_tools.delete_selected", (QKeySequence.StandardKey.Delete,),
               tip="Delete the selected mask"),
]
HELP_ACTIONS = [
    ActionSpec("shortcuts", "&Keyboard shortcuts", "show_shortcuts", ("F1",), tip="This sheet"),
    ActionSpec("models", "&Models…", "show_models", tip="Installed models, what each optional one adds, add one"),
    ActionSpec("about", "&About TeRF Studio", "about"),
]
MENUS: list[tuple[str, list]] = [
    ("&File", FILE_ACTIONS), ("&Edit", EDIT_ACTIONS), ("&View", VIEW_ACTIONS), ("&Tools", TOOL_ACTIONS),
    ("&Masks", MASK_ACTIONS), ("&Help", HELP_ACTIONS),
]
TOOLS = [spec.args[0] for spec in TOOL_ACTIONS if isinstance(spec, ActionSpec) and spec.id.startswith("tool-")]
TOOLBAR = ["open", "save", "export", SEP, "undo", "redo", SEP, *(f"tool-{t}" for t in TOOLS),
           "@brush_size", "@hardness", SEP, "fit", "compare", "@split"]

#: Keys that are not actions (widgets handle them); listed on the sheet after the actions.
GESTURES = [
    ("Enter (command bar)", "Run the typed command"),
    ("Up / Down (command bar)", "Earlier / later commands"),
    ("Ctrl+wheel", "Zoom around the cursor"),
    ("Space+drag, middle-drag", "Pan"),
    ("Strength slider (Plan panel)", ("Drag: preview the latest fast step's strength; release: apply it "
                                      "(Ctrl+Z returns to the previous one)")),
]


def icon(name: str) -> QIcon:
    return QIcon(str(resource_path("icons", f"{name}.svg")))


def all_specs() -> list[ActionSpec]:
    return [item for _title, items in MENUS for item in items if isinstance(item, ActionSpec)]


def _resolve(root: object, path: str) -> Callable:
    target = root
    for name in path.split("."):
        target = getattr(target, name)
    return target  # type: ignore[return-value]


def make_action(window: QMainWindow, spec: ActionSpec, action: QAction | None = None) -> QAction:
    """``spec`` as a QAction of ``window`` (or ``action``, e.g. the undo stack's, dressed by it)."""
    if action is None:
        action = QAction(spec.text, window)
        callback, args = _resolve(window, spec.callback), spec.args
        action.triggered.connect(lambda _checked=False: callback(*args))
    if spec.icon:
        action.setIcon(icon(spec.icon))
    action.setShortcuts([QKeySequence(key) for key in spec.shortcuts])
    keys = ", ".join(s.toString(NATIVE) for s in action.shortcuts())
    action.setToolTip(spec.plain_text + (f" ({keys})" if keys else ""))
    action.setCheckable(spec.checkable)
    window.addAction(action)  # shortcuts work with the menu bar hidden too
    return action


def make_actions(window: QMainWindow, premade: dict[str, QAction]) -> dict[str, QAction]:
    """Every spec's action by id; ``premade`` ones (undo, redo) are dressed, not created."""
    actions = {spec.id: make_action(window, spec, premade.get(spec.id)) for spec in all_specs()}
    group = QActionGroup(window)
    for tool in TOOLS:
        group.addAction(actions[f"tool-{tool}"])
    return actions


def build_menus(window: QMainWindow, actions: dict[str, QAction],
                fill: dict[str, Callable[[QMenu], None]]) -> None:
    """The menu bar from :data:`MENUS`; ``fill[name]`` adds what an ``@name`` placeholder stands for."""
    bar = window.menuBar()
    for title, items in MENUS:
        menu = bar.addMenu(title)
        for item in items:
            if item == SEP:
                menu.addSeparator()
            elif isinstance(item, str):
                fill[item[1:]](menu)
            else:
                menu.addAction(actions[item.id])


def build_toolbar(toolbar: QToolBar, actions: dict[str, QAction], widgets: dict[str, QWidget]) -> None:
    for item in TOOLBAR:
        if item == SEP:
            toolbar.addSeparator()
        elif item.startswith("@"):
            toolbar.addWidget(widgets[item[1:]])
        else:
            toolbar.addAction(actions[item])


def shortcut_rows(actions: dict[str, QAction], extra: Iterable[tuple[str, str]] = GESTURES) -> list[tuple[str, str]]:
    """(keys, what they do) for the shortcut sheet: every action with keys, then ``extra``."""
    rows = []
    for spec in all_specs():
        keys = ", ".join(s.toString(NATIVE) for s in actions[spec.id].shortcuts())
        if keys:
            rows.append((keys, spec.plain_text))
    return rows + list(extra)
