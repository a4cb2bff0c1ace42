"""Projects are untrusted input with bounded memory, and a failed save loses nothing (issue 14)."""

from __future__ import annotations

import errno
import json
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from terf_studio.cli import main
from terf_studio.document import project
from terf_studio.document.project import ProjectError, load_project, save_project
from terf_studio.document.session import EditSession, encode_png16
from terf_studio.errors import TerfError
from terf_studio.fusion import load_fuser
from terf_studio.imaging import io as image_io
from terf_studio.imaging import write_image

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def session(random_lite_weights):
    rng = np.random.default_rng(5)
    vi = rng.random((24, 32, 3)).astype(np.float32)
    ir = rng.random((24, 32)).astype(np.float32)
    return EditSession(vi, ir, load_fuser("lite", random_lite_weights, "cpu"))


@pytest.fixture
def saved(session, tmp_path) -> Path:
    return save_project(session, tmp_path / "p.terf")


def _repack(src: Path, dst: Path, replace: dict[str, bytes], deflate: tuple[str, ...] = ()) -> Path:
    """A copy of project ``src`` with some members replaced (and some deflated)."""
    with zipfile.ZipFile(src) as z:
        members = {name: z.read(name) for name in z.namelist()}
    members.update(replace)
    with zipfile.ZipFile(dst, "w") as out:
        for name, data in members.items():
            method = zipfile.ZIP_DEFLATED if name in deflate else zipfile.ZIP_STORED
            out.writestr(name, data, compress_type=method)
    return dst


def _png_header_only(width: int, height: int) -> bytes:
    """A 16-bit grey PNG that declares ``width`` x ``height`` but holds almost no data."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_a_member_that_would_expand_too_far_is_refused_before_reading(saved, tmp_path):
    bomb = _repack(saved, tmp_path / "bomb.terf", {"images/fused.png": b"\0" * (3 * 1024**2)},
                   deflate=("images/fused.png",))
    assert bomb.stat().st_size < 100_000
    with pytest.raises(ProjectError, match=r"would expand .* times") as info:
        load_project(bomb, device="cpu")
    assert "fused.png" in str(info.value) and len(str(info.value).splitlines()) == 1


def test_declared_member_sizes_are_checked_against_the_limits(saved, monkeypatch):
    monkeypatch.setattr(project, "MAX_MEMBER_BYTES", 1000)
    with pytest.raises(ProjectError, match=r"'images/vi.png' declares .* MB, more than"):
        load_project(saved, device="cpu")
    monkeypatch.setattr(project, "MAX_JSON_BYTES", 10)
    with pytest.raises(ProjectError, match="'project.json' declares"):
        load_project(saved, device="cpu")


def test_member_reads_stop_at_the_cap(saved):
    with zipfile.ZipFile(saved) as z:
        assert project._read_member(z, "project.json", 1 << 20) == z.read("project.json")
        with pytest.raises(ProjectError, match="more than"):
            project._read_member(z, "images/vi.png", 100)


def test_a_huge_16_bit_png_is_refused_from_its_header(saved, tmp_path):
    for name in ("images/vi.png", "images/ir.png", "images/fused.png"):
        crafted = _repack(saved, tmp_path / "huge.terf", {name: _png_header_only(20000, 20000)})
        with pytest.raises(ProjectError) as info:
            load_project(crafted, device="cpu")
        message = str(info.value)
        assert len(message.splitlines()) == 1 and "20000x20000" in message, message


def test_the_pixel_limit_is_the_one_of_the_image_reader(saved, monkeypatch):
    monkeypatch.setattr(image_io, "MAX_PIXELS", 24 * 32 - 1)
    with pytest.raises(ProjectError, match=r"too large \(32x24"):
        load_project(saved, device="cpu")
    monkeypatch.setattr(image_io, "MAX_PIXELS", 24 * 32)
    assert load_project(saved, device="cpu").vi16.shape[:2] == (24, 32)


def test_patches_and_masks_must_fit_the_image(session, tmp_path):
    mask = np.zeros((24, 32), np.float32)
    mask[:, 16:] = 1
    from terf_studio.language import Edit, Task
    from terf_studio.regions import Mask

    session.apply([Edit(None, Task.BLUR, 2.0)], [Mask(mask, label="right")])
    saved = save_project(session, tmp_path / "p.terf")
    with zipfile.ZipFile(saved) as z:
        meta = json.loads(z.read("project.json"))
    meta["steps"][0]["box"] = [0, 0, 5000, 5000]
    moved = _repack(saved, tmp_path / "box.terf", {"project.json": json.dumps(meta).encode()})
    with pytest.raises(ProjectError, match="outside the image"):
        load_project(moved, device="cpu")
    wrong_size = encode_png16(np.zeros((48, 64), np.uint16))
    big_mask = _repack(saved, tmp_path / "mask.terf", {"steps/0-0-mask.png": wrong_size})
    with pytest.raises(ProjectError, match="64x48, not 32x24"):
        load_project(big_mask, device="cpu")
    assert load_project(saved, device="cpu").cursor == 1


# -- failed saves ------------------------------------------------------------------------------

def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_failed_save_is_one_line_leaves_no_part_and_keeps_the_old_file(session, saved, monkeypatch):
    before = saved.read_bytes()
    monkeypatch.setattr(zipfile.ZipFile, "writestr", _disk_full)
    with pytest.raises(TerfError, match="cannot save project .*No space left on device"):
        save_project(session, saved)
    assert saved.read_bytes() == before
    assert not list(saved.parent.glob("*.part"))


def test_saving_into_a_file_instead_of_a_folder_is_one_line(session, tmp_path):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(TerfError, match="cannot save project"):
        save_project(session, tmp_path / "file.txt" / "p.terf")
    (tmp_path / "dir.terf").mkdir()
    with pytest.raises(TerfError, match="it is a directory"):
        save_project(session, tmp_path / "dir.terf")


def test_interrupted_save_removes_the_part_file(session, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(zipfile.ZipFile, "writestr", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_project(session, tmp_path / "out" / "p.terf")
    assert list((tmp_path / "out").iterdir()) == []


def test_edit_command_with_a_failed_project_save_exits_2(random_lite_weights, tmp_path, monkeypatch, capsys):
    rng = np.random.default_rng(2)
    write_image(tmp_path / "vi.png", rng.random((24, 32, 3)))
    write_image(tmp_path / "ir.png", rng.random((24, 32)))
    monkeypatch.setattr(zipfile.ZipFile, "writestr", _disk_full)
    code = main(["edit", str(tmp_path / "vi.png"), str(tmp_path / "ir.png"), "-c", "blur the whole image",
                 "-o", str(tmp_path / "out.png"), "--save-project", str(tmp_path / "p.terf"),
                 "--weights", str(random_lite_weights), "--device", "cpu"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("error: cannot save project") and "internal" not in err[-1]
    assert not (tmp_path / "p.terf").exists() and not (tmp_path / "p.terf.part").exists()
