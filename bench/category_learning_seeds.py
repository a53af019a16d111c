"""The category-learning acceptance run: 400 trials per seed, mean(correct) over trials 100-400,
on the reference stimulus set (if present) and on the shipped generated set.

    python bench/category_learning_seeds.py --seeds 1 2 3 4 5 6 7 [--stimuli shipped|reference|both] --out FILE.csv

Each run is `circuitdsl run category-learning --trials 400 --seed S` (same code path).
"""
import argparse
import csv
import time
from pathlib import Path

import numpy as np

from circuitdsl.agent import Agent
from circuitdsl.circuits import category_learning
from circuitdsl.environments import ClassificationEnvironment
from circuitdsl.circuits._classification import run_experiment

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "stimuli_set.csv"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--trials", type=int, default=400)
    ap.add_argument("--out", default="category-learning-seeds.csv")
    ap.add_argument("--stimuli", choices=("shipped", "reference", "both"), default="both")
    ap.add_argument("--dt", type=float, default=0.05)
    args = ap.parse_args()
    sets = [("shipped", None)] + ([("reference", str(REFERENCE))] if REFERENCE.exists() else [])
    sets = [s for s in sets if args.stimuli in (s[0], "both")]
    rows = []
    for name, path in sets:
        for seed in args.seeds:
            c = category_learning.build(stimuli=path)
            agent = Agent(c, dt=args.dt, seed=seed)
            t0 = time.perf_counter()
            trace = run_experiment(agent, ClassificationEnvironment(c["stim"]), args.trials,
                                   progress=False)
            correct = np.asarray([r["correct"] for r in trace], dtype=float)
            row = dict(stimuli=name, seed=seed, trials=args.trials, dt=args.dt,
                       acc_1_100=round(correct[:100].mean(), 3),
                       acc_100_400=round(correct[99:].mean(), 3),
                       seconds=round(time.perf_counter() - t0, 1))
            rows.append(row)
            print(row, flush=True)
    with open(args.out, "w", newline="") as fh:
        w = csv.DictWriter(fh, list(rows[0]))
        w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    main()
