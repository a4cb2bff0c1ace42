"""Where the main window used to live; it is :mod:`terf_studio.gui.window` now (kept for imports)."""

from terf_studio.gui.window.files import guess_pair
from terf_studio.gui.window.main_window import MainWindow

__all__ = ["MainWindow", "guess_pair"]
