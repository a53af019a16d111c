"""sweep(): check and plan, lock the directory, skip what is done, run the rest on a backend,
and keep summary.csv up to date after every finished run."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from circuitdsl.dirlock import DirLock
from circuitdsl.sweep.dask_backend import import_distributed, run_dask
from circuitdsl.sweep.local import run_local
from circuitdsl.sweep.planning import (SweepError, check_circuit, check_grid,
                                       check_parameters, describe_run, plan, seed_list)
from circuitdsl.sweep.state import number, old_seconds, run_state
from circuitdsl.sweep.summary import columns, plot_summary, public_row, write_summary
from circuitdsl.sweep.worker import one_line


def check_options(workers, trials, scheduler, dask_local):
    """The number of workers (default: the cores), refusing bad workers, trials or backends."""
    if scheduler and dask_local:
        raise SweepError("use either --scheduler ADDRESS or --dask-local, not both")
    workers = (os.cpu_count() or 1) if workers is None else workers
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise SweepError(f"--workers must be >= 1, got {workers!r}")
    if trials is not None and (isinstance(trials, bool) or not isinstance(trials, int) or
                               trials < 1):
        raise SweepError(f"--trials must be >= 1, got {trials!r}")
    if scheduler or dask_local:
        import_distributed()   # a clear message before anything is written
    return workers


def sweep(circuit, seeds=1, grid=None, workers=None, scheduler=None, out="results/sweep",
          trials=None, root_seed=0, progress=True, dask_local=False, params=None):
    """Run `circuit` (a shipped name or a .py file) for every seed at every grid point.

    seeds: a number of runs per grid point (seeds derived from `root_seed`) or a list of seeds.
    grid: {parameter: [values]}; the runs cover the Cartesian product. params: fixed parameters
    (as `--set`). workers: local processes, or the LocalCluster size with `dask_local`;
    `scheduler` is the address of a running Dask scheduler (its workers decide the parallelism).
    Returns one dict per run (grid values, seed, metrics, seconds, status, error), the rows of
    out/summary.csv.
    """
    params = dict(params or {})
    workers = check_options(workers, trials, scheduler, dask_local)
    grid = check_grid(grid, params)
    seeds_ = seed_list(seeds, root_seed)
    source = check_circuit(circuit)
    check_parameters(source, grid, params, label=str(circuit))
    out = Path(out).expanduser().resolve()   # workers may run elsewhere (Dask): absolute paths
    runs = plan(seeds_, grid)
    grid_keys = list(grid)
    title = Path(source).stem if source.endswith(".py") else source
    with DirLock(out, what="sweep"):
        seconds_before = old_seconds(out / "summary.csv")
        rows, tasks = {}, []
        for run in runs:
            run["dir"] = out / run["name"]
            run_params = {**params, **run["point"]}
            state, meta = run_state(run["dir"], run["seed"], source, run_params, trials)
            base = dict(run=run["name"], **run["point"], seed=run["seed"], _k=run["k"])
            if state == "done":
                seconds = number(seconds_before.get(run["name"]) or
                                 meta.get("seconds_this_session", ""))
                rows[run["name"]] = dict(base, seconds=seconds, status="done", error="",
                                         _metrics=dict(meta.get("metrics") or {}))
            else:
                tasks.append(dict(describe_run(run, source, run_params, trials,
                                               resume=state == "resume"), _base=base))
        description = dict(circuit=source, set=params, grid=grid, seeds=seeds_,
                           root_seed=None if isinstance(seeds, (list, tuple)) else root_seed,
                           trials=trials, runs=[r["name"] for r in runs])
        tmp = out / "sweep.json.tmp"
        tmp.write_text(json.dumps(description, indent=2, default=str))
        os.replace(tmp, out / "sweep.json")
        write_summary(out / "summary.csv", list(rows.values()), grid_keys)

        from tqdm import tqdm
        bar = tqdm(total=len(runs), initial=len(rows), unit="run", disable=not progress,
                   desc=title)
        n_failed = 0

        def on_result(task, result):
            nonlocal n_failed
            base = task["_base"]
            rows[base["run"]] = dict(base, seconds=result["seconds"], status=result["status"],
                                     error=result["error"], _metrics=result["metrics"])
            write_summary(out / "summary.csv", list(rows.values()), grid_keys)
            n_failed += result["status"] == "failed"
            bar.update(1)
            if n_failed:
                bar.set_postfix(failed=n_failed)
            if result["status"] == "failed" and progress:
                bar.write(f"{base['run']}: failed: {result['error']}", file=sys.stderr)

        try:
            if tasks:
                if scheduler or dask_local:
                    run_dask(tasks, workers, scheduler, on_result)
                else:
                    run_local(tasks, min(workers, len(tasks)), on_result)
        finally:
            bar.close()
            write_summary(out / "summary.csv", list(rows.values()), grid_keys)
            try:
                plot_summary(out / "summary.png", list(rows.values()), grid_keys, title=title)
            except Exception as err:   # a figure never costs the results
                print(f"circuitdsl: warning: summary.png not drawn: {one_line(err)}",
                      file=sys.stderr)
    ordered = sorted(rows.values(), key=lambda r: r["_k"])
    metrics = columns(ordered)
    return [public_row(r, metrics) for r in ordered]
