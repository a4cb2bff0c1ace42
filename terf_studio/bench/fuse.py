"""``terf-studio bench fuse``: seconds per 640x480 pair and peak memory of each configuration.

Each configuration runs in a fresh Python process so its peak memory is its own:
``peak_rss_mb`` is that process's high-water resident memory (``ru_maxrss``), and
``inference_rss_mb`` is the part added by fusing (peak minus the resident memory after torch
and the network were loaded). On CUDA the peak allocated GPU memory is reported too.
Timing does not depend on the weights' values, so a configuration without trained weights is
timed with random weights (``weights`` says which).
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

WIDTH, HEIGHT = 640, 480
SLOW_ON_CPU = {"full": 2}  # at ~30 s per pair on 2 cores, two timed runs are enough


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _worker(arch: str, device_name: str, repeats: int) -> dict:
    import numpy as np
    import torch

    from terf_studio.device import describe_device, resolve_device
    from terf_studio.fusion import Fuser, build_network, count_parameters
    from terf_studio.fusion.checkpoint import load_network
    from terf_studio.weights.registry import find_model

    device = resolve_device(device_name)
    path = find_model(f"fusion-{arch}")
    fuser = Fuser(load_network(path, arch)[0] if path else build_network(arch), device, path)
    rng = np.random.default_rng(0)
    ir = rng.random((HEIGHT, WIDTH), dtype=np.float32)
    vi = rng.random((HEIGHT, WIDTH, 3), dtype=np.float32)
    if device.type == "cpu":
        repeats = min(repeats, SLOW_ON_CPU.get(arch, repeats))
    loaded_rss = _rss_mb()
    times = []
    for i in range(repeats + 1):  # the first run warms up allocators and kernels
        t0 = time.perf_counter()
        fuser.fuse(vi, ir)  # numpy in and out, as users call it (the copy back synchronises CUDA)
        if i:
            times.append(time.perf_counter() - t0)
    row = {
        "arch": arch,
        "parameters": count_parameters(fuser.net),
        "weights": str(path) if path else "random (no trained weights found; timing only)",
        "device": describe_device(device),
        "size": f"{WIDTH}x{HEIGHT}",
        "runs": len(times),
        "seconds_per_pair": statistics.median(times),
        "seconds_min": min(times),
        "peak_rss_mb": round(_rss_mb(), 1),
        "inference_rss_mb": round(_rss_mb() - loaded_rss, 1),
    }
    if device.type == "cuda":
        row["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return row


def bench_fuse(archs: list[str], repeats: int = 5, device: str = "auto") -> list[dict]:
    rows = []
    for arch in archs:
        cmd = [sys.executable, "-m", "terf_studio.bench.fuse", arch, device, str(repeats)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            from terf_studio.errors import TerfError

            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise TerfError(f"benchmark of '{arch}' failed: {last}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return rows


def format_fuse_table(rows: list[dict]) -> str:
    lines = [f"{'arch':<6} {'params':>10} {'s/pair':>8} {'peak RSS MB':>12} {'+inference MB':>14}  device"]
    for r in rows:
        lines.append(
            f"{r['arch']:<6} {r['parameters']:>10,} {r['seconds_per_pair']:>8.3f} {r['peak_rss_mb']:>12.0f} "
            f"{r['inference_rss_mb']:>14.0f}  {r['device']}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(json.dumps(_worker(sys.argv[1], sys.argv[2], int(sys.argv[3]))))


NAME = "fuse"
HELP = "seconds per 640x480 pair and peak memory, lite and full"


def add_arguments(p: Any) -> None:
    p.add_argument("--arch", action="append", choices=["lite", "full"], help="only these (default: both)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true")


def run(args: Any) -> int:
    import json

    rows = bench_fuse(args.arch or ["lite", "full"], repeats=args.repeats, device=args.device)
    print(json.dumps(rows, indent=2) if args.json else format_fuse_table(rows))
    return 0
