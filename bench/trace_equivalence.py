"""Same numbers out: short runs of every shipped circuit, saved, or compared with a saved set.

    python bench/trace_equivalence.py save DIR          # at the old commit
    python bench/trace_equivalence.py compare DIR OLD   # at the new one: exit 1 on a difference

Two levels. (1) The command line: a few trials of each ready circuit (the trial loop, the
learning rules, the trace and the weights files). (2) The simulator: one trial's length of
every state of every population, recorded each step, with no learning. `compare` reports, for
every array, whether it is identical bit for bit and otherwise the largest relative difference.
"""
from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from pathlib import Path

import numpy as np

CLI_CASES = {
    "category-learning": ["run", "category-learning", "--trials", "3"],
    "hebbian-cortex": ["run", "hebbian-cortex", "--trials", "3"],
    "dnms-original": ["run", "dnms-reservoir", "--trials", "3"],
    "dnms-sparse": ["run", "dnms-reservoir", "--trials", "3", "--variant", "sparse"],
    "reaching": ["run", "two-pathway-reaching", "--trials", "20", "--hebbian-rate", "1e-6"],
    "lttb": ["run", "lttb-trajectory", "--epochs", "1", "--iterations", "2"],
    "working-memory": ["train", "working-memory-rnn", "--steps", "3"],
}
SIM_CASES = {   # circuit -> ms simulated
    "category-learning": 100.0, "hebbian-cortex": 100.0, "dnms-reservoir": 200.0,
    "two-pathway-reaching": 50.0, "lttb-trajectory": 50.0,
}
# columns that hold wall-clock times, not model output
TIMING = {"seconds", "wall", "time_s", "elapsed", "run_seconds", "trial_seconds"}


def save(out):
    out = Path(out)
    for case, argv in CLI_CASES.items():
        d = out / "cli" / case
        cmd = [sys.executable, "-m", "circuitdsl.cli", *argv, "--seed", "1", "--out", str(d),
               "--quiet"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        print(f"{case}: exit {r.returncode} {r.stdout.strip()[-120:]} {r.stderr.strip()[-300:]}")
    for name, ms in SIM_CASES.items():
        np.savez(out / "sim" / f"{name}.npz" if (out / "sim").mkdir(parents=True, exist_ok=True)
                 or True else None, **_simulate(name, ms))
        print(f"sim {name}: saved")


def _simulate(name, ms):
    from circuitdsl.runs import build_circuit
    from circuitdsl.simulator import Simulator
    circuit = build_circuit(name, {})
    dt = circuit.meta.get("dt", 0.05)
    sim = Simulator(circuit, dt=dt, seed=3)
    net = circuit.build(3)
    names = [f"{path}.{x}" for path, pop in net.populations.items() for x in pop.model.states]
    rec = sim.run(ms, record=names)
    data = {n: np.asarray(rec[n]) for n in names}
    for path in rec.spikes:
        units, times = rec.spikes[path]
        data[f"spikes:{path}:units"] = np.asarray(units)
        data[f"spikes:{path}:times"] = np.asarray(times)
    return data


def _read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return rows


def _compare_arrays(label, a, b, report):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        report.append((label, "shape", f"{a.shape} vs {b.shape}"))
        return
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        same = np.array_equal(a, b, equal_nan=True)
    else:
        same = np.array_equal(a, b)
    if same:
        report.append((label, "identical", ""))
        return
    with np.errstate(all="ignore"):
        diff = np.abs(a.astype(float) - b.astype(float))
        scale = np.maximum(np.abs(b.astype(float)), 1e-300)
        rel = np.nanmax(diff / np.maximum(scale, 1.0)) if diff.size else 0.0
    report.append((label, "differs", f"max |diff| / max(|old|, 1) = {rel:.3g}"))


def compare(new, old):
    new, old, report = Path(new), Path(old), []
    for f in sorted(old.rglob("*")):
        if f.is_dir() or f.suffix not in (".csv", ".npz"):
            continue
        rel = f.relative_to(old)
        g = new / rel
        if not g.exists():
            report.append((str(rel), "missing", ""))
            continue
        if f.suffix == ".npz":
            a, b = np.load(g, allow_pickle=False), np.load(f, allow_pickle=False)
            for k in b.files:
                if k not in a.files:
                    report.append((f"{rel}:{k}", "missing", ""))
                else:
                    _compare_arrays(f"{rel}:{k}", a[k], b[k], report)
        else:
            ra, rb = _read_csv(g), _read_csv(f)
            if len(ra) != len(rb):
                report.append((str(rel), "rows", f"{len(ra)} vs {len(rb)}"))
                continue
            for col in (rb[0].keys() if rb else []):
                if col in TIMING or col not in (ra[0] if ra else {}):
                    continue
                va, vb = [r[col] for r in ra], [r[col] for r in rb]
                try:
                    _compare_arrays(f"{rel}:{col}", np.array(va, float), np.array(vb, float),
                                    report)
                except ValueError:
                    report.append((f"{rel}:{col}", "identical" if va == vb else "differs", ""))
    bad = [r for r in report if r[1] != "identical"]
    for label, what, detail in report:
        if what != "identical":
            print(f"{what:9s} {label} {detail}")
    print(f"{len(report) - len(bad)} of {len(report)} arrays identical bit for bit")
    return 1 if bad else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("save")
    s.add_argument("dir")
    c = sub.add_parser("compare")
    c.add_argument("dir")
    c.add_argument("old")
    c.add_argument("--no-save", action="store_true", help="compare DIR as it is")
    args = ap.parse_args(argv)
    if args.cmd == "save":
        save(args.dir)
        return 0
    if not args.no_save:
        save(args.dir)
    return compare(args.dir, args.old)


if __name__ == "__main__":
    sys.exit(main())
