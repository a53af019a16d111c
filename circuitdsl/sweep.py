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
"""
from __future__ import annotations

import csv
import hashlib
import itertools
import json
import math
import os
import re
import signal
import socket
import sys
import threading
import time
import uuid
from pathlib import Path

#: One thread per worker for Numba, OpenMP and the BLAS behind np.dot.
THREAD_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "MKL_NUM_THREADS": "1"}
DASK_MISSING = ('Dask is not installed; install it with: pip install "circuitdsl[dask]" '
                '(or pip install "dask[distributed]")')
RESERVED = ("run", "seed", "seconds", "status", "error")


class SweepError(ValueError):
    """A sweep that cannot start (bad seeds, grid, workers, or a run directory in the way)."""


# ---- planning ---------------------------------------------------------------------------------

def derive_seeds(n, root_seed=0):
    """`n` run seeds (0 <= seed < 2**31) from one root seed, via SeedSequence.spawn."""
    import numpy as np
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise SweepError(f"--seeds must be a positive number of runs, got {n!r}")
    children = np.random.SeedSequence(int(root_seed)).spawn(int(n))
    return [int(c.generate_state(1)[0] % 2**31) for c in children]


def _seed_list(seeds, root_seed):
    if isinstance(seeds, (list, tuple)):
        out = []
        for s in seeds:
            if isinstance(s, bool) or not isinstance(s, int) and not hasattr(s, "__index__"):
                raise SweepError(f"seeds must be integers, got {s!r}")
            if int(s) < 0:
                raise SweepError(f"seeds must be >= 0, got {int(s)}")
            out.append(int(s))
        if not out:
            raise SweepError("seeds is an empty list")
        if len(set(out)) != len(out):
            raise SweepError(f"seeds has duplicates: {out}")
        return out
    return derive_seeds(seeds, root_seed)


def _tag(point):
    """Directory-safe text for one grid point, e.g. 'eta=0.1_VAC-_AC.weight=3'."""
    if not point:
        return ""
    text = "_".join(f"{k}={v}" for k, v in point.items())
    text = re.sub(r"[^A-Za-z0-9._=+-]", "_", text)
    if len(text) > 80:
        digest = hashlib.sha1(text.encode()).hexdigest()[:8]
        text = f"{text[:70]}-{digest}"
    return text


def plan(seeds, grid=None):
    """The runs of a sweep in order (seed-major): dicts with k, name, seed and point."""
    grid = dict(grid or {})
    keys = list(grid)
    points = [dict(zip(keys, values)) for values in itertools.product(*grid.values())]
    total = len(points) * len(seeds)
    width = max(4, len(str(total - 1)))
    runs = []
    for seed in seeds:
        for point in points:
            k = len(runs)
            tag = _tag(point)
            name = f"run-{k:0{width}d}-{tag}-seed{seed}" if tag else f"run-{k:0{width}d}-seed{seed}"
            runs.append(dict(k=k, name=name, seed=seed, point=point))
    return runs


def parse_grid(items, cast=str):
    """--grid NAME.PARAM=V1,V2,... items (repeatable) -> {name: [cast(value), ...]}."""
    out = {}
    for item in items or []:
        key, sep, values = item.partition("=")
        parts = values.split(",")
        if not sep or not key.strip() or not values or any(not v.strip() for v in parts):
            raise SweepError(f"--grid expects NAME.PARAM=V1,V2,... (comma-separated values), "
                             f"got '{item}'")
        if key in out:
            raise SweepError(f"--grid '{key}' is given twice")
        out[key] = [cast(v.strip()) for v in parts]
    return out


def _check_grid(grid, params):
    grid = dict(grid or {})
    for key, values in grid.items():
        if not isinstance(key, str) or not key:
            raise SweepError(f"grid parameter names must be non-empty strings, got {key!r}")
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise SweepError(f"grid '{key}' needs a list of values, got {values!r}")
        values = list(values)
        if not values:
            raise SweepError(f"grid '{key}' has no values")
        if len({json.dumps(v, default=str) for v in values}) != len(values):
            raise SweepError(f"grid '{key}' repeats a value: {values}")
        if key in params:
            raise SweepError(f"'{key}' is both fixed (--set) and swept (--grid)")
        if key in RESERVED:
            raise SweepError(f"'{key}' cannot be a grid parameter name (a summary column)")
        grid[key] = values
    return grid


def _check_circuit(circuit):
    """A file circuit becomes an absolute path (workers may start elsewhere); a name must be a
    shipped circuit. Fails before any worker starts."""
    text = str(circuit)
    if text.endswith(".py"):
        path = Path(text).expanduser()
        if not path.is_file():
            raise SweepError(f"no circuit file '{circuit}'")
        return str(path.resolve())
    from circuitdsl.runs import shipped_circuits
    shipped = shipped_circuits()
    if text not in shipped:
        raise SweepError(f"unknown circuit '{circuit}'; ready circuits: "
                         f"{', '.join(sorted(shipped))} (or pass a .py file)")
    return text


def _normalise(params):
    return json.loads(json.dumps(params, default=str))


def _read_meta(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None   # missing, or cut short by a kill while being written: run it again


def _state(run, circuit, params, trials):
    """'done' (with its run.json), 'resume' or 'fresh' for one planned run."""
    out = run["dir"]
    meta = _read_meta(out / "run.json")
    if meta is None:
        return "fresh", None
    same = (meta.get("seed") == run["seed"] and meta.get("circuit_source") == circuit and
            ("set" not in meta or meta["set"] == _normalise(params)))
    if not same:
        raise SweepError(f"'{out}' holds a different run (circuit {meta.get('circuit_source')}, "
                         f"seed {meta.get('seed')}, parameters {meta.get('set')}); "
                         "use another --out for a different sweep")
    if "trials" not in meta:           # a plain simulation writes run.json once, at its end
        return "done", meta
    wanted = trials if trials is not None else meta.get("trials")
    done = meta.get("n_trials_done")
    if done is not None and wanted is not None and done > wanted:
        raise SweepError(f"'{out}' already holds {done} trials, more than the {wanted} asked "
                         "for; use another --out")
    if "finished" in meta and done == wanted:
        return "done", meta
    if (out / "checkpoint.npz").exists():
        return "resume", meta
    return "fresh", None


# ---- the unit of work (runs in a worker) ------------------------------------------------------

def _one_line(err):
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    text = " | ".join(lines)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


_watching = False


def _owner_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:     # a killed, not yet reaped owner is a zombie
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _watch(alive, period=0.1):
    """Exit this worker as soon as the sweep that started it is gone (killed), so that no
    orphan goes on writing into a run directory that a re-started sweep resumes."""
    def loop():
        while alive():
            time.sleep(period)
        os._exit(3)
    threading.Thread(target=loop, name="circuitdsl-sweep-watchdog", daemon=True).start()


def _init_worker(owner_pid):
    """Process-pool initializer: one thread, Ctrl-C is the parent's, die with the parent."""
    os.environ.update(THREAD_ENV)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _watching
    _watching = True
    _watch(lambda: os.getppid() == owner_pid)


