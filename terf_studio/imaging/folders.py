"""Finding image pairs in folders: visible and infrared (and fused) files matched by name."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from terf_studio.errors import TerfError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})


@dataclass(frozen=True)
class Pair:
    """One visible/infrared pair (and, with ``--fused-dir``, its fused image)."""

    name: str
    vi: Path
    ir: Path
    fused: Path | None = None


def _require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise TerfError(f"{what} folder not found: {path}")
    return path


def image_files(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


class FolderIndex:
    """Look up image files of one folder by exact name or by stem."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files = image_files(folder)
        self._by_name = {p.name: p for p in self.files}
        self._by_stem: dict[str, list[Path]] = {}
        for p in self.files:
            self._by_stem.setdefault(p.stem, []).append(p)

    def find(self, name: str) -> Path | None:
        """The file called ``name``, else the only image whose stem is ``name``'s stem."""
        if name in self._by_name:
            return self._by_name[name]
        stem = Path(name).stem if Path(name).suffix.lower() in IMAGE_SUFFIXES else name
        matches = self._by_stem.get(stem, [])
        if len(matches) > 1:
            listed = ", ".join(p.name for p in matches)
            raise TerfError(f"{name!r} is ambiguous in {self.folder}: {listed}")
        return matches[0] if matches else None


def find_pairs(vi_dir: Path, ir_dir: Path, names: Sequence[str] | None = None,
               fused_dir: Path | None = None) -> list[Pair]:
    """Match visible, infrared (and fused) images by file name.

    Without ``names``: every image of ``vi_dir`` that has an infrared partner
    of the same name (or stem). With ``names``: exactly those, in that order
    (names with or without extension); a missing one is an error. Fused images
    are matched by stem; each pair must have one.
    """
    vi_index = FolderIndex(_require_dir(vi_dir, "visible"))
    ir_index = FolderIndex(_require_dir(ir_dir, "infrared"))
    fused_index = FolderIndex(_require_dir(fused_dir, "fused")) if fused_dir else None

    pairs = []
    for name in names if names is not None else [p.name for p in vi_index.files]:
        vi = vi_index.find(name)
        ir = ir_index.find(vi.name if vi else name)
        if names is not None and vi is None:
            raise TerfError(f"{name} is not in the visible folder {vi_dir}")
        if names is not None and ir is None:
            raise TerfError(f"{name} is not in the infrared folder {ir_dir}")
        if vi is None or ir is None:
            continue
        pairs.append(Pair(vi.stem, vi, ir, _fused_for(fused_index, vi)))
    if not pairs:
        raise TerfError(f"no matching image pairs in {vi_dir} and {ir_dir}")
    return pairs


def _fused_for(index: FolderIndex | None, vi: Path) -> Path | None:
    if index is None:
        return None
    fused = index.find(vi.stem)
    if fused is None:
        raise TerfError(f"no fused image for {vi.name} in {index.folder} (matched by file stem)")
    return fused
