"""The unit of work of a sweep, as it runs in a worker process (local pool or Dask).

`run_task` takes the plain description of one run (planning.describe_run) and never raises: a
run that fails is a result with status 'failed' and its one-line error, and the sweep goes on.
Nothing here imports NumPy or Numba at module level: a spawned worker imports this package
before the one-thread settings in THREAD_ENV are in its environment.
"""
from __future__ import annotations

import os
import socket
import time

from circuitdsl.sweep.watchdog import Watchdog

#: One thread per worker for Numba, OpenMP and the BLAS behind np.dot.
THREAD_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "MKL_NUM_THREADS": "1"}


class ThreadEnv:
    """Set the one-thread variables in os.environ while workers start; restore afterwards."""

    def __enter__(self):
        self.saved = {k: os.environ.get(k) for k in THREAD_ENV}
        os.environ.update(THREAD_ENV)
        return self

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def one_line(err):
    """'Type: message' on one line (summary.csv cells and progress lines)."""
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    text = " | ".join(lines)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def run_task(task):
    """Run one described run; never raises: returns status, metrics, seconds and error."""
    os.environ.update(THREAD_ENV)       # before numba/numpy are first imported in this worker
    owner = task.get("owner")
    if owner and owner["host"] == socket.gethostname():
        Watchdog.of_process(owner["pid"]).start()   # no-op if this worker already has one
    t0 = time.perf_counter()
    try:
        from circuitdsl.runs import run_one   # the worker's first import is not the run's time
        t0 = time.perf_counter()
        meta = run_one(task["circuit"], task["seed"], task["params"], task["out"],
                       trials=task["trials"], resume=task["resume"],
                       overwrite=task.get("overwrite", False), progress=False)
        return dict(status="done", metrics=dict(meta.get("metrics") or {}),
                    seconds=round(time.perf_counter() - t0, 3), error="")
    except Exception as err:   # recorded in summary.csv; the sweep goes on
        return dict(status="failed", metrics={}, seconds=round(time.perf_counter() - t0, 3),
                    error=one_line(err))


def outcome(future):
    """A future's result; a worker that died (BrokenProcessPool, KilledWorker) is a failed
    run, not an exception."""
    try:
        return future.result()
    except Exception as err:
        return dict(status="failed", metrics={}, seconds="",
                    error=one_line(err) + " (the worker process died)")
