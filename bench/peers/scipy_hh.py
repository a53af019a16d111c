"""Peer benchmark: the HH network of a spec .npz with scipy.integrate.solve_ivp.

The whole network is one state vector y = [V, n, m, h, G, z] (6*N values),
with a numpy-vectorised right-hand side; the synaptic input is a sparse
matrix product.  Spikes are upward crossings of V = 0 mV in the dense output
sampled every spec ``dt`` ms (``dt`` only sets the sampling grid; the
integrator's own steps are chosen by ``method`` and capped by ``max_step``).

    python bench/peers/scipy_hh.py SPEC.npz [--method LSODA] [--max-step 0.05]
                               [--rtol 1e-3] [--atol 1e-6] [--json OUT]

prints one JSON line:  {"tool": "scipy solve_ivp", "version": ...,
"wall_seconds": ..., "spike_counts": [...], "n_neurons": N, "n_synapses": M,
...}.  ``wall_seconds`` covers building the right-hand side, solve_ivp and the
spike extraction from the dense output (not loading the .npz).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

# Single-threaded BLAS/OpenMP unless the caller set otherwise: with threads
# spinning on a shared 2-core machine the wall time became erratic (one
# LSODA run went from 18 s to 80 s).  Must happen before numpy is imported.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np
import scipy
import scipy.sparse as sp
from scipy.integrate import solve_ivp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hh_network_spec as hs  # noqa: E402


def make_rhs(spec):
    """Return (rhs, y0, n) for the network in ``spec`` (a load_spec dict)."""
    n = len(spec["kind"])
    p = hs.per_neuron_params(spec["kind"])
    sh_an, sh_bn, sh_am = p["sh_an"], p["sh_bn"], p["sh_am"]
    sh_bm, sh_ah, sh_bh = p["sh_bm"], p["sh_ah"], p["sh_bh"]
    e_syn, g_syn = p["E_syn"], p["G_syn"]
    v_shift, v_range, tau2 = p["V_shift"], p["V_range"], p["tau2"]
    i_ext = spec["I_bg"] + spec["I_in"]
    # A[i, j] = sum of weights of synapses j -> i (duplicates are summed).
    a = sp.csr_matrix((spec["w"], (spec["post"], spec["pre"])), shape=(n, n))
    phi, tau1 = hs.PHI, hs.TAU1
    gna, gk, gl = hs.G_NA, hs.G_K, hs.G_L
    ena, ek, el = hs.E_NA, hs.E_K, hs.E_L
    slope = hs.SYN_SLOPE

    def rhs(t, y):
        v, gn, gm, gh, g, z = y.reshape(6, n)
        # rate formulas exactly as in the model description (as in brian2_hh)
        xn = v + sh_an
        an = 0.01 * xn / (1.0 - np.exp(-xn / 10.0))
        bn = 0.125 * np.exp(-(v + sh_bn) / 80.0)
        xm = v + sh_am
        am = 0.1 * xm / (1.0 - np.exp(-xm / 10.0))
        bm = 4.0 * np.exp(-(v + sh_bm) / 18.0)
        ah = 0.07 * np.exp(-(v + sh_ah) / 20.0)
        bh = 1.0 / (1.0 + np.exp(-(v + sh_bh) / 10.0))
        # I_syn,i = sum_j A_ij G_j (E_syn,j - V_i)
        i_syn = a @ (g * e_syn) - v * (a @ g)
        dv = (-gna * gm**3 * gh * (v - ena) - gk * gn**4 * (v - ek)
              - gl * (v - el) + i_ext + i_syn)
        dn = phi * (an * (1.0 - gn) - bn * gn)
        dm = phi * (am * (1.0 - gm) - bm * gm)
        dh = phi * (ah * (1.0 - gh) - bh * gh)
        dg = -g / tau2 + z
        dz = -z / tau1 + g_syn / (1.0 + np.exp(-slope * (v - v_shift) / v_range))
        return np.concatenate((dv, dn, dm, dh, dg, dz))

    y0 = np.concatenate([
        np.full(n, hs.V0), np.full(n, hs.N0), np.full(n, hs.M0),
        np.full(n, hs.H0), np.zeros(n), np.zeros(n),
    ])
    return rhs, y0, n


def count_crossings(sol, n, duration, dt, chunk=20000):
    """Upward crossings of V = 0 in sol.sol sampled on t = k*dt, k=0..K."""
    k_last = int(round(duration / dt))
    counts = np.zeros(n, np.int64)
    prev = None
    for k0 in range(0, k_last + 1, chunk):
        ks = np.arange(k0, min(k0 + chunk, k_last + 1))
        t = np.minimum(ks * dt, duration)
        v = sol.sol(t)[:n]  # (n, len(t))
        if prev is not None:
            v = np.concatenate((prev, v), axis=1)
        counts += np.sum((v[:, :-1] <= 0.0) & (v[:, 1:] > 0.0), axis=1)
        prev = v[:, -1:]
    return counts


def run(spec_path, method="LSODA", max_step=0.05, rtol=1e-3, atol=1e-6):
    """Simulate the spec; rtol/atol default to solve_ivp's own defaults."""
    spec = hs.load_spec(spec_path)
    duration, dt = spec["duration"], spec["dt"]
    t0 = time.perf_counter()
    rhs, y0, n = make_rhs(spec)
    sol = solve_ivp(rhs, (0.0, duration), y0, method=method,
                    max_step=max_step, rtol=rtol, atol=atol,
                    dense_output=True)
    if not sol.success:
        raise RuntimeError(f"solve_ivp failed: {sol.message}")
    t1 = time.perf_counter()
    counts = count_crossings(sol, n, duration, dt)
    t2 = time.perf_counter()
    return dict(
        tool="scipy solve_ivp",
        version=scipy.__version__,
        numpy_version=np.__version__,
        method=method,
        max_step=max_step,
        rtol=rtol,
        atol=atol,
        wall_seconds=t2 - t0,
        solve_seconds=t1 - t0,
        n_rhs_evals=int(sol.nfev),
        spike_counts=[int(c) for c in counts],
        n_neurons=int(n),
        n_synapses=int(len(spec["pre"])),
        duration=duration,
        dt=dt,
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description="HH network with scipy solve_ivp")
    ap.add_argument("spec")
    ap.add_argument("--method", default="LSODA")
    ap.add_argument("--max-step", type=float, default=0.05)
    ap.add_argument("--rtol", type=float, default=1e-3)
    ap.add_argument("--atol", type=float, default=1e-6)
    ap.add_argument("--json", dest="json_out", default=None,
                    help="also write the result to this file")
    a = ap.parse_args(argv)
    res = run(a.spec, method=a.method, max_step=a.max_step, rtol=a.rtol,
              atol=a.atol)
    line = json.dumps(res)
    print(line)
    if a.json_out:
        with open(a.json_out, "w") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
