"""A 176 MP document through the real session and project code, with its memory sampled.

    packaging/run-with-memory-limit.sh 1024 .venv/bin/python packaging/large-document-check.py P.terf OUT.png

Opens a synthetic 16000x11000 pair (the fusion given as a blend of the pair), brightens a
1000x1000 region, blurs the whole image, saves the project to P.terf, reopens it, undoes twice,
redoes and exports a 16-bit PNG to OUT.png. After each stage it prints the time and the
anonymous and resident memory (README, "Large documents live on disk"). A third argument
``save-only`` stops after the save, leaving a project for ``terf-studio gui P.terf``.
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np

from terf_studio.bench.fuse import _synthetic_pair
from terf_studio.document.project import load_project, save_project
from terf_studio.document.session import EditSession
from terf_studio.fusion import load_fuser
from terf_studio.imaging import store, write_image
from terf_studio.language import Edit, Task
from terf_studio.memory import anonymous_mb, resident_mb
from terf_studio.regions import Mask

WIDTH, HEIGHT = 16000, 11000


class Sampler:
    """The highest anonymous and resident memory seen, read every 5 ms on a thread."""

    def __init__(self) -> None:
        self.anon = self.rss = 0.0
        self.start = time.time()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            self.anon = max(self.anon, anonymous_mb() or 0.0)
            self.rss = max(self.rss, resident_mb())
            time.sleep(0.005)

    def say(self, stage: str) -> None:
        print(f"{time.time() - self.start:7.1f} s  {stage}: anonymous now {anonymous_mb() or 0:.0f} MB, "
              f"peak anonymous {self.anon:.0f} MB, peak resident {self.rss:.0f} MB", flush=True)


def main(project: str, export: str, save_only: bool) -> None:
    sampler = Sampler()
    vi, ir = _synthetic_pair(WIDTH, HEIGHT, uint8=True, empty=store.empty)
    fused = store.empty(vi.shape, np.uint8)
    for top in range(0, HEIGHT, 512):
        rows = slice(top, top + 512)
        fused[rows] = ((vi[rows].astype(np.uint16) + ir[rows, :, None]) // 2).astype(np.uint8)
    session = EditSession(vi, ir, load_fuser("lite", device="cpu"), fused=fused)
    del vi, ir, fused
    sampler.say("document open")
    region = store.empty((HEIGHT, WIDTH), np.float32)
    side = min(1000, HEIGHT // 4, WIDTH // 4)
    region[HEIGHT // 2 - side // 2 : HEIGHT // 2 + side // 2, WIDTH // 2 - side // 2 : WIDTH // 2 + side // 2] = 1.0
    session.apply([Edit("region", Task.BRIGHTEN)], [Mask(region, label="region")], engine="fast")
    del region
    sampler.say("region brightened")
    session.apply([Edit(None, Task.BLUR)], engine="fast")
    sampler.say("whole image blurred")
    save_project(session, project)
    sampler.say("project saved")
    if save_only:
        return
    probe = session.current16[::97, ::89].copy()
    del session
    reopened = load_project(project, device="cpu")
    sampler.say("project reopened")
    if not np.array_equal(reopened.current16[::97, ::89], probe):
        raise SystemExit("the reopened project differs from the saved document")
    reopened.undo()
    reopened.undo()
    sampler.say("undone twice")
    reopened.redo()
    reopened.redo()
    write_image(export, reopened.current16, bit_depth=16)
    sampler.say("exported a 16-bit PNG")


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2], len(sys.argv) == 4 and sys.argv[3] == "save-only")
