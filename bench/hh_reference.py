"""Spike-time accuracy of HH neurons: a tight scipy reference and the same neurons in circuitdsl.

The accuracy problem (issue 13): one excitatory and one inhibitory HH neuron (blocks/neurons.py,
Wang-type kinetics), uncoupled, at I_bg = 0.4, 1 and 3 uA/cm^2, 1 s. Six neurons in all.

- `reference(...)`: each neuron integrated alone with scipy `solve_ivp(method="DOP853",
  rtol=1e-10, atol=1e-10)` from the block's initial state; a spike is an upward crossing of
  V = 0 mV, located by solve_ivp's event finder (a root of the dense-output interpolant, so
  the time is not tied to any step grid). Cached in a .npz keyed by every input, the source
  of the functions that compute it included (about 10 CPU seconds for 1 s of the six neurons;
  `main` prints the time it took).
- `circuit()` builds the same six neurons from the shipped models (Populations "E" and "I" of
  3 units each, no synapses); `ours(method, dt)` runs it with `Simulator(circuit, dt, method)`.
  The Simulator reports a spike at the first step whose V is above 0 (`SPIKES[...] = k + 1`
  in compiler/group_code.py), i.e. up to one dt after the crossing. So that the comparison
  measures the integrator and not the reporting grid, `ours` locates each crossing the same
  way as the reference does in continuous time: linear interpolation of the recorded V between
  the last step at or below 0 and the first above. It checks that these crossings are exactly
  the Simulator's spikes (one per reported spike, in the step before it).
- `compare(ref, got)`: per neuron the spike counts and, if they agree, the worst |time error|.

    python bench/hh_reference.py [--duration 1000] [--method rk4 --dt 0.04 ...]

prints the reference's cost and the comparison for each method/dt given.
"""
from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "peers"))
import hh_network_spec as hs  # noqa: E402  (the model constants shared by the peer scripts)

#: The problem of issue 13: these currents, for each kind (0 = excitatory, 1 = inhibitory).
CURRENTS = (0.4, 1.0, 3.0)
KINDS = (0, 1)
NEURONS = tuple((kind, i_bg) for kind in KINDS for i_bg in CURRENTS)   # E first, as in circuit()
RTOL = ATOL = 1e-10
#: bump when the reference computation changes, so old cache files are not reused
_VERSION = 1


def _rhs_for(kind, i_bg):
    """The HH right-hand side of one neuron, (t, array [V, n, m, h]) -> list. Plain floats and math
    (not numpy): for a 4-state system scalar Python is several times faster per call, and
    DOP853 at 1e-10 makes a few hundred thousand calls. The gate G, z of the block do not act
    on V without synapses, so they are left out."""
    s_an, s_bn, s_am, s_bm, s_ah, s_bh = hs.RATE_SHIFTS[kind]
    gna, gk, gl, ena, ek, el, phi = hs.G_NA, hs.G_K, hs.G_L, hs.E_NA, hs.E_K, hs.E_L, hs.PHI
    exp = math.exp
    inf4 = [math.inf] * 4

    def rhs(t, y):
        v, n, m, h = y.tolist()   # Python floats: numpy scalar arithmetic is ~4x slower here
        try:
            an = 0.01 * (v + s_an) / (1.0 - exp(-(v + s_an) / 10.0))
            bn = 0.125 * exp(-(v + s_bn) / 80.0)
            am = 0.1 * (v + s_am) / (1.0 - exp(-(v + s_am) / 10.0))
            bm = 4.0 * exp(-(v + s_bm) / 18.0)
            ah = 0.07 * exp(-(v + s_ah) / 20.0)
            bh = 1.0 / (1.0 + exp(-(v + s_bh) / 10.0))
            dv = (-gna * m ** 3 * h * (v - ena) - gk * n ** 4 * (v - ek) - gl * (v - el) + i_bg)
        except OverflowError:
            # an explicit solver's rejected trial step can reach |V| of thousands of mV: an
            # infinite derivative (what numpy would give) makes the step's error infinite, so
            # the solver rejects it and shrinks the step
            return inf4
        return [dv, phi * (an * (1.0 - n) - bn * n), phi * (am * (1.0 - m) - bm * m),
                phi * (ah * (1.0 - h) - bh * h)]
    return rhs


def initial_state():
    """V, n, m, h at t = 0: the block's own initial state (blocks/neurons.py, _HH_STATES)."""
    return [hs.V0, hs.N0, hs.M0, hs.H0]


def _v_crossing(t, y):
    return y[0]


_v_crossing.direction = 1.0   # upward crossings of V = 0 only


def solve_neuron(kind, i_bg, duration, method="DOP853", rtol=RTOL, atol=ATOL, **kw):
    """Spike times (ms, upward crossings of 0 mV) of one neuron, and solve_ivp's result."""
    from scipy.integrate import solve_ivp
    sol = solve_ivp(_rhs_for(kind, i_bg), (0.0, duration), initial_state(), method=method,
                    rtol=rtol, atol=atol, events=_v_crossing, **kw)
    if not sol.success:
        raise RuntimeError(f"solve_ivp {method} failed: {sol.message}")
    return np.asarray(sol.t_events[0], float), sol


