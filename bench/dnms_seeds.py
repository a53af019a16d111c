"""dnms-reservoir learning over seeds: trials to criterion (95 of 100 consecutive trials with
error < 1), median error over the last 1000 trials, and the sign of the output for each trial
type tested without perturbations.

    python bench/dnms_seeds.py --seeds 0 1 2 ... --trials 10000 [--variant original] --out FILE.csv
"""
import argparse
import csv
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from circuitdsl.circuits import dnms_reservoir  # noqa: E402
from circuitdsl.experiment import run_trials  # noqa: E402


def trials_to_criterion(errors, window=100, need=95):
    ok = np.asarray(errors) < 1.0
    counts = np.convolve(ok, np.ones(window, dtype=int), mode="valid")
    hit = np.flatnonzero(counts >= need)
    return int(hit[0] + window) if len(hit) else None


def one(seed, trials, variant):
    runner = dnms_reservoir.DNMSRunner(dnms_reservoir.build(variant=variant), seed=seed)
    t0 = time.perf_counter()
    rows = run_trials(runner, trials, progress=False)
    seconds = time.perf_counter() - t0
    err = [float(r["error"]) for r in rows]
    outs = runner.outputs_without_perturbation(runner.sim.arrays["F"].copy())
    signs_ok = all(np.sign(np.mean(o[runner.task.resp:])) == np.sign(runner.task.target_of(k))
                   for k, o in enumerate(outs))
    return dict(variant=variant, seed=seed, trials=trials,
                criterion=trials_to_criterion(err),
                median_error_last_1000=round(float(np.median(err[-1000:])), 4),
                signs_correct=int(signs_ok), ms_per_trial=round(1000 * seconds / trials, 2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(20)))
    ap.add_argument("--trials", type=int, default=10000)
    ap.add_argument("--variant", default="original")
    ap.add_argument("--out", default="dnms-seeds.csv")
    args = ap.parse_args()
    with open(args.out, "w", newline="") as fh:
        w = None
        for seed in args.seeds:
            row = one(seed, args.trials, args.variant)
            print(row, flush=True)
            if w is None:
                w = csv.DictWriter(fh, list(row))
                w.writeheader()
            w.writerow(row)
            fh.flush()


if __name__ == "__main__":
    main()
