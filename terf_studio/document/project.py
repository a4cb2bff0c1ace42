"""The ``.terf`` project file: a zip that reopens a session to the same pixels and history.

Layout (format ``terf-project/1``)::

    project.json            sources' original paths, network, steps (text, edits, infos), cursor
    images/vi.png           the sources and the fused image as 16-bit PNG (exact: the session
    images/ir.png           holds them on the same 16-bit grid), so a project opens even when
    images/fused.png        the original files have moved
    steps/N.png             the patch of step N (16-bit RGB), its box in project.json
    steps/N-M-mask.png      the mask of edit M of step N (16-bit), absent for whole-image edits
    masks/K.png             the document's mask layer K (16-bit, its label, colour, source and
                            confidence in the PNG's text chunk); listed in project.json "masks"

Saving writes a temporary file and renames it, so an existing project is never left half written.
Fine-tuning continuation states are not saved: after reopening, repeating a command starts afresh.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

from terf_studio.document.session import AppliedEdit, EditSession, Patch, Step, decode_png16, encode_png16
from terf_studio.errors import TerfError
from terf_studio.language import Edit
from terf_studio.regions import Mask

FORMAT = "terf-project/1"


class ProjectError(TerfError):
    """A project file cannot be read (missing, damaged, or from an unknown version)."""


def save_project(session: EditSession, path: str | os.PathLike) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".terf":
        raise TerfError(f"a project file must end in .terf, not '{path.name}'")
    path.parent.mkdir(parents=True, exist_ok=True)
    fuser = session.fuser
    meta: dict[str, Any] = {
        "format": FORMAT,
        "sources": {"vi": session.vi_path, "ir": session.ir_path},
        "network": {"arch": fuser.arch, "weights": str(fuser.weights_path) if fuser.weights_path else None},
        "cursor": session.cursor,
        "steps": [],
    }
    tmp = path.with_name(path.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as z:  # PNGs are compressed already
        z.writestr("images/vi.png", encode_png16(session.vi16))
        z.writestr("images/ir.png", encode_png16(session.ir16))
        z.writestr("images/fused.png", encode_png16(session.base16))
        for n, step in enumerate(session.steps):
            entry: dict[str, Any] = {"text": step.text, "seconds": step.seconds, "box": None, "edits": []}
            if step.patch is not None:
                entry["box"] = list(step.patch.box)
                z.writestr(f"steps/{n}.png", step.patch.png)
            for m, applied in enumerate(step.edits):
                mask_file = None
                if applied.mask_png is not None:
                    mask_file = f"steps/{n}-{m}-mask.png"
                    z.writestr(mask_file, applied.mask_png)
                entry["edits"].append({"edit": applied.edit.to_dict(), "info": applied.info, "mask": mask_file})
            meta["steps"].append(entry)
        meta["masks"] = []
        for k, mask in enumerate(session.masks):
            z.writestr(f"masks/{k}.png", mask.to_png_bytes(bit_depth=16))
            meta["masks"].append({"file": f"masks/{k}.png", "label": mask.label})
        z.writestr("project.json", json.dumps(meta, indent=1))
    os.replace(tmp, path)
    return path


def load_project(path: str | os.PathLike, device: str = "auto") -> EditSession:
    """Reopen a project; every problem is a one-line :class:`ProjectError`."""
    from terf_studio.fusion import load_fuser

    path = Path(path)
    if not path.is_file():
        raise ProjectError(f"project '{path}' not found")
    try:
        with zipfile.ZipFile(path) as z:
            meta = json.loads(z.read("project.json"))
            if meta.get("format") != FORMAT:
                raise ProjectError(f"'{path}' is not a TeRF Studio project (format {meta.get('format')!r})")
            vi16, ir16 = decode_png16(z.read("images/vi.png")), decode_png16(z.read("images/ir.png"))
            base16 = decode_png16(z.read("images/fused.png"))
            steps = [_read_step(z, entry, n) for n, entry in enumerate(meta["steps"])]
            cursor = int(meta["cursor"])
            network = meta["network"]
            masks = [_read_mask(z, record, vi16.shape[:2]) for record in meta.get("masks", [])]
    except ProjectError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError, TerfError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ProjectError(f"cannot open project '{path}': it is damaged ({reason})") from None
    if not 0 <= cursor <= len(steps) or base16.shape[:2] != vi16.shape[:2]:
        raise ProjectError(f"cannot open project '{path}': its history is inconsistent")
    weights = network.get("weights")
    fuser = load_fuser(network["arch"], weights if weights and Path(weights).is_file() else None, device)
    session = EditSession(vi16, ir16, fuser, fused=base16, vi_path=meta["sources"]["vi"], ir_path=meta["sources"]["ir"])
    session.steps = steps
    session.go_to(cursor)
    session.masks = masks
    return session


def _read_mask(z: zipfile.ZipFile, record: dict[str, Any], shape: tuple[int, int]) -> Mask:
    name = str(record["file"])
    if not (name.startswith("masks/") and name.endswith(".png")):  # names inside the zip are not trusted
        raise ValueError(f"unexpected mask entry {name!r}")
    mask = Mask.from_png_bytes(z.read(name))
    if mask.shape != shape:
        raise ValueError(f"mask {name} is {mask.shape[1]}x{mask.shape[0]}, not the image size")
    return mask


def _read_step(z: zipfile.ZipFile, entry: dict[str, Any], n: int) -> Step:
    patch = None
    if entry["box"] is not None:
        x0, y0, x1, y1 = (int(v) for v in entry["box"])
        patch = Patch((x0, y0, x1, y1), z.read(f"steps/{n}.png"))
        if decode_png16(patch.png).shape[:2] != (y1 - y0, x1 - x0):
            raise ValueError(f"step {n}'s patch does not match its box")
    edits = [
        AppliedEdit(Edit.from_dict(e["edit"]), z.read(e["mask"]) if e["mask"] else None, _info(e["info"]))
        for e in entry["edits"]
    ]
    return Step(entry["text"], edits, patch, float(entry["seconds"]))


#: The engine recorded for steps of projects saved before engines existed: all were fine-tuned.
LEGACY_ENGINE = "fine-tune"


def _info(info: dict[str, Any]) -> dict[str, Any]:
    """A step's info as saved; projects from before the fast engines get ``engine`` filled in."""
    info = dict(info)
    info.setdefault("engine", LEGACY_ENGINE)
    return info
