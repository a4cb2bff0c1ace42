"""``terf-studio bench fuse``: seconds per pair and peak memory of each configuration.

Pairs are synthetic, 640x480 unless ``--size WxH`` says otherwise (up to the 179 MP limit);
images larger than one tile are fused in overlapping tiles (``--tile``, 0 for one whole-image
pass: on a large image that takes many gigabytes). ``--uint8`` passes 8-bit inputs and an 8-bit
output array instead of float32 images (what a reader that keeps 8 bits would hold).

Each configuration runs in a fresh Python process so its peak memory is its own:
``peak_rss_mb`` is that process's high-water resident memory (``ru_maxrss``), and
``inference_rss_mb`` is the part added by fusing (peak minus the resident memory after torch
and the network were loaded). On CUDA the peak allocated GPU memory is reported too.
Timing does not depend on the weights' values, so a configuration without trained weights is
timed with random weights (``weights`` says which).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Any

from terf_studio.bench import row_from_fresh_process
from terf_studio.cli.common import ARCHES
from terf_studio.memory import peak_resident_mb

WIDTH, HEIGHT = 640, 480
SLOW_ON_CPU = {"full": 2}  # at ~30 s per pair on 2 cores, two timed runs are enough


def parse_size(text: str) -> tuple[int, int]:
    """``"8000x6000"`` -> (8000, 6000) (width, height)."""
    from terf_studio.errors import TerfError
    from terf_studio.imaging.io import MAX_PIXELS

    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise TerfError(f"size '{text}' is not WIDTHxHEIGHT (for example 8000x6000)") from None
    if w < 2 or h < 2 or w * h > MAX_PIXELS:
        raise TerfError(f"size '{text}' must be at least 2x2 and at most {MAX_PIXELS:,} pixels")
    return w, h


def _synthetic_pair(width: int, height: int, uint8: bool, empty: Any = None) -> tuple[Any, Any]:
    """Smooth structure plus noise, built a band of rows at a time (no full-size temporaries)
    into arrays from ``empty`` (default ``np.empty``)."""
    import numpy as np

    empty = empty or np.empty
    dtype = np.uint8 if uint8 else np.float32
    vi = empty((height, width, 3), dtype)
    ir = empty((height, width), dtype)
    rng = np.random.default_rng(0)
    x = np.arange(width, dtype=np.float32) / 97.0
    scale = 255.0 if uint8 else 1.0
    for y0 in range(0, height, 256):
        y = np.arange(y0, min(y0 + 256, height), dtype=np.float32)[:, None] / 89.0
        base = 0.5 + 0.3 * np.sin(x + y) * np.cos(0.7 * y)
        for c in range(3):
            band = base + 0.1 * np.sin((c + 1) * x) + rng.normal(0, 0.03, base.shape)
            vi[y0 : y0 + len(y), :, c] = np.clip(band, 0, 1) * scale
        ir[y0 : y0 + len(y)] = np.clip(1.0 - base + rng.normal(0, 0.03, base.shape), 0, 1) * scale
    return vi, ir


def _worker(arch: str, device_name: str, repeats: int, width: int = WIDTH, height: int = HEIGHT,
            tile: int | None = None, uint8: bool = False) -> dict:
    import numpy as np
    import torch

    from terf_studio.device import describe_device, resolve_device
    from terf_studio.fusion import Fuser, build_network, count_parameters
    from terf_studio.fusion.checkpoint import load_network
    from terf_studio.fusion.tiled import FUSION_MARGIN
    from terf_studio.weights.registry import find_model

    device = resolve_device(device_name)
    path = find_model(f"fusion-{arch}")
    fuser = Fuser(load_network(path, arch)[0] if path else build_network(arch), device, path)
    if tile is not None:
        fuser.tile = tile if tile > 0 else 10**9  # 0: one whole-image pass
    loaded_rss = peak_resident_mb()
    vi, ir = _synthetic_pair(width, height, uint8)
    out = np.empty((height, width, 3), np.uint8 if uint8 else np.float32)
    inputs_mb = (vi.nbytes + ir.nbytes + out.nbytes) / 2**20
    if device.type == "cpu":
        repeats = min(repeats, SLOW_ON_CPU.get(arch, repeats))
    large = width * height > 4 * WIDTH * HEIGHT
    if large:
        repeats = 1  # one timed run; a warm-up would double a run of minutes
    times = []
    for i in range(repeats + (0 if large else 1)):  # the first run warms up allocators and kernels
        t0 = time.perf_counter()
        fuser.fuse(vi, ir, out=out)  # numpy in and out, as users call it (the copy back synchronises CUDA)
        if i or large:
            times.append(time.perf_counter() - t0)
    row = {
        "arch": arch,
        "parameters": count_parameters(fuser.net),
        "weights": str(path) if path else "random (no trained weights found; timing only)",
        "device": describe_device(device),
        "size": f"{width}x{height}",
        "tile": fuser.tile if width * height > (fuser.tile + 2 * FUSION_MARGIN) ** 2 else None,
        "inputs": "uint8" if uint8 else "float32",
        "arrays_mb": round(inputs_mb, 1),
        "runs": len(times),
        "seconds_per_pair": statistics.median(times),
        "seconds_min": min(times),
        "peak_rss_mb": round(peak_resident_mb(), 1),
        "inference_rss_mb": round(peak_resident_mb() - loaded_rss - inputs_mb, 1),
    }
    if device.type == "cuda":
        row["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return row


def bench_fuse(archs: list[str], repeats: int = 5, device: str = "auto", size: tuple[int, int] = (WIDTH, HEIGHT),
               tile: int | None = None, uint8: bool = False) -> list[dict]:
    args = [device, str(repeats), str(size[0]), str(size[1]), "" if tile is None else str(tile),
            "uint8" if uint8 else "float32"]
    return [row_from_fresh_process("terf_studio.bench.fuse", [arch, *args], arch) for arch in archs]


def format_fuse_table(rows: list[dict]) -> str:
    lines = [f"{'arch':<6} {'params':>10} {'size':>11} {'tile':>6} {'s/pair':>8} {'peak RSS MB':>12} "
             f"{'arrays MB':>10} {'+inference MB':>14}  device"]
    for r in rows:
        tile = str(r.get("tile") or "-")
        lines.append(
            f"{r['arch']:<6} {r['parameters']:>10,} {r['size']:>11} {tile:>6} {r['seconds_per_pair']:>8.3f} "
            f"{r['peak_rss_mb']:>12.0f} {r.get('arrays_mb', 0):>10.0f} {r['inference_rss_mb']:>14.0f}  {r['device']}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    a = sys.argv
    print(json.dumps(_worker(a[1], a[2], int(a[3]), int(a[4]), int(a[5]), int(a[6]) if a[6] else None,
                             a[7] == "uint8")))


NAME = "fuse"
HELP = "seconds per pair (640x480 or --size WxH) and peak memory, lite and full"


def add_arguments(p: Any) -> None:
    p.add_argument("--arch", action="append", choices=ARCHES, help="only these (default: lite and full)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--device", default="auto")
    p.add_argument("--size", default=f"{WIDTH}x{HEIGHT}", help="synthetic pair size WxH (default 640x480)")
    p.add_argument("--tile", type=int, help="tile side in pixels (default: the network's; 0: no tiles)")
    p.add_argument("--uint8", action="store_true", help="8-bit input and output arrays instead of float32")
    p.add_argument("--json", action="store_true")


def run(args: Any) -> int:
    import json

    rows = bench_fuse(args.arch or ["lite", "full"], repeats=args.repeats, device=args.device,
                      size=parse_size(args.size), tile=args.tile, uint8=args.uint8)
    print(json.dumps(rows, indent=2) if args.json else format_fuse_table(rows))
    return 0
