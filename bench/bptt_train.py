"""Gradient training speed: 2000 Adam steps of working-memory-rnn (64 ReLU units, batch 16 x
100 steps), data generation included, side by side with the same model in plain JAX.

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python bench/bptt_train.py --steps 2000 \
        [--jax /tmp/jaxvenv/bin/python]

circuitdsl is timed on: the data alone (2000 windows from a fresh dataset), and the whole
train() loop (data + forward + backward + Adam), after a warm-up that loads the compiled
kernels. With --jax, bench/peers/jax_rnn.py runs in that interpreter on neurogym's data (if
that environment has neurogym) and on circuitdsl's windows saved to a file (training loop
alone), in the same run; the ratios are printed at the end.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent


def ours(steps, seed, save=None):
    import numba
    from circuitdsl.circuits import working_memory_rnn
    from circuitdsl.tasks import SequenceDataset
    from circuitdsl.train import program_for, train
    c = working_memory_rnn.build()
    task = c.meta["training"]["task"]()
    t0 = time.perf_counter()
    program = program_for(c, seed)
    train(c, task, steps=2, seed=seed, progress=False, program=program)   # load kernels
    load_s = time.perf_counter() - t0
    ds = SequenceDataset(task, 16, 100, seed=seed)
    t0 = time.perf_counter()
    windows = [ds() for _ in range(steps)]
    data_s = time.perf_counter() - t0
    if save:
        np.savez(save, x=np.stack([w[0] for w in windows]), y=np.stack([w[1] for w in windows]))
    c = working_memory_rnn.build()
    program = program_for(c, seed)
    t0 = time.perf_counter()
    res = train(c, task, steps=steps, seed=seed, progress=False, program=program)
    seconds = time.perf_counter() - t0
    _, loss, acc = res.smoothed()[-1]
    return dict(tool="circuitdsl", steps=steps, seconds=round(seconds, 3),
                data_seconds=round(data_s, 3), compile_or_load_seconds=round(load_s, 3),
                loss_last_100=round(loss, 5), accuracy_last_100=round(acc, 4),
                numba=numba.__version__, numpy=np.__version__,
                python=platform.python_version())


ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def peer(python, data, steps, one_thread=False):
    cmd = [python, str(HERE / "peers" / "jax_rnn.py"), "--data", data, "--steps", str(steps)]
    env = dict(os.environ, XLA_FLAGS=ONE_THREAD) if one_thread else None
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        return dict(tool="jax", data=data, error=out.stderr.strip().splitlines()[-1:])
    row = json.loads(out.stdout.strip().splitlines()[-1])
    row["threads"] = "1" if one_thread else "XLA default"
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3,
                    help="alternate the tools this many times; medians are reported")
    ap.add_argument("--jax", help="a Python interpreter that has jax (and maybe neurogym)")
    args = ap.parse_args()
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        saved = str(Path(tmp) / "windows.npz") if args.jax else None
        for rep in range(args.repeats):
            plan = [("circuitdsl", lambda: ours(args.steps, args.seed, saved))]
            if args.jax:
                plan += [("JAX, data pre-generated", lambda: peer(args.jax, saved, args.steps)),
                         ("JAX 1 thread, data pre-generated",
                          lambda: peer(args.jax, saved, args.steps, True))]
                if rep == 0:   # neurogym's data generation alone takes seconds
                    plan.append(("JAX + neurogym data", lambda: peer(args.jax, "neurogym",
                                                                     args.steps)))
            for name, run in plan:
                row = run()
                print(json.dumps(row), flush=True)
                runs.setdefault(name, []).append(row)
    med = {k: float(np.median([r["seconds"] for r in v if "seconds" in r] or [np.nan]))
           for k, v in runs.items()}
    ours_s = med["circuitdsl"]
    data_s = float(np.median([r["data_seconds"] for r in runs["circuitdsl"]]))
    print(f"\n{args.steps} steps, medians of {args.repeats} alternating runs "
          f"(JAX + neurogym: 1 run); wall seconds of the loop, data included")
    print("| implementation | seconds | ratio to circuitdsl |\n|---|---|---|")
    print(f"| circuitdsl (data {data_s:.2f} s of it) | {ours_s:.2f} | 1.00 |")
    for name, value in med.items():
        if name != "circuitdsl":
            print(f"| {name} | {value:.2f} | {value / ours_s:.2f} |")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
          f"{platform.python_version()}", file=sys.stderr)


if __name__ == "__main__":
    main()
