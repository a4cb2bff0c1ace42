"""Edit > Preferences: the settings otherwise spread over the menus and the settings file, in one
dialog. Each change applies at once, through the same handlers as the menus (so both show the
same choice), and is remembered:

* device, theme, the LLM's model file: the editor's QSettings (keys below);
* engine, fusion network, LLM on/off: the Edit menu's own actions and keys;
* model folder: ``model_dir`` in the settings file (:mod:`terf_studio.settings`), which the core
  reads at each model lookup.

Device and fusion network take effect for the next pair or project opened, as the menu says.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from terf_studio.errors import TerfError
from terf_studio.gui.engines import menu_text
from terf_studio.gui.theme import THEMES, apply_theme
from terf_studio.tuning.specs import ENGINE_CHOICES

if TYPE_CHECKING:
    from terf_studio.gui.window.main_window import MainWindow

DEVICE_KEY = "compute/device"
THEME_KEY = "view/theme"
LLM_KEY = "parser/llm"  # "auto" (on) or "none" (off), as Edit > Use the local LLM stores it
LLM_FILE_KEY = "parser/llm_file"  # a GGUF file; empty: the default model
DEVICE_CHOICES = [("auto", "Automatic (CUDA when available)"), ("cpu", "CPU"), ("cuda", "CUDA")]
THEME_LABELS = {"system": "As the system", "dark": "Dark", "light": "Light"}


def _choice(settings: QSettings, key: str, choices: list[str] | tuple[str, ...], default: str) -> str:
    value = str(settings.value(key, default))
    return value if value in choices else default


def device_setting(settings: QSettings) -> str:
    """The remembered device (auto, cpu or cuda)."""
    return _choice(settings, DEVICE_KEY, [c for c, _ in DEVICE_CHOICES], "auto")


def theme_setting(settings: QSettings) -> str:
    """The remembered theme (system, dark or light)."""
    return _choice(settings, THEME_KEY, THEMES, "system")


def llm_choice(settings: QSettings, on: bool | None = None) -> str:
    """What the parser is given: "none" when off, else the chosen GGUF file or "auto" (the default
    model). ``on`` None: as remembered."""
    if on is None:
        on = str(settings.value(LLM_KEY, "auto")) != "none"
    if not on:
        return "none"
    return str(settings.value(LLM_FILE_KEY, "") or "") or "auto"


def arch_actions(window: QWidget) -> dict[str, QAction]:
    """Edit > Fusion network's actions by choice (triggering one is choosing it from the menu)."""
    from terf_studio.gui.window.files import ARCH_CHOICES  # here: the window package imports this module

    texts = {text: choice for choice, text in ARCH_CHOICES}
    for menu in window.findChildren(QMenu):
        found = {texts[a.text()]: a for a in menu.actions() if a.text() in texts}
        if len(found) == len(texts):
            return found
    return {}


