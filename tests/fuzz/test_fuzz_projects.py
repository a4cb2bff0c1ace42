"""Fuzzing project files: load_project on damaged and hostile ``.terf`` archives.

Inputs: a small valid project (one step with a mask, two mask layers with hostile labels) with
random byte edits; re-packed with members dropped, replaced, edited or added (hostile names:
``../``, absolute paths, backslashes, NUL), other compression methods, edited ``project.json``
values, PNG members that declare huge sizes, and members that expand a thousand times.
A project that opens is exported with its masks; every file must land in the output folder.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from fuzzing import mutated, png_declaring, result_or_error, sandbox
from hypothesis import given, settings
from hypothesis import strategies as st

import terf_studio.fusion  # noqa: F401 - imported by load_project; loaded before memory is measured
from terf_studio.document.export import export_session
from terf_studio.document.project import load_project, save_project
from terf_studio.document.session import AppliedEdit, EditSession, Patch, Step
from terf_studio.language import Edit
from terf_studio.regions import Mask

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MEMBERS = ("project.json", "images/vi.png", "images/ir.png", "images/fused.png", "steps/0.png",
           "steps/0-0-mask.png", "masks/0.png", "masks/1.png", "recipe.json")


@lru_cache(maxsize=1)
def valid_project() -> bytes:
    """A saved project: 12x16 pair, one step with a mask, two mask layers."""
    rng = np.random.default_rng(3)
    vi = rng.random((12, 16, 3)).astype(np.float32)
    ir = rng.random((12, 16)).astype(np.float32)
    fuser = SimpleNamespace(arch="lite", weights_path=None)  # only its name is saved
    session = EditSession(vi, ir, fuser, fused=(vi + ir[:, :, None]) / 2)  # type: ignore[arg-type]
    before = session.current16
    after = before.copy()
    after[2:7, 3:11] //= 2
    region = np.zeros((12, 16), np.float32)
    region[2:7, 3:11] = 1.0
    mask = Mask(region, label="../../outside", source="box")
    edit = AppliedEdit(Edit("the road", "darken", 1.5, text="darken the road"), mask.to_png_bytes(16),
                       {"engine": "fast", "seconds": 0.1})
    session.steps = [Step("darken the road", [edit], Patch.between(before, after), 0.1)]
    session.go_to(1)
    session.masks = [mask, Mask(rng.random((12, 16)), label="/etc/passwd", colour=(1, 2, 3))]
    with tempfile.TemporaryDirectory() as folder:
        path = save_project(session, Path(folder) / "p.terf")
        return path.read_bytes()


def members() -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(valid_project())) as z:
        found = {name: z.read(name) for name in z.namelist()}
    assert set(found) == set(MEMBERS)
    return found


def pack(items: list[tuple[str, bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data, method in items:
            z.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return buffer.getvalue()


_HOSTILE_NAMES = st.one_of(
    st.sampled_from(["../evil.png", "../../../../tmp/evil", "/etc/evil", "/abs/masks/0.png", "masks/../../x.png",
                     "C:\\evil.png", "..\\..\\evil.png", "masks/0.png\x00.txt", "", "/", "images/", "a" * 300]),
    st.text(min_size=1, max_size=30),
)
_METHODS = st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside a JSON document (the root is ())."""
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, (*prefix, i))
    return out


@st.composite
def edited_json(draw: st.DrawFn) -> bytes:
    """project.json with some values replaced by random JSON (or some keys removed)."""
    meta = json.loads(members()["project.json"])
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(meta)))
        if not path:
            meta = draw(_JSON)
            continue
        parent = meta
        try:
            for key in path[:-1]:
                parent = parent[key]
            if draw(st.booleans()) and isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent[path[-1]] = draw(_JSON | st.sampled_from([1e308 * 10, -1, 10**30, "../x.png", "masks/9.png"]))
        except (KeyError, IndexError, TypeError):
            pass  # an earlier edit changed the shape of the document
    return json.dumps(meta).encode()


@st.composite
def repacked(draw: st.DrawFn) -> bytes:
    """The valid project's members, some dropped, replaced or edited, some added, then zipped."""
    items = [(name, data, zipfile.ZIP_STORED) for name, data in members().items()]
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["drop", "bytes", "mutate", "json", "add", "method", "bomb-png", "swap"]))
        i = draw(st.integers(0, len(items) - 1)) if items else 0
        if op == "drop" and items:
            del items[i]
        elif op == "bytes" and items:
            items[i] = (items[i][0], draw(st.binary(max_size=64)), items[i][2])
        elif op == "mutate" and items:
            items[i] = (items[i][0], draw(mutated(items[i][1])), items[i][2])
        elif op == "json":
            items = [it for it in items if it[0] != "project.json"] + [("project.json", draw(edited_json()), 0)]
        elif op == "add":
            items.append((draw(_HOSTILE_NAMES), draw(st.binary(max_size=64)), draw(_METHODS)))
        elif op == "method" and items:
            items[i] = (items[i][0], items[i][1], draw(_METHODS))
        elif op == "bomb-png" and items:
            width, height = draw(st.sampled_from([(16, 12), (20000, 20000), (2**31 - 1, 1), (0, 12), (65536, 65536)]))
            items[i] = (items[i][0], png_declaring(width, height, 16, draw(st.sampled_from([0, 2]))), items[i][2])
        elif op == "swap" and len(items) > 1:
            j = draw(st.integers(0, len(items) - 1))
            items[i], items[j] = (items[i][0], items[j][1], items[i][2]), (items[j][0], items[i][1], items[j][2])
    return pack(items)


