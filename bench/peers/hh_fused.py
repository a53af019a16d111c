"""The floor: a hand-written, fused Numba kernel of the 48-neuron HH benchmark network.

Same model as circuitdsl's HHNeuronExci / HHNeuronInhib with conductance synapses
(blocks/neurons.py), same exponential Euler, same step order (synaptic currents from the state
at t_k, then every neuron integrated over the step, then spike detection as upward crossings of
0 mV), written the way a person would write it by hand for speed: one loop over all neurons
with per-neuron parameter arrays (structure-of-arrays, sizes known to the loop), the CSR sums
first, constants such as exp(-dt/tau) computed once, no per-unit reduction, no branch in the
unit loop. `exp="libm"` uses math.exp; `exp="fast"` the project's vectorisable exp
(circuitdsl/compiler/fastmath.py), so the loop vectorises.

    python bench/peers/hh_fused.py SPEC.npz [--exp fast]     # prints one JSON line
"""
from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
from numba import njit

from circuitdsl.compiler.fastmath import fm_exp
from hh_network_spec import load_spec

# per kind (0 exc, 1 inh): alpha_n, beta_n, alpha_m, beta_m, alpha_h, beta_h shifts
SHIFTS = {0: (34.0, 44.0, 30.0, 55.0, 44.0, 14.0), 1: (38.0, 48.0, 33.0, 58.0, 51.0, 21.0)}
# per kind: E_syn, G_syn, tau, V_shift (V_range 35, tau1 0.1 for both)
SYN = {0: (0.0, 3.0, 5.0, 10.0), 1: (-70.0, 11.5, 70.0, 0.0)}


def _make(exp):
    @njit(cache=True, error_model="numpy")
    def run(n_steps, dt, V, n, m, h, G, z, sc, sw, I_bg, K, E_syn, G_syn, V_shift, tau,
            exci, ptr, pre, w, t_block_steps, counts):
        N = V.shape[0]
        decay_z = math.exp(-dt / 0.1)
        # per-neuron constants of the rate functions: exp(-(V + s)/10) = exp(-s/10) exp(-V/10)
        ca_n, ca_m, cb_h = K[0], K[1], K[2]
        sb_n, sb_m, sa_h = K[3], K[4], K[5]
        sa_n, sa_m = K[6], K[7]
        decay_G = np.empty(N)
        for i in range(N):
            decay_G[i] = math.exp(-dt / tau[i])
        I_syn = np.zeros(N)
        above = np.zeros(N)
        for i in range(N):
            above[i] = 1.0 if V[i] > 0.0 else 0.0
        for k in range(n_steps):
            if k > 0 and k % t_block_steps == 0:
                for i in range(N):
                    sw[i] = 0.0
            # synaptic currents from the state at t_k: -sum_j w G_j (V_i - E_j)
            for i in range(N):
                acc = 0.0
                for q in range(ptr[i], ptr[i + 1]):
                    j = pre[q]
                    acc += -w[q] * G[j] * (V[i] - E_syn[j])
                I_syn[i] = acc
            for i in range(N):
                v = V[i]
                e10 = exp(-v / 10.0)
                an = 0.01 * (v + sa_n[i]) / (1.0 - ca_n[i] * e10)
                bn = 0.125 * exp(-(v + sb_n[i]) / 80.0)
                am = 0.1 * (v + sa_m[i]) / (1.0 - ca_m[i] * e10)
                bm = 4.0 * exp(-(v + sb_m[i]) / 18.0)
                ah = 0.07 * exp(-(v + sa_h[i]) / 20.0)
                bh = 1.0 / (1.0 + cb_h[i] * e10)
                mi, ni = m[i], n[i]
                gna = 52.0 * mi * mi * mi * h[i]
                n2 = ni * ni
                gk = 20.0 * n2 * n2
                A = -(gna + gk + 0.1)
                B = gna * 55.0 + gk * -90.0 + 0.1 * -60.0 + I_bg[i] + I_syn[i]
                xinf = -B / A
                V[i] = xinf + (v - xinf) * exp(A * dt)
                A = -5.0 * (an + bn)
                xinf = 5.0 * an / -A
                n[i] = xinf + (ni - xinf) * exp(A * dt)
                A = -5.0 * (am + bm)
                xinf = 5.0 * am / -A
                m[i] = xinf + (mi - xinf) * exp(A * dt)
                A = -5.0 * (ah + bh)
                xinf = 5.0 * ah / -A
                h[i] = xinf + (h[i] - xinf) * exp(A * dt)
                xg = z[i] * tau[i]             # dG/dt = -G/tau + z
                G[i] = xg + (G[i] - xg) * decay_G[i]
                xz = 0.1 * G_syn[i] / (1.0 + exp(-4.394 * (v - V_shift[i]) / 35.0))
                z[i] = xz + (z[i] - xz) * decay_z
                rate = exci[i] * 1.127 * 3.0 / (1.0 + exp(-4.394 * (v - 10.0) / 35.0))
                sc[i] += dt * rate
                sw[i] += dt * rate
            for i in range(N):      # spikes: upward crossings of 0 mV
                now = 1.0 if V[i] > 0.0 else 0.0
                counts[i] += int(now > above[i])
                above[i] = now
    return run


