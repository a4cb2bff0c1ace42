"""Large arrays kept in scratch files (imaging.store)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from terf_studio.imaging import store


def test_small_arrays_stay_in_memory_and_large_ones_go_to_an_unlinked_file(monkeypatch, tmp_path):
    monkeypatch.setenv("TERF_STUDIO_SCRATCH", str(tmp_path))
    monkeypatch.setenv("TERF_STUDIO_DISK_ARRAYS_MB", "0.5")
    small = store.empty((100, 100, 3), np.uint16)
    large = store.empty((1000, 300, 3), np.uint16)  # 1.8 MB
    assert not store.on_disk(small) and store.on_disk(large) and store.on_disk(large[10:20, 5])
    assert os.listdir(tmp_path) == []  # nothing is left behind, even after a kill
    large[:] = 7
    assert int(large.sum()) == 7 * large.size
    assert not store.on_disk(np.array(large))  # a copy made by numpy is memory again
    monkeypatch.setenv("TERF_STUDIO_DISK_ARRAYS_MB", "0")
    assert not store.on_disk(store.empty((1000, 300, 3), np.uint16))


def test_copies_and_16_bit_conversions_are_exact_in_either_place(monkeypatch, tmp_path):
    monkeypatch.setenv("TERF_STUDIO_SCRATCH", str(tmp_path))
    image8 = np.random.default_rng(0).integers(0, 256, (700, 400, 3)).astype(np.uint8)
    for limit in ("0.1", "0"):
        monkeypatch.setenv("TERF_STUDIO_DISK_ARRAYS_MB", limit)
        wide = store.scaled_u16(image8)
        assert store.on_disk(wide) == (limit != "0")
        assert wide.dtype == np.uint16 and np.array_equal(wide, image8.astype(np.uint16) * 257)
        copy = store.copy_of(wide)
        assert np.array_equal(copy, wide) and not np.shares_memory(copy, wide)


def test_a_full_scratch_disk_is_a_one_line_error_before_any_pixel_is_written(monkeypatch, tmp_path):
    import pytest

    from terf_studio.errors import TerfError

    monkeypatch.setenv("TERF_STUDIO_SCRATCH", str(tmp_path))
    monkeypatch.setenv("TERF_STUDIO_DISK_ARRAYS_MB", "0.5")

    def no_space(fd, offset, length):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", no_space)
    with pytest.raises(TerfError, match="No space left.*TERF_STUDIO_SCRATCH"):
        store.empty((1000, 300, 3), np.uint16)
    assert os.listdir(tmp_path) == []


def test_where_space_cannot_be_reserved_the_file_is_only_sized(monkeypatch, tmp_path):
    import errno

    monkeypatch.setenv("TERF_STUDIO_SCRATCH", str(tmp_path))
    monkeypatch.setenv("TERF_STUDIO_DISK_ARRAYS_MB", "0.5")

    def unsupported(fd, offset, length):
        raise OSError(errno.EOPNOTSUPP, "Operation not supported")

    monkeypatch.setattr(os, "posix_fallocate", unsupported)
    array = store.empty((1000, 300, 3), np.uint16)
    array[-1] = 9
    assert store.on_disk(array) and int(array[-1].sum()) == 9 * 900
    monkeypatch.delattr(os, "posix_fallocate")  # macOS has none
    assert store.on_disk(store.empty((1000, 300, 3), np.uint16))
    assert os.listdir(tmp_path) == []


def test_a_large_file_is_mapped_and_its_image_read_into_a_scratch_file(monkeypatch, tmp_path):
    """The mapped read path (large files) gives the same samples as the plain one, upright, in a
    scratch file; a damaged large file is still a one-line error; the file is not held open."""
    import cv2
    import pytest
    from PIL import Image

    from terf_studio.errors import ImageReadError
    from terf_studio.imaging import io as image_io
    from terf_studio.imaging.pair import read_pair

    scratch = tmp_path / "scratch"
    monkeypatch.setenv("TERF_STUDIO_SCRATCH", str(scratch))
    rng = np.random.default_rng(1)
    rgb16 = rng.integers(0, 65536, (300, 200, 3)).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "rgb16.png"), rgb16[:, :, ::-1])
    cv2.imwrite(str(tmp_path / "rgb16.tif"), rgb16[:, :, ::-1])
    grey8 = rng.integers(0, 256, (200, 300)).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 clockwise
    Image.fromarray(grey8).save(tmp_path / "grey8.jpg", exif=exif, quality=100)
    names = ("rgb16.png", "rgb16.tif", "grey8.jpg")
    plain = {name: image_io.read_image_stored(tmp_path / name) for name in names}
    assert plain["grey8.jpg"].shape == (300, 200)
    monkeypatch.setattr(image_io, "MAP_BYTES", 1)
    monkeypatch.setenv("TERF_STUDIO_DISK_ARRAYS_MB", "0.05")
    for name in names:
        mapped = image_io.read_image_stored(tmp_path / name)
        assert store.on_disk(mapped) and mapped.flags.c_contiguous
        assert np.array_equal(mapped, plain[name]), name
    vi, ir = read_pair(tmp_path / "rgb16.png", tmp_path / "rgb16.tif", stored=True)
    assert store.on_disk(vi) and store.on_disk(ir) and ir.shape == (300, 200)  # the luma, on disk too
    if os.path.exists("/proc/self/maps"):  # the mapping is closed once the image is read
        assert str(tmp_path / "rgb16") not in Path("/proc/self/maps").read_text()
    data = (tmp_path / "rgb16.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="truncated"):
        image_io.read_image_stored(tmp_path / "cut.png")
    assert os.listdir(scratch) == []
