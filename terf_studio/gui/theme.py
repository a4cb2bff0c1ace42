"""Look and feel: the Fusion style with a dark palette, or a light one when the system is light.

The choice (Edit > Preferences) is ``system``, ``dark`` or ``light``; ``system`` follows
TERF_STUDIO_THEME when set, else the desktop's colour scheme."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

STYLE_SHEET = """
QLabel#notice { background: #5a4a12; color: #fff3c4; border-radius: 4px; padding: 6px; }
QStatusBar QLabel { padding: 0 6px; }
QDockWidget::title { padding: 4px; }
QListView::indicator, QCheckBox::indicator { width: 13px; height: 13px; }
QListView::indicator:unchecked, QCheckBox::indicator:unchecked {
    border: 1px solid #8a8d93; border-radius: 2px; background: transparent; }
"""


THEMES = ("system", "dark", "light")


def wants_dark(choice: str = "system") -> bool:
    """``choice`` dark or light decides; else TERF_STUDIO_THEME=dark|light; else the system, dark
    when it says nothing."""
    if choice in ("dark", "light"):
        return choice == "dark"
    choice = os.environ.get("TERF_STUDIO_THEME", "").lower()
    if choice in ("dark", "light"):
        return choice == "dark"
    return QGuiApplication.styleHints().colorScheme() != Qt.ColorScheme.Light


def dark_palette() -> QPalette:
    p = QPalette()
    base, window, text = QColor(30, 31, 34), QColor(43, 45, 48), QColor(222, 222, 222)
    accent = QColor(64, 140, 220)
    roles = {
        QPalette.ColorRole.Window: window,
        QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base,
        QPalette.ColorRole.AlternateBase: window,
        QPalette.ColorRole.ToolTipBase: QColor(55, 57, 61),
        QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.PlaceholderText: QColor(140, 140, 140),
        QPalette.ColorRole.Text: text,
        QPalette.ColorRole.Button: window,
        QPalette.ColorRole.ButtonText: text,
        QPalette.ColorRole.BrightText: QColor(255, 90, 90),
        QPalette.ColorRole.Link: accent,
        QPalette.ColorRole.Highlight: accent,
        QPalette.ColorRole.HighlightedText: QColor(255, 255, 255),
    }
    for role, colour in roles.items():
        p.setColor(role, colour)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(120, 120, 120))
    return p


def apply_theme(app: QApplication, choice: str = "system") -> None:
    """Style, palette and style sheet for ``choice`` (see :func:`wants_dark`); callable again to switch."""
    app.setStyle("Fusion")
    style = app.style()
    app.setPalette(dark_palette() if wants_dark(choice) else style.standardPalette())
    app.setStyleSheet(STYLE_SHEET)
