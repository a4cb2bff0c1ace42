"""``terf-studio bench batch``: pairs per second of ``terf-studio batch`` on RoadScene test pairs.

Two recipes: fusion only (no step), and two steps with the fast engines ("brighten the road",
its region found again on every pair, then "denoise" the whole image). Each runs with the local
executor at 1 and 2 worker processes and with Ray on a local instance of as many CPUs. The
seconds include starting the workers (processes, or Ray's) and loading the models in each,
which is what a user waits for. The Ray overhead per task is measured apart: the round trip of
an empty task, and of one that carries a pair's bytes.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from terf_studio.language import Edit, Task

NAME = "batch"
HELP = "pairs per second of batch recipes: local executor (1, 2 workers) and Ray on this machine"


def two_step_recipe() -> Any:
    from terf_studio.recipes import Recipe, RecipeEdit, RecipeStep

    return Recipe((
        RecipeStep("brighten the road", (RecipeEdit(Edit("road", Task.BRIGHTEN), "find"),), "fast"),
        RecipeStep("denoise", (RecipeEdit(Edit(None, Task.DENOISE), "whole"),), "fast"),
    ), arch="lite", name="brighten the road, denoise")


def fuse_only_recipe() -> Any:
    from terf_studio.recipes import Recipe

    return Recipe((), arch="lite", name="fusion only")


def ray_task_overhead(tasks: int = 100, payload: bytes = b"") -> float:
    """Milliseconds per task for ``tasks`` trivial Ray tasks carrying ``payload`` (Ray running)."""
    import ray

    @ray.remote(num_cpus=1)
    def echo(data: bytes) -> int:
        return len(data)

    ray.get([echo.remote(payload) for _ in range(4)])  # workers started
    start = time.perf_counter()
    ray.get([echo.remote(payload) for _ in range(tasks)])
    return (time.perf_counter() - start) * 1000.0 / tasks


def measure(recipe: Any, pairs: list, executor: Any) -> dict[str, Any]:
    from terf_studio.recipes.batch import BatchOptions, run_batch

    with tempfile.TemporaryDirectory(prefix="terf-bench-batch-") as out:
        start = time.perf_counter()
        summary = run_batch(recipe, pairs, out, BatchOptions(), executor)
        seconds = time.perf_counter() - start
    per_pair = [r.seconds for r in summary.records if r.status == "done"]
    return {"recipe": recipe.name, "executor": executor.name, "workers": executor.workers,
            "pairs": len(pairs), "done": summary.count("done"), "failed": summary.count("failed"),
            "seconds": round(seconds, 2), "pairs_per_second": round(summary.count("done") / seconds, 3),
            "mean_seconds_in_worker": round(sum(per_pair) / max(1, len(per_pair)), 3),
            "failures": [{"pair": r.pair, "step": r.step, "reason": r.reason}
                         for r in summary.records if r.status == "failed"]}


def run(args: Any) -> int:
    from terf_studio.bench.edit import DEFAULT_PAIR
    from terf_studio.bench.tasks import roadscene_test_pairs
    from terf_studio.recipes.executors import LocalExecutor, RayExecutor

    data = Path(args.data) if args.data else DEFAULT_PAIR
    pairs = roadscene_test_pairs(data, args.pairs)
    rows = []
    for recipe in (fuse_only_recipe(), two_step_recipe()):
        for workers in (1, 2):
            row = measure(recipe, pairs, LocalExecutor(workers))
            rows.append(row)
            print(f"{row}", file=sys.stderr, flush=True)
    overhead: dict[str, float] = {}
    if not args.no_ray:
        import ray

        ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
        try:
            for recipe in (fuse_only_recipe(), two_step_recipe()):
                row = measure(recipe, pairs, RayExecutor(workers=2))
                rows.append(row)
                print(f"{row}", file=sys.stderr, flush=True)
            pair_bytes = pairs[0].vi.read_bytes() + pairs[0].ir.read_bytes()
            overhead = {"empty_task_ms": round(ray_task_overhead(200), 3),
                        "task_with_a_pair_ms": round(ray_task_overhead(200, pair_bytes), 3),
                        "pair_bytes": len(pair_bytes)}
        finally:
            ray.shutdown()
    result = {"pairs": len(pairs), "rows": rows, "ray_overhead": overhead}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{'recipe':<28}{'executor':<10}{'workers':>8}{'done':>6}{'failed':>7}{'s':>9}{'pairs/s':>9}"
              f"{'s/pair in worker':>18}")
        for r in rows:
            print(f"{r['recipe']:<28}{r['executor']:<10}{r['workers']:>8}{r['done']:>6}{r['failed']:>7}"
                  f"{r['seconds']:>9.1f}{r['pairs_per_second']:>9.2f}{r['mean_seconds_in_worker']:>18.3f}")
        if overhead:
            print(f"Ray overhead per task: {overhead['empty_task_ms']:.2f} ms empty, "
                  f"{overhead['task_with_a_pair_ms']:.2f} ms carrying a pair ({overhead['pair_bytes']} bytes)")
    return 0


def add_arguments(p: Any) -> None:
    p.add_argument("--pairs", type=int, default=50, help="the first N RoadScene test pairs (default 50)")
    p.add_argument("--data", help="RoadScene folder with vi/, ir/, split.json (default ../shared/data/roadscene)")
    p.add_argument("--no-ray", action="store_true", help="skip the Ray rows")
    p.add_argument("--json", action="store_true")
