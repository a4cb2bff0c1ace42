"""Checks on what a command is about to write, made before any work: an output must never
replace one of the command's inputs, and an image that is all one value while its inputs are
not is reported instead of written (it is the mark of damaged weights)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from terf_studio.errors import TerfError

#: A path, or None for an option not given.
MaybePath = str | os.PathLike | None


def file_key(path: str | os.PathLike) -> tuple[int, int] | str:
    """What identifies the file at ``path``: its device and inode when it exists (so links, ``..``
    and case-insensitive file systems compare equal, as with :func:`os.path.samefile`), else its
    resolved absolute path."""
    try:
        st = os.stat(path)
    except OSError:  # it does not exist (yet)
        return os.path.normcase(Path(path).resolve())
    return st.st_dev, st.st_ino


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether ``a`` and ``b`` name the same file (see :func:`file_key`)."""
    return file_key(a) == file_key(b)


def refuse_overwriting_inputs(
    outputs: Mapping[str, MaybePath] | Iterable[tuple[str, MaybePath]],
    inputs: Mapping[str, MaybePath] | Iterable[tuple[str, MaybePath]],
) -> None:
    """One-line :class:`TerfError` if an output is one of the inputs.

    Both are role -> path maps, or (role, path) pairs for many files (a batch); ``None`` paths
    are options not given. Each file is looked at once, so a batch of thousands stays quick.
    """
    known: dict[tuple[int, int] | str, tuple[str, str]] = {}
    for role, source in _items(inputs):
        if source is not None:
            known.setdefault(file_key(source), (role, os.fspath(source)))
    for out_role, out in _items(outputs):
        if out is None:
            continue
        hit = known.get(file_key(out))
        if hit is not None:
            in_role, source = hit
            raise TerfError(
                f"refusing to write the {out_role} '{os.fspath(out)}': it is the {in_role} "
                f"'{source}'; choose another output name"
            )


def _items(
    paths: Mapping[str, MaybePath] | Iterable[tuple[str, MaybePath]],
) -> Iterable[tuple[str, MaybePath]]:
    return paths.items() if isinstance(paths, Mapping) else paths


def is_constant(image: np.ndarray, bit_depth: int = 16) -> bool:
    """Whether every pixel of ``image`` (float in [0, 1], or integers) would be written with the
    same value at ``bit_depth``."""
    if image.size == 0:
        return False
    low, high = float(np.nanmin(image)), float(np.nanmax(image))
    if np.issubdtype(image.dtype, np.integer):  # uint8 / uint16 as stored: their share of full scale
        top = float(np.iinfo(image.dtype).max)
        low, high = low / top, high / top
    scale = float((1 << bit_depth) - 1)
    return round(min(max(low, 0.0), 1.0) * scale) == round(min(max(high, 0.0), 1.0) * scale)


def refuse_constant_output(
    image: np.ndarray, inputs: tuple[np.ndarray, ...], output: MaybePath, bit_depth: int = 8, cause: str = ""
) -> None:
    """One-line :class:`TerfError` when ``image`` is one flat value while some input is not.

    ``cause`` replaces the default likely cause (damaged fusion weights).
    """
    if not is_constant(image, bit_depth) or all(is_constant(x, 16) for x in inputs):
        return
    value = float(np.nanmax(image))
    where = f"'{os.fspath(output)}'" if output is not None else "the result"
    cause = cause or ("the fusion weights are probably damaged (check them with 'terf-studio doctor' "
                      "or pass another --weights file)")
    raise TerfError(
        f"not writing {where}: every pixel would be {value:.3g} although the inputs are not flat; {cause}"
    )
