"""Handing freed heap pages back to the system."""

import sys

import numpy as np

from terf_studio.memory import release_free_memory
from terf_studio.memory import resident_mb as _rss_mb


def test_release_free_memory_returns_the_pages_of_dropped_arrays():
    if not sys.platform.startswith("linux"):
        assert release_free_memory() in (True, False)
        return
    # Many mid-sized arrays (below glibc's mmap threshold, so they live on the heap) freed but
    # one kept at the end: the heap cannot shrink by itself past the survivor.
    arrays = [np.ones(16_000, np.float64) for _ in range(4_000)]  # about 500 MB
    survivor = arrays[-1]
    del arrays
    before = _rss_mb()
    assert release_free_memory() is True
    after = _rss_mb()
    assert survivor.sum() == 16_000
    assert after < before - 100, (before, after)
