"""The desktop editor (PySide6): a thin view over the edit session. Only this package imports Qt."""
