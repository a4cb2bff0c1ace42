"""The headless edit session, the project file and the edit command (tiny images, few iterations)."""

import json
import zipfile

import numpy as np
import pytest

from terf_studio.cli import main
from terf_studio.document.project import ProjectError, load_project, save_project
from terf_studio.errors import CancelledError, TerfError
from terf_studio.fusion import load_fuser
from terf_studio.imaging import read_image, write_image
from terf_studio.language import Edit, Task
from terf_studio.regions import Mask, NoRegionFound
from terf_studio.tuning import CancelToken


def _right_half(shape):
    data = np.zeros(shape, np.float32)
    data[:, shape[1] // 2 :] = 1.0
    return Mask(data, label="right")


def test_blur_changes_only_the_masked_region_and_undo_redo_are_exact(session):
    before = session.current16.copy()
    step = session.apply([Edit(None, Task.BLUR, 2.0)], [_right_half(before.shape[:2])])
    after = session.current16.copy()
    assert not np.array_equal(after, before)
    assert np.array_equal(after[:, :28], before[:, :28])  # left of the mask (and its margin) untouched
    assert step.patch is not None and step.patch.box[0] >= 28
    assert session.undo() is step and np.array_equal(session.current16, before)
    assert session.undo() is None
    assert session.redo() is step and np.array_equal(session.current16, after)
    assert session.redo() is None


def test_text_target_is_found_by_the_builtin_finder(session):
    step = session.apply([Edit("person", Task.BLUR)])
    applied = step.edits[0]
    assert applied.info["finder"].startswith("builtin:thermal")
    mask = applied.mask
    assert mask is not None and mask.data[26, 13] > 0.5 and mask.data[5, 50] == 0.0


def test_missing_region_and_cancel_leave_the_session_unchanged(session):
    before = session.current16.copy()
    with pytest.raises(NoRegionFound, match="click, draw a box or paint it"):
        session.apply([Edit("the blue umbrella", Task.BRIGHTEN)])
    token = CancelToken()
    token.cancel()
    with pytest.raises(CancelledError):
        session.apply([Edit(None, Task.BRIGHTEN)], cancel=token, iterations=5)
    assert session.cursor == 0 and not session.steps and np.array_equal(session.current16, before)


def test_brighten_then_repeat_moves_further(session):
    mask = [_right_half(session.current16.shape[:2])]
    y0 = session.current()[:, 40:].mean()
    first = session.apply([Edit(None, Task.BRIGHTEN)], mask, iterations=4)
    y1 = session.current()[:, 40:].mean()
    second = session.apply([Edit(None, Task.BRIGHTEN)], mask, iterations=4)
    y2 = session.current()[:, 40:].mean()
    assert y0 < y1 < y2
    assert not first.edits[0].info["continued"] and second.edits[0].info["continued"]


def test_new_step_after_undo_drops_the_redo_branch(session):
    mask = [_right_half(session.current16.shape[:2])]
    session.apply([Edit(None, Task.BLUR)], mask)
    session.undo()
    session.apply([Edit(None, Task.BLUR, 2.0)], mask)
    assert len(session.steps) == 1 and not session.can_redo
    assert [h["applied"] for h in session.history()] == [True]


def test_project_round_trip_restores_pixels_and_history(session, tmp_path):
    mask = [_right_half(session.current16.shape[:2])]
    session.apply([Edit(None, Task.BLUR)], mask, text="blur the right")
    middle = session.current16.copy()
    session.apply([Edit("person", Task.BLUR, 2.0)])
    final = session.current16.copy()
    session.undo()
    session.redo()
    path = save_project(session, tmp_path / "p.terf")
    reopened = load_project(path, device="cpu")
    assert np.array_equal(reopened.current16, final)
    assert np.array_equal(reopened.base16, session.base16) and np.array_equal(reopened.vi16, session.vi16)
    assert [h["text"] for h in reopened.history()] == ["blur the right", "blur"]
    assert reopened.history()[1]["edits"][0]["target"] == "person"
    reopened.undo()
    assert np.array_equal(reopened.current16, middle)
    assert reopened.steps[1].edits[0].mask is not None


def test_damaged_projects_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.terf"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ProjectError) as info:
        load_project(bad)
    assert "bad.terf" in str(info.value) and "\n" not in str(info.value)
    foreign = tmp_path / "foreign.terf"
    with zipfile.ZipFile(foreign, "w") as z:
        z.writestr("project.json", json.dumps({"format": "something-else"}))
    with pytest.raises(ProjectError, match="not a TeRF Studio project"):
        load_project(foreign)
    with pytest.raises(ProjectError, match="not found"):
        load_project(tmp_path / "missing.terf")
    with pytest.raises(TerfError, match="must end in .terf"):
        save_project(None, tmp_path / "x.zip")


def test_edit_command_with_mask_and_project(random_lite_weights, tmp_path, capsys, scene, pair_files):
    ir = scene[1]
    write_image(tmp_path / "mask.png", _right_half(ir.shape).data)
    out = tmp_path / "out.png"
    code = main(["edit", str(tmp_path / "vi.png"), str(tmp_path / "ir.png"), "-c", "blur it", "--mask",
                 str(tmp_path / "mask.png"), "-o", str(out), "--weights", str(random_lite_weights),
                 "--device", "cpu", "--save-project", str(tmp_path / "p.terf"), "--json"])
    assert code == 0, capsys.readouterr().err
    report = json.loads(capsys.readouterr().out)
    assert report["steps"][0]["edits"][0]["task"] == "blur"
    fuser = load_fuser("lite", random_lite_weights, "cpu")
    fused = fuser.fuse(read_image(tmp_path / "vi.png"), read_image(tmp_path / "ir.png"))
    result = read_image(out)
    assert np.abs(result[:, :20] - fused[:, :20]).max() <= 1 / 255 + 1e-6  # left half untouched (8-bit rounding)
    assert np.abs(result[:, 40:] - fused[:, 40:]).mean() > 0.005
    # Continue the project with a text target.
    code = main(["edit", "--project", str(tmp_path / "p.terf"), "-c", "blur the person", "-o", str(tmp_path / "o2.png"),
                 "--device", "cpu", "--save-project", str(tmp_path / "p.terf")])
    assert code == 0
    assert len(load_project(tmp_path / "p.terf", device="cpu").steps) == 2


def test_edit_command_reports_a_missing_region(random_lite_weights, tmp_path, capsys, pair_files):
    code = main(["edit", str(tmp_path / "vi.png"), str(tmp_path / "ir.png"), "-c", "brighten the umbrella",
                 "-o", str(tmp_path / "o.png"), "--weights", str(random_lite_weights)])
    assert code == 2 and "no region found for 'umbrella'" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()


def test_mask_layers_travel_in_the_project(session, tmp_path):
    shape = session.current16.shape[:2]
    soft = Mask(np.linspace(0, 1, shape[0] * shape[1], dtype=np.float32).reshape(shape), label="ramp",
                colour=(10, 200, 30), source="manual")
    session.masks = [_right_half(shape), soft]
    reopened = load_project(save_project(session, tmp_path / "m.terf"), device="cpu")
    assert [m.label for m in reopened.masks] == ["right", "ramp"]
    assert reopened.masks[1].colour == (10, 200, 30)
    assert np.array_equal(reopened.masks[0].data, session.masks[0].data)
    assert np.max(np.abs(reopened.masks[1].data - soft.data)) <= 0.5 / 65535 + 1e-7


def test_discard_redo_drops_only_undone_steps(session):
    mask = [_right_half(session.current16.shape[:2])]
    session.apply([Edit(None, Task.BLUR)], mask)
    session.apply([Edit(None, Task.BLUR, 2.0)], mask)
    assert session.discard_redo() == 0 and len(session.steps) == 2
    session.undo()
    assert session.discard_redo() == 1
    assert len(session.steps) == 1 and not session.can_redo and session.cursor == 1


def test_export_writes_result_masks_and_comparison(session, tmp_path):
    from terf_studio.document.export import export_session

    shape = session.current16.shape[:2]
    session.masks = [_right_half(shape)]
    session.apply([Edit(None, Task.BLUR, 2.0)], [session.masks[0]])
    files = export_session(session, tmp_path / "out.tif", bit_depth=16, masks=True, comparison=True)
    assert [f.name for f in files] == ["out.tif", "out.mask-0-right.png", "out.comparison.png"]
    result = read_image(files[0])
    assert np.abs(result - session.current()).max() < 1e-4  # 16-bit keeps the session's precision
    assert np.array_equal(read_image(files[1]) > 0.5, session.masks[0].binary)
    assert read_image(files[2]).shape[1] > 4 * shape[1]
    with pytest.raises(TerfError, match="png or .tif"):
        export_session(session, tmp_path / "out.jpg")


def test_every_task_applies_through_the_session(session):
    for task in Task:
        step = session.apply([Edit(None, task)], [_right_half(session.current16.shape[:2])], iterations=2)
        assert step.edits[0].info["iterations"] >= 0 and step.edits[0].edit.task is task
    assert len(session.steps) == len(Task)
