"""Large arrays kept in scratch files (imaging.store)."""

from __future__ import annotations

import os

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
