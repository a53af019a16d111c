"""Per-iteration time of lttb-trajectory (compiled) next to the same protocol in plain NumPy
(bench/peers/lttb_numpy.py), from identical weights, clock and target. One iteration is one
training trial (998 steps with online learning) plus a test trial every 5 iterations, as in
the runner. Both sides report their outer variance at each test, which must agree.

    OMP_NUM_THREADS=1 python bench/lttb_iteration.py --protocol head --iterations 10
"""
import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from peers.lttb_numpy import LTTBNumpy  # noqa: E402

from circuitdsl.circuits import lttb_trajectory  # noqa: E402


def dense(sim, pre, post, weights):
    out = np.zeros((sum(n for _, n in post.values()), sum(n for _, n in pre.values())))
    for s, w in zip(sim.network.synapse_sets, weights):
        if s.pre.name in pre and s.post.name in post:
            out[post[s.post.name][0] + s.post_idx, pre[s.pre.name][0] + s.pre_idx] = w
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--protocol", default="head")
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    circuit = lttb_trajectory.build(protocol=args.protocol, iterations=10 ** 6)
    t0 = time.perf_counter()
    runner = lttb_trajectory.LTTBRunner(circuit, seed=args.seed)
    runner.run_trial(False)
    compile_s = time.perf_counter() - t0
    runner = lttb_trajectory.LTTBRunner(circuit, seed=args.seed)   # fresh weights
    sim = runner.sim
    w = sim.synapse_weights()
    pops = {"E": (0, 400), "I": (400, 100)}
    peer = LTTBNumpy(dense(sim, pops, pops, w), dense(sim, {"clock": (0, 5)}, pops, w),
                     runner.j_targ, dense(sim, pops, {"RO": (0, 3)}, w), runner.target,
                     pin=runner.v["pin"], readout=runner.v["readout"])
    ours, theirs = [], []
    t0 = time.perf_counter()
    for k in range(1, args.iterations + 1):
        row = runner.trial(k)
        if row["outer_variance"] != "":
            ours.append(float(row["outer_variance"]))
    t_ours = (time.perf_counter() - t0) / args.iterations
    t0 = time.perf_counter()
    for k in range(1, args.iterations + 1):
        peer.trial(train=True)
        if k % 5 == 0:
            theirs.append(peer.trial(train=False))
    t_np = (time.perf_counter() - t0) / args.iterations
    print(f"protocol {args.protocol}, {args.iterations} iterations, seed {args.seed}")
    print(f"circuitdsl: {t_ours * 1000:.1f} ms/iteration (first build + compile/load "
          f"{compile_s:.1f} s)")
    print(f"numpy:      {t_np * 1000:.1f} ms/iteration")
    print(f"ratio:      {t_np / t_ours:.1f}x")
    print("outer variance at the tests: circuitdsl", [f"{v:.6f}" for v in ours],
          "numpy", [f"{v:.6f}" for v in theirs])
    if not np.allclose(ours, theirs, rtol=1e-6, atol=1e-9):
        raise SystemExit("the two implementations disagree")


if __name__ == "__main__":
    main()
