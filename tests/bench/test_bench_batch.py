"""``terf-studio bench batch`` on a tiny RoadScene-like folder (local executors only)."""

from __future__ import annotations

import json

import pytest
from test_bench_tasks import _scene

from terf_studio.cli import main
from terf_studio.imaging import write_image

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_bench_batch_reports_pairs_per_second_for_each_recipe_and_executor(tmp_path, capsys):
    names = ["a.png", "b.png"]
    for i, name in enumerate(names):
        vi, ir = _scene(48, 64, float(i))
        write_image(tmp_path / "vi" / name, vi)
        write_image(tmp_path / "ir" / name, ir)
    (tmp_path / "split.json").write_text(json.dumps({"train": [], "test": names}))
    assert main(["bench", "batch", "--data", str(tmp_path), "--pairs", "2", "--no-ray", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    rows = result["rows"]
    assert [(r["recipe"], r["workers"]) for r in rows] == [("fusion only", 1), ("fusion only", 2),
                                                            ("brighten the road, denoise", 1),
                                                            ("brighten the road, denoise", 2)]
    for r in rows:
        assert r["pairs"] == 2 and r["done"] + r["failed"] == 2 and r["seconds"] > 0
    assert rows[0]["done"] == rows[1]["done"] == 2 and rows[0]["pairs_per_second"] > 0  # fusion never fails
    assert result["ray_overhead"] == {}
