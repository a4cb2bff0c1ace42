"""``terf-studio batch``: a recipe over folders of pairs, local processes and Ray, resumable."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from terf_studio.cli import main
from terf_studio.document.project import load_project
from terf_studio.document.session import EditSession
from terf_studio.fusion import load_fuser
from terf_studio.imaging import read_image, write_image
from terf_studio.imaging.folders import find_pairs
from terf_studio.language import Edit, Task
from terf_studio.recipes import save_recipe
from terf_studio.recipes.batch import BatchOptions, run_batch
from terf_studio.recipes.executors import LocalExecutor
from terf_studio.recipes.recipe import recipe_from_session

from .test_recipe import box_mask, scene

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def fuser():
    return load_fuser("lite", device="cpu")


@pytest.fixture
def folders(tmp_path):
    """Three pairs of the recipe's size and one smaller pair (its painted mask does not fit)."""
    for name, (h, w, phase) in {"a": (48, 64, 0.0), "b": (48, 64, 1.0), "c": (48, 64, 2.0),
                                "small": (40, 56, 0.5)}.items():
        vi, ir = scene(h, w, phase)
        write_image(tmp_path / "vi" / f"{name}.png", vi)
        write_image(tmp_path / "ir" / f"{name}.png", ir)
    return tmp_path


@pytest.fixture
def recipe_file(fuser, tmp_path):
    session = EditSession(*scene(), fuser)
    session.apply([Edit(None, Task.BRIGHTEN, strength=1.5)], [box_mask()], text="brighten the box", engine="fast")
    session.apply([Edit(None, Task.DENOISE)], text="denoise", engine="fast")
    return save_recipe(recipe_from_session(session), tmp_path / "recipe.json")


def _report(out):
    return {row["pair"]: row for row in csv.DictReader((out / "batch-report.csv").open())}


def test_batch_writes_outputs_reports_a_failing_pair_and_resumes(folders, recipe_file, capsys):
    out = folders / "out"
    args = ["batch", str(recipe_file), "--vi-dir", str(folders / "vi"), "--ir-dir", str(folders / "ir"),
            "--out-dir", str(out), "--device", "cpu", "--threads", "1", "--save-projects", "--masks"]
    assert main(args) == 2  # one pair failed: reported, the run went on
    captured = capsys.readouterr()
    assert "3 done, 1 failed" in captured.out and "failed: small: step 1:" in captured.err
    report = _report(out)
    assert [report[n]["status"] for n in "abc"] == ["done"] * 3
    assert report["small"]["status"] == "failed" and report["small"]["step"] == "1"
    assert "56x40" in report["small"]["reason"] and not (out / "small.png").exists()
    summary = json.loads((out / "batch-report.json").read_text())
    assert (summary["done"], summary["failed"]) == (3, 1) and summary["pairs_per_second"] > 0
    # The outputs are what the editor makes on that pair: the same steps applied by hand.
    vi, ir = scene(48, 64, 1.0)
    by_hand = EditSession(vi, ir, load_fuser("lite", device="cpu"))
    by_hand.apply([Edit(None, Task.BRIGHTEN, strength=1.5)], [box_mask()], engine="fast")
    by_hand.apply([Edit(None, Task.DENOISE)], engine="fast")
    expected = np.rint(by_hand.current() * 255)
    assert np.abs(read_image(out / "b.png") * 255 - expected).max() <= 1
    project = load_project(out / "b.terf", device="cpu")
    assert project.cursor == 2 and [s.text for s in project.steps] == ["brighten the box", "denoise"]
    assert sorted(p.name for p in (out / "masks").iterdir()) == ["a-step1-edit1.png", "b-step1-edit1.png",
                                                                  "c-step1-edit1.png"]
    # Again: the made pairs are skipped, the failed one is tried again.
    before = (out / "a.png").stat().st_mtime_ns
    assert main(args) == 2
    assert "3 skipped, 1 failed" in capsys.readouterr().out
    assert (out / "a.png").stat().st_mtime_ns == before
    # Another strength is another recipe: everything is made again.
    data = json.loads(recipe_file.read_text())
    data["steps"][0]["edits"][0]["strength"] = 0.5
    recipe_file.write_text(json.dumps(data))
    assert main(args) == 2
    assert "3 done, 1 failed" in capsys.readouterr().out


