"""Where files live: the project's own (``resources/``, ``models/`` beside the package) and the
shared development data (``../shared/data``, used by the benchmarks and training defaults)."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESOURCES_DIR = PROJECT_ROOT / "resources"
#: The development data beside a source checkout (RoadScene, MSRS samples); benchmarks default to it.
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


def resource_path(*parts: str) -> Path:
    return RESOURCES_DIR.joinpath(*parts)