class PreferencesDialog(QDialog):
    """The preferences form; every widget applies its value as soon as it changes."""

    def __init__(self, window: MainWindow) -> None:
        from terf_studio.gui.window.files import ARCH_CHOICES, ARCH_KEY

        super().__init__(window)
        self.main = window
        self.settings = window.settings
        self.setWindowTitle("Preferences")
        self.device = self._combo(DEVICE_CHOICES, window.device, self.set_device)
        self.arch = self._combo(ARCH_CHOICES, _choice(self.settings, ARCH_KEY, [c for c, _ in ARCH_CHOICES], "auto"),
                                self.set_arch)
        self.engine = self._combo([(e, menu_text(e).replace("&", "")) for e in ENGINE_CHOICES], window.engine,
                                  self.set_engine)
        self.llm = QCheckBox("Use the local LLM for commands (beside the rule parser)")
        self.llm.setChecked(window.act_llm.isChecked())
        self.llm.toggled.connect(self.set_llm)
        self.llm_file = QLineEdit(str(self.settings.value(LLM_FILE_KEY, "") or ""))
        self.llm_file.setPlaceholderText("the default model (Gemma 3 270M)")
        self.llm_file.editingFinished.connect(lambda: self.set_llm_file(self.llm_file.text()))
        self.model_dir = QLineEdit(self._model_dir())
        self.model_dir.setPlaceholderText("none (the user model folder and models/ are searched)")
        self.model_dir.editingFinished.connect(lambda: self.set_model_dir(self.model_dir.text()))
        self.theme = self._combo(list(THEME_LABELS.items()), theme_setting(self.settings), self.set_theme)
        self.status = QLabel()
        self.status.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Device", self.device)
        form.addRow("Fusion network", self.arch)
        form.addRow("", QLabel("<small>Device and network apply to the next pair or project opened.</small>"))
        form.addRow("Engine", self.engine)
        form.addRow("", self.llm)
        form.addRow("LLM model file", self._with_browse(self.llm_file, self._browse_llm_file))
        form.addRow("Model folder", self._with_browse(self.model_dir, self._browse_model_dir))
        form.addRow("Theme", self.theme)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.resize(560, self.sizeHint().height())

    # -- building ------------------------------------------------------------------------------
    def _combo(self, choices: list[tuple[str, str]], current: str, apply: Callable[[str], object]) -> QComboBox:
        box = QComboBox()
        for value, text in choices:
            box.addItem(text, value)
        index = box.findData(current)
        box.setCurrentIndex(max(index, 0))
        box.currentIndexChanged.connect(lambda _i: apply(str(box.currentData())))
        return box

    @staticmethod
    def _with_browse(edit: QLineEdit, browse: Callable[[], None]) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(edit, 1)
        button = QPushButton("Browse…")
        button.clicked.connect(browse)
        layout.addWidget(button)
        return row

    def _model_dir(self) -> str:
        from terf_studio.settings import load_settings

        try:
            value = load_settings().get("model_dir")
        except TerfError as exc:
            self._say(str(exc), error=True)
            return ""
        return value if isinstance(value, str) else ""

    def _browse_llm_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "LLM model file", self.llm_file.text(), "GGUF (*.gguf);;All (*)")
        if path:
            self.llm_file.setText(path)
            self.set_llm_file(path)

    def _browse_model_dir(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Model folder", self.model_dir.text())
        if path:
            self.model_dir.setText(path)
            self.set_model_dir(path)

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.main.message(text, error=error)

    # -- applying (each also callable from tests and scripts) ----------------------------------
    def set_device(self, device: str) -> None:
        self.main.device = device
        self.settings.setValue(DEVICE_KEY, device)
        self._say(f"device for the next pair or project opened: {device}")

    def set_arch(self, arch: str) -> None:
        from terf_studio.gui.window.files import ARCH_KEY

        action = arch_actions(self.main).get(arch)
        if action is not None:
            action.trigger()  # the menu's own handler: checks it there, stores it, says so
        else:
            self.settings.setValue(ARCH_KEY, arch)

    def set_engine(self, engine: str) -> None:
        self.main.engines.choose(engine)

    def set_llm(self, on: bool) -> None:
        if self.main.act_llm.isChecked() != on:
            self.main.act_llm.trigger()  # Edit > Use the local LLM: toggles, stores, applies

    def set_llm_file(self, path: str) -> bool:
        path = path.strip()
        if path and not Path(path).expanduser().is_file():
            self._say(f"no LLM model file at {path}; the model in use is unchanged", error=True)
            return False
        self.settings.setValue(LLM_FILE_KEY, str(Path(path).expanduser().absolute()) if path else "")
        self.main.llm = llm_choice(self.settings, self.main.act_llm.isChecked())
        self._say(f"LLM model file: {path or 'the default model'}")
        return True

    def set_model_dir(self, path: str) -> bool:
        from terf_studio.settings import update_settings

        path = path.strip()
        if path and not Path(path).expanduser().is_dir():
            self._say(f"{path} is not a folder; the model folder is unchanged", error=True)
            return False
        try:
            update_settings(model_dir=str(Path(path).expanduser().absolute()) if path else None)
        except (TerfError, OSError) as exc:
            self._say(f"could not store the model folder: {exc}", error=True)
            return False
        self._say(f"model folder: {path or 'none'}")
        return True

    def set_theme(self, theme: str) -> None:
        self.settings.setValue(THEME_KEY, theme)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, theme)
