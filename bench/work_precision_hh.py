"""Work-precision of HH spike times: every circuitdsl integrator at several dt, scipy solve_ivp
(DOP853, LSODA at several tolerances) and Brian2 (exponential_euler, rk4 at several dt),
against the DOP853 reference of bench/hh_reference.py (rtol = atol = 1e-10).

Accuracy problem: the six uncoupled neurons of hh_reference (E and I at I_bg = 0.4, 1, 3), 1 s.
Error = worst |spike time - reference spike time| over all six neurons, defined when every
neuron has the reference's spike count (otherwise the point is "counts differ", drawn hollow
at the worst error over the first min(n, n_ref) spikes). Spike times of stepping methods are
the 0 mV crossings located by linear interpolation of V between steps (hh_reference.ours).

Cost, CPU seconds (time.process_time; for Brian2's standalone binary the children's CPU time)
per simulated second, median of --repeats runs:
- "six": the run that produced the spike times (six neurons, V recorded every step);
- "net48": circuitdsl only, the 48-neuron benchmark network of bench/hh_network.py (30 E +
  18 I, conductance synapses, spec seed 0), no recording: the cost that matters for circuits.

    python bench/work_precision_hh.py measure [--out /tmp/work_precision_hh.json]
        [--methods euler heun rk4 exponential_euler] [--dts 0.002 0.005 ...] [--repeats 5]
        [--no-net48] [--no-scipy] [--brian2-python /tmp/b2venv/bin/python]
    python bench/work_precision_hh.py plot  [--out ...] [--png docs/figures/work-precision-hh.png]
    python bench/work_precision_hh.py table [--out ...]          # markdown, for docs/accuracy.md
    python bench/work_precision_hh.py stability [--method rk4] [--dts 0.025 0.04 0.042 ...]
        [--category-trials 10]      # where the method diverges; category-learning trial cost
    python bench/work_precision_hh.py category-cost [--settings exponential_euler@0.05 rk4@0.025]
    /tmp/b2venv/bin/python bench/work_precision_hh.py brian2-worker --method rk4 --dt 0.01

Brian2 2.9.0 does not import with NumPy >= 2.4: its points are measured by running this file
in a separate venv (`python -m venv /tmp/b2venv && /tmp/b2venv/bin/pip install "numpy<2.4"
brian2 scipy`), one subprocess per point (one C++ build each); skipped if that python is absent.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")   # single-threaded BLAS: CPU time must be one core's

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "peers"))
import hh_reference as ref_mod  # noqa: E402

DEFAULT_OUT = os.path.join(tempfile.gettempdir(), "work_precision_hh.json")
DEFAULT_PNG = str(HERE.parent / "docs" / "figures" / "work-precision-hh.png")
METHODS = ("euler", "heun", "rk4", "exponential_euler")
DTS = (0.002, 0.005, 0.01, 0.02, 0.025, 0.03, 0.035, 0.04, 0.045, 0.05, 0.1)
SCIPY_TOLS = {"DOP853": (1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9),
              "LSODA": (1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9)}
BRIAN2_POINTS = {"exponential_euler": (0.002, 0.005, 0.01, 0.02, 0.05),
                 "rk4": (0.01, 0.02, 0.04, 0.05)}
BOUND_MS = 0.05
#: marked on the figure: the setting docs/accuracy.md recommends, and today's HH setting
RECOMMENDED = ("rk4", 0.025)
TODAY = ("exponential_euler", 0.05)
DURATION = 1000.0


def _score(ref, got):
    rows, s = ref_mod.compare(ref, got)
    same = [r["worst_ms"] for r in rows.values() if r["worst_ms"] is not None]
    return dict(count_diff=s["count_diff"], worst_ms=s["worst_ms"],
                # over the neurons whose counts agree (the "drift" figures)
                worst_same_count_ms=max(same) if same else None,
                drift_ms=ref_mod.spike_drift(ref, got),
                counts=[r["n_got"] for r in rows.values()])


def _median_cpu(fn, repeats):
    ts = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        ts.append(time.process_time() - t0)
    return float(np.median(ts)), [round(t, 5) for t in ts]


def measure_ours(ref, methods, dts, repeats, net48):
    from circuitdsl.errors import SimulationError
    from circuitdsl.simulator import Simulator
    spec = None
    if net48:
        import hh_network
        from hh_network_spec import make_spec
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "spec.npz")
            make_spec(path, duration=DURATION, seed=0)   # the benchmark's own network
            spec = dict(np.load(path))
    rows = []
    for method in methods:
        for dt in dts:
            row = dict(tool="circuitdsl", method=method, dt=dt)
            sim = Simulator(ref_mod.circuit(), dt=dt, method=method)
            try:
                got = ref_mod.ours(method, dt, DURATION, sim=sim)
            except SimulationError as e:   # the method diverged at this dt
                row.update(diverged=str(e).splitlines()[0][:160])
                rows.append(row)
                print(json.dumps(row), flush=True)
                continue
            row.update(_score(ref, got))

            def six():
                sim.reset()
                sim.run(DURATION, record=["E.V", "I.V"])
            row["six_cpu_s"], row["six_runs"] = _median_cpu(six, repeats)
            if spec is not None:
                c, exc, inh = hh_network.circuit_from_spec(spec)
                net = Simulator(c, dt=dt, method=method)
                net.run(dt)   # compile / load outside the timing

                def run48():
                    net.reset()
                    net.run(DURATION)
                row["net48_cpu_s"], row["net48_runs"] = _median_cpu(run48, repeats)
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def measure_scipy(ref, repeats):
    rows = []
    for method, tols in SCIPY_TOLS.items():
        for tol in tols:
            got, ts = {}, []
            for _ in range(repeats):
                t_all = 0.0
                for nrn in ref_mod.NEURONS:
                    t0 = time.process_time()
                    got[nrn], sol = ref_mod.solve_neuron(*nrn, DURATION, method=method,
                                                         rtol=tol, atol=tol)
                    t_all += time.process_time() - t0
                ts.append(t_all)
            row = dict(tool="scipy", method=method, tol=tol, six_cpu_s=float(np.median(ts)),
                       six_runs=[round(t, 4) for t in ts], **_score(ref, got))
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def measure_brian2(ref, python, repeats):
    rows = []
    for method, dts in BRIAN2_POINTS.items():
        for dt in dts:
            out = subprocess.run([python, __file__, "brian2-worker", "--method", method,
                                  "--dt", str(dt), "--repeats", str(repeats)],
                                 capture_output=True, text=True)
            row = dict(tool="brian2", method=method, dt=dt)
            if out.returncode != 0:
                row["error"] = out.stderr.strip()[-400:]
            else:
                res = json.loads(out.stdout.strip().splitlines()[-1])
                got = {tuple(k): np.asarray(v) for k, v in res.pop("spikes")}
                row.update(res)
                row.update(_score(ref, got))
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def brian2_worker(method, dt, repeats):
    """In the Brian2 venv: the six neurons as one NeuronGroup (the peer model of
    bench/peers/brian2_hh.py: same equations, per-neuron rate shifts), cpp_standalone, V
    recorded every step; spike times = interpolated 0 mV crossings as for circuitdsl."""
    import shutil

    import brian2 as b2
    import brian2_hh as peer   # the project's Brian2 model of these neurons
    import hh_network_spec as hs
    from brian2 import mV, ms

    kind = np.array([k for k, _ in ref_mod.NEURONS])
    i_bg = np.array([i for _, i in ref_mod.NEURONS])
    b2.set_device("cpp_standalone", build_on_run=False)
    dev = b2.get_device()
    tmp = tempfile.mkdtemp(prefix="b2wp_")
    try:
        b2.defaultclock.dt = dt * ms
        p = hs.per_neuron_params(kind)
        namespace = dict(G_Na=hs.G_NA, G_K=hs.G_K, G_L=hs.G_L, E_Na=hs.E_NA * mV,
                         E_K=hs.E_K * mV, E_L=hs.E_L * mV, phi=hs.PHI, tau1=hs.TAU1 * ms,
                         syn_slope=hs.SYN_SLOPE)
        grp = b2.NeuronGroup(len(kind), peer.EQS, method=method, namespace=namespace)
        grp.V, grp.n, grp.m, grp.h = hs.V0 * mV, hs.N0, hs.M0, hs.H0
        grp.G, grp.z, grp.I_syn = 0, 0 / ms, 0 * mV
        grp.I_ext = i_bg * mV
        for nm in ("sh_an", "sh_bn", "sh_am", "sh_bm", "sh_ah", "sh_bh", "G_syn"):
            setattr(grp, nm, p[nm])
        grp.E_syn, grp.V_shift = p["E_syn"] * mV, p["V_shift"] * mV
        grp.V_range, grp.tau2 = p["V_range"] * mV, p["tau2"] * ms
        mon = b2.StateMonitor(grp, "V", record=True)
        net = b2.Network(grp, mon)
        net.run(DURATION * ms, namespace={})
        t0 = time.perf_counter()
        dev.build(directory=tmp, compile=True, run=False, with_output=False)
        build = time.perf_counter() - t0
        cpu, loop = [], []
        for _ in range(repeats):
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            dev.run(directory=tmp, with_output=False)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime))
            loop.append(getattr(dev, "_last_run_time", float("nan")))
        # StateMonitor samples the state at the start of each step, t = 0, dt, ..., T - dt
        t = np.asarray(mon.t / ms)
        v = np.asarray(mon.V / mV).T
        spikes = [[list(nrn), times.tolist()]
                  for nrn, (times, _) in zip(ref_mod.NEURONS, ref_mod.crossings(t, v))]
        print(json.dumps(dict(six_cpu_s=float(np.median(cpu)), six_runs=cpu,
                              sim_loop_s=float(np.median(loop)), build_s=build,
                              version=b2.__version__, numpy=np.__version__, spikes=spikes)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def measure(a):
    t0 = time.process_time()
    ref = ref_mod.reference(DURATION)
    info = dict(reference_cpu_s_or_cache_read=round(time.process_time() - t0, 2),
                reference_counts=[len(ref[n]) for n in ref_mod.NEURONS],
                machine=f"{platform.machine()} {os.cpu_count()} cores, shared",
                python=platform.python_version(), numpy=np.__version__,
                repeats=a.repeats, started=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))
    try:
        import numba
        import scipy
        info.update(numba=numba.__version__, scipy=scipy.__version__)
    except ImportError:
        pass
    old = json.loads(Path(a.out).read_text()) if a.merge and Path(a.out).exists() else None
    rows = []

    def save():   # after each part, so a failure later keeps what was measured
        out_rows, out_info = rows, info
        if old is not None:
            keep = [r for r in old["rows"] if not any(_same_point(r, n) for n in rows)]
            out_rows = keep + rows
            out_info = dict(old["info"], merged=old["info"].get("merged", []) + [info])
        Path(a.out).write_text(json.dumps(dict(info=out_info, rows=out_rows), indent=1))
        print(f"wrote {a.out}", flush=True)
    if a.methods:
        rows += measure_ours(ref, a.methods, a.dts, a.repeats, not a.no_net48)
        save()
    if not a.no_scipy:
        rows += measure_scipy(ref, max(1, a.repeats // 2))   # seconds per point: fewer repeats
        save()
    if a.brian2_python and Path(a.brian2_python).exists():
        rows += measure_brian2(ref, a.brian2_python, a.repeats)
        save()


def _same_point(r, s):
    return all(r.get(k) == s.get(k) for k in ("tool", "method", "dt", "tol"))


def _label(r):
    return f"{r['tool']} {r['method']}"


def plot(a):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    data = json.loads(Path(a.out).read_text())
    rows = [r for r in data["rows"] if "six_cpu_s" in r]
    styles = {"circuitdsl euler": ("tab:gray", "v"), "circuitdsl heun": ("tab:green", "D"),
              "circuitdsl rk4": ("tab:blue", "o"),
              "circuitdsl exponential_euler": ("tab:red", "s"),
              "scipy DOP853": ("tab:purple", "^"), "scipy LSODA": ("tab:brown", "P"),
              "brian2 rk4": ("tab:cyan", "X"), "brian2 exponential_euler": ("tab:orange", "*")}
    fig, axes = plt.subplots(1, 2, figsize=(14, 6.2), sharey=True)
    panels = (("six_cpu_s", "six neurons (E, I at I_bg = 0.4, 1, 3), V recorded every step"),
              ("net48_cpu_s", "48-neuron network (bench/hh_network.py), circuitdsl only"))
    for ax, (xkey, title) in zip(axes, panels):
        for lab, (color, marker) in styles.items():
            pts = sorted((r for r in rows if _label(r) == lab and xkey in r),
                         key=lambda r: r.get("dt", r.get("tol")))
            if not pts:
                continue
            x = np.array([r[xkey] for r in pts])
            y = np.array([r["worst_ms"] if r["worst_ms"] is not None else r["drift_ms"]
                          for r in pts])
            ok = np.array([r["worst_ms"] is not None for r in pts])
            ax.plot(x, y, "-", color=color, lw=1, alpha=0.6)
            ax.plot(x[ok], y[ok], marker, color=color, ms=7, ls="none", label=lab)
            ax.plot(x[~ok], y[~ok], marker, mfc="none", mec=color, ms=7, ls="none")
            for r, xi, yi in zip(pts, x, y):
                if r.get("dt") in (0.025, 0.03, 0.035, 0.045) and r["worst_ms"] is None:
                    continue   # the crowded inaccurate points: every other label is enough
                txt = f"{r['dt']:g}" if "dt" in r else f"{r['tol']:.0e}"
                ax.annotate(txt, (xi, yi), textcoords="offset points", xytext=(4, 3),
                            fontsize=6.5, color=color)
        for (method, dt), text, off, ha in ((RECOMMENDED, "recommended", (-12, -26), "right"),
                                            (TODAY, "today's HH setting", (4, -34), "left")):
            for r in rows:
                if r["tool"] == "circuitdsl" and (r["method"], r.get("dt")) == (method, dt) \
                        and xkey in r:
                    y = r["worst_ms"] if r["worst_ms"] is not None else r["drift_ms"]
                    ax.plot([r[xkey]], [y], "o", ms=16, mfc="none", mec="k", mew=1.2)
                    ax.annotate(f"{text}\n{method} dt {dt:g}", (r[xkey], y),
                                textcoords="offset points", xytext=off, ha=ha, fontsize=7.5)
        ax.axhline(BOUND_MS, color="k", ls="--", lw=1)
        ax.text(0.99, BOUND_MS, "0.05 ms bound ",
                transform=ax.get_yaxis_transform(), ha="right", va="bottom", fontsize=8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("cost: CPU seconds per simulated second (median of repeats)")
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.25)
    diverged = {}
    for r in data["rows"]:
        if r["tool"] == "circuitdsl" and "diverged" in r:
            diverged[r["method"]] = min(r["dt"], diverged.get(r["method"], np.inf))
    if diverged:
        axes[1].text(0.99, 0.02, "not shown: diverged (non-finite state) at dt >= "
                     + ", ".join(f"{m} {d:g}" for m, d in sorted(diverged.items())) + " ms",
                     transform=axes[1].transAxes, ha="right", va="bottom", fontsize=7.5)
    axes[0].set_ylabel("worst spike-time error over 1 s (ms)\nagainst DOP853, rtol = atol = 1e-10")
    axes[0].plot([], [], "o", mfc="none", mec="k", ls="none", label="hollow: spike counts differ"
                 " (error over the\nfirst min(n, n_ref) spikes)")
    axes[0].legend(fontsize=7.5, loc="lower left")
    info = data["info"]
    fig.suptitle("HH spike-time work-precision (labels: dt in ms, or solve_ivp rtol = atol); "
                 f"{info['machine']}, Python {info['python']}, numba {info.get('numba', '?')}, "
                 f"scipy {info.get('scipy', '?')}", fontsize=9)
    fig.tight_layout()
    Path(a.png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.png, dpi=130)
    print(f"wrote {a.png}")


def table(a):
    data = json.loads(Path(a.out).read_text())
    print("| tool | method | dt (ms) / tol | spikes missed+extra (of 318) | worst error (ms) "
          "| drift (ms) | six neurons, CPU s/s | 48-neuron net, CPU s/s |")
    print("|---|---|---|---|---|---|---|---|")

    def f(v, fmt):
        return "-" if v is None else format(v, fmt)
    order = {"circuitdsl": 0, "brian2": 1, "scipy": 2}
    rows = sorted(data["rows"], key=lambda r: (order[r["tool"]], r["method"],
                                               r.get("dt", r.get("tol"))))
    for r in rows:
        step = f"{r['dt']:g}" if "dt" in r else f"{r['tol']:.0e}"
        if "diverged" in r or "error" in r:
            print(f"| {r['tool']} | {r['method']} | {step} | diverged / failed | | | | |")
            continue
        print(f"| {r['tool']} | {r['method']} | {step} | {r['count_diff']} | "
              f"{f(r['worst_ms'], '.3g')} | {f(r['drift_ms'], '.3g')} | "
              f"{f(r.get('six_cpu_s'), '.3g')} | {f(r.get('net48_cpu_s'), '.3g')} |")


def stability(a):
    """Where explicit methods stop being usable: for each dt, does the six-neuron problem stay
    finite over 1 s (and its error), does the 48-neuron network, and does the category-learning
    circuit over a few trials (with its CPU seconds per trial, median)."""
    import hh_network
    from hh_network_spec import make_spec

    from circuitdsl.agent import Agent
    from circuitdsl.circuits.category_learning import build
    from circuitdsl.errors import SimulationError
    from circuitdsl.simulator import Simulator
    ref = ref_mod.reference(DURATION)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "spec.npz")
        make_spec(path, duration=DURATION, seed=0)
        spec = dict(np.load(path))
    for dt in a.dts:
        row = dict(method=a.method, dt=dt)
        try:
            row.update(_score(ref, ref_mod.ours(a.method, dt, DURATION)))
        except SimulationError as e:
            row["six"] = "diverged: " + str(e).splitlines()[0][:120]
        c, _, _ = hh_network.circuit_from_spec(spec)
        try:
            Simulator(c, dt=dt, method=a.method).run(DURATION)
            row["net48"] = "finite"
        except SimulationError as e:
            row["net48"] = "diverged: " + str(e).splitlines()[0][:120]
        if a.category_trials:
            # the trial loop of bench/category_trial.py, at this method and dt
            agent = Agent(build(), dt=dt, seed=1, method=a.method)
            try:
                agent.warmup(200.0)
                ts = []
                for k in range(a.category_trials):
                    t0 = time.process_time()
                    agent.run_trial(k)
                    agent.learn(1.0)
                    ts.append(time.process_time() - t0)
                row["category"] = f"finite over {a.category_trials} trials"
                row["category_cpu_s_per_trial"] = float(np.median(ts))
            except SimulationError as e:
                row["category"] = "diverged: " + str(e).splitlines()[0][:120]
        print(json.dumps(row), flush=True)


def category_cost(a):
    """CPU seconds per category-learning trial (the loop of bench/category_trial.py) for each
    setting, in one process, interleaved in rounds so that load on a shared machine falls on
    all of them alike; median over all trials."""
    from circuitdsl.agent import Agent
    from circuitdsl.circuits.category_learning import build
    settings = [(m, float(d)) for m, d in (x.split("@") for x in a.settings)]
    agents, times = {}, {s: [] for s in settings}
    for method, dt in settings:
        agents[(method, dt)] = agent = Agent(build(), dt=dt, seed=1, method=method)
        agent.warmup(200.0)
        agent.run_trial(0)   # first trial outside the timing
        agent.learn(1.0)
    for rnd in range(a.rounds):
        for s in settings:
            for k in range(a.trials):
                t0 = time.process_time()
                agents[s].run_trial(1 + rnd * a.trials + k)
                agents[s].learn(1.0)
                times[s].append(time.process_time() - t0)
    base = float(np.median(times[settings[0]]))
    for s in settings:
        med = float(np.median(times[s]))
        print(json.dumps(dict(method=s[0], dt=s[1], cpu_s_per_trial=round(med, 4),
                              relative_to_first=round(med / base, 2), n_trials=len(times[s]))))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--out", default=DEFAULT_OUT)
    m.add_argument("--methods", nargs="*", default=list(METHODS))
    m.add_argument("--dts", nargs="+", type=float, default=list(DTS))
    m.add_argument("--repeats", type=int, default=5)
    m.add_argument("--no-net48", action="store_true")
    m.add_argument("--no-scipy", action="store_true")
    m.add_argument("--brian2-python", default="/tmp/b2venv/bin/python")
    m.add_argument("--merge", action="store_true",
                   help="keep the points of an existing --out that this run does not redo")
    p = sub.add_parser("plot")
    p.add_argument("--out", default=DEFAULT_OUT)
    p.add_argument("--png", default=DEFAULT_PNG)
    t = sub.add_parser("table")
    t.add_argument("--out", default=DEFAULT_OUT)
    st = sub.add_parser("stability")
    st.add_argument("--method", default="rk4")
    st.add_argument("--dts", nargs="+", type=float, default=[0.025, 0.04, 0.041, 0.042, 0.043])
    st.add_argument("--category-trials", type=int, default=10)
    cc = sub.add_parser("category-cost")
    cc.add_argument("--settings", nargs="+",
                    default=["exponential_euler@0.05", "rk4@0.04", "rk4@0.025"])
    cc.add_argument("--rounds", type=int, default=3)
    cc.add_argument("--trials", type=int, default=5)
    w = sub.add_parser("brian2-worker")
    w.add_argument("--method", required=True)
    w.add_argument("--dt", type=float, required=True)
    w.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args(argv)
    {"measure": measure, "plot": plot, "table": table, "stability": stability,
     "category-cost": category_cost,
     "brian2-worker": lambda a: brian2_worker(a.method, a.dt, a.repeats)}[a.cmd](a)


if __name__ == "__main__":
    main()
