"""The fuzz suite's memory bound (the hypothesis profiles are in tests/conftest.py)."""

import pytest
from fuzzing import MAX_RSS_GROWTH, peak_rss


@pytest.fixture(autouse=True)
def bounded_memory():
    """Fail a fuzz test whose examples raised the process's peak memory by more than
    MAX_RSS_GROWTH (a decoder that trusted a declared size)."""
    before = peak_rss()
    yield
    grown = peak_rss() - before
    assert grown < MAX_RSS_GROWTH, f"peak memory grew by {grown / 1e6:.0f} MB"
