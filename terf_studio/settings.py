"""User settings shared by the command line and the editor: one small JSON file, no Qt.

The file is ``$TERF_STUDIO_SETTINGS`` when that is set, else ``settings.json`` in the user
config folder (``platformdirs.user_config_dir("terf-studio")``: ``~/.config/terf-studio/`` on
Linux). It is optional; a missing file means defaults. Keys the core reads:

``model_dir``
    a folder searched for model files (see :mod:`terf_studio.weights.registry`), e.g.
    ``{"model_dir": "/data/weights"}``; ``~`` is expanded.

Other keys are kept as they are, so the editor can store its own preferences beside them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import platformdirs

from terf_studio.errors import TerfError

ENV_VAR = "TERF_STUDIO_SETTINGS"


def settings_path() -> Path:
    """Where the settings file is read and written."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    return Path(platformdirs.user_config_dir("terf-studio")) / "settings.json"


def load_settings() -> dict[str, Any]:
    """The settings as a dict ({} when there is no file); a damaged file is a TerfError."""
    path = settings_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise TerfError(f"cannot read the settings file {path}: {exc.strerror or exc}") from None
    try:
        values = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise TerfError(f"the settings file {path} is not valid JSON (line {exc.lineno}): fix or delete it") from None
    if not isinstance(values, dict):
        raise TerfError(f"the settings file {path} must hold a JSON object, e.g. {{\"model_dir\": \"/data/weights\"}}")
    return values


def save_settings(values: dict[str, Any]) -> Path:
    """Write ``values`` (a JSON object) to the settings file atomically; returns its path."""
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        partial.write_text(json.dumps(values, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(partial, path)
    finally:
        if partial.exists():
            partial.unlink()
    return path


def update_settings(**changes: Any) -> dict[str, Any]:
    """Change some keys (a value of None removes the key) and save; returns the new settings."""
    values = load_settings()
    for key, value in changes.items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
    save_settings(values)
    return values
