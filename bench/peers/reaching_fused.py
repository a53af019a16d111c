"""The reaching trial written by hand as one fused Numba loop over dense matrices (the
network of bench/peers/reaching_numpy.py): a floor for what any compiled implementation of
this 3000-multiply-add step can reach on this machine, not a peer tool."""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def run_block(Wcm, Wsm, Wch, Wsh, W, V, U, vstar, cues, xi, eta_w, eta_v):
    """Trials cues[n] with noise xi[n] (t_max, 2); learning after each; returns the losses."""
    nz, nm = W.shape
    t_max = vstar.shape[1]
    dW, dV, dU = np.zeros_like(W), np.zeros_like(V), np.zeros_like(U)
    x, y, z, g, e = np.empty(nm), np.empty(nm), np.empty(nz), np.empty(2), np.empty(2)
    losses = np.zeros(cues.shape[0])
    for n in range(cues.shape[0]):
        c = cues[n]
        s0 = s1 = 0.0
        dW[:] = 0.0
        dV[:] = 0.0
        dU[:] = 0.0
        for t in range(t_max):
            for i in range(nm):
                x[i] = Wcm[i, c] + Wsm[i, 0] * s0 + Wsm[i, 1] * s1
                y[i] = Wch[i, c] + Wsh[i, 0] * s0 + Wsh[i, 1] * s1
            for i in range(nz):
                a = 0.0
                for j in range(nm):
                    a += W[i, j] * x[j] + V[i, j] * y[j]
                z[i] = np.tanh(a)
            for k in range(2):
                a = 0.0
                for i in range(nz):
                    a += U[k, i] * z[i]
                g[k] = a + xi[n, t, k]
                e[k] = vstar[c, t, k] - g[k]
                losses[n] += 0.5 * e[k] * e[k] / t_max
            s0 += g[0]
            s1 += g[1]
            for i in range(nz):
                d = (U[0, i] * e[0] + U[1, i] * e[1]) * (1 - z[i] * z[i])
                for j in range(nm):
                    dW[i, j] += d * x[j]
                    dV[i, j] += z[i] * y[j] - V[i, j]
                dU[0, i] += e[0] * z[i]
                dU[1, i] += e[1] * z[i]
        W += eta_w * dW
        V += eta_v * dV
        U += eta_w * dU
    return losses
