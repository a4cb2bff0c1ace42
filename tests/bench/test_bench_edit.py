"""``terf-studio bench edit`` on a tiny synthetic MSRS-like folder (fast against quick)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from terf_studio.bench import edit as bench_edit
from terf_studio.imaging import write_image

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def data(tmp_path):
    yy, xx = np.mgrid[0:48, 0:64].astype(np.float32)
    vi = np.stack([0.45 + 0.25 * np.sin(xx / 3.0), 0.4 + 0.25 * np.sin(yy / 4.0), 0.35 + 0.2 * np.cos(yy / 3.5)], -1)
    ir = 0.1 + 0.8 * np.exp(-((yy - 24) ** 2 + (xx - 20) ** 2) / 80.0)
    write_image(tmp_path / "msrs-samples" / "vi" / "x.png", vi.astype(np.float32))
    write_image(tmp_path / "msrs-samples" / "ir" / "x.png", ir.astype(np.float32))
    return tmp_path


def test_rows_compare_engines_and_darken_reuses_the_brighten_decomposition(data, tmp_path):
    region = bench_edit.BenchRegion("x centre", "msrs-samples", "x", (0.25, 0.25, 0.75, 0.75))
    result = bench_edit.bench_edit(["brighten", "darken", "blur"], ["fast", "quick"], [region], data=data,
                                   device="cpu", whole=False, sheets=tmp_path / "sheets")
    rows = {r["task"]: r for r in result["rows"]}
    assert set(rows) == {"brighten", "darken", "blur"} and result["reference"] == "quick"
    for task in ("brighten", "darken"):
        fast, quick = rows[task]["engines"]["fast"], rows[task]["engines"]["quick"]
        assert fast["as_named"] and quick["as_named"], task  # brighter, darker
        assert fast["iterations"] == 0 and quick["iterations"] > 0
        assert np.isfinite(fast["mad_to_quick"]) and "seconds_repeat" in fast
    # Darken's fine-tuned row is brighten's decomposition relit: the same cost is reported.
    assert rows["darken"]["engines"]["quick"]["seconds"] == rows["brighten"]["engines"]["quick"]["seconds"]
    assert (tmp_path / "sheets" / "edit-brighten.jpg").is_file()
    summary = {(s["task"], s["engine"]): s for s in bench_edit.summarise(result)}
    assert summary[("brighten", "fast")]["as_named"] == "1/1"
    text = bench_edit.format_edit_table(result)
    assert "brighten" in text and "MAD quick" in text
    json.dumps(result)  # the --json output is plain JSON
