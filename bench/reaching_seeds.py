"""Murray & Escola's Fig. 6 experiment: 21 networks per condition, the exact protocol.

    python bench/reaching_seeds.py --conditions interleaved,sl,1e-6 --seeds 21 --workers 2
    python bench/reaching_seeds.py --conditions sl,1e-6 --seeds 21 --batches 3   # t-test batches

Conditions: `interleaved` (eta_w 1e-4, no Hebbian), `sl` (sequential, supervised only, eta_w
1e-3), or a Hebbian rate such as `1e-6` (sequential, eta_w 1e-4). Batch b uses seeds
1000 b + 0..seeds-1. Prints median (and mean) test loss per target for each condition and
batch, the target-0 t-test (sl vs 1e-6) per batch, and the wall time; writes the per-network
values to --out (CSV) so docs tables can be redrawn.
"""
from __future__ import annotations

import argparse
import csv
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np


def condition_params(cond):
    if cond == "interleaved":
        return dict(protocol="interleaved", hebbian_rate=0.0)
    if cond == "sl":
        return dict(protocol="sequential", hebbian_rate=0.0)
    return dict(protocol="sequential", hebbian_rate=float(cond))


def one_network(args):
    cond, seed = args
    from circuitdsl.circuits.two_pathway_reaching import network_test_losses
    t0 = time.perf_counter()
    losses = network_test_losses(seed, **condition_params(cond))
    return cond, seed, losses, time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--conditions", default="interleaved,sl,1e-6")
    ap.add_argument("--seeds", type=int, default=21)
    ap.add_argument("--batches", type=int, default=1)
    ap.add_argument("--first-batch", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="reaching_seeds.csv")
    a = ap.parse_args(argv)
    conds = a.conditions.split(",")
    batches = range(a.first_batch, a.first_batch + a.batches)
    jobs = [(c, 1000 * b + s) for b in batches for c in conds for s in range(a.seeds)]
    t0 = time.perf_counter()
    results = []
    with ProcessPoolExecutor(a.workers) as pool:
        for k, r in enumerate(pool.map(one_network, jobs), 1):
            results.append(r)
            print(f"\r{k}/{len(jobs)} networks", end="", file=sys.stderr, flush=True)
    wall = time.perf_counter() - t0
    print(file=sys.stderr)
    with open(a.out, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["condition", "seed", "batch", "loss0", "loss1", "loss2", "loss3", "seconds"])
        for cond, seed, losses, sec in results:
            w.writerow([cond, seed, seed // 1000, *losses, f"{sec:.2f}"])
    from scipy.stats import ttest_ind
    for b in batches:
        print(f"batch {b} (seeds {1000 * b}..{1000 * b + a.seeds - 1})")
        by = {c: np.asarray([r[2] for r in results if r[0] == c and r[1] // 1000 == b])
              for c in conds}
        for c, L in by.items():
            med = " ".join(f"{v:.5f}" for v in np.median(L, axis=0))
            mean = " ".join(f"{v:.4f}" for v in L.mean(axis=0))
            extra = f"  (all targets: median {np.median(L):.5f})" if c == "interleaved" else ""
            print(f"  {c:12s} median {med}   mean {mean}{extra}")
        if "sl" in by and "1e-6" in by:
            t, p = ttest_ind(by["sl"][:, 0], by["1e-6"][:, 0])
            below = [int((by[c][:, 0] < 0.01).sum()) for c in ("sl", "1e-6")]
            print(f"  target 0, sl vs 1e-6: t = {t:.2f}, p = {p:.4f}; networks with loss < 0.01: "
                  f"sl {below[0]}/{a.seeds}, 1e-6 {below[1]}/{a.seeds}")
    print(f"{len(jobs)} networks x 56000 trials in {wall:.1f} s wall with {a.workers} workers "
          f"({np.mean([r[3] for r in results]):.2f} s per network)")


if __name__ == "__main__":
    main()
