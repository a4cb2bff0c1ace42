"""Scratch files of large undo steps: named after their process, swept once it is gone."""

from __future__ import annotations

import os
import subprocess
import sys

from terf_studio.document import scratch
from terf_studio.document.scratch import ScratchFile, sweep_orphans


def test_the_files_of_a_killed_process_are_swept_and_live_ones_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("TERF_STUDIO_SCRATCH", str(tmp_path))
    code = ("import os, signal; os.environ['TERF_STUDIO_SCRATCH'] = %r\n"
            "from terf_studio.document.scratch import ScratchFile\n"
            "f = ScratchFile(b'pixels'); print(f.path, flush=True)\n"
            "os.kill(os.getpid(), signal.SIGKILL)") % str(tmp_path)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    left = done.stdout.strip()
    assert done.returncode != 0 and os.path.exists(left)  # killed: nothing removed it
    monkeypatch.setattr(scratch, "_swept", True)  # this process's own first sweep is the next test's
    mine = ScratchFile(b"mine")  # this process is alive: its file stays
    other = tmp_path / "terf-studio-patch-notes.png"  # not named after a process: not ours to judge
    other.write_bytes(b"x")
    unrelated = tmp_path / "holiday.png"
    unrelated.write_bytes(b"x")
    assert sweep_orphans(tmp_path) == 1
    assert not os.path.exists(left) and os.path.exists(mine.path) and other.exists() and unrelated.exists()
    assert os.path.basename(mine.path).startswith(f"terf-studio-patch-{os.getpid()}-")


def test_the_first_scratch_file_of_a_process_sweeps_once(tmp_path, monkeypatch):
    monkeypatch.setenv("TERF_STUDIO_SCRATCH", str(tmp_path))
    calls = []
    monkeypatch.setattr(scratch, "_swept", False)
    monkeypatch.setattr(scratch, "sweep_orphans", lambda folder=None: calls.append(folder) or 0)
    first, second = ScratchFile(b"a"), ScratchFile(b"b")
    assert calls == [None] and first.read() == b"a" and second.read() == b"b"
