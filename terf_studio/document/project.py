"""The ``.terf`` project file: a zip that reopens a session to the same pixels and history.

Layout (format ``terf-project/1``)::

    project.json            sources' original paths, network, steps (text, edits, infos), cursor
    images/vi.png           the sources and the fused image as 16-bit PNG (exact: the session
    images/ir.png           holds them on the same 16-bit grid), so a project opens even when
    images/fused.png        the original files have moved
    steps/N.png             the patch of step N (16-bit RGB), its box in project.json
    steps/N-M-mask.png      the mask of edit M of step N (16-bit), absent for whole-image edits
    recipe.json             the applied steps as a recipe (terf_studio.recipes), to run them on
                            other pairs; absent when no step is applied (older projects: derived)
    masks/K.png             the document's mask layer K (16-bit, its label, colour, source and
                            confidence in the PNG's text chunk); listed in project.json "masks"

Saving writes a temporary file and renames it, so an existing project is never left half written;
a failed save (disk full, read-only folder) removes the temporary file and is a one-line error.

A project file is untrusted input: members are read in bounded chunks after their declared
sizes are checked (:data:`MAX_MEMBER_BYTES`, :data:`MAX_JSON_BYTES`, and at most
:data:`MAX_RATIO` times their compressed size), and every PNG's declared size is checked
against the image limit of :mod:`terf_studio.imaging.io` and the project's own image size
before it is decoded.

Fine-tuning continuation states are not saved: after reopening, repeating a command starts afresh.
"""

from __future__ import annotations

import io
import json
import lzma
import os
import shutil
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from terf_studio.document.scratch import ScratchFile
from terf_studio.document.session import (
    STREAM_BYTES,
    AppliedEdit,
    EditSession,
    Patch,
    Step,
    decode_png16,
    encode_png16,
)
from terf_studio.errors import ImageReadError, TerfError
from terf_studio.imaging import io as image_io
from terf_studio.imaging import png_stream, store
from terf_studio.language import Edit
from terf_studio.recipes.recipe import Recipe, RecipeError, parse_recipe, recipe_from_session, recipe_from_steps
from terf_studio.regions import Mask
from terf_studio.tuning.control import CancelToken, step_check

FORMAT = "terf-project/1"
RECIPE_MEMBER = "recipe.json"

#: The largest member read (a 16-bit RGB PNG at the 179 MP image limit is about 1.1 GB).
MAX_MEMBER_BYTES = 2 * 1024**3
#: The largest ``project.json`` read.
MAX_JSON_BYTES = 64 * 1024**2
#: The most a member may expand (uncompressed / compressed size). Projects store their PNGs
#: uncompressed (ratio 1), so only a crafted or re-packed file comes near it.
MAX_RATIO = 100
#: Members smaller than this are not held to :data:`MAX_RATIO` (a small JSON compresses well).
RATIO_FLOOR = 1024**2
_CHUNK = 1024**2


class ProjectError(TerfError):
    """A project file cannot be read (missing, damaged, or from an unknown version)."""


def check_project_path(path: str | os.PathLike) -> Path:
    """The path as a :class:`Path` if a project can be saved there (commands check it before any
    work); a one-line :class:`TerfError` otherwise."""
    path = Path(path)
    if path.suffix.lower() != ".terf":
        raise TerfError(f"a project file must end in .terf, not '{path.name}'")
    if path.is_dir():
        raise TerfError(f"cannot save project '{path}': it is a directory")
    return path


