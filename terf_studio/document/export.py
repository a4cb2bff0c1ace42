"""Exporting a session: the result image, optionally its masks and a comparison sheet (no Qt).

The window's File > Export and scripts use the same function. Files next to the result are
named after it: ``NAME.mask-K-LABEL.png`` for mask layer K and ``NAME.comparison.png``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from terf_studio.document.session import EditSession
from terf_studio.errors import TerfError
from terf_studio.imaging import write_image
from terf_studio.imaging.compose import comparison_sheet

EXPORT_FORMATS = (".png", ".tif", ".tiff")
SOURCES = ("result", "fused")


def _safe_label(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", label).strip("-")[:40] or "mask"


def export_session(
    session: EditSession,
    path: str | os.PathLike,
    *,
    bit_depth: int = 8,
    source: str = "result",
    masks: bool = False,
    comparison: bool = False,
    mask_dir: str | os.PathLike | None = None,
) -> list[Path]:
    """Write the edited result (or the unedited fusion) and the chosen extras; returns the files.

    PNG and TIFF take 8 or 16 bits; 16-bit keeps the session's full precision. The masks go
    beside the result, or into ``mask_dir`` (same names) when given.
    """
    path = Path(path)
    if path.suffix.lower() not in EXPORT_FORMATS:
        raise TerfError(f"export as .png or .tif/.tiff, not '{path.suffix or path.name}'")
    if source not in SOURCES:
        raise TerfError(f"export source is 'result' or 'fused', not {source!r}")
    image = session.current() if source == "result" else session.fused
    write_image(path, image, bit_depth=bit_depth)
    written = [path]
    if masks:
        folder = Path(mask_dir) if mask_dir is not None else path.parent
        for k, mask in enumerate(session.masks):
            mask_path = folder / f"{path.stem}.mask-{k}-{_safe_label(mask.label)}.png"
            mask.save_png(mask_path, bit_depth=8 if mask.is_binary else 16)
            written.append(mask_path)
    if comparison:
        sheet = comparison_sheet(
            [[
                ("visible", session.vi),
                ("infrared", session.ir),
                ("fused", session.fused),
                ("edited", session.current()),
            ]]
        )
        sheet_path = path.with_name(f"{path.stem}.comparison.png")
        write_image(sheet_path, sheet)
        written.append(sheet_path)
    return written
