"""200-unit tanh rate network, sparse recurrence p = 0.1, dt = 1 ms, Euler: steps per second,
circuitdsl's compiled kernel vs plain NumPy loops (dense W @ r per step, and a scipy.sparse CSR
matrix per step), side by side in one run.

    python bench/rate_network.py [--steps 200000]
"""
import argparse
import json
import os
import platform
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200_000)
    args = ap.parse_args()
    from circuitdsl.blocks import RatePopulation
    from circuitdsl.circuit import Circuit
    from circuitdsl.simulator import Simulator
    N, p, g, tau = 200, 0.1, 1.5, 10.0
    rng = np.random.default_rng(0)
    W = rng.normal(0, g / np.sqrt(p * N), (N, N)) * (rng.random((N, N)) < p)
    np.fill_diagonal(W, 0.0)
    x0 = rng.uniform(-0.5, 0.5, N)
    c = Circuit("rate200")
    c.add(RatePopulation("R", N, tau=tau))
    c["R"].init["x"] = x0
    c.connect("R", "R", weight=W)
    sim = Simulator(c, dt=1.0, method="euler")
    sim.run(1.0)
    sim.reset()
    t0 = time.perf_counter()
    sim.run(float(args.steps))
    ours = time.perf_counter() - t0
    n_np = args.steps // 10
    x = x0.copy()
    t0 = time.perf_counter()
    for _ in range(n_np):
        x = x + (-x + W @ np.tanh(x)) / tau
    numpy_s = (time.perf_counter() - t0) * 10
    import scipy.sparse
    Ws = scipy.sparse.csr_matrix(W)
    x = x0.copy()
    t0 = time.perf_counter()
    for _ in range(n_np):
        x = x + (-x + Ws @ np.tanh(x)) / tau
    sparse_s = (time.perf_counter() - t0) * 10
    # Same trajectory check on a short run.
    sim.reset()
    short = sim.run(100.0, record=["R.x"])["R.x"][-1]
    x = x0.copy()
    for _ in range(100):
        x = x + (-x + W @ np.tanh(x)) / tau
    import numba
    print(json.dumps(dict(
        machine=f"{platform.machine()} {os.cpu_count()} cores", numpy=np.__version__,
        numba=numba.__version__, steps=args.steps,
        circuitdsl_steps_per_s=round(args.steps / ours),
        numpy_dense_steps_per_s=round(args.steps / numpy_s),
        scipy_sparse_steps_per_s=round(args.steps / sparse_s),
        speedup_vs_numpy_dense=round(numpy_s / ours, 2),
        speedup_vs_scipy_sparse=round(sparse_s / ours, 2),
        max_abs_diff_after_100_steps=float(np.abs(short - x).max())),
        indent=1))


if __name__ == "__main__":
    main()