def save_project(session: EditSession, path: str | os.PathLike, cancel: CancelToken | None = None) -> Path:
    """Write ``session`` to ``path`` (a ``.terf`` file), replacing it only once complete.

    ``cancel`` stops a save between bands of rows (CancelledError; the old file stays): a large
    document takes a minute to write, and a window that closes must not wait for it."""
    path = check_project_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TerfError(f"cannot save project '{path}': {exc.strerror or exc}") from None
    fuser = session.fuser
    meta: dict[str, Any] = {
        "format": FORMAT,
        "sources": {"vi": session.vi_path, "ir": session.ir_path},
        "network": {"arch": fuser.arch, "weights": str(fuser.weights_path) if fuser.weights_path else None},
        "cursor": session.cursor,
        "steps": [],
    }
    tmp = path.with_name(path.name + ".part")
    try:
        _write_project(session, meta, tmp, cancel)
        os.replace(tmp, path)
    except OSError as exc:  # disk full, read-only folder, a folder in the way...
        _remove(tmp)
        raise TerfError(f"cannot save project '{path}': {exc.strerror or exc}") from None
    except BaseException:  # Ctrl+C or a bug: never leave the temporary file behind
        _remove(tmp)
        raise
    return path


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def _write_project(session: EditSession, meta: dict[str, Any], tmp: Path, cancel: CancelToken | None) -> None:
    def check() -> None:
        step_check(cancel)

    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as z:  # PNGs are compressed already
        _write_image16(z, "images/vi.png", session.vi16, check)
        _write_image16(z, "images/ir.png", session.ir16, check)
        _write_image16(z, "images/fused.png", session.base16, check)
        for n, step in enumerate(session.steps):
            entry: dict[str, Any] = {"text": step.text, "seconds": step.seconds, "box": None, "edits": []}
            if step.patch is not None:
                entry["box"] = list(step.patch.box)
                _write_patch(z, f"steps/{n}.png", step.patch, check)
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
        if session.cursor:
            z.writestr(RECIPE_MEMBER, json.dumps(recipe_from_session(session).to_dict(), indent=1))


def _write_image16(z: zipfile.ZipFile, name: str, image: np.ndarray, check: Callable[[], None]) -> None:
    """A 16-bit image as a PNG member; a large one is encoded into the archive a band of rows at
    a time (:mod:`terf_studio.imaging.png_stream`), never whole in memory."""
    check()
    if image.nbytes < STREAM_BYTES:
        z.writestr(name, encode_png16(image))
        return
    with z.open(name, "w", force_zip64=True) as member:
        png_stream.write_png(member, image, check=check)


def _write_patch(z: zipfile.ZipFile, name: str, patch: Patch, check: Callable[[], None]) -> None:
    check()
    if not isinstance(patch.data, ScratchFile):
        z.writestr(name, patch.data)
        return
    with patch.data.open() as f, z.open(name, "w", force_zip64=True) as member:
        while chunk := f.read(_CHUNK):
            check()
            member.write(chunk)


def load_project(path: str | os.PathLike, device: str = "auto") -> EditSession:
    """Reopen a project; every problem is a one-line :class:`ProjectError`."""
    from terf_studio.fusion import load_fuser

    path = Path(path)
    if not path.is_file():
        raise ProjectError(f"project '{path}' not found")
    try:
        with zipfile.ZipFile(path) as z:
            meta = json.loads(_read_member(z, "project.json", min(MAX_JSON_BYTES, MAX_MEMBER_BYTES)))
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                found = meta.get("format") if isinstance(meta, dict) else None
                raise ProjectError(f"'{path}' is not a TeRF Studio project (format {found!r})")
            vi16 = _read_image16(z, "images/vi.png")
            shape = vi16.shape[:2]
            ir16 = _read_image16(z, "images/ir.png", shape)
            base16 = _read_image16(z, "images/fused.png", shape)
            if (vi16.ndim == 3 and vi16.shape[2] != 3) or ir16.ndim != 2 or base16.shape != (*shape, 3):
                raise ValueError("its images do not have the expected channels")
            steps = [_read_step(z, entry, n, shape) for n, entry in enumerate(meta["steps"])]
            cursor = int(meta["cursor"])
            network, sources = _fields(meta, "network", "sources")
            arch, weights, vi_path, ir_path = network["arch"], network.get("weights"), sources["vi"], sources["ir"]
            paths = (weights, vi_path, ir_path)
            if not isinstance(arch, str) or not all(v is None or isinstance(v, str) for v in paths):
                raise ValueError("its network or source paths are not text")
            masks = [_read_mask(z, record, shape) for record in meta.get("masks", [])]
    except (_TooLarge, ImageReadError) as exc:  # a limit: said as it is, not as "damaged"
        raise ProjectError(f"cannot open project '{path}': {exc}") from None
    except ProjectError:
        raise
    except _DAMAGED as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ProjectError(f"cannot open project '{path}': it is damaged ({reason})") from None
    if not 0 <= cursor <= len(steps) or base16.shape[:2] != vi16.shape[:2]:
        raise ProjectError(f"cannot open project '{path}': its history is inconsistent")
    fuser = load_fuser(arch, weights if weights and Path(weights).is_file() else None, device)
    session = EditSession(vi16, ir16, fuser, fused=base16, vi_path=vi_path, ir_path=ir_path)
    session.steps = steps
    session.go_to(cursor)
    session.masks = masks
    return session


