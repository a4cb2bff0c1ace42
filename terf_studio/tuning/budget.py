"""Whether a fine-tuning engine's work fits in memory, asked before it starts.

The quick and exact engines train networks on the whole work box (the region plus its context)
at full resolution, and their autograd graphs take far more than the image: measured on this
project's 2-core CPU with the quick engine on 1000x1000 boxes (peak resident memory above the
loaded process), brighten 2.3 GB, infrared 1.6 GB, denoise 1.6 GB per megapixel, and about as
much per pixel at 500x500. A whole 12 MP photo would need 20-30 GB: the system would kill the
process (the editor's window would vanish) instead of saying why. So a box whose estimate does
not fit in the memory available is refused with a one-line error naming the fast engine, which
streams any size.
"""

from __future__ import annotations

from terf_studio.errors import TerfError
from terf_studio.memory import available_mb
from terf_studio.tuning.region import Box

#: Peak bytes per work-box pixel of one fine-tuning pass (rounded up from the measurements above).
BYTES_PER_PIXEL = {"brighten": 2500, "darken": 2500, "infrared": 1700, "visible": 1700, "denoise": 1700}
#: The share of the available memory a fine-tuning may plan to take.
SHARE = 0.9


def check_fine_tuning_fits(task: str, engine: str, box: Box, available: float | None = None) -> None:
    """Raise a one-line :class:`TerfError` when fine-tuning ``task`` over ``box`` would need more
    memory than is available (``available`` MiB; default: what the system says now)."""
    need = BYTES_PER_PIXEL.get(task, 0) * box.area / 2**20
    free = available_mb() if available is None else available
    if not need or free is None or need <= SHARE * free:
        return
    raise TerfError(
        f"the {engine} engine would need about {need / 1024:.1f} GB to fine-tune {task} over a "
        f"{box.width}x{box.height} region, and {free / 1024:.1f} GB is available: use the fast engine "
        "(Edit > Engine > Fast, --engine fast), which works on any size, or a smaller region")
