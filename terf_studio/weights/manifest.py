"""``models/MANIFEST.json``: the size and SHA-256 of every file shipped in ``models/``.

A shipped file is checked against it when it is looked up or loaded (the size each time, the
SHA-256 once per process and file: measured on a busy 2-core CPU, 16 ms for the lite network and
the three engines, 70 ms more for the full network), by ``terf-studio doctor``, and by the tests
(so a retrained model without a manifest update fails them). The text files of
the folder (``*.md``) and the manifest itself are not listed: they are documentation.

Regenerate it after retraining a shipped model::

    python -m terf_studio.weights.manifest --write

(``--check`` prints every difference and exits 1 when there is one.)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

from terf_studio.errors import ModelError
from terf_studio.paths import PROJECT_ROOT
from terf_studio.weights.integrity import sha256_of

MANIFEST_NAME = "MANIFEST.json"
FORMAT = "terf-models-manifest/1"
REGENERATE = "python -m terf_studio.weights.manifest --write"

_lock = threading.Lock()
_cache: dict[tuple[str, int], dict[str, dict[str, Any]] | None] = {}


def shipped_dir() -> Path:
    """The ``models/`` folder shipped with the source tree."""
    return PROJECT_ROOT / "models"


def _listed(name: str) -> bool:
    return name != MANIFEST_NAME and not name.endswith(".md") and not name.startswith(".")


def shipped_files(folder: Path | None = None) -> list[Path]:
    """The files the manifest covers, in name order."""
    folder = folder or shipped_dir()
    return sorted(p for p in folder.iterdir() if p.is_file() and _listed(p.name))


def build_manifest(folder: Path | None = None) -> dict[str, Any]:
    """The manifest the folder's files call for now."""
    files = {p.name: {"size": p.stat().st_size, "sha256": sha256_of(p)} for p in shipped_files(folder)}
    return {"format": FORMAT, "regenerate": REGENERATE, "files": files}


def write_manifest(folder: Path | None = None) -> Path:
    """Write ``MANIFEST.json`` for the folder's files (atomically) and return its path."""
    folder = folder or shipped_dir()
    path = folder / MANIFEST_NAME
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(build_manifest(folder), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_manifest(folder: Path | None = None) -> dict[str, dict[str, Any]] | None:
    """The ``files`` entries of the folder's manifest, or None when it has none.
    A manifest that cannot be read is a one-line ModelError."""
    path = (folder or shipped_dir()) / MANIFEST_NAME
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return None
    key = (str(path), mtime)
    with _lock:
        if key in _cache:
            return _cache[key]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = data["files"]
        if data.get("format") != FORMAT or not isinstance(files, dict):
            raise ValueError(f"not a {FORMAT} file")
        entries = {str(k): {"size": int(v["size"]), "sha256": str(v["sha256"])} for k, v in files.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelError(f"cannot read {path}: {exc}; regenerate it with `{REGENERATE}`") from None
    with _lock:
        _cache[key] = entries
    return entries


def is_shipped(path: Path) -> bool:
    """Whether ``path`` is a file in the shipped ``models/`` folder."""
    try:
        return path.resolve().parent == shipped_dir().resolve()
    except OSError:
        return False


def shipped_problem(path: str | os.PathLike, deep: bool = True) -> str | None:
    """Why a file of the shipped ``models/`` folder differs from the manifest (size, and the
    SHA-256 when ``deep``), or None when it matches or is not a listed shipped file."""
    path = Path(path)
    if not is_shipped(path):
        return None
    entries = read_manifest()
    entry = entries.get(path.name) if entries else None
    if entry is None:
        return None
    return _difference(path, entry, deep)


def _difference(path: Path, entry: dict[str, Any], deep: bool) -> str | None:
    size = path.stat().st_size
    if size != entry["size"]:
        return (f"{path} has {size:,} bytes, not the {entry['size']:,} of {MANIFEST_NAME} "
                "(a damaged or replaced shipped file)")
    if deep:
        digest = sha256_of(path)
        if digest != entry["sha256"]:
            return (f"{path} has sha256 {digest[:12]}..., not the {entry['sha256'][:12]}... of {MANIFEST_NAME} "
                    "(a damaged or replaced shipped file)")
    return None


def manifest_problems(folder: Path | None = None) -> list[str]:
    """Every difference between the folder's files and its manifest (files missing, unlisted,
    of another size or SHA-256); empty when they match."""
    folder = folder or shipped_dir()
    entries = read_manifest(folder)
    if entries is None:
        return [f"{folder / MANIFEST_NAME} is missing"]
    problems = []
    present = {p.name: p for p in shipped_files(folder)}
    for name, entry in entries.items():
        if name not in present:
            problems.append(f"{folder / name} is listed in {MANIFEST_NAME} but missing")
        else:
            problem = _difference(present[name], entry, deep=True)
            if problem:
                problems.append(problem)
    problems += [f"{path} is not listed in {MANIFEST_NAME}" for name, path in present.items() if name not in entries]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m terf_studio.weights.manifest",
                                     description="check or rewrite models/MANIFEST.json")
    parser.add_argument("--write", action="store_true", help="rewrite the manifest from the files")
    parser.add_argument("--check", action="store_true", help="print every difference; exit 1 when any (default)")
    parser.add_argument("--folder", type=Path, help="another models folder (default: the shipped one)")
    args = parser.parse_args(argv)
    if args.write:
        path = write_manifest(args.folder)
        print(f"wrote {path} ({len(shipped_files(args.folder))} files)")
        return 0
    try:
        problems = manifest_problems(args.folder)
    except ModelError as exc:
        problems = [str(exc)]
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"run `{REGENERATE}` if these files are meant to change", file=sys.stderr)
        return 1
    print(f"{len(shipped_files(args.folder))} files match {(args.folder or shipped_dir()) / MANIFEST_NAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
