"""Small widgets the window puts in its toolbar and status bar, ready configured."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QProgressBar,
    QSlider,
    QSpinBox,
    QToolButton,
)

from terf_studio.gui.window.actions import icon


def brush_size_box(radius: float) -> QSpinBox:
    box = QSpinBox()
    box.setRange(1, 500)
    box.setValue(int(radius))
    box.setPrefix("size ")
    box.setToolTip("Brush radius in image pixels ([ and ])")
    return box


def hardness_box() -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(0.0, 1.0)
    box.setSingleStep(0.1)
    box.setValue(0.8)
    box.setPrefix("hardness ")
    box.setToolTip("Brush edge: 1 is hard, 0 is soft")
    return box


def split_slider() -> QSlider:
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(0, 100)
    slider.setValue(50)
    slider.setMaximumWidth(140)
    slider.setToolTip("Where the before/after split is (C turns it on)")
    return slider


def progress_bar() -> QProgressBar:
    bar = QProgressBar()
    bar.setMaximumWidth(220)
    bar.setTextVisible(True)
    bar.setVisible(False)
    return bar


def cancel_button() -> QToolButton:
    button = QToolButton()
    button.setIcon(icon("cancel"))
    button.setText("Cancel")
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    button.setToolTip("Cancel the running job (Esc)")
    button.setVisible(False)
    return button
