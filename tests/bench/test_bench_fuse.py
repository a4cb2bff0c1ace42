"""``terf-studio bench fuse --size``: a synthetic pair of any size, tiled, with its peak memory."""

from __future__ import annotations

import json

import pytest

from terf_studio.bench.fuse import _synthetic_pair, parse_size
from terf_studio.cli import main
from terf_studio.errors import TerfError


def test_bench_fuse_at_a_chosen_size_reports_tiles_and_memory(capsys):
    assert main(["bench", "fuse", "--arch", "lite", "--size", "700x500", "--tile", "160", "--uint8", "--repeats", "1",
                 "--device", "cpu", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["size"] == "700x500" and row["tile"] == 160 and row["inputs"] == "uint8" and row["runs"] == 1
    assert row["arrays_mb"] == pytest.approx(700 * 500 * 7 / 2**20, abs=0.1)
    assert row["seconds_per_pair"] > 0 and row["peak_rss_mb"] > 50


def test_sizes_are_checked_and_pairs_are_in_range():
    assert parse_size("8000x6000") == (8000, 6000)
    for bad in ("8000", "axb", "1x5", "20000x20000"):
        with pytest.raises(TerfError):
            parse_size(bad)
    vi, ir = _synthetic_pair(300, 260, uint8=False)
    assert vi.shape == (260, 300, 3) and ir.shape == (260, 300)
    assert 0.0 <= vi.min() and vi.max() <= 1.0 and vi.std() > 0.05
