"""A one-hot clock block and smooth target trajectories (LTTB's inputs, reference §A.3).

Clock: unit m is 1 while the trial's step index n lies in segment m of `n_segments` equal
segments of `n_steps` steps (n = floor(n_segments * n / n_steps) == m), else 0. It is computed
at the start of each step (on_step), so edges read this step's value. `lead` shifts the index
the clock shows: kernel step k shows n = k + lead (LTTB's first step has n = 1).

target_trajectory: each output dimension is sum_m a_m cos(2 pi f_m t + phi_m) with
f = 1, 2, 3, 5 Hz, a_m ~ U(0.5, 2), phi_m ~ U(0, 2 pi), min-max rescaled to [-1, 1].
"""
from __future__ import annotations

import numpy as np

from circuitdsl.block import Population
from circuitdsl.model import Model, Synapse

CLOCK = Model("Clock", states=dict(c=0.0), params=dict(t_on=0.0, t_off=0.0),
              on_step="c = where(t >= t_on and t < t_off, 1, 0)",
              doc="One-hot clock unit: c = 1 for t_on <= t < t_off (ms).")

#: Clock -> somatic input: I_s += w c.
CLOCK_DRIVE = Synapse("clock drive", current="I_s += w*pre.c")


class Clock(Population):
    """`n_segments` one-hot units over a trial of `n_steps` steps of `dt` ms."""

    def __init__(self, name, n_segments=5, n_steps=1000, dt=1.0, lead=1):
        if n_segments < 1 or n_steps < n_segments:
            raise ValueError(f"clock '{name}': need 1 <= n_segments <= n_steps, got "
                             f"{n_segments} segments over {n_steps} steps")
        n = np.arange(n_steps + 1)
        seg = (n_segments * n) // n_steps
        on = np.array([np.flatnonzero(seg == m)[0] for m in range(n_segments)])
        off = np.append(on[1:], n_steps)
        # Kernel time t = k dt shows index n = k + lead; half-step margins keep the
        # comparisons away from rounding.
        super().__init__(name, CLOCK, n_segments, synapse=CLOCK_DRIVE,
                         params=dict(t_on=(on - lead - 0.5) * dt, t_off=(off - lead - 0.5) * dt))
        self.n_steps, self.dt, self.lead = n_steps, dt, lead

    def values(self, n_index):
        """The clock at step indices `n_index` (array of shape (len, n_segments))."""
        n = np.asarray(n_index)
        seg = (self.N * n) // self.n_steps
        return (seg[:, None] == np.arange(self.N)[None, :]).astype(float)


def target_trajectory(rng, n_out=3, n_steps=1000, dt=1.0, freqs=(1.0, 2.0, 3.0, 5.0)):
    """(n_steps, n_out) target: sums of cosines (f in Hz, dt in ms) rescaled to [-1, 1]."""
    freqs = np.asarray(freqs, dtype=float)
    a = rng.uniform(0.5, 2.0, (n_out, len(freqs)))
    phi = rng.uniform(0.0, 2 * np.pi, (n_out, len(freqs)))
    t = np.arange(n_steps) * dt / 1000.0
    y = np.einsum("om,tom->to", a, np.cos(2 * np.pi * freqs[None, None, :] * t[:, None, None]
                                          + phi[None, :, :]))
    lo, hi = y.min(axis=0), y.max(axis=0)
    return 2.0 * (y - lo) / (hi - lo) - 1.0