def _cache_path(duration):
    # the source of the functions that compute it is part of the key: editing them can never
    # reuse a stale file
    code = "".join(inspect.getsource(f) for f in (_rhs_for, initial_state, solve_neuron))
    key = json.dumps(dict(v=_VERSION, code=code, neurons=NEURONS, duration=duration, rtol=RTOL,
                          atol=ATOL, rates=hs.RATE_SHIFTS, y0=initial_state(),
                          consts=[hs.G_NA, hs.G_K, hs.G_L, hs.E_NA, hs.E_K, hs.E_L, hs.PHI]),
                     sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    root = os.environ.get("CIRCUITDSL_REFERENCE_CACHE",
                          os.path.join(tempfile.gettempdir(), "circuitdsl-hh-reference"))
    return Path(root) / f"dop853-{digest}.npz"


def reference(duration=1000.0, cache=True):
    """{(kind, I_bg): spike times} of the six neurons with DOP853 at rtol = atol = 1e-10;
    read from / written to the cache file keyed by every input of the computation."""
    path = _cache_path(float(duration))
    if cache and path.exists():
        with np.load(path) as f:
            return {nrn: f[f"n{j}"] for j, nrn in enumerate(NEURONS)}
    out = {nrn: solve_neuron(*nrn, float(duration))[0] for nrn in NEURONS}
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, **{f"n{j}": out[nrn] for j, nrn in enumerate(NEURONS)})
        os.replace(tmp, path)   # atomic: a concurrent reader never sees half a file
    return out


def circuit():
    """The six neurons as one circuitdsl circuit: "E" and "I", 3 units each at CURRENTS."""
    from circuitdsl.blocks import HHNeuronExci, HHNeuronInhib
    from circuitdsl.circuit import Circuit
    c = Circuit("hh_accuracy")
    c.add(HHNeuronExci("E", len(CURRENTS), I_bg=np.array(CURRENTS)),
          HHNeuronInhib("I", len(CURRENTS), I_bg=np.array(CURRENTS)))
    return c


def crossings(t, v):
    """Upward crossings of 0 in samples v (n_samples, N) at times t: per unit, (times located
    by linear interpolation between the two samples, index of the first sample above 0)."""
    out = []
    for u in range(v.shape[1]):
        x = v[:, u]
        k = np.flatnonzero((x[:-1] <= 0.0) & (x[1:] > 0.0))
        frac = -x[k] / (x[k + 1] - x[k])
        out.append((t[k] + frac * (t[k + 1] - t[k]), k + 1))
    return out


def ours(method, dt, duration=1000.0, sim=None):
    """{(kind, I_bg): spike times} of the six neurons in circuitdsl with `method` at `dt`
    (crossing times by linear interpolation of V, see the module doc). Checks that every
    located crossing is one reported spike, reported at the step after it."""
    from circuitdsl.simulator import Simulator
    if sim is None:
        sim = Simulator(circuit(), dt=dt, method=method)
    else:
        sim.reset()
    v_start = {pop: np.array(sim.get(pop, "V"), float) for pop in ("E", "I")}
    rec = sim.run(duration, record=["E.V", "I.V"])
    out = {}
    for pop, kind in (("E", 0), ("I", 1)):
        # rec.t holds the times after each step; the initial state (t = 0) is prepended
        t = np.concatenate(([0.0], rec.t))
        v = np.vstack([v_start[pop][None, :], rec[f"{pop}.V"]])
        reported = rec.spike_times(pop)
        for u, (times, first_above) in enumerate(crossings(t, v)):
            if len(reported[u]) != len(times) or not np.allclose(reported[u], t[first_above]):
                raise AssertionError(
                    f"{pop}[{u}] {method} dt={dt}: the Simulator's spikes "
                    f"({len(reported[u])}) are not the upward crossings of V = 0 in the "
                    f"recorded trace ({len(times)})")
            out[(kind, CURRENTS[u])] = times
    return out


def compare(ref, got):
    """Per neuron (kind, I_bg): dict(n_ref, n_got, worst |error| in ms or None if the counts
    differ); and a summary: missed + extra spikes and the worst error over the neurons whose
    counts agree (None if any count differs)."""
    rows, bad, worst = {}, 0, 0.0
    for nrn in NEURONS:
        r, g = ref[nrn], got[nrn]
        err = float(np.max(np.abs(r - g))) if len(r) == len(g) and len(r) else (
            0.0 if len(r) == len(g) else None)
        rows[nrn] = dict(n_ref=len(r), n_got=len(g), worst_ms=err)
        bad += abs(len(r) - len(g))
        worst = None if (worst is None or err is None) else max(worst, err)
    return rows, dict(count_diff=bad, worst_ms=worst,
                      total_ref=int(sum(len(ref[n]) for n in NEURONS)))


def spike_drift(ref, got):
    """Worst |error| over the first min(n_ref, n_got) spikes of each neuron (a measure of drift
    that is defined also when counts differ)."""
    w = 0.0
    for nrn in NEURONS:
        k = min(len(ref[nrn]), len(got[nrn]))
        if k:
            w = max(w, float(np.max(np.abs(ref[nrn][:k] - got[nrn][:k]))))
    return w


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=1000.0)
    ap.add_argument("--method", action="append", default=[])
    ap.add_argument("--dt", action="append", type=float, default=[])
    ap.add_argument("--no-cache", action="store_true")
    a = ap.parse_args(argv)
    t0 = time.process_time()
    ref = reference(a.duration, cache=not a.no_cache)
    print(json.dumps(dict(reference_cpu_seconds=round(time.process_time() - t0, 2),
                          cache=str(_cache_path(a.duration)),
                          counts={f"{'EI'[k]} I_bg={i}": len(ref[(k, i)]) for k, i in NEURONS})))
    for method, dt in zip(a.method, a.dt):
        rows, summary = compare(ref, ours(method, dt, a.duration))
        print(json.dumps(dict(method=method, dt=dt, **summary,
                              per_neuron={f"{'EI'[k]} I_bg={i}": r for (k, i), r in rows.items()})))


if __name__ == "__main__":
    main()
