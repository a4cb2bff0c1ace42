"""Edit > Engine: which engine runs the tasks (fast, fine-tune, exact or automatic), remembered."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QSettings
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu

from terf_studio.tuning.specs import ENGINE_CHOICES, ENGINE_LABELS

ENGINE_KEY = "tuning/engine"
LEGACY_EXACT_KEY = "tuning/exact"  # the old Edit > Exact iteration counts check box
DEFAULT_ENGINE = "auto"

#: Menu texts with an accelerator each (the labels themselves come from the core).
_ACCELERATORS = {"auto": "&Automatic", "fast": "&Fast", "quick": "Fine-&tune", "exact": "E&xact"}


def engine_setting(settings: QSettings) -> str:
    """The remembered engine; an old ``tuning/exact=true`` reads as ``exact``, anything unknown as auto."""
    value = settings.value(ENGINE_KEY)
    if value is None:
        return "exact" if settings.value(LEGACY_EXACT_KEY, False, type=bool) else DEFAULT_ENGINE
    value = str(value)
    return value if value in ENGINE_CHOICES else DEFAULT_ENGINE


def menu_text(engine: str) -> str:
    """``&Fast (trained engines, about a second)`` from the core's label."""
    label = ENGINE_LABELS[engine]
    word, _, rest = label.partition(" ")
    head = _ACCELERATORS.get(engine, word)
    return f"{head} {rest}" if head.replace("&", "") == word and rest else label


class EngineMenu(QObject):
    """The exclusive engine actions in a submenu; ``choose`` checks one and remembers it."""

    def __init__(self, menu: QMenu, settings: QSettings, on_change: Callable[[str], None] | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.on_change = on_change
        self.group = QActionGroup(self)
        self.group.setExclusive(True)
        self.actions: dict[str, QAction] = {}
        current = engine_setting(settings)
        for engine in ENGINE_CHOICES:
            act = menu.addAction(menu_text(engine))
            act.setCheckable(True)
            act.setChecked(engine == current)
            act.setData(engine)
            act.setToolTip(ENGINE_LABELS[engine])
            act.triggered.connect(lambda checked=False, e=engine: self.choose(e))
            self.group.addAction(act)
            self.actions[engine] = act

    @property
    def engine(self) -> str:
        checked = self.group.checkedAction()
        return str(checked.data()) if checked is not None else DEFAULT_ENGINE

    def choose(self, engine: str, remember: bool = True) -> None:
        if engine not in self.actions:
            raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINE_CHOICES)}")
        self.actions[engine].setChecked(True)
        if remember:
            self.settings.setValue(ENGINE_KEY, engine)
        if self.on_change is not None:
            self.on_change(engine)
