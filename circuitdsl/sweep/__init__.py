"""Sweeps: many runs of one circuit over seeds and a parameter grid, in parallel.

    rows = sweep("dnms-reservoir", seeds=20, grid={"max_dw": [1e-4, 3e-4]}, workers=2,
                 out="results/dnms-sweep", trials=2000)

Every run is the pure call `runs.run_one(circuit, seed, params, out=DIR/run-<k>-<tag>-seed<S>,
trials=...)`, so a sweep's run with seed S writes the same files as `circuitdsl run ... --seed
S`. Only the description of a run (circuit name or file path, parameters, seed, trials, run
directory) travels to a worker; each worker builds the circuit itself and loads the compiled
kernel from the disk cache. Workers are local processes (spawned, never forked: Numba and fork
do not mix) or the workers of a Dask cluster; each uses one thread.

`--seeds K` means K runs per grid point with seeds derived from one root seed through
`numpy.random.SeedSequence(root_seed).spawn(K)`; the first K seeds of a larger K are the same,
and run directories are numbered seed-major, so adding seeds to a finished sweep only adds runs.

Nothing is lost: summary.csv is rewritten (atomically) after every finished run; re-running the
same sweep skips finished runs, resumes interrupted ones from their checkpoint and retries failed
ones. A run that raises is recorded as `failed` with its one-line error, and the sweep goes on.

The modules, in the order a sweep uses them:

    planning      seeds, grid parsing and checking (against the circuit's parameters too),
                  the list of runs and their directory names, the task sent to a worker
    state         what is already done in the directory: skip, resume or start each run
    driver        sweep() itself: check, plan, lock (circuitdsl.dirlock), run, summarise
    local         the local backend: a pool of spawned processes, retrying around a dead worker
    dask_backend  the Dask backend (an existing scheduler or a LocalCluster)
    worker        run_task, the unit of work in a worker; the one-thread environment
    watchdog      a worker's thread that ends it when its sweep is gone
    summary       summary.csv and summary.png

Nothing in this package imports NumPy, Numba or Matplotlib at import time: a spawned worker
imports it before its one-thread environment is in place.
"""
from circuitdsl.sweep.dask_backend import DASK_MISSING
from circuitdsl.sweep.driver import sweep
from circuitdsl.sweep.planning import SweepError, derive_seeds, parse_grid, plan
from circuitdsl.sweep.summary import RESERVED, headline_metric, plot_summary, write_summary
from circuitdsl.sweep.worker import THREAD_ENV, run_task

__all__ = ["DASK_MISSING", "RESERVED", "THREAD_ENV", "SweepError", "derive_seeds",
           "headline_metric", "parse_grid", "plan", "plot_summary", "run_task", "sweep",
           "write_summary"]