def read_project_recipe(path: str | os.PathLike) -> Recipe:
    """The recipe of a project's applied steps: its ``recipe.json``, or for a project saved
    before recipes existed, derived from its steps. Problems are one-line errors."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as z:
            if RECIPE_MEMBER in z.namelist():
                data = json.loads(_read_member(z, RECIPE_MEMBER, MAX_JSON_BYTES))
                return parse_recipe(data, source=f"{path}:{RECIPE_MEMBER}")
            meta = json.loads(_read_member(z, "project.json", MAX_JSON_BYTES))
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise ProjectError(f"'{path}' is not a TeRF Studio project")
            shape = _png_shape(_read_member(z, "images/vi.png"), "images/vi.png")
            steps = [_read_step(z, entry, n, shape) for n, entry in enumerate(meta["steps"])]
            (network,) = _fields(meta, "network")
            return recipe_from_steps(steps[: int(meta["cursor"])], str(network["arch"]), name=path.stem)
    except (ProjectError, RecipeError):
        raise
    except _DAMAGED as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ProjectError(f"cannot read the recipe of project '{path}': it is damaged ({reason})") from None


#: What reading a damaged or crafted archive raises, besides our own errors: zipfile's own, the
#: decompressors' (zlib, bz2 as OSError, lzma; EOFError when a stream ends early), unsupported or
#: encrypted members (NotImplementedError, RuntimeError), JSON nested too deep (RecursionError),
#: and values of the wrong type or range in project.json (int(inf) is an OverflowError).
_DAMAGED = (zipfile.BadZipFile, KeyError, IndexError, ValueError, TypeError, ArithmeticError, RuntimeError,
            EOFError, OSError, zlib.error, lzma.LZMAError, TerfError)


def _fields(meta: dict[str, Any], *names: str) -> list[dict[str, Any]]:
    """The JSON objects ``meta[name]``; a ValueError names one that is not an object."""
    values = [meta[name] for name in names]
    for name, value in zip(names, values):
        if not isinstance(value, dict):
            raise ValueError(f"'{name}' is not an object")
    return values


class _TooLarge(ProjectError):
    """A member that would take more memory than the limits allow (a crafted file)."""


def _read_member(z: zipfile.ZipFile, name: str, limit: int | None = None) -> bytes:
    """A member's bytes, read in chunks and never more than ``limit`` (default
    :data:`MAX_MEMBER_BYTES`) or its declared size."""
    info = _checked_member(z, name, limit)
    size = info.file_size
    data = bytearray()
    with z.open(info) as member:
        while chunk := member.read(_CHUNK):
            data += chunk
            if len(data) > size:  # zipfile stops at the declared size; checked all the same
                raise _TooLarge(f"member '{name}' holds more than its declared {size} bytes")
    return bytes(data)


def _checked_member(z: zipfile.ZipFile, name: str, limit: int | None = None) -> zipfile.ZipInfo:
    """A member's entry, once its declared size and compression ratio are within the limits."""
    limit = MAX_MEMBER_BYTES if limit is None else limit
    info = z.getinfo(name)  # KeyError: missing member
    size, packed = info.file_size, info.compress_size
    if size > limit:
        raise _TooLarge(f"member '{name}' declares {size / 1e6:.1f} MB, more than the {limit / 1e6:.0f} MB limit")
    if size > RATIO_FLOOR and size > MAX_RATIO * max(packed, 1):
        raise _TooLarge(f"member '{name}' would expand {size / max(packed, 1):.0f} times "
                        f"({packed / 1e6:.1f} MB to {size / 1e6:.1f} MB), more than the limit of {MAX_RATIO}")
    return info


def _large_png(z: zipfile.ZipFile, name: str, expected: tuple[int, int] | None,
               channels: int | None = None) -> tuple[zipfile.ZipInfo, tuple[int, ...]] | None:
    """For a 16-bit PNG member whose pixels take at least :data:`STREAM_BYTES`: its entry and
    array shape (size, limits and channels checked from its header); None for a smaller one."""
    info = _checked_member(z, name)
    with z.open(info) as member:
        head = member.read(64)
    height, width = _png_shape(head, name, expected)
    try:
        _, _, depth, found = png_stream.header(io.BytesIO(head))
    except png_stream.UnsupportedPng:
        return None  # read whole by the normal path, which says what is wrong with it
    if depth != 16 or (channels is not None and found != channels):
        raise ValueError(f"'{name}' is not a {channels or ''}-channel 16-bit PNG")
    shape = (height, width) if found == 1 else (height, width, found)
    return (info, shape) if height * width * found * 2 >= STREAM_BYTES else None


