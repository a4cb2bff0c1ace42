"""The main window and its collaborators (actions, jobs, files, plans, mask tools, display)."""

from terf_studio.gui.window.main_window import MainWindow

__all__ = ["MainWindow"]
