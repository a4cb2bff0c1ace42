"""The luma weights: the one definition every module uses (BT.601, as OpenCV and kornia).

Kept free of torch so that numpy-only modules (metrics, masks) can import it cheaply.
"""

from __future__ import annotations

LUMA_WEIGHTS: tuple[float, float, float] = (0.299, 0.587, 0.114)
