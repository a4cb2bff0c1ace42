"""How a fine-tuning engine trains, decided before it starts: on the whole box, or on crops.

The quick and exact engines train networks on the work box (the region plus its context) at full
resolution, and their autograd graphs take far more than the image: measured on this project's
2-core CPU with the quick engine on 1000x1000 boxes (peak resident memory above the loaded
process), brighten 2.3 GB, infrared 1.6 GB, denoise 1.6 GB per megapixel, and about as much per
pixel at 500x500. A whole 12 MP photo would need 20-30 GB, and the system would kill the process
(the editor's window would vanish). So a box whose estimate exceeds the fine-tuning budget is
trained on crops and applied in tiles (:mod:`terf_studio.tuning.sampled`), which bounds memory
at any size.

The budget is the smaller of :data:`DEFAULT_BUDGET_MB` (``TERF_STUDIO_TUNING_MB`` changes it: a
machine with plenty of memory may fine-tune larger regions whole) and 90% of the memory available
now.
"""

from __future__ import annotations

import os

from terf_studio.memory import available_mb
from terf_studio.tuning.region import Box

#: Peak bytes per work-box pixel of one fine-tuning pass (rounded up from the measurements above).
BYTES_PER_PIXEL = {"brighten": 2500, "darken": 2500, "infrared": 1700, "visible": 1700, "denoise": 1700}
#: The share of the available memory a fine-tuning may plan to take.
SHARE = 0.9
#: What a whole-box fine-tuning may take by default (MiB): the project's 2 GB bound for any edit.
DEFAULT_BUDGET_MB = 1536.0
ENV = "TERF_STUDIO_TUNING_MB"
#: On a GPU, boxes up to this many pixels are fine-tuned whole (the streamed edits' threshold).
GPU_WHOLE_PIXELS = 16_000_000


def budget_mb(available: float | None = None) -> float:
    """The memory (MiB) a whole-box fine-tuning may take: the setting, or less when the system has less."""
    try:
        limit = float(os.environ.get(ENV, DEFAULT_BUDGET_MB))
    except ValueError:
        limit = DEFAULT_BUDGET_MB
    free = available_mb() if available is None else available
    return limit if free is None else min(limit, SHARE * free)


def need_mb(task: str, box: Box) -> float:
    """The estimated peak memory (MiB) of fine-tuning ``task`` over the whole of ``box``."""
    return BYTES_PER_PIXEL.get(task, 0) * box.area / 2**20


def trains_whole(task: str, box: Box, available: float | None = None, on_gpu: bool = False) -> bool:
    """Whether fine-tuning ``task`` over ``box`` fits the budget (else it trains on crops).

    On a GPU the graph lives in the GPU's memory (torch raises its own error when it does not
    fit); the process then holds only the box's float copies, so crops are used only above
    :data:`GPU_WHOLE_PIXELS`."""
    if on_gpu:
        return box.area <= GPU_WHOLE_PIXELS
    need = need_mb(task, box)
    return not need or need <= budget_mb(available)
