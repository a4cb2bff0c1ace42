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

if TYPE_CHECKING:  # the names for type checkers ("X as X": re-exported)
    from terf_studio.imaging.color import LUMA_WEIGHTS as LUMA_WEIGHTS
    from terf_studio.imaging.color import grey_to_rgb as grey_to_rgb
    from terf_studio.imaging.color import rgb_to_grey_np as rgb_to_grey_np
    from terf_studio.imaging.color import rgb_to_y as rgb_to_y
    from terf_studio.imaging.color import rgb_to_ycrcb as rgb_to_ycrcb
    from terf_studio.imaging.color import to_numpy as to_numpy
    from terf_studio.imaging.color import to_tensor as to_tensor
    from terf_studio.imaging.color import ycrcb_to_rgb as ycrcb_to_rgb
    from terf_studio.imaging.io import read_image as read_image
    from terf_studio.imaging.io import to_float as to_float
    from terf_studio.imaging.io import to_uint8 as to_uint8
    from terf_studio.imaging.io import write_image as write_image
    from terf_studio.imaging.pair import check_pair as check_pair
    from terf_studio.imaging.pair import read_pair as read_pair


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
