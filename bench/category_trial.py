"""Time category-learning: cold compile (empty cache), warm start, and warm trials.

    python bench/category_trial.py [--trials 5]

Runs each phase in a fresh subprocess so the cold/warm numbers are real process starts.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from circuitdsl.circuits.category_learning import build
from circuitdsl.agent import Agent
c = build()
agent = Agent(c, dt=0.05, seed=1)
agent.warmup(200.0)
agent.run_trial(0); agent.learn(1.0)
first = time.perf_counter() - t0
times = []
for k in range(1, int(sys.argv[1]) + 1):
    t = time.perf_counter(); agent.run_trial(k); agent.learn(1.0); times.append(time.perf_counter() - t)
print(json.dumps(dict(first_trial_with_build=first, warm_trials=times)))
"""


def child(cache, trials):
    env = dict(os.environ, CIRCUITDSL_CACHE=cache, NUMBA_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", CHILD, str(trials)], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=5)
    args = ap.parse_args()
    import numba
    import numpy
    with tempfile.TemporaryDirectory() as cache:
        cold = child(cache, args.trials)
        warm = child(cache, args.trials)
    trials = sorted(warm["warm_trials"] + cold["warm_trials"])
    print(json.dumps(dict(
        machine=f"{platform.machine()} {os.cpu_count()} cores", python=platform.python_version(),
        numpy=numpy.__version__, numba=numba.__version__,
        cold_first_trial_s=round(cold["first_trial_with_build"], 2),
        warm_cache_first_trial_s=round(warm["first_trial_with_build"], 2),
        warm_trial_median_s=round(trials[len(trials) // 2], 4)), indent=1))


if __name__ == "__main__":
    main()
