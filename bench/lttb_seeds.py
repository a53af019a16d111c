"""lttb-trajectory learning over seeds: outer variance at every test (every 5 iterations) and
the inner error at the first and last test, one row per seed, plus medians.

    python bench/lttb_seeds.py --protocol head --epochs 5 --iterations 50 --seeds 1 2 3 4 5 \
        --out lttb-head.csv
"""
import argparse
import csv
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from circuitdsl.circuits import lttb_trajectory  # noqa: E402
from circuitdsl.experiment import run_trials  # noqa: E402


def one(seed, protocol, epochs, iterations):
    circuit = lttb_trajectory.build(protocol=protocol, epochs=epochs, iterations=iterations)
    runner = lttb_trajectory.LTTBRunner(circuit, seed=seed)
    t0 = time.perf_counter()
    rows = run_trials(runner, epochs * iterations, progress=False)
    seconds = time.perf_counter() - t0
    tested = [r for r in rows if r["outer_variance"] != ""]
    ov = {int(r["iteration"]): float(r["outer_variance"]) for r in tested}
    ie = [float(r["inner_error"]) for r in tested]
    last = epochs * iterations
    out = dict(protocol=protocol, seed=seed, first_test=ov[min(ov)])
    for e in range(1, epochs + 1):
        out[f"it{e * iterations}"] = ov.get(e * iterations)
    out.update(inner_first=ie[0], inner_last=ie[-1], inner_fall=ie[0] / ie[-1],
               s_per_iteration=seconds / last)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--protocol", default="head")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--iterations", type=int, default=50)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--out", default="lttb-seeds.csv")
    args = ap.parse_args()
    rows = []
    with open(args.out, "w", newline="") as fh:
        w = None
        for seed in args.seeds:
            row = one(seed, args.protocol, args.epochs, args.iterations)
            rows.append(row)
            print({k: (round(v, 6) if isinstance(v, float) else v) for k, v in row.items()},
                  flush=True)
            if w is None:
                w = csv.DictWriter(fh, list(row))
                w.writeheader()
            w.writerow(row)
            fh.flush()
    keys = [k for k in rows[0] if k not in ("protocol", "seed")]
    print("median", {k: round(float(np.median([r[k] for r in rows])), 6) for k in keys})


if __name__ == "__main__":
    main()