def _read_image16(z: zipfile.ZipFile, name: str, expected: tuple[int, int] | None = None) -> np.ndarray:
    """A 16-bit image member; a large one is decoded a band of rows at a time into a
    disk-backed array (:mod:`terf_studio.imaging.store`)."""
    large = _large_png(z, name, expected)
    if large is not None:
        info, shape = large
        out = store.empty(shape, np.uint16)
        try:
            with z.open(info) as member:
                png_stream.read_png_into(member, out)
            return out
        except png_stream.UnsupportedPng:
            pass  # another encoder's filters: decoded whole below
    return decode_png16(_read_png(z, name, expected))


def _png_shape(data: bytes, name: str, expected: tuple[int, int] | None = None) -> tuple[int, int]:
    """A stored PNG's (height, width) from its header, checked before any pixel is decoded."""
    try:
        width, height = image_io.png_dimensions(data)
    except ValueError:
        raise ValueError(f"'{name}' is not a PNG image") from None
    image_io.check_pixel_limit(width, height, f"'{name}'")
    if expected is not None and (height, width) != expected:
        raise ValueError(f"'{name}' is {width}x{height}, not {expected[1]}x{expected[0]} as expected")
    return height, width


def _read_png(z: zipfile.ZipFile, name: str, expected: tuple[int, int] | None = None) -> bytes:
    data = _read_member(z, name)
    _png_shape(data, name, expected)
    return data


def _read_mask(z: zipfile.ZipFile, record: dict[str, Any], shape: tuple[int, int]) -> Mask:
    name = str(record["file"])
    if not (name.startswith("masks/") and name.endswith(".png")):  # names inside the zip are not trusted
        raise ValueError(f"unexpected mask entry {name!r}")
    data = _read_png(z, name, shape)
    with warnings.catch_warnings():  # its size is checked above, against the project's own limit
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        mask = Mask.from_png_bytes(data)
    if mask.shape != shape:
        raise ValueError(f"mask {name} is {mask.shape[1]}x{mask.shape[0]}, not the image size")
    return mask


def _read_step(z: zipfile.ZipFile, entry: dict[str, Any], n: int, shape: tuple[int, int]) -> Step:
    patch = None
    if entry["box"] is not None:
        x0, y0, x1, y1 = (int(v) for v in entry["box"])
        if not (0 <= x0 < x1 <= shape[1] and 0 <= y0 < y1 <= shape[0]):
            raise ValueError(f"step {n}'s box {[x0, y0, x1, y1]} is outside the image")
        name = f"steps/{n}.png"
        large = _large_png(z, name, (y1 - y0, x1 - x0), channels=3)
        if large is not None:  # kept on disk as it is (checked from its header; decoded when applied)
            info = large[0]
            with z.open(info) as member:
                patch = Patch((x0, y0, x1, y1), ScratchFile(lambda f: shutil.copyfileobj(member, f, _CHUNK)))
        else:
            patch = Patch((x0, y0, x1, y1), _read_png(z, name, (y1 - y0, x1 - x0)))
            if decode_png16(patch.png).shape != (y1 - y0, x1 - x0, 3):  # fused images are RGB
                raise ValueError(f"step {n}'s patch does not match its box")
    edits = [
        AppliedEdit(Edit.from_dict(e["edit"]), _read_png(z, e["mask"], shape) if e["mask"] else None,
                    _info(e["info"]))
        for e in entry["edits"]
    ]
    if not isinstance(entry["text"], str):
        raise ValueError(f"step {n}'s text is not text")
    return Step(entry["text"], edits, patch, float(entry["seconds"]))


#: The engine recorded for steps of projects saved before engines existed: all were fine-tuned.
LEGACY_ENGINE = "fine-tune"


def _info(info: dict[str, Any]) -> dict[str, Any]:
    """A step's info as saved; projects from before the fast engines get ``engine`` filled in."""
    info = dict(info)
    info.setdefault("engine", LEGACY_ENGINE)
    return info
