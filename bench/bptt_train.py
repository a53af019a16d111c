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


def peer(python, data, steps):
    cmd = [python, str(HERE / "peers" / "jax_rnn.py"), "--data", data, "--steps", str(steps)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        return dict(tool="jax", data=data, error=out.stderr.strip().splitlines()[-1:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jax", help="a Python interpreter that has jax (and maybe neurogym)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        saved = str(Path(tmp) / "windows.npz") if args.jax else None
        rows = [ours(args.steps, args.seed, saved)]
        print(json.dumps(rows[0]), flush=True)
        if args.jax:
            for data in ("neurogym", saved):
                rows.append(peer(args.jax, data, args.steps))
                print(json.dumps(rows[-1]), flush=True)
    base = rows[0]["seconds"]
    print(f"\ncircuitdsl: {base:.2f} s for {args.steps} steps, data included "
          f"({rows[0]['data_seconds']:.2f} s of it data)")
    for r in rows[1:]:
        if "seconds" in r:
            kind = "neurogym data" if r["data"] == "neurogym" else "data pre-generated"
            print(f"JAX {r['version']} ({kind}): {r['seconds']:.2f} s "
                  f"(+{r['compile_seconds']:.2f} s jit) -> JAX / circuitdsl = "
                  f"{r['seconds'] / base:.2f}")
        else:
            print(f"JAX ({r['data']}): failed: {r['error']}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
          f"{platform.python_version()}", file=sys.stderr)


if __name__ == "__main__":
    main()