@njit
def _libm_exp(x):
    return math.exp(x)


KERNELS = {"libm": _make(_libm_exp), "fast": _make(fm_exp)}


def build(spec):
    kind = np.asarray(spec["kind"])
    N = len(kind)
    sh = np.array([SHIFTS[int(k)] for k in kind])
    # rows: exp(-s_an/10), exp(-s_am/10), exp(-s_bh/10), s_bn, s_bm, s_ah, s_an, s_am
    K = np.ascontiguousarray(np.stack([np.exp(-sh[:, 0] / 10), np.exp(-sh[:, 2] / 10),
                                       np.exp(-sh[:, 5] / 10), sh[:, 1], sh[:, 3], sh[:, 4],
                                       sh[:, 0], sh[:, 2]]))
    E_syn, G_syn, tau, V_shift = (np.array([SYN[int(k)][c] for k in kind]) for c in range(4))
    order = np.argsort(spec["post"], kind="stable")
    post, pre, w = spec["post"][order], spec["pre"][order].astype(np.int64), spec["w"][order]
    ptr = np.concatenate([[0], np.cumsum(np.bincount(post, minlength=N))]).astype(np.int64)
    return dict(N=N, K=K, E_syn=E_syn, G_syn=G_syn, tau=tau, V_shift=V_shift,
                I_bg=(spec["I_bg"] + spec["I_in"]).astype(float), exci=(kind == 0).astype(float),
                ptr=ptr, pre=pre, w=w.astype(float))


def simulate(spec, exp="libm", repeats=3):
    net = build(spec)
    dt, duration = float(spec["dt"]), float(spec["duration"])
    n_steps = int(round(duration / dt))
    kernel = KERNELS[exp]
    times = []
    for r in range(repeats + 1):          # the first call compiles (or loads the cache)
        N = net["N"]
        V, n, m, h = (np.full(N, v) for v in (-65.0, 0.32, 0.05, 0.59))
        G, z, sc, sw = (np.zeros(N) for _ in range(4))
        counts = np.zeros(N, dtype=np.int64)
        t0 = time.perf_counter()
        kernel(n_steps if r else 1, dt, V, n, m, h, G, z, sc, sw, net["I_bg"], net["K"],
               net["E_syn"], net["G_syn"], net["V_shift"], net["tau"], net["exci"],
               net["ptr"], net["pre"], net["w"], int(round(90.0 / dt)), counts)
        if r:
            times.append(time.perf_counter() - t0)
    return dict(tool=f"hand-fused Numba ({exp} exp)", wall_seconds=min(times),
                spike_counts=counts.tolist())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("spec")
    ap.add_argument("--exp", choices=sorted(KERNELS), default="libm")
    args = ap.parse_args()
    print(json.dumps(simulate(load_spec(args.spec), args.exp)))


if __name__ == "__main__":
    main()
