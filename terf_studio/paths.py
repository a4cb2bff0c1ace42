"""Where files live: the project's own (``resources/``, ``models/`` beside the package) and the
shared development data (``../shared/data``, used by the benchmarks and training defaults).

From a source tree the root is the folder that holds ``terf_studio/``; in the desktop bundle
(PyInstaller, ``packaging/terf-studio.spec``) it is the bundle's data folder (``sys._MEIPASS``),
where the spec puts ``models/`` and ``resources/``."""

from __future__ import annotations

import sys
from pathlib import Path


def project_root() -> Path:
    """The folder holding ``models/`` and ``resources/``: the bundle's data folder when frozen,
    else the source tree."""
    if getattr(sys, "frozen", False):
        bundle = getattr(sys, "_MEIPASS", None)
        return Path(bundle) if bundle else Path(sys.executable).resolve().parent
    return Path(__file__).resolve().parents[1]


PROJECT_ROOT = project_root()
RESOURCES_DIR = PROJECT_ROOT / "resources"
#: The development data beside a source checkout (RoadScene, MSRS samples); benchmarks default to it.
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


def resource_path(*parts: str) -> Path:
    return RESOURCES_DIR.joinpath(*parts)
