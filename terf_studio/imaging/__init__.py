"""Image I/O, pair checks and colour conversions (no Qt).

Names are loaded on first use: ``color`` and ``pair`` import torch, which takes
seconds, and reading or writing an image should not pay for it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "io": ("read_image", "write_image", "to_float", "to_uint8"),
    "pair": ("check_pair", "read_pair"),
    "color": (
        "LUMA_WEIGHTS",
        "rgb_to_ycrcb",
        "ycrcb_to_rgb",
        "rgb_to_y",
        "grey_to_rgb",
        "rgb_to_grey_np",
        "to_tensor",
        "to_numpy",
    ),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = list(_MODULE_OF)

if TYPE_CHECKING:
    from terf_studio.imaging.color import (
        LUMA_WEIGHTS,
        grey_to_rgb,
        rgb_to_grey_np,
        rgb_to_y,
        rgb_to_ycrcb,
        to_numpy,
        to_tensor,
        ycrcb_to_rgb,
    )
    from terf_studio.imaging.io import read_image, to_float, to_uint8, write_image
    from terf_studio.imaging.pair import check_pair, read_pair


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
