"""48-neuron HH network (30 exc + 18 inh, AMPA/GABA_A conductance synapses), 1 s, side by side:
circuitdsl (compiled, exponential Euler) vs Brian2 (cpp_standalone, cython, numpy targets; run
in a separate environment, see bench/peers/README.md) vs scipy solve_ivp (LSODA, max_step 0.05).

    python bench/hh_network.py [--dt 0.01] [--brian2-python /tmp/b2venv/bin/python] [--no-scipy]

Prints one JSON object: wall seconds per tool, speed-up ratios, spike-count agreement.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "peers"))


def circuit_from_spec(spec):
    from circuitdsl.blocks import HHNeuronExci, HHNeuronInhib
    from circuitdsl.circuit import Circuit
    kind = spec["kind"]
    exc, inh = np.flatnonzero(kind == 0), np.flatnonzero(kind == 1)
    I = spec["I_bg"] + spec["I_in"]
    c = Circuit("hh48")
    c.add(HHNeuronExci("E", len(exc), I_bg=I[exc]), HHNeuronInhib("I", len(inh), I_bg=I[inh]))
    local = {**{int(g): ("E", k) for k, g in enumerate(exc)},
             **{int(g): ("I", k) for k, g in enumerate(inh)}}
    for src, dst in (("E", "E"), ("E", "I"), ("I", "E"), ("I", "I")):
        W = np.zeros((len(exc) if dst == "E" else len(inh), len(exc) if src == "E" else len(inh)))
        for a, b, w in zip(spec["pre"], spec["post"], spec["w"]):
            (sa, ka), (sb, kb) = local[int(a)], local[int(b)]
            if sa == src and sb == dst:
                W[kb, ka] += w
        if W.any():
            c.connect(src, dst, weight=W)
    return c, exc, inh


def run_ours(spec):
    from circuitdsl.simulator import Simulator
    c, exc, inh = circuit_from_spec(spec)
    dt, duration = float(spec["dt"]), float(spec["duration"])
    t0 = time.perf_counter()
    sim = Simulator(c, dt=dt)
    sim.run(dt)                      # compiles (or loads the disk cache)
    build = time.perf_counter() - t0
    times = []
    for _ in range(3):
        sim.reset()
        t0 = time.perf_counter()
        rec = sim.run(duration)
        times.append(time.perf_counter() - t0)
    counts = np.zeros(len(spec["kind"]), dtype=int)
    counts[exc], counts[inh] = rec.spike_counts("E"), rec.spike_counts("I")
    return dict(tool="circuitdsl", wall_seconds=min(times), build_seconds=build,
                spike_counts=counts.tolist())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dt", type=float, default=0.01)
    ap.add_argument("--brian2-python", default="/tmp/b2venv/bin/python")
    ap.add_argument("--no-scipy", action="store_true")
    args = ap.parse_args()
    from hh_network_spec import make_spec
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "spec.npz")
        make_spec(path, dt=args.dt, duration=1000.0, seed=0)
        spec = dict(np.load(path))
        results["circuitdsl"] = run_ours(spec)
        if Path(args.brian2_python).exists():
            for target in ("cpp_standalone", "cython", "numpy"):
                out = subprocess.run([args.brian2_python, str(HERE / "peers" / "brian2_hh.py"),
                                      path, "--target", target], capture_output=True, text=True)
                if out.returncode == 0:
                    results[f"brian2 {target}"] = json.loads(out.stdout.strip().splitlines()[-1])
                else:
                    results[f"brian2 {target}"] = dict(error=out.stderr.strip()[-300:])
        if not args.no_scipy:
            from scipy_hh import run as scipy_run
            results["scipy LSODA"] = scipy_run(path)
    ours = results["circuitdsl"]
    summary = {}
    for name, r in results.items():
        if "wall_seconds" not in r:
            summary[name] = r
            continue
        diff = np.abs(np.asarray(r["spike_counts"]) - np.asarray(ours["spike_counts"]))
        summary[name] = dict(wall_seconds=round(r["wall_seconds"], 4),
                             speedup_of_circuitdsl=round(r["wall_seconds"] / ours["wall_seconds"], 1),
                             build_seconds=round(r.get("build_seconds", float("nan")), 2),
                             total_spikes=int(np.sum(r["spike_counts"])),
                             max_spike_count_diff_vs_circuitdsl=int(diff.max()))
    import numba
    print(json.dumps(dict(dt=args.dt, machine=f"{platform.machine()} {os.cpu_count()} cores",
                          python=platform.python_version(), numpy=np.__version__,
                          numba=numba.__version__, results=summary), indent=1))


if __name__ == "__main__":
    main()
