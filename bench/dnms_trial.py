"""Time per 1-s trial with learning of dnms-reservoir, both variants (circuitdsl side).

    python bench/dnms_trial.py [--trials 200]

Peers for the side-by-side table: bench/peers/miconi_numpy.py and miconi_annarchy.py
(see bench/peers/MICONI.md); run them in the same session for ratios.
"""
import argparse
import json
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from circuitdsl.circuits import dnms_reservoir  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=200)
    args = ap.parse_args()
    out = {}
    for variant in ("original", "sparse"):
        runner = dnms_reservoir.DNMSRunner(dnms_reservoir.build(variant=variant), seed=0)
        runner.trial(1)                                  # compile / load the cache
        times = []
        for k in range(2, args.trials + 2):
            t0 = time.perf_counter()
            runner.trial(100 + k)                        # past learn_after: learning on
            times.append(time.perf_counter() - t0)
        out[variant] = dict(ms_per_trial_median=round(1000 * float(np.median(times)), 2),
                            ms_per_trial_mean=round(1000 * float(np.mean(times)), 2))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
