"""lttb-trajectory learning over seeds: outer variance at every test (every 5 iterations) and
the inner error at the first and last test, one row per seed, plus medians.

    python bench/lttb_seeds.py --protocol head --epochs 5 --iterations 50 --seeds 1 2 3 4 5 \
        --out lttb-head.csv

`--draws original` replaces the circuit's seeded draws (stable_rng) of the clock weights
j_in, the teacher weights j_targ, the readout Jout and the target by draws made the way the
original code makes them (our own code; the facts are the order and the generators): the
legacy global NumPy stream seeded with np.random.seed(seed) gives, in this order, J and w
(N x N each, sigma 0, so all zeros, but they use up draws), j_in (N x I, sigma 12), j_targ
(N x O, sigma_targ; inhibitory rows then set to 0) and Jout (O x N, sigma 0.1); Python's
`random`, seeded with random.seed(seed), gives the target: per output dimension four
amplitudes 0.5 + 1.5 U(0, 1), then four phases 2 pi U(0, 1). With these draws the circuit
gives the reference re-run's numbers seed for seed (docs/circuits/lttb-trajectory.md).
"""
import argparse
import csv
import os
import random
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from circuitdsl.circuits import lttb_trajectory  # noqa: E402
from circuitdsl.experiment import run_trials  # noqa: E402


def original_draws(seed, sigma_targ, N=500, Ne=400, n_in=5, n_out=3, T=1000, dt_s=0.001):
    """(j_in, j_targ, Jout, target of shape (T, n_out)) in the original code's draw order."""
    np.random.seed(seed)
    random.seed(seed)
    for _ in range(2):                       # J and w, drawn with sigma 0
        np.random.normal(0.0, 0.0, (N, N))
    j_in = np.random.normal(0.0, 12.0, (N, n_in))
    j_targ = np.random.normal(0.0, sigma_targ, (N, n_out))
    j_targ[Ne:] = 0.0
    Jout = np.random.normal(0.0, 0.1, (n_out, N))
    t = np.arange(T) * dt_s
    y = np.empty((T, n_out))
    for k in range(n_out):
        amp = [0.5 + 1.5 * random.uniform(0, 1) for _ in range(4)]
        phase = [2 * np.pi * random.uniform(0, 1) for _ in range(4)]
        yk = sum(a * np.cos(2 * np.pi * f * t + p) for a, f, p in zip(amp, (1, 2, 3, 5), phase))
        y[:, k] = (yk - yk.min()) / (yk.max() - yk.min()) * 2 - 1
    return j_in, j_targ, Jout, y


def use_original_draws(runner, seed):
    """Load original_draws(seed) into a fresh runner (weights, target and teacher inputs)."""
    Ne = runner.Ne
    j_in, j_targ, Jout, y = original_draws(seed, runner.v["sigma_targ"], Ne=Ne)
    off = {"E": 0, "I": Ne}
    weights = runner.sim.synapse_weights()
    for k, s in enumerate(runner.sim.network.synapse_sets):
        if s.pre.name == "clock":
            weights[k] = j_in[off[s.post.name] + s.post_idx, s.pre_idx]
        elif s.post.name == "RO":
            weights[k] = Jout[s.post_idx, off[s.pre.name] + s.pre_idx]
    runner.sim.set_synapse_weights(weights)
    runner.target, runner.j_targ = y, j_targ
    ystar = y[1:runner.n_run + 1]
    runner.train_inputs = {"E.I_d": ystar @ j_targ[:Ne].T, "RO.target": ystar}
    runner.test_inputs = {"RO.target": ystar}


def one(seed, protocol, epochs, iterations, draws="circuit"):
    circuit = lttb_trajectory.build(protocol=protocol, epochs=epochs, iterations=iterations)
    runner = lttb_trajectory.LTTBRunner(circuit, seed=seed)
    if draws == "original":
        use_original_draws(runner, seed)
    t0 = time.perf_counter()
    rows = run_trials(runner, epochs * iterations, progress=False)
    seconds = time.perf_counter() - t0
    tested = [r for r in rows if r["outer_variance"] != ""]
    ov = {int(r["iteration"]): float(r["outer_variance"]) for r in tested}
    ie = [float(r["inner_error"]) for r in tested]
    last = epochs * iterations
    out = dict(protocol=protocol, draws=draws, seed=seed, first_test=ov[min(ov)])
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
    ap.add_argument("--draws", choices=("circuit", "original"), default="circuit")
    ap.add_argument("--out", default="lttb-seeds.csv")
    args = ap.parse_args()
    rows = []
    with open(args.out, "w", newline="") as fh:
        w = None
        for seed in args.seeds:
            row = one(seed, args.protocol, args.epochs, args.iterations, args.draws)
            rows.append(row)
            print({k: (round(v, 6) if isinstance(v, float) else v) for k, v in row.items()},
                  flush=True)
            if w is None:
                w = csv.DictWriter(fh, list(row))
                w.writeheader()
            w.writerow(row)
            fh.flush()
    keys = [k for k in rows[0] if k not in ("protocol", "draws", "seed")]
    print("median", {k: round(float(np.median([r[k] for r in rows])), 6) for k in keys})


if __name__ == "__main__":
    main()