def test_a_stopped_run_keeps_what_it_wrote_and_resumes(folders, recipe_file):
    from terf_studio.recipes import load_recipe

    recipe = load_recipe(recipe_file)
    pairs = [p for p in find_pairs(folders / "vi", folders / "ir") if p.name != "small"]
    out = folders / "out"
    seen = []
    summary = run_batch(recipe, pairs, out, BatchOptions(), LocalExecutor(1, 1),
                        progress=lambda done, total, record: seen.append(record.pair),
                        should_stop=lambda: len(seen) >= 1)
    assert summary.cancelled and [r.status for r in summary.records] == ["done", "cancelled", "cancelled"]
    assert (out / "a.png").is_file() and not (out / "b.png").exists()
    summary = run_batch(recipe, pairs, out, BatchOptions(), LocalExecutor(1, 1))
    assert [r.status for r in summary.records] == ["skipped", "done", "done"]


def test_two_local_workers_and_ray_make_the_same_bytes(folders, recipe_file):
    from terf_studio.recipes import load_recipe

    recipe = load_recipe(recipe_file)
    pairs = [p for p in find_pairs(folders / "vi", folders / "ir") if p.name != "small"]
    one = run_batch(recipe, pairs, folders / "one", BatchOptions(), LocalExecutor(1, 1))
    two = run_batch(recipe, pairs, folders / "two", BatchOptions(), LocalExecutor(2, 1))
    assert one.count("done") == two.count("done") == 3 and two.workers == 2
    assert len({r.worker for r in two.records}) == 2  # both processes took pairs
    for p in pairs:
        assert (folders / "one" / f"{p.name}.png").read_bytes() == (folders / "two" / f"{p.name}.png").read_bytes()
    ray = pytest.importorskip("ray")
    from terf_studio.recipes.executors import RayExecutor

    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    try:
        summary = run_batch(recipe, pairs, folders / "ray", BatchOptions(), RayExecutor(workers=2))
        assert summary.executor == "ray" and summary.count("done") == 3
        for p in pairs:
            assert (folders / "ray" / f"{p.name}.png").read_bytes() == (folders / "one" / f"{p.name}.png").read_bytes()
    finally:
        ray.shutdown()


def test_bad_batch_commands_are_one_line_errors(folders, recipe_file, capsys):
    base = ["batch", str(recipe_file), "--out-dir", str(folders / "out")]
    assert main(base) == 2
    assert "needs --vi-dir and --ir-dir" in capsys.readouterr().err
    # Writing into the visible folder would replace the inputs.
    assert main(["batch", str(recipe_file), "--vi-dir", str(folders / "vi"), "--ir-dir", str(folders / "ir"),
                 "--out-dir", str(folders / "vi")]) == 2
    assert "refusing to write" in capsys.readouterr().err
    assert main([*base, "--pairs", str(folders / "nope.txt")]) == 2
    assert "cannot read the pair list" in capsys.readouterr().err
    (folders / "list.txt").write_text("# pairs\nvi/a.png ir/a.png\nvi/b.png\n")
    assert main([*base, "--pairs", str(folders / "list.txt")]) == 2
    assert "list.txt:3: expected 'VISIBLE INFRARED'" in capsys.readouterr().err
    (folders / "list.txt").write_text("vi/a.png, ir/a.png\nvi/b.png\tir/b.png\n")
    assert main([*base, "--pairs", str(folders / "list.txt"), "--threads", "1"]) == 0
    assert "2 done" in capsys.readouterr().out
    assert main(["batch", str(folders / "missing.terf"), "--vi-dir", str(folders / "vi"), "--ir-dir",
                 str(folders / "ir"), "--out-dir", str(folders / "o2")]) == 2
    assert "not found" in capsys.readouterr().err
