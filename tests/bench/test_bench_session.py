"""``terf-studio bench session``: one fast edit on an open document, its seconds and memory."""

from __future__ import annotations

import json

from terf_studio.cli import main


def test_bench_session_reports_a_region_and_a_whole_image_edit(capsys):
    assert main(["bench", "session", "--size", "400x300", "--region", "64", "--task", "blur", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["task"] == "blur" and row["size"] == "400x300" and row["region"] == "64x64"
    assert row["engine"] == "fast" and row["seconds"] > 0 and row["patch_kb"] > 0
    assert row["document_mb"] >= 0 and row["edit_mb"] >= 0 and row["peak_rss_mb"] > 50
    assert main(["bench", "session", "--size", "400x300", "--region", "0", "--task", "brighten"]) == 0
    table = capsys.readouterr().out
    assert "whole image" in table and "brighten" in table


def test_bench_session_runs_a_fine_tuning_engine_and_says_how_it_trained(capsys, monkeypatch):
    monkeypatch.setenv("TERF_STUDIO_TUNING_MB", "0.001")  # any box is over budget: crops
    assert main(["bench", "session", "--size", "200x150", "--region", "0", "--task", "denoise", "--engine", "quick",
                 "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["engine"] == "quick" and row["trained_on"] == "crops" and row["seconds"] > 0
