"""The registry of model files: what each is, where it is looked for, what to do when missing.

Nothing is downloaded at run time. A model file is looked for, in order, in:
1. the folder named by the ``TERF_STUDIO_MODELS`` environment variable (when set),
2. the user data folder (``platformdirs.user_data_dir("terf-studio")/models``),
3. the ``models/`` folder shipped with the source tree.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from terf_studio.errors import ModelError
from terf_studio.resources import PROJECT_ROOT


@dataclass(frozen=True)
class ModelSpec:
    name: str
    filename: str
    description: str
    licence: str
    how_to_get: str
    shipped: bool = False


REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="fusion-lite",
            filename="fusion-lite.pt",
            description="TeRF fusion network, CPU configuration, trained on RoadScene (train split)",
            licence="MIT (this project)",
            how_to_get="shipped in models/; retrain with `terf-studio train --arch lite`",
            shipped=True,
        ),
        ModelSpec(
            name="fusion-full",
            filename="fusion-full.pt",
            description="TeRF fusion network, published configuration (1.77 M parameters)",
            licence="MIT (this project)",
            how_to_get="train it with `terf-studio train --arch full --out runs/full` (a CUDA GPU is advised), "
            "then copy runs/full/fusion-full.pt into one of the model folders",
        ),
    )
}


def user_models_dir() -> Path:
    return Path(platformdirs.user_data_dir("terf-studio")) / "models"


def search_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("TERF_STUDIO_MODELS"):
        dirs.append(Path(os.environ["TERF_STUDIO_MODELS"]))
    dirs += [user_models_dir(), PROJECT_ROOT / "models"]
    return dirs


def get_spec(name: str) -> ModelSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ModelError(f"unknown model '{name}': known models are {', '.join(REGISTRY)}") from None


def find_model(name: str) -> Path | None:
    spec = get_spec(name)
    for folder in search_dirs():
        candidate = folder / spec.filename
        if candidate.is_file():
            return candidate
    return None


def require_model(name: str) -> Path:
    """The path of a model file, or a ModelError saying where it was looked for and how to get it."""
    path = find_model(name)
    if path is None:
        spec = get_spec(name)
        where = ", ".join(str(d) for d in search_dirs())
        raise ModelError(f"model '{name}' ({spec.filename}) is missing; looked in {where}; {spec.how_to_get}")
    return path


def model_status() -> list[dict[str, str | bool | None]]:
    """One row per registered model: name, present, path, description, how to get it."""
    rows = []
    for spec in REGISTRY.values():
        path = find_model(spec.name)
        rows.append(
            {
                "name": spec.name,
                "present": path is not None,
                "path": str(path) if path else None,
                "description": spec.description,
                "how_to_get": spec.how_to_get,
            }
        )
    return rows