def run_task(task):
    """Run one described run; never raises: returns status, metrics, seconds and error."""
    global _watching
    os.environ.update(THREAD_ENV)       # before numba/numpy are first imported in this worker
    owner = task.get("owner")
    if owner and not _watching and owner["host"] == socket.gethostname():
        _watching = True
        _watch(lambda: _owner_alive(owner["pid"]))
    t0 = time.perf_counter()
    try:
        from circuitdsl.runs import run_one   # the worker's first import is not the run's time
        t0 = time.perf_counter()
        meta = run_one(task["circuit"], task["seed"], task["params"], task["out"],
                       trials=task["trials"], resume=task["resume"], progress=False)
        return dict(status="done", metrics=dict(meta.get("metrics") or {}),
                    seconds=round(time.perf_counter() - t0, 3), error="")
    except Exception as err:   # recorded in summary.csv; the sweep goes on
        return dict(status="failed", metrics={}, seconds=round(time.perf_counter() - t0, 3),
                    error=_one_line(err))


def _outcome(future):
    try:
        return future.result()
    except Exception as err:   # the worker itself died (BrokenProcessPool, KilledWorker)
        return dict(status="failed", metrics={}, seconds="",
                    error=_one_line(err) + " (the worker process died)")


# ---- backends -----------------------------------------------------------------------------------

