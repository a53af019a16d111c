"""Per-trial speed of the two-pathway reaching network: circuitdsl's compiled trial blocks
against a plain NumPy implementation of the same equations (bench/peers/reaching_numpy.py),
side by side in one run, same protocol (sequential, Hebbian 1e-6).

    OMP_NUM_THREADS=1 python bench/reaching.py --trials 20000
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent / "peers"))


def circuitdsl_per_trial(n):
    from circuitdsl.circuits.two_pathway_reaching import ReachingRunner, build
    runner = ReachingRunner(build(protocol="sequential", hebbian_rate=1e-6), seed=0)
    runner.n_trials = n + 1000
    runner.trial(1)                          # compile / load the kernel outside the timing
    t0 = time.perf_counter()
    for k in range(2, n + 2):
        runner.trial(k)
    return (time.perf_counter() - t0) / n


def numpy_per_trial(n):
    from reaching_numpy import ReachingNumpy
    net = ReachingNumpy(eta_w=1e-4, eta_v=1e-6)
    t0 = time.perf_counter()
    for k in range(n):
        net.trial(0)
    return (time.perf_counter() - t0) / n


def fused_per_trial(n):
    from reaching_fused import run_block
    rng = np.random.default_rng(0)
    w = [rng.normal(size=s) for s in [(50, 8), (50, 2), (50, 8), (50, 2)]] + \
        [rng.normal(size=(10, 50)) / np.sqrt(50), rng.normal(size=(10, 50)) / np.sqrt(50),
         rng.normal(size=(2, 10)) / np.sqrt(10)]
    vstar = 0.1 * rng.normal(size=(8, 10, 2))
    cues, xi = np.zeros(n, dtype=np.int64), 0.03 * rng.normal(size=(n, 10, 2))
    run_block(*[a.copy() for a in w], vstar, cues[:10], xi, 1e-4, 1e-6)   # compile
    t0 = time.perf_counter()
    run_block(*w, vstar, cues, xi, 1e-4, 1e-6)
    return (time.perf_counter() - t0) / n


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=20000)
    ap.add_argument("--numpy-trials", type=int, default=3000)
    a = ap.parse_args(argv)
    import numba
    ours = circuitdsl_per_trial(a.trials)
    ref = numpy_per_trial(a.numpy_trials)
    fused = fused_per_trial(a.trials)
    print(f"machine {platform.machine()}, Python {platform.python_version()}, NumPy "
          f"{np.__version__}, Numba {numba.__version__}")
    print(f"circuitdsl  {ours * 1e6:8.1f} us per trial ({a.trials} trials, learning on)")
    print(f"NumPy       {ref * 1e6:8.1f} us per trial ({a.numpy_trials} trials, learning on)")
    print(f"ratio       {ref / ours:8.1f}x")
    print(f"hand-fused Numba loop (floor, bench/peers/reaching_fused.py) {fused * 1e6:.1f} us "
          f"per trial: {ref / fused:.1f}x NumPy")
    print(f"one network (56 000 trials): circuitdsl {56000 * ours:.1f} s, NumPy "
          f"{56000 * ref:.1f} s; the published experiment (147 networks) on one core: "
          f"circuitdsl {147 * 56000 * ours / 60:.1f} min, NumPy {147 * 56000 * ref / 60:.1f} min")


if __name__ == "__main__":
    main()
