"""Running independent tasks (cross-validation folds, bootstrap resamples) in local processes or on a Dask cluster,
with identical results: every task computes single-threaded, and a failed task is retried once, then reported."""

from __future__ import annotations

import contextlib
import os
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterator, Sequence

from ._values import scheduler_address
from .errors import LvmdError


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """One torch thread and one BLAS/OpenMP thread inside the block: results do not depend on the executor and
    parallel workers do not oversubscribe the cores."""
    import torch
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(threads)


def connect(scheduler: str | None):
    """A Dask client for ``local:N`` (a LocalCluster of N single-threaded workers) or ``tcp://HOST:PORT``; None
    (local processes) for no scheduler. The address is checked first (``local:0`` would wait forever); an
    unreachable scheduler fails within 10 s."""
    if scheduler in (None, "", "processes"):
        return None
    scheduler_address(scheduler)
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise LvmdError("--scheduler needs dask.distributed: pip install 'lvmd[dist]'") from None
    if scheduler.startswith("local:"):
        n = int(scheduler.split(":", 1)[1])
        return Client(LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None))
    try:
        return Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise LvmdError(f"--scheduler {scheduler}: no Dask scheduler answered within 10 s ({exc})") from None


def check_scheduler(scheduler: str | None) -> None:
    """Fail now, before any work, when the address is malformed or a remote scheduler does not answer."""
    if scheduler in (None, "", "processes"):
        return
    scheduler_address(scheduler)
    if scheduler.startswith("tcp://"):
        connect(scheduler).close()


def _close(client) -> None:
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


@contextlib.contextmanager
def process_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A :class:`~concurrent.futures.ProcessPoolExecutor` that stops at once when the block fails.

    On success the pool shuts down as usual. On any exception -- Ctrl-C, SIGTERM (see
    :func:`lvmd.outputs.signals_raise`), an error -- tasks not yet started are cancelled and the worker processes
    are terminated, instead of the executor's default of waiting for every submitted task to finish.
    """
    pool = ProcessPoolExecutor(workers)
    try:
        yield pool
    except BaseException:
        workers_now = list((getattr(pool, "_processes", None) or {}).values())  # no public way to stop running tasks
        pool.shutdown(wait=False, cancel_futures=True)
        for process in workers_now:
            with contextlib.suppress(Exception):
                process.terminate()
        raise
    pool.shutdown(wait=True)


def run_tasks(fn: Callable, tasks: Sequence, scheduler: str | None = None, workers: int | None = None,
              progress: Callable[[int, int], None] | None = None) -> tuple[list, list]:
    """Run ``fn`` on every task (each has a ``key``), retrying a failed one once.

    Returns (results sorted by their ``key``, failures as (key, reason)).
    """
    client = connect(scheduler)
    results, failures, done = [], [], 0
    total = len(tasks)

    def note() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total)

    try:
        if client is None:
            with process_pool(max(1, min(workers or os.cpu_count() or 1, total))) as pool:
                futures = {pool.submit(fn, t): (t, 0) for t in tasks}
                while futures:
                    for fut in [f for f in futures if f.done()]:
                        task, attempt = futures.pop(fut)
                        try:
                            results.append(fut.result())
                            note()
                        except Exception as exc:  # noqa: BLE001 - any task failure is retried then reported
                            if attempt == 0:
                                futures[pool.submit(fn, task)] = (task, 1)
                            else:
                                failures.append((task.key, f"{type(exc).__name__}: {exc}"))
                                note()
                    time.sleep(0.02)
        else:
            from dask.distributed import as_completed

            futures = {client.submit(fn, t, pure=False, retries=1): t for t in tasks}
            for fut in as_completed(list(futures)):
                try:
                    results.append(fut.result())
                except Exception as exc:  # noqa: BLE001
                    failures.append((futures[fut].key, f"{type(exc).__name__}: {exc}"))
                note()
    finally:
        if client is not None:
            _close(client)
    results.sort(key=lambda r: r.key)
    return results, failures