@lru_cache(maxsize=1)
def expanding() -> bytes:
    """A project whose fused image member expands from about 50 kB to 48 MB."""
    items = [(name, data, zipfile.ZIP_STORED) for name, data in members().items() if name != "images/fused.png"]
    return pack([*items, ("images/fused.png", b"\0" * (48 * 1024**2), zipfile.ZIP_DEFLATED)])


projects = st.one_of(
    st.just(b"").map(lambda _: valid_project()),
    st.builds(valid_project).flatmap(lambda data: mutated(data, head=len(data))),
    repacked(),
    st.binary(max_size=128),
    st.builds(expanding),
)


def _open_and_export(path, box) -> None:
    session = result_or_error(lambda: load_project(path, device="cpu"))
    if session is None:
        return
    image = session.current()
    assert image.shape[:2] == session.vi.shape[:2] and np.isfinite(image).all()
    written = result_or_error(lambda: export_session(session, box.out / "result.png", masks=True))
    for file in written or []:
        assert box.out in file.resolve().parents


@settings(max_examples=settings().max_examples * 3)
@given(data=projects)
def test_a_project_opens_or_is_a_one_line_error_and_writes_nothing_outside_the_output(data):
    with sandbox() as box:
        path = box.write_input("p.terf", data)
        _open_and_export(path, box)


@given(label=st.text(max_size=80))
def test_mask_labels_never_lead_exports_outside_the_output(label):
    meta = json.loads(members()["project.json"])
    mask = Mask(np.eye(12, 16, dtype=np.float32), label=label)
    items = [(name, data, zipfile.ZIP_STORED) for name, data in members().items() if name != "masks/0.png"]
    items.append(("masks/0.png", mask.to_png_bytes(16), zipfile.ZIP_STORED))
    meta["masks"][0]["label"] = label
    items = [it for it in items if it[0] != "project.json"] + [("project.json", json.dumps(meta).encode(), 0)]
    with sandbox() as box:
        path = box.write_input("p.terf", pack(items))
        _open_and_export(path, box)


def _with_meta(change) -> bytes:
    meta = json.loads(members()["project.json"])
    change(meta)
    return _with_json(json.dumps(meta).encode())


def _with_json(text: bytes) -> bytes:
    return pack([(n, d, 0) for n, d in members().items() if n != "project.json"] + [("project.json", text, 0)])


def _patched(data: bytes, marker: bytes, offset: int, value: bytes, method: int = zipfile.ZIP_STORED) -> bytes:
    """The project packed with ``method`` for every member, ``value`` written at ``offset`` after ``marker``."""
    raw = bytearray(pack([(n, d, method) for n, d in members().items()]) if method else data)
    at = raw.find(marker) + offset
    raw[at : at + len(value)] = value
    return bytes(raw)


def _swapped(a: str, b: str) -> bytes:
    found = members()
    found[a], found[b] = found[b], found[a]
    return pack([(n, d, 0) for n, d in found.items()])


# Found by fuzzing: each of these escaped load_project as a raw exception (OverflowError,
# AttributeError, TypeError, RecursionError, LZMAError, NotImplementedError, RuntimeError, or a
# ValueError from numpy while applying the history).
FOUND = {
    "cursor is infinite": lambda: _with_meta(lambda m: m.update(cursor=1e999)),
    "network is a list": lambda: _with_meta(lambda m: m.update(network=[1])),
    "sources is null": lambda: _with_meta(lambda m: m.update(sources=None)),
    "arch is a number": lambda: _with_meta(lambda m: m["network"].update(arch=5)),
    "a step's box is infinite": lambda: _with_meta(lambda m: m["steps"][0].update(box=[1e999, 0, 1, 1])),
    "a step's text is a number": lambda: _with_meta(lambda m: m["steps"][0].update(text=5)),
    "JSON nested too deep": lambda: _with_json(b"[" * 100_000 + b"]" * 100_000),
    "grey fused image": lambda: _swapped("images/ir.png", "images/fused.png"),
    "damaged LZMA member": lambda: _patched(b"", b"images/vi.png", 40, b"\0" * 20, zipfile.ZIP_LZMA),
    "unknown compression": lambda: _patched(valid_project(), b"PK\x01\x02", 10, b"\x63"),
    "encrypted member": lambda: _patched(valid_project(), b"PK\x01\x02", 8, b"\x01"),
}


@pytest.mark.parametrize("case", sorted(FOUND))
def test_damaged_projects_found_by_fuzzing_are_one_line_errors(case):
    with sandbox() as box:
        path = box.write_input("p.terf", FOUND[case]())
        assert result_or_error(lambda: load_project(path, device="cpu")) is None
