"""Shared pieces of the fuzz suite: the error property, a sandbox that sees every file written,
a bound on memory, and a byte mutator.

The property every fuzz test checks: a call on hostile input returns a valid result or raises a
:class:`TerfError` whose message is one line; any other exception is a bug. Inputs and outputs
live in a fresh sandbox folder (the working directory and ``tempfile``'s folder during the call),
and after the call every new file must be inside the sandbox's ``out`` folder.
"""

from __future__ import annotations

import os
import resource
import shutil
import struct
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from hypothesis import strategies as st

from terf_studio.errors import TerfError

T = TypeVar("T")

#: How much the process's peak resident memory may grow during one fuzz test (all its examples).
#: The inputs are a few kB; anything near this means a decoder trusted a declared size.
MAX_RSS_GROWTH = 512 * 1024**2


def check_one_line(exc: BaseException) -> None:
    """A user-facing error: a TerfError whose message is one non-empty line."""
    assert isinstance(exc, TerfError), f"{type(exc).__name__} escaped: {exc!r}"
    text = str(exc)
    assert text.strip(), "empty error message"
    assert "\n" not in text and "\r" not in text, f"multi-line error message: {text!r}"


def result_or_error(call: Callable[[], T]) -> T | None:
    """``call()``'s result, or None after checking that it raised a one-line TerfError.

    Any other exception propagates, so hypothesis reports (and shrinks) it.
    """
    try:
        return call()
    except TerfError as exc:
        check_one_line(exc)
        return None


def peak_rss() -> int:
    """The process's peak resident memory in bytes (Linux reports kB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if os.uname().sysname == "Darwin" else peak * 1024


class Sandbox:
    """A fresh folder with ``inputs/`` and ``out/``; see :func:`sandbox`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.inputs = root / "inputs"
        self.out = root / "out"
        self.inputs.mkdir()
        self.out.mkdir()

    def write_input(self, name: str, data: bytes) -> Path:
        path = self.inputs / name
        path.write_bytes(data)
        return path

    def files(self) -> set[Path]:
        return {p for p in self.root.rglob("*") if not p.is_dir()}


@contextmanager
def sandbox() -> Iterator[Sandbox]:
    """A sandbox that is the working directory and ``tempfile``'s folder while in use.

    On leaving, every file that appeared outside ``out/`` (a write beside the inputs, into the
    working directory or a stray temporary file) fails the test.
    """
    root = Path(tempfile.mkdtemp(prefix="terf-fuzz-"))
    box = Sandbox(root)
    tmp = root / "tmp"
    tmp.mkdir()
    cwd, old_tempdir = os.getcwd(), tempfile.tempdir
    os.chdir(root)
    tempfile.tempdir = str(tmp)
    inputs: set[Path] = set()
    try:
        yield box
        inputs = {p for p in box.inputs.rglob("*") if not p.is_dir()}
    finally:
        os.chdir(cwd)
        tempfile.tempdir = old_tempdir
        stray = sorted(str(p.relative_to(root)) for p in box.files() - inputs if box.out not in p.parents)
        shutil.rmtree(root, ignore_errors=True)
    assert not stray, f"files written outside the output folder: {stray}"


_BYTE_VALUES = st.one_of(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE]), st.integers(0, 255))


@st.composite
def mutated(draw: st.DrawFn, data: bytes, head: int = 64) -> bytes:
    """``data`` with one to eight random edits: bytes set, flipped, inserted, deleted or
    repeated, or the tail cut off. Half the positions fall in the first ``head`` bytes, where
    the headers (sizes, types, offsets) are."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        if not buf:
            break
        last = len(buf) - 1
        at = draw(st.one_of(st.integers(0, min(head, last)), st.integers(0, last)))
        op = draw(st.sampled_from(["set", "flip", "insert", "delete", "repeat", "truncate"]))
        if op == "set":
            buf[at] = draw(_BYTE_VALUES)
        elif op == "flip":
            buf[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            buf[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del buf[at : at + draw(st.integers(1, 16))]
        elif op == "repeat":
            buf[at:at] = buf[at : at + draw(st.integers(1, 64))] * draw(st.integers(1, 4))
        else:
            del buf[at:]
    return bytes(buf)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int, depth: int, colour: int, rows: bytes = b"\0" * 64) -> bytes:
    """A PNG whose header (with a valid CRC) declares ``width`` x ``height``, followed by a
    little image data: a decoder that trusts the header allocates the declared size."""
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows))
            + _chunk(b"IEND", b""))