class _ThreadEnv:
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


def _run_local(tasks, workers, on_result):
    """Run tasks on `workers` spawned processes, at most `workers` in flight. A worker that
    dies (a crash, the out-of-memory killer) breaks the pool: the runs in flight then are
    retried one at a time in a new pool, so only the run that kills its worker is `failed`."""
    with _ThreadEnv():   # workers start on demand, and inherit the environment then
        pending, suspects = list(tasks), []
        while pending or suspects:
            suspects = _run_pool(pending, suspects, workers, on_result)


def _run_pool(pending, suspects, workers, on_result):
    """One process pool, until all tasks are done or a worker dies; returns the suspects (the
    runs in flight when a worker died; each is then run alone)."""
    import concurrent.futures as cf
    import multiprocessing as mp
    from concurrent.futures.process import BrokenProcessPool
    ex = cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                initializer=_init_worker, initargs=(os.getpid(),))
    running, broken, finished = {}, False, False
    try:
        while pending or suspects or running:
            isolating = bool(suspects) or any(t.get("_suspect") for t in running.values())
            while (suspects or pending) and len(running) < (1 if isolating else workers):
                task = suspects.pop(0) if suspects else pending.pop(0)
                try:
                    running[ex.submit(run_task, task)] = task
                except BrokenProcessPool:
                    (suspects if task.get("_suspect") else pending).insert(0, task)
                    broken = True
                    break
            if broken:
                break
            done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for f in done:
                try:
                    result = f.result()
                except BrokenProcessPool:
                    broken = True       # judged below, with the other runs in flight
                    continue
                except Exception:       # e.g. a result that cannot be sent back
                    result = _outcome(f)
                on_result(running.pop(f), result)
            if broken:
                break
        finished = True
    finally:
        if not finished or broken:   # Ctrl-C, an error, or a dead worker
            procs = list((getattr(ex, "_processes", None) or {}).values())
            for p in procs:
                p.terminate()
            for p in procs:
                p.join(5)
        ex.shutdown(wait=True, cancel_futures=True)
    in_flight = list(running.values())
    if len(in_flight) == 1:        # alone in the pool: this run killed its worker
        on_result(in_flight[0], dict(
            status="failed", metrics={}, seconds="",
            error="the worker process died during this run (a crash, or killed by the "
                  "system, e.g. out of memory)"))
        return suspects
    return [dict(t, _suspect=True) for t in in_flight] + suspects


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise SweepError(DASK_MISSING) from None
    return distributed


def _run_dask(tasks, workers, scheduler, on_result):
    distributed = _import_distributed()
    cluster = None
    env = _ThreadEnv()
    env.__enter__()
    try:
        if scheduler:
            try:
                client = distributed.Client(scheduler, timeout="20s")
            except OSError as err:
                raise SweepError(f"cannot reach the Dask scheduler at {scheduler}: "
                                 f"{_one_line(err)}") from None
        else:
            cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                               processes=True, dashboard_address=None)
            client = distributed.Client(cluster)
            owner = dict(host=socket.gethostname(), pid=os.getpid())
            tasks = [dict(t, owner=owner) for t in tasks]
        futures = []
        try:
            batch = uuid.uuid4().hex[:8]
            futures = [client.submit(run_task, t, pure=False,
                                     key=f"circuitdsl-{batch}-{Path(t['out']).name}")
                       for t in tasks]
            by_key = {f.key: t for f, t in zip(futures, tasks)}
            for f in distributed.as_completed(futures):
                on_result(by_key[f.key], _outcome(f))
        finally:
            if futures:
                client.cancel(futures)
            client.close()
    finally:
        if cluster is not None:
            cluster.close()
        env.__exit__()


