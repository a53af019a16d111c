"""Sweep speed: the same runs one after another vs a sweep on N local worker processes.

    python bench/sweep_speed.py [--circuit dnms-reservoir] [--runs 4] [--trials 800]
                                [--workers 2] [--root-seed 0]

Both sides run the same runs (seeds from SeedSequence(root_seed).spawn(runs)) with
`runs.run_one`, each into its own directory under a temporary folder:

- sequential: the runs one after another in this process, after a warm-up run that compiles
  (or loads) the kernel, so every timed run starts warm: the most favourable case for it;
- sweep: `circuitdsl.sweep.sweep(..., workers=N)`, wall time including starting the worker
  processes, their imports and loading the kernel from the disk cache.

Prints one JSON object: machine, versions, both times, the ratio sweep / sequential (goal on
2 cores with 2 workers: <= 0.6), the load average before and after, and whether the traces of
the two sides are identical (they must be).
"""
import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"     # one thread on both sides, as in the sweep's workers

import numba  # noqa: E402
import numpy as np  # noqa: E402

import circuitdsl  # noqa: E402
from circuitdsl.experiment import read_trace  # noqa: E402
from circuitdsl.runs import run_one  # noqa: E402
from circuitdsl.sweep import derive_seeds, sweep  # noqa: E402


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def load():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def same_traces(a, b):
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in read_trace(a)]
    return strip == [{k: v for k, v in r.items() if k != "seconds"} for r in read_trace(b)]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--circuit", default="dnms-reservoir")
    p.add_argument("--runs", type=int, default=4)
    p.add_argument("--trials", type=int, default=800)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--root-seed", type=int, default=0)
    args = p.parse_args()
    seeds = derive_seeds(args.runs, args.root_seed)
    load_before = load()
    with tempfile.TemporaryDirectory(prefix="sweep-speed-") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        run_one(args.circuit, seeds[0], {}, tmp / "warmup", trials=1, progress=False)
        warmup = time.perf_counter() - t0

        t0 = time.perf_counter()
        for s in seeds:
            run_one(args.circuit, s, {}, tmp / "sequential" / f"seed{s}", trials=args.trials,
                    progress=False)
        sequential = time.perf_counter() - t0

        t0 = time.perf_counter()
        rows = sweep(args.circuit, seeds=list(seeds), workers=args.workers,
                     out=tmp / "sweep", trials=args.trials, progress=False)
        parallel = time.perf_counter() - t0

        identical = all(same_traces(tmp / "sequential" / f"seed{r['seed']}" / "trace.csv",
                                    tmp / "sweep" / r["run"] / "trace.csv") for r in rows)
        statuses = sorted({r["status"] for r in rows})
    result = dict(
        command=" ".join([Path(sys.executable).name] + sys.argv),
        machine=dict(platform=platform.platform(), machine=platform.machine(), cpu=cpu_model(),
                     cores=os.cpu_count()),
        versions=dict(python=platform.python_version(), numpy=np.__version__,
                      numba=numba.__version__, circuitdsl=circuitdsl.__version__),
        circuit=args.circuit, runs=args.runs, trials=args.trials, workers=args.workers,
        seeds=seeds, warmup_seconds=round(warmup, 2),
        sequential_seconds=round(sequential, 2), sweep_seconds=round(parallel, 2),
        ratio=round(parallel / sequential, 3), goal_ratio=0.6,
        sweep_run_seconds=[r["seconds"] for r in rows], statuses=statuses,
        traces_identical=identical, load_average_before=load_before,
        load_average_after=load(), utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
