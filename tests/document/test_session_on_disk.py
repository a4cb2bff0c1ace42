"""A large document keeps its images in scratch files and its large patches encoded straight to
disk (thresholds lowered here so a small pair counts as large): the same pixels, history and
project as in memory."""

from __future__ import annotations

import numpy as np
import pytest

from terf_studio.document import project as project_mod
from terf_studio.document import session as session_mod
from terf_studio.document.project import load_project, save_project
from terf_studio.document.session import EditSession, to_u16
from terf_studio.fusion import load_fuser
from terf_studio.imaging import store
from terf_studio.language import Edit, Task
from terf_studio.regions import Mask


def _pair8(h=90, w=120):
    rng = np.random.default_rng(11)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    vi = np.clip(0.5 + 0.3 * np.sin(xx / 9)[..., None] + 0.1 * rng.standard_normal((h, w, 3)), 0, 1)
    ir = np.clip(0.3 + 0.6 * (np.hypot(xx - 40, yy - 45) < 18) + 0.05 * rng.standard_normal((h, w)), 0, 1)
    return np.rint(vi * 255).astype(np.uint8), np.rint(ir * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def fuser():
    return load_fuser("lite", device="cpu")


def _run(fuser, tmp_path, name):
    """Two steps (a region and the whole image), undo/redo, a project saved and reopened."""
    vi, ir = _pair8()
    session = EditSession(vi, ir, fuser)
    region = np.zeros(ir.shape, np.float32)
    region[20:60, 30:90] = 1.0
    session.apply([Edit("blob", Task.BRIGHTEN)], masks=[Mask(region, label="blob")], engine="fast")
    session.apply([Edit(None, Task.BLUR)], engine="fast")
    after = session.current16.copy()
    session.undo()
    session.redo()
    path = save_project(session, tmp_path / f"{name}.terf")
    reopened = load_project(path, device="cpu")
    return session, after, reopened


def test_a_document_on_disk_equals_one_in_memory(fuser, tmp_path, monkeypatch):
    monkeypatch.setenv("TERF_STUDIO_DISK_ARRAYS_MB", "0")
    memory, after_memory, reopened_memory = _run(fuser, tmp_path, "memory")
    assert not store.on_disk(memory.vi16)

    monkeypatch.setenv("TERF_STUDIO_DISK_ARRAYS_MB", "0.01")  # 10 kB: every image here is "large"
    monkeypatch.setattr(session_mod, "STREAM_BYTES", 1000)
    monkeypatch.setattr(project_mod, "STREAM_BYTES", 1000)
    disk, after_disk, reopened_disk = _run(fuser, tmp_path, "disk")
    for image in (disk.vi16, disk.ir16, disk.base16, disk.current16, reopened_disk.vi16, reopened_disk.base16,
                  reopened_disk.current16):
        assert store.on_disk(image)
    assert all(isinstance(step.patch.data, session_mod.ScratchFile) for step in disk.steps)
    assert np.array_equal(disk.vi16, memory.vi16) and np.array_equal(disk.ir16, memory.ir16)
    assert np.array_equal(disk.base16, memory.base16)
    assert np.array_equal(after_disk, after_memory) and np.array_equal(disk.current16, after_memory)
    assert [s.patch.box for s in disk.steps] == [s.patch.box for s in memory.steps]
    for reopened in (reopened_disk, reopened_memory):
        assert np.array_equal(reopened.current16, after_memory) and reopened.cursor == 2
        assert np.array_equal(reopened.vi16, memory.vi16) and np.array_equal(reopened.ir16, memory.ir16)
        reopened.undo()
        reopened.undo()
        assert np.array_equal(reopened.current16, memory.base16)

    # Either kind of project opens either way (a large member read from a small project too).
    monkeypatch.setenv("TERF_STUDIO_DISK_ARRAYS_MB", "0")
    monkeypatch.setattr(session_mod, "STREAM_BYTES", 64 * 2**20)
    monkeypatch.setattr(project_mod, "STREAM_BYTES", 64 * 2**20)
    assert np.array_equal(load_project(tmp_path / "disk.terf", device="cpu").current16, after_memory)


def test_a_damaged_large_patch_is_a_one_line_error(fuser, tmp_path, monkeypatch):
    monkeypatch.setenv("TERF_STUDIO_DISK_ARRAYS_MB", "0.01")
    monkeypatch.setattr(session_mod, "STREAM_BYTES", 1000)
    vi, ir = _pair8()
    session = EditSession(vi, ir, fuser)
    step = session.apply([Edit(None, Task.BRIGHTEN)], engine="fast")
    with open(step.patch.data.path, "r+b") as f:
        f.seek(200)
        f.write(b"\x00" * 64)
    session.undo()
    with pytest.raises(session_mod.TerfError, match="damaged"):
        session.redo()


def test_the_pair_is_converted_onto_the_16_bit_grid_exactly_on_disk(fuser, monkeypatch):
    monkeypatch.setenv("TERF_STUDIO_DISK_ARRAYS_MB", "0.01")
    vi, ir = _pair8()
    session = EditSession(vi, ir, fuser)
    assert store.on_disk(session.vi16) and np.array_equal(session.vi16, to_u16(vi / 255.0))
