"""dnms-reservoir learning over seeds, as Miconi's figure script measures it.

Per seed: trials to criterion under Miconi's definition (more than 95 of 100 consecutive
trials with error < 1, reported as the 0-based index of the window's last trial; empty if
never reached) and, beside it, the circuit's former one (at least 95 of 100, 1-based); the
median error over trials 9000-10000 (the last 1000 of a 10 000-trial run); and whether the
output has the right sign for each trial type when tested without perturbations.

    python bench/dnms_seeds.py --seeds 0 1 2 ... --trials 10000 [--variant original] \\
        --out FILE.csv [--errors DIR] [--resume]
    python bench/dnms_seeds.py --summarize FILE.csv

Each seed's row is written (and flushed) as soon as it finishes, so an interrupted run keeps
the seeds done; --resume skips the seeds already in FILE.csv. --errors DIR saves each seed's
per-trial errors (DIR/seed<N>.npy). The summary counts a run that never reaches criterion as
its number of trials (10 000), as the paper's median does; percentiles are NumPy's default
(linear), as in the original script. The sign test runs the four trial types with the final
weights and no perturbations and checks the sign of the mean output over the response window.
"""
import argparse
import csv
import os
import platform
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from circuitdsl.circuits import dnms_reservoir  # noqa: E402
from circuitdsl.experiment import run_trials  # noqa: E402

FINAL = slice(9000, 10000)


def one(seed, trials, variant, errors_dir=None):
    runner = dnms_reservoir.DNMSRunner(dnms_reservoir.build(variant=variant), seed=seed)
    t0 = time.perf_counter()
    rows = run_trials(runner, trials, progress=False)
    seconds = time.perf_counter() - t0
    err = np.asarray([float(r["error"]) for r in rows])
    if errors_dir:
        np.save(os.path.join(errors_dir, f"seed{seed}.npy"), err)
    outs = runner.outputs_without_perturbation(runner.sim.state(("F",))["F"])
    signs_ok = all(np.sign(np.mean(o[runner.task.resp:])) == np.sign(runner.task.target_of(k))
                   for k, o in enumerate(outs))
    final = err[FINAL] if len(err) > FINAL.start else err[-1000:]
    crit = dnms_reservoir.trials_to_criterion(err)
    former = dnms_reservoir.trials_to_criterion_at_least(err)
    return dict(variant=variant, seed=seed, trials=trials,
                criterion="" if crit is None else crit,
                criterion_former="" if former is None else former,
                median_error_9000_10000=round(float(np.median(final)), 4),
                signs_correct=int(signs_ok), ms_per_trial=round(1000 * seconds / trials, 2))


def summarize(path):
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return f"{path}: no seeds yet"
    n = len(rows)
    length = [int(r["trials"]) for r in rows]
    crit = np.asarray([int(r["criterion"]) if r["criterion"] != "" else length[i]
                       for i, r in enumerate(rows)], dtype=float)
    reached = sum(r["criterion"] != "" for r in rows)
    former = np.asarray([int(r["criterion_former"]) if r["criterion_former"] != "" else length[i]
                         for i, r in enumerate(rows)], dtype=float)
    final = np.asarray([float(r["median_error_9000_10000"]) for r in rows])
    signs = sum(int(r["signs_correct"]) for r in rows)
    ms = np.asarray([float(r["ms_per_trial"]) for r in rows])
    q25, q50, q75 = np.percentile(crit, [25, 50, 75])
    f25, f50, f75 = np.percentile(former, [25, 50, 75])
    return "\n".join([
        f"{n} seeds ({', '.join(r['seed'] for r in rows)}), {rows[0]['variant']}, "
        f"{length[0]} trials each",
        f"criterion ({dnms_reservoir.CRITERION_TEXT}; never reached counts as the run length): "
        f"median {q50:g}, IQR {q25:g}-{q75:g}, range {crit.min():g}-{crit.max():g}",
        f"runs reaching criterion: {reached} of {n}",
        f"former criterion (>= 95 of 100, 1-based): median {f50:g}, IQR {f25:g}-{f75:g}",
        f"median error over trials 9000-10000: median over seeds {np.median(final):.4f} "
        f"(range {final.min():.4f}-{final.max():.4f})",
        f"signs right for all four types without perturbations: {signs} of {n}",
        f"ms per trial: median {np.median(ms):.1f} (range {ms.min():.1f}-{ms.max():.1f})",
    ])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(40)))
    ap.add_argument("--trials", type=int, default=10000)
    ap.add_argument("--variant", default="original")
    ap.add_argument("--out", default="dnms-seeds.csv")
    ap.add_argument("--errors", default=None, help="directory for per-seed error arrays")
    ap.add_argument("--resume", action="store_true", help="skip seeds already in --out")
    ap.add_argument("--summarize", metavar="CSV", help="only summarize an existing result file")
    args = ap.parse_args()
    if args.summarize:
        print(summarize(args.summarize))
        return
    import numba
    print(f"python {platform.python_version()}, numpy {np.__version__}, numba "
          f"{numba.__version__}, {platform.machine()}, {os.cpu_count()} cores", flush=True)
    print("command: python " + " ".join(sys.argv), flush=True)
    if args.errors:
        os.makedirs(args.errors, exist_ok=True)
    done = set()
    if args.resume and os.path.exists(args.out):
        with open(args.out, newline="") as fh:
            done = {int(r["seed"]) for r in csv.DictReader(fh)}
    mode = "a" if done else "w"
    with open(args.out, mode, newline="") as fh:
        w = None
        for seed in args.seeds:
            if seed in done:
                continue
            row = one(seed, args.trials, args.variant, args.errors)
            print(row, flush=True)
            if w is None:
                w = csv.DictWriter(fh, list(row))
                if mode == "w":
                    w.writeheader()
            w.writerow(row)
            fh.flush()
    print(summarize(args.out), flush=True)


if __name__ == "__main__":
    main()