# ---- summary ------------------------------------------------------------------------------------

def _columns(rows):
    metrics = []
    for r in rows:
        for m in r.get("_metrics", {}):
            if m not in metrics:
                metrics.append(m)
    return metrics


def _metric_column(name):
    return f"metric_{name}" if name in RESERVED else name


def _as_cell(value):
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value if isinstance(value, (int, float, str)) else json.dumps(value, default=str)


def write_summary(path, rows, grid_keys):
    """summary.csv, one row per finished run (done or failed), written atomically."""
    path = Path(path)
    metrics = _columns(rows)
    header = ["run", *grid_keys, "seed", *[_metric_column(m) for m in metrics], "seconds",
              "status", "error"]
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in sorted(rows, key=lambda r: r["_k"]):
            w.writerow([r["run"], *[_as_cell(r[k]) for k in grid_keys], r["seed"],
                        *[_as_cell(r["_metrics"].get(m)) for m in metrics],
                        _as_cell(r["seconds"]), r["status"], r["error"]])
    os.replace(tmp, path)


def _public(row, metrics):
    out = {k: v for k, v in row.items() if not k.startswith("_")}
    out.update({_metric_column(m): row["_metrics"].get(m) for m in metrics})
    return out


def _finite(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(value)


def headline_metric(rows):
    """The first metric that has a finite number in some finished run (None if none)."""
    for m in _columns(rows):
        if any(_finite(r["_metrics"].get(m)) for r in rows if r["status"] == "done"):
            return m
    return None


def plot_summary(path, rows, grid_keys, title=""):
    """summary.png: the headline metric against the first swept parameter (one line per value
    of the others), each seed a dot and the mean +- standard deviation over seeds; without a
    grid, the metric per seed. Returns the metric plotted, or None (nothing to plot)."""
    metric = headline_metric(rows)
    if metric is None:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    done = [r for r in rows if r["status"] == "done" and _finite(r["_metrics"].get(metric))]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    if not grid_keys:
        done.sort(key=lambda r: r["_k"])
        y = np.asarray([float(r["_metrics"][metric]) for r in done])
        ax.plot(range(len(y)), y, "o", color="k")
        ax.axhline(y.mean(), color="0.4", ls="--", lw=1,
                   label=f"mean {y.mean():.4g} ± {y.std():.2g} (sd)")
        ax.set_xticks(range(len(y)), [str(r["seed"]) for r in done], rotation=45, fontsize=7)
        ax.set_xlabel("seed")
        ax.legend(frameon=False)
    else:
        first, rest = grid_keys[0], grid_keys[1:]
        values = []
        for r in rows:
            if r[first] not in values:
                values.append(r[first])
        numeric = all(_finite(v) for v in values)
        xpos = {v: (float(v) if numeric else i) for i, v in enumerate(values)}
        groups = {}
        for r in done:
            groups.setdefault(tuple(r[k] for k in rest), []).append(r)
        for g, (label, members) in enumerate(groups.items()):
            xs, means, sds = [], [], []
            colour = f"C{g % 10}"
            for v in values:
                y = [float(r["_metrics"][metric]) for r in members if r[first] == v]
                if not y:
                    continue
                xs.append(xpos[v])
                means.append(np.mean(y))
                sds.append(np.std(y))
                ax.plot([xpos[v]] * len(y), y, ".", color=colour, alpha=0.35)
            name = ", ".join(f"{k}={v}" for k, v in zip(rest, label)) or None
            ax.errorbar(xs, means, yerr=sds, color=colour, marker="o", capsize=3, label=name)
        if not numeric:
            ax.set_xticks(range(len(values)), [str(v) for v in values])
        elif len(values) > 2 and min(values) > 0 and max(values) / min(values) >= 100:
            ax.set_xscale("log")
        ax.set_xlabel(first)
        if rest:
            ax.legend(frameon=False, fontsize=8)
    n_failed = sum(r["status"] == "failed" for r in rows)
    ax.set_ylabel(metric)
    ax.set_title(f"{title}: {len(done)} runs" + (f", {n_failed} failed" if n_failed else "") +
                 " (mean ± sd over seeds)" * bool(grid_keys), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return metric


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return ""


def _old_seconds(path):
    try:
        with open(path, newline="") as fh:
            return {r["run"]: r.get("seconds", "") for r in csv.DictReader(fh)}
    except (OSError, KeyError, csv.Error):
        return {}


class _Lock:
    """One sweep at a time in a directory (released by the OS if the sweep is killed)."""

    def __init__(self, out):
        self.path = Path(out) / ".sweep.lock"
        self.fh = None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:   # not POSIX: no lock
            return self
        self.fh = open(self.path, "w")
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.fh.close()
            raise SweepError(f"another sweep is running in '{self.path.parent}'") from None
        self.fh.write(f"{socket.gethostname()} {os.getpid()}\n")
        self.fh.flush()
        return self

    def __exit__(self, *exc):
        if self.fh:
            self.fh.close()


# ---- the sweep ----------------------------------------------------------------------------------

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
    if scheduler and dask_local:
        raise SweepError("use either --scheduler ADDRESS or --dask-local, not both")
    workers = (os.cpu_count() or 1) if workers is None else workers
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise SweepError(f"--workers must be >= 1, got {workers!r}")
    if trials is not None and (isinstance(trials, bool) or not isinstance(trials, int) or
                               trials < 1):
        raise SweepError(f"--trials must be >= 1, got {trials!r}")
    if scheduler or dask_local:
        _import_distributed()   # a clear message before anything is written
    grid = _check_grid(grid, params)
    seed_list = _seed_list(seeds, root_seed)
    source = _check_circuit(circuit)
    out = Path(out).expanduser().resolve()   # workers may run elsewhere (Dask): absolute paths
    runs = plan(seed_list, grid)
    grid_keys = list(grid)
    out.mkdir(parents=True, exist_ok=True)
    with _Lock(out):
        old_seconds = _old_seconds(out / "summary.csv")
        rows, tasks = {}, []
        for run in runs:
            run["dir"] = out / run["name"]
            run_params = {**params, **run["point"]}
            state, meta = _state(run, source, run_params, trials)
            base = dict(run=run["name"], **run["point"], seed=run["seed"], _k=run["k"])
            if state == "done":
                seconds = _number(old_seconds.get(run["name"]) or
                                  meta.get("seconds_this_session", ""))
                rows[run["name"]] = dict(base, seconds=seconds, status="done", error="",
                                         _metrics=dict(meta.get("metrics") or {}))
            else:
                tasks.append(dict(circuit=source, seed=run["seed"], params=run_params,
                                  out=str(run["dir"]), trials=trials,
                                  resume=state == "resume", _base=base))
        description = dict(circuit=source, set=params, grid=grid, seeds=seed_list,
                           root_seed=None if isinstance(seeds, (list, tuple)) else root_seed,
                           trials=trials, runs=[r["name"] for r in runs])
        tmp = out / "sweep.json.tmp"
        tmp.write_text(json.dumps(description, indent=2, default=str))
        os.replace(tmp, out / "sweep.json")
        write_summary(out / "summary.csv", list(rows.values()), grid_keys)

        from tqdm import tqdm
        bar = tqdm(total=len(runs), initial=len(rows), unit="run", disable=not progress,
                   desc=Path(source).stem if source.endswith(".py") else source)
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
                    _run_dask(tasks, workers, scheduler, on_result)
                else:
                    _run_local(tasks, min(workers, len(tasks)), on_result)
        finally:
            bar.close()
            write_summary(out / "summary.csv", list(rows.values()), grid_keys)
            try:
                plot_summary(out / "summary.png", list(rows.values()), grid_keys,
                             title=Path(source).stem if source.endswith(".py") else source)
            except Exception as err:   # a figure never costs the results
                print(f"circuitdsl: warning: summary.png not drawn: {_one_line(err)}",
                      file=sys.stderr)
    ordered = sorted(rows.values(), key=lambda r: r["_k"])
    metrics = _columns(ordered)
    return [_public(r, metrics) for r in ordered]
