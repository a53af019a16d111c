"""LTTB's 3-D trajectory protocol in plain NumPy (our own code, from reference §A.4-A.5), the
peer of bench/lttb_iteration.py: one vectorised step over the N units at a time, as the
original model does, with the online rules after every step of a training trial.

    net = LTTBNumpy(J, j_in, j_targ, Jout, y, pin=True, readout="B_filt_total")
    net.trial(train=True)          # one training iteration
    net.trial(train=False)         # a test trial; returns the outer variance
"""
from __future__ import annotations

import numpy as np


class LTTBNumpy:
    def __init__(self, J, j_in, j_targ, Jout, y, pin=True, readout="B_filt_total", Ne=400,
                 eta=10.0, eta_out=0.01, eta_bias=0.0, T=1000):
        self.J, self.j_in, self.j_targ, self.Jout = J.copy(), j_in, j_targ, Jout.copy()
        self.y, self.pin, self.readout, self.Ne, self.T = y, pin, readout, Ne, T
        self.eta, self.eta_out, self.eta_bias = eta, eta_out, eta_bias
        self.bias = np.zeros(Jout.shape[0])
        self.N = J.shape[0]
        self.clock = (np.arange(j_in.shape[1])[:, None] ==
                      (j_in.shape[1] * np.arange(T) // T)[None, :]).astype(float)

    def trial(self, train):
        N, T, Ne = self.N, self.T, self.Ne
        d, h, h_ref, V_reset, V_apic, b = 0.05, -1.0, -5.0, -20.0, -160.0, 100.0
        bs, bst, bW = np.exp(-1 / 2), np.exp(-1 / 20), np.exp(-1 / 200)
        a = 1.0 if train else 0.0
        Vs, Vd, Vp = (np.full((N, T), h) for _ in range(3))
        Ss, Sd, Sp, s, ssoma, W, SW, Sw, B, Br, Bt, Bf, Bfr, Bft = \
            (np.zeros((N, T)) for _ in range(14))
        R = Bft if self.readout == "B_filt_total" else Bfr
        Y, dH = np.zeros((3, T)), np.zeros(N)
        drive_d = self.j_targ @ self.y.T          # (N, T)
        drive_s = self.j_in @ self.clock           # (N, T)
        for t in range(1, T - 1):
            Vp[:, t] = ((1 - d) * Vp[:, t] + d * (self.J @ s[:, t] + h + h_ref)) \
                * (1 - Sp[:, t]) + V_apic * Sp[:, t]
            Vd[:, t] = ((1 - d) * Vd[:, t - 1] + d * (a * drive_d[:, t] + h + h_ref)) \
                * (1 - Sd[:, t]) + V_apic * Sd[:, t]
            I = drive_s[:, t] + h + 20 * Sw[:, t] - b * W[:, t]
            Vs[:, t] = ((1 - d) * Vs[:, t - 1] + d * I) * (1 - Ss[:, t]) \
                + Ss[:, t] * V_reset / (1 + 2 * Sw[:, t])
            Sp[:, t + 1], Sd[:, t + 1], Ss[:, t + 1] = Vp[:, t] > 0, Vd[:, t] > 0, Vs[:, t] > 0
            s[:, t + 1] = bs * s[:, t] + (1 - bs) * Ss[:, t + 1]
            ssoma[:, t + 1] = bst * ssoma[:, t] + (1 - bst) * Ss[:, t + 1]
            W[:, t + 1] = bW * W[:, t] + (1 - bW) * Ss[:, t + 1]
            SW[:, t + 1] = ssoma[:, t + 1] > 0.025
            B[:, t + 1] = SW[:, t + 1] * Sd[:, t + 1]
            Br[:, t + 1] = SW[:, t + 1] * Sp[:, t + 1]
            Bt[:, t + 1] = B[:, t + 1] + Br[:, t + 1] >= 1
            Bf[:, t + 1] = bst * Bf[:, t] + (1 - bst) * B[:, t + 1]
            Bfr[:, t + 1] = bst * Bfr[:, t] + (1 - bst) * Br[:, t + 1]
            Bft[:, t + 1] = bst * Bft[:, t] + (1 - bst) * Bt[:, t + 1]
            Sw[:, t + 1] = (Bf[:, t + 1] >= 0.0125) | (Bfr[:, t + 1] >= 0.0125)
            Y[:, t] = self.Jout @ R[:, t] + self.bias
            if train:
                u = t - 1
                dH = (1 - d) * dH + d * s[:, u]
                with np.errstate(over="ignore"):
                    sig = 1.0 / (1.0 + np.exp(-10.0 * Vp[:, u]))
                gate = (Sd[:, u + 1] - sig) * (1 - Sp[:, u]) * SW[:, u + 1]
                self.J += self.eta * np.outer(gate, dH)
                if self.pin:
                    self.J[Ne:] = 0.0
                    np.clip(self.J[:Ne, :Ne], 0, 100, out=self.J[:Ne, :Ne])
                    np.clip(self.J[:Ne, Ne:], -100, 0, out=self.J[:Ne, Ne:])
                    np.fill_diagonal(self.J, 0.0)
                err = self.y[u + 1] - (self.Jout @ R[:, u + 1] + self.bias)
                self.Jout += self.eta_out * np.outer(err, R[:, u + 1])
                self.bias += self.eta_bias * err
        self.last = dict(B_filt=Bf, B_filt_rec=Bfr)
        return float(np.var(self.y[1:T - 2] - Y[:, 1:T - 2].T))

    def inner_error(self):
        return float(np.var(self.last["B_filt_rec"] - self.last["B_filt"]))
