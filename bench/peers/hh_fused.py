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


def _make(exp, N):
    """The kernel for N neurons: N is a literal inside it, and states and parameters are rows
    of one flat array each (row r at r * N), so LLVM sees one base pointer and constant
    offsets, proves the rows apart and vectorises the neuron loop. (Separate arrays per state,
    or a 2-D array whose row stride is only known at run time, each need runtime overlap
    checks, and the loop stays scalar.)"""
    @njit(error_model="numpy")
    def run(n_steps, dt, X, Q, ptr, pre, w, t_block_steps, counts):
        # X rows: V n m h G z spikes_cumulative spikes_window above
        # Q rows: I_bg, exp(-s_an/10), exp(-s_am/10), exp(-s_bh/10), s_bn, s_bm, s_ah, s_an,
        #         s_am, E_syn, G_syn, V_shift, tau, exp(-dt/tau), excitatory (1/0)
        decay_z = math.exp(-dt / 0.1)
        I_syn = np.zeros(N)
        for k in range(n_steps):
            if k > 0 and k % t_block_steps == 0:
                for i in range(N):
                    X[7 * N + i] = 0.0
            # synaptic currents from the state at t_k: -sum_j w G_j (V_i - E_j)
            for i in range(N):
                acc = 0.0
                for q in range(ptr[i], ptr[i + 1]):
                    j = pre[q]
                    acc += -w[q] * X[4 * N + j] * (X[0 * N + i] - Q[9 * N + j])
                I_syn[i] = acc
            for i in range(N):
                v, ni, mi, hi, gi, zi = X[0 * N + i], X[1 * N + i], X[2 * N + i], X[3 * N + i], X[4 * N + i], X[5 * N + i]
                e10 = exp(-v / 10.0)
                an = 0.01 * (v + Q[7 * N + i]) / (1.0 - Q[1 * N + i] * e10)
                bn = 0.125 * exp(-(v + Q[4 * N + i]) / 80.0)
                am = 0.1 * (v + Q[8 * N + i]) / (1.0 - Q[2 * N + i] * e10)
                bm = 4.0 * exp(-(v + Q[5 * N + i]) / 18.0)
                ah = 0.07 * exp(-(v + Q[6 * N + i]) / 20.0)
                bh = 1.0 / (1.0 + Q[3 * N + i] * e10)
                gna = 52.0 * mi * mi * mi * hi
                n2 = ni * ni
                gk = 20.0 * n2 * n2
                A = -(gna + gk + 0.1)
                B = gna * 55.0 + gk * -90.0 + 0.1 * -60.0 + Q[0 * N + i] + I_syn[i]
                xinf = -B / A
                X[0 * N + i] = xinf + (v - xinf) * exp(A * dt)
                A = -5.0 * (an + bn)
                xinf = 5.0 * an / -A
                X[1 * N + i] = xinf + (ni - xinf) * exp(A * dt)
                A = -5.0 * (am + bm)
                xinf = 5.0 * am / -A
                X[2 * N + i] = xinf + (mi - xinf) * exp(A * dt)
                A = -5.0 * (ah + bh)
                xinf = 5.0 * ah / -A
                X[3 * N + i] = xinf + (hi - xinf) * exp(A * dt)
                xg = zi * Q[12 * N + i]             # dG/dt = -G/tau + z
                X[4 * N + i] = xg + (gi - xg) * Q[13 * N + i]
                xz = 0.1 * Q[10 * N + i] / (1.0 + exp(-4.394 * (v - Q[11 * N + i]) / 35.0))
                X[5 * N + i] = xz + (zi - xz) * decay_z
                rate = Q[14 * N + i] * 1.127 * 3.0 / (1.0 + exp(-4.394 * (v - 10.0) / 35.0))
                X[6 * N + i] += dt * rate
                X[7 * N + i] += dt * rate
            for i in range(N):      # spikes: upward crossings of 0 mV
                now = 1.0 if X[0 * N + i] > 0.0 else 0.0
                counts[i] += int(now > X[8 * N + i])
                X[8 * N + i] = now
    return run


@njit
def _libm_exp(x):
    return math.exp(x)


EXP = {"libm": _libm_exp, "fast": fm_exp}


def build(spec, dt):
    kind = np.asarray(spec["kind"])
    N = len(kind)
    sh = np.array([SHIFTS[int(k)] for k in kind])
    E_syn, G_syn, tau, V_shift = (np.array([SYN[int(k)][c] for k in kind]) for c in range(4))
    Q = np.ascontiguousarray(np.stack([
        spec["I_bg"] + spec["I_in"], np.exp(-sh[:, 0] / 10), np.exp(-sh[:, 2] / 10),
        np.exp(-sh[:, 5] / 10), sh[:, 1], sh[:, 3], sh[:, 4], sh[:, 0], sh[:, 2],
        E_syn, G_syn, V_shift, tau, np.exp(-dt / tau), (kind == 0).astype(float)]))
    order = np.argsort(spec["post"], kind="stable")
    post, pre, w = spec["post"][order], spec["pre"][order].astype(np.int64), spec["w"][order]
    ptr = np.concatenate([[0], np.cumsum(np.bincount(post, minlength=N))]).astype(np.int64)
    return dict(N=N, Q=Q, ptr=ptr, pre=pre, w=w.astype(float))


def simulate(spec, exp="libm", repeats=3):
    dt, duration = float(spec["dt"]), float(spec["duration"])
    net = build(spec, dt)
    n_steps = int(round(duration / dt))
    kernel = _make(EXP[exp], net["N"])
    times = []
    for r in range(repeats + 1):          # the first call compiles
        X = np.zeros((9, net["N"]))
        X[:4] = np.array([-65.0, 0.32, 0.05, 0.59])[:, None]
        X = X.ravel()
        counts = np.zeros(net["N"], dtype=np.int64)
        t0 = time.perf_counter()
        kernel(n_steps if r else 1, dt, X, net["Q"].ravel(), net["ptr"], net["pre"], net["w"],
               int(round(90.0 / dt)), counts)
        if r:
            times.append(time.perf_counter() - t0)
    return dict(tool=f"hand-fused Numba ({exp} exp)", wall_seconds=min(times),
                spike_counts=counts.tolist(), kernel=kernel)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("spec")
    ap.add_argument("--exp", choices=sorted(EXP), default="libm")
    args = ap.parse_args()
    result = simulate(load_spec(args.spec), args.exp)
    result.pop("kernel")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
