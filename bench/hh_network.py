"""48-neuron HH network (30 exc + 18 inh, AMPA/GABA_A conductance synapses), 1 s, side by side
in one process: circuitdsl's generated kernel (libm or the vectorisable math library) against
the floor, a hand-fused Numba kernel of the same network (bench/peers/hh_fused.py, libm or
vectorisable exp), and optionally Brian2 (cpp_standalone, cython, numpy; run in a separate
environment, see bench/peers/README.md) and scipy solve_ivp (LSODA, max_step 0.05).

    python bench/hh_network.py [--dt 0.01] [--method exponential_euler] [--repeats 5]
                               [--brian2-python /tmp/b2venv/bin/python] [--no-scipy]

Times are process CPU seconds per simulated second (one thread); each tool is run in turn,
`--repeats` rounds, and the medians are compared. Prints one JSON object: seconds per tool,
ratios to the floor, spike-count agreement.
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


def run_ours(spec, math="libm", method="exponential_euler", repeats=3):
    from circuitdsl.simulator import Simulator
    c, exc, inh = circuit_from_spec(spec)
    dt, duration = float(spec["dt"]), float(spec["duration"])
    t0 = time.perf_counter()
    sim = Simulator(c, dt=dt, math=math, method=method)
    sim.run(dt)                      # compiles (or loads the disk cache)
    build = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        sim.reset()
        t0 = time.process_time()
        rec = sim.run(duration)
        times.append(time.process_time() - t0)
    counts = np.zeros(len(spec["kind"]), dtype=int)
    counts[exc], counts[inh] = rec.spike_counts("E"), rec.spike_counts("I")
    return dict(tool=f"circuitdsl ({math} math, {method})", wall_seconds=float(np.median(times)),
                build_seconds=build, spike_counts=counts.tolist())


def run_floor(spec, exp, repeats=3):
    import hh_fused
    r = hh_fused.simulate(spec, exp, repeats=repeats)
    r.pop("kernel")
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dt", type=float, default=0.01)
    ap.add_argument("--method", default="exponential_euler")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--brian2-python", default="/tmp/b2venv/bin/python")
    ap.add_argument("--no-scipy", action="store_true")
    args = ap.parse_args()
    from hh_network_spec import make_spec
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "spec.npz")
        make_spec(path, dt=args.dt, duration=1000.0, seed=0)
        spec = dict(np.load(path))
        runs = {"floor (fused, vectorisable exp)": lambda: run_floor(spec, "fast", 1),
                "floor (fused, libm exp)": lambda: run_floor(spec, "libm", 1),
                "circuitdsl (vector math)": lambda: run_ours(spec, "vector", args.method, 1),
                "circuitdsl (libm)": lambda: run_ours(spec, "libm", args.method, 1)}
        rounds = {name: [] for name in runs}
        for _ in range(args.repeats):          # interleaved, so load changes hit all alike
            for name, fn in runs.items():
                rounds[name].append(fn())
        for name, rs in rounds.items():
            results[name] = dict(rs[-1], wall_seconds=float(np.median([r["wall_seconds"]
                                                                       for r in rs])))
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
    floor = results["floor (fused, vectorisable exp)"]
    summary = {}
    for name, r in results.items():
        if "wall_seconds" not in r:
            summary[name] = r
            continue
        diff = np.abs(np.asarray(r["spike_counts"]) - np.asarray(floor["spike_counts"]))
        summary[name] = dict(seconds=round(r["wall_seconds"], 4),
                             ratio_to_floor=round(r["wall_seconds"] / floor["wall_seconds"], 2),
                             build_seconds=round(r.get("build_seconds", float("nan")), 2),
                             total_spikes=int(np.sum(r["spike_counts"])),
                             max_spike_count_diff_vs_floor=int(diff.max()))
    import numba
    print(json.dumps(dict(dt=args.dt, method=args.method,
                          machine=f"{platform.machine()} {os.cpu_count()} cores",
                          python=platform.python_version(), numpy=np.__version__,
                          numba=numba.__version__, results=summary), indent=1))


if __name__ == "__main__":
    main()
