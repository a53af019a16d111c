"""working-memory-rnn over seeds: the BrainPy tutorial's table (loss and decision accuracy,
each the mean of the 100 steps ending at the step shown), per seed, from `circuitdsl train`
runs (one directory per seed).

    python bench/working_memory_seeds.py --seeds 1 2 3 --steps 2000 --out results/wm-seeds
"""
import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from circuitdsl.training_run import train_run  # noqa: E402

STEPS = (100, 200, 300, 500, 600, 1000, 1500, 2000)


def table(trace_path, window=100):
    data = np.genfromtxt(trace_path, delimiter=",", names=True)
    out = {}
    for s in STEPS:
        if s <= len(data):
            part = data[s - window:s]
            out[s] = (float(np.mean(part["loss"])), float(np.nanmean(part["accuracy"])))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--out", default="results/wm-seeds")
    args = ap.parse_args()
    rows = []
    for seed in args.seeds:
        out = Path(args.out) / f"seed{seed}"
        t0 = time.perf_counter()
        meta = train_run("working-memory-rnn", seed, out, steps=args.steps, progress=False)
        rows.append((seed, table(out / "trace.csv"), meta["metrics"], time.perf_counter() - t0))
    cols = [s for s in STEPS if s <= args.steps]
    print("| seed | " + " | ".join(f"{s}" for s in cols) + " | test acc. (500 trials) | s |")
    print("|---" * (len(cols) + 3) + "|")
    for seed, tab, metrics, secs in rows:
        print(f"| {seed} loss | " + " | ".join(f"{tab[s][0]:.4f}" for s in cols) + " | | |")
        print(f"| {seed} acc. | " + " | ".join(f"{tab[s][1]:.3f}" for s in cols) +
              f" | {metrics['test_accuracy_500_trials']:.3f} | {secs:.1f} |")


if __name__ == "__main__":
    main()
