"""``terf-studio models list|add|download``: see, add and fetch model files (:mod:`terf_studio.weights.registry`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_models_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="models_command", metavar="ACTION")
    sub.required = True
    q = sub.add_parser("list", help="every registered model: present or missing, where, size, licence, how to get it")
    q.add_argument("--json", action="store_true")
    q = sub.add_parser("add", help="verify a model file (or folder) you have and copy it into the user model folder")
    q.add_argument("name", help="registered model name (see `terf-studio models list`)")
    q.add_argument("file", help="the file, or the folder for a folder model")
    q.add_argument("--to", help="install into this folder instead of the user model folder")
    q = sub.add_parser("download", help="fetch a model from its official URL (progress, resume, checksum)")
    q.add_argument("name", help="registered model name (see `terf-studio models list`)")
    q.add_argument("--url", help="download from this URL instead (a mirror); the checksum is still checked")
    q.add_argument("--to", help="download into this folder instead of the user model folder")
    q.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the server (default 30)")
    q.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_models(args: argparse.Namespace) -> int:
    return {"list": _list, "add": _add, "download": _download}[args.models_command](args)


def _human(size: int | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return str(size)  # pragma: no cover


def _list(args: argparse.Namespace) -> int:
    from terf_studio.settings import settings_path
    from terf_studio.weights.registry import model_status, search_dirs

    rows = model_status()
    if args.json:
        print(json.dumps({"folders": [str(d) for d in search_dirs()], "settings": str(settings_path()),
                          "models": rows}, indent=2))
        return 0
    width = max(len(r["name"]) for r in rows)
    print("model folders (searched in order): " + ", ".join(str(d) for d in search_dirs()))
    for r in rows:
        state = "[ok]     " if r["present"] else "[missing]"
        where = r["path"] if r["present"] else r["how_to_get"]
        if not r["present"] and r["problem"]:
            where += f" (passed over: {r['problem']})"
        print(f"{state} {r['name']:<{width}}  {_human(r['size']):>8}  {r['licence']:<18}  {where}")
    return 0


def _note_if_not_searched(folder: Path) -> None:
    from terf_studio.settings import settings_path
    from terf_studio.weights.registry import search_dirs

    searched = {d.expanduser().resolve() for d in search_dirs()}
    if folder.resolve() not in searched:
        print(f"note: {folder} is not a model folder; set TERF_STUDIO_MODELS to it, or \"model_dir\" in "
              f"{settings_path()}")


def _add(args: argparse.Namespace) -> int:
    from terf_studio.weights.registry import install_model

    done = install_model(args.name, args.file, args.to)
    print(f"installed {done.name} at {done.path} ({done.checked})")
    _note_if_not_searched(done.path.parent)
    return 0


def _download(args: argparse.Namespace) -> int:
    from terf_studio.weights.download import download_model

    done = download_model(args.name, url=args.url, dest_dir=args.to, progress=not args.no_progress,
                          timeout=args.timeout)
    print(f"{done.name}: {done.path} ({done.checked})")
    _note_if_not_searched(done.path.parent)
    return 0


NAME = "models"
HELP = "model files: list, add one you have, download one"
add_arguments = add_models_arguments
run = run_models
