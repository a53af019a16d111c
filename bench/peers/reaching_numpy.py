"""Plain NumPy implementation of Murray & Escola's reaching network (reference seed-models.md
§B.2), written from the equations: the peer for bench/reaching.py and the reference for the
step-equivalence test (tests/circuits/test_reaching.py).

    x = Wc_m[cue] + Ws_m s,  y = Wc_h[cue] + Ws_h s,  z = tanh(W x + V y),  g = U z + xi
    s <- s + g;  e = v* - g;  loss = mean_t |e|^2 / 2
    dU = eta_w sum_t e z^T,  dW = eta_w sum_t ((U^T e) * (1 - z^2)) x^T,
    dV = eta_v sum_t (-V + z y^T)       (applied at the trial's end, with the pre-trial U)
"""
from __future__ import annotations

import numpy as np


class ReachingNumpy:
    """One network. Weights are given (so a test can use the compiled circuit's draws) or
    drawn from `rng` with the reference's distributions."""

    def __init__(self, weights=None, rng=None, nm=50, nh=50, nz=10, n_targets=8, noise=0.03,
                 eta_w=1e-4, eta_v=1e-6, t_max=10):
        if weights is None:
            rng = rng or np.random.default_rng(0)
            weights = dict(Wc_m=rng.normal(size=(nm, n_targets)), Ws_m=rng.normal(size=(nm, 2)),
                           Wc_h=rng.normal(size=(nh, n_targets)), Ws_h=rng.normal(size=(nh, 2)),
                           W=rng.normal(size=(nz, nm)) / np.sqrt(nm),
                           V=rng.normal(size=(nz, nh)) / np.sqrt(nh),
                           U=rng.normal(size=(2, nz)) / np.sqrt(nz))
        self.w = {k: np.array(v, dtype=float) for k, v in weights.items()}
        self.noise, self.eta_w, self.eta_v, self.t_max = noise, eta_w, eta_v, t_max
        self.rng = rng or np.random.default_rng(0)
        angle = 2 * np.pi * np.arange(n_targets) / n_targets
        self.targets = np.stack([np.cos(angle), np.sin(angle)], axis=1)
        u = np.arange(t_max) / t_max
        self.profile = (30 * u**2 - 60 * u**3 + 30 * u**4) / t_max

    def trial(self, cue, learn=True, xi=None):
        """One reach; returns (loss, positions (t_max, 2)). `xi` (t_max, 2) replaces the
        noise draws (for comparisons with the same noise)."""
        w = self.w
        if xi is None:
            xi = self.noise * self.rng.standard_normal((self.t_max, 2))
        s = np.zeros(2)
        dU, dW, dV = np.zeros_like(w["U"]), np.zeros_like(w["W"]), np.zeros_like(w["V"])
        loss, path = 0.0, []
        for t in range(self.t_max):
            x = w["Wc_m"][:, cue] + w["Ws_m"] @ s
            y = w["Wc_h"][:, cue] + w["Ws_h"] @ s
            z = np.tanh(w["W"] @ x + w["V"] @ y)
            g = w["U"] @ z + xi[t]
            s = s + g
            e = self.profile[t] * self.targets[cue] - g
            loss += 0.5 * e @ e
            if learn:
                dU += np.outer(e, z)
                dW += np.outer((w["U"].T @ e) * (1 - z**2), x)
                dV += -w["V"] + np.outer(z, y)
            path.append(s)
        if learn:
            w["U"] += self.eta_w * dU
            w["W"] += self.eta_w * dW
            w["V"] += self.eta_v * dV
        return loss / self.t_max, np.asarray(path)
