"""Where :func:`~terf_studio.recipes.batch.run_pair` runs: this machine's cores, or a Ray cluster.

Both hand out at most a few jobs beyond the number of workers (a job carries its pair's file
bytes, so a folder of thousands is never held in memory at once), yield results as they finish,
and on a stop start nothing new and let the running pairs finish. Each worker sets its torch
thread count so that workers x threads does not exceed the cores (oversubscribed threads make
every pair slower).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from terf_studio.errors import TerfError
from terf_studio.recipes.batch import PairJob, PairResult, run_pair


def _set_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def _start_worker(threads: int | None, barrier: Any) -> None:
    """A pool worker's start: its thread count, then wait (up to 2 min) until every worker has
    started, so the first one up does not take all the queued pairs while the others still load."""
    import threading

    _set_threads(threads)
    try:
        barrier.wait(timeout=120)
    except threading.BrokenBarrierError:  # a worker that never started: go on without it
        pass


def _pair_with_threads(job: PairJob, threads: int | None) -> PairResult:
    _set_threads(threads)
    return run_pair(job)


def default_threads(workers: int) -> int:
    """Torch threads per worker so that all workers together use this machine's cores once."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def _bounded(jobs: Iterator[PairJob], should_stop: Callable[[], bool], limit: int,
             submit: Callable[[PairJob], Any], wait: Callable[[list[Any]], Iterable[Any]],
             result: Callable[[Any, str], PairResult]) -> Iterator[PairResult]:
    """Keep at most ``limit`` jobs in flight (``submit`` returns a handle; ``wait`` returns the
    finished handles among those given), yield each result as it finishes, and once
    ``should_stop`` is true submit nothing more but let the running ones finish."""
    names: dict[Any, str] = {}  # handle -> pair name
    feeding = True
    while True:
        while feeding and len(names) < limit and not should_stop():
            job = next(jobs, None)
            if job is None:
                feeding = False
                break
            names[submit(job)] = job.name
        if should_stop():
            feeding = False
        if not names:
            return
        for handle in wait(list(names)):
            yield result(handle, names.pop(handle))


class LocalExecutor:
    """``workers`` processes on this machine (1: in this process, no pool to start)."""

    name = "local"

    def __init__(self, workers: int = 1, threads_per_worker: int | None = None) -> None:
        if workers < 1:
            raise TerfError("--workers must be at least 1")
        self.workers = workers
        self.threads = threads_per_worker or default_threads(workers)
        self._pool: Any = None

    def run(self, jobs: Iterator[PairJob], should_stop: Callable[[], bool]) -> Iterator[PairResult]:
        if self.workers == 1:
            import torch

            before = torch.get_num_threads()
            try:
                for job in jobs:
                    yield _pair_with_threads(job, self.threads)
                    if should_stop():
                        return
            finally:
                torch.set_num_threads(before)
            return
        import concurrent.futures as cf
        import multiprocessing

        # "spawn": a forked copy of a process that already runs torch threads can deadlock.
        context = multiprocessing.get_context("spawn")
        self._pool = cf.ProcessPoolExecutor(self.workers, mp_context=context, initializer=_start_worker,
                                            initargs=(self.threads, context.Barrier(self.workers)))
        for _ in range(self.workers):  # the pool starts a process per submission: start them all now
            self._pool.submit(_set_threads, None)
        pool = self._pool
        yield from _bounded(jobs, should_stop, 2 * self.workers, lambda job: pool.submit(run_pair, job),
                            lambda pending: cf.wait(pending, return_when=cf.FIRST_COMPLETED)[0],
                            lambda future, _name: future.result())

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class RayExecutor:
    """Ray tasks on the cluster at ``address`` (None: a local Ray instance with ``workers`` CPUs).

    Every node needs ``terf-studio`` installed (with the same models): the task function and the
    models are loaded from there, once per Ray worker process, which Ray keeps for later tasks.
    """

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None,
                 threads_per_worker: int | None = 1) -> None:
        try:
            import ray
        except ImportError:
            raise TerfError("the Ray executor needs Ray: pip install 'terf-studio[ray]'") from None
        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            try:
                ray.init(address=address, num_cpus=workers if address is None else None, include_dashboard=False,
                         configure_logging=False, log_to_driver=False)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                raise TerfError(f"cannot reach the Ray cluster {address or '(local)'}: "
                                f"{' '.join(str(exc).split())[:300]}") from None
            self._started = True
        self.workers = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.threads = threads_per_worker
        self._task = ray.remote(num_cpus=1)(_pair_with_threads)

    def run(self, jobs: Iterator[PairJob], should_stop: Callable[[], bool]) -> Iterator[PairResult]:
        ray = self._ray

        def result(ref: Any, name: str) -> PairResult:
            try:
                return ray.get(ref)
            except ray.exceptions.RayError as exc:  # the worker died (killed, out of memory)
                return PairResult(name, "failed", reason=f"the Ray task failed: {' '.join(str(exc).split())[:300]}")

        yield from _bounded(jobs, should_stop, 2 * self.workers, lambda job: self._task.remote(job, self.threads),
                            lambda pending: ray.wait(pending, num_returns=1)[0], result)

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False


def make_executor(name: str, workers: int | None = None, address: str | None = None,
                  threads_per_worker: int | None = None) -> LocalExecutor | RayExecutor:
    if name == "local":
        return LocalExecutor(workers or 1, threads_per_worker)
    if name == "ray":
        return RayExecutor(address, workers, threads_per_worker or 1)
    raise TerfError(f"unknown executor {name!r} (choose local or ray)")
