"""Reservoir: a chaotic rate network with exploratory perturbations (Miconi 2017).

    tau dx/dt = (1 - clamp) (-x + I + I_in + xi),   r = tanh(x)

I is the recurrent input (J r through a rate edge), I_in the external input (W_in u, given to
the simulator per step). Each step, first: r_prev <- tanh(x) (the rate the recurrent edge
sends; by the time the rule runs, after integration, it is the previous step's rate), and xi
is a kick from U(-A, A) with probability f*dt (only after t_noise). After integration, as in
Miconi's code: x_mean <- x_bar (the running mean up to the previous step, which the learning
rule subtracts from the new x), then x_bar <- 0.05 x_bar + 0.95 x. x_bar is carried over
between trials (it starts at 0 once, and a trial's start state never enters it). At t = 0
every unit starts from U(-x0, x0), or from clamp_value if it is clamped (bias units).
"""
from __future__ import annotations

import numpy as np

from circuitdsl.block import Population
from circuitdsl.circuit import stable_rng
from circuitdsl.model import Event, Model, Synapse

RESERVOIR = Model(
    "Reservoir",
    """
dx/dt = (1 - clamp)*(-x + I + I_in + xi)/tau
r = tanh(x)
""",
    states=dict(x=0.0, r_prev=0.0, x_mean=0.0, x_bar=0.0, xi=0.0),
    params=dict(tau=30.0, clamp=0.0, clamp_value=0.0, f=0.003, A=16.0, t_noise=3.5, x0=0.1),
    inputs=("I", "I_in"),
    on_step="""
r_prev = tanh(x)
xi = where(rand() < f*dt and t > t_noise, uniform(-A, A), 0)
""",
    update="""
x_mean = x_bar
x_bar = 0.05*x_bar + 0.95*x
""",
    carried=("x_bar",),
    events=[Event("x = where(clamp > 0.5, clamp_value, uniform(-x0, x0))", at=0.0, order=-10)],
    doc="Rate reservoir unit with exploratory perturbations and a running mean of x.",
)


#: Recurrent rate edge. r_prev = tanh(x) is set at the start of each step (on_step runs before
#: inputs are summed), so the current reads it instead of computing tanh again per unit.
RESERVOIR_RATE = Synapse("reservoir rate", current="I += w*pre.r_prev")


class Reservoir(Population):
    """N reservoir units. `clamped` maps unit index -> clamped x value (bias units);
    `n_inputs` external channels reach the units through W_in ~ U(-1, 1) (rows of
    `no_input` units zeroed), drawn from the circuit seed by `input_weights(seed)`."""

    def __init__(self, name, N=200, tau=30.0, f=0.003, A=16.0, clamped=None, n_inputs=3,
                 no_input=()):
        clamped = dict(clamped or {})
        clamp = np.zeros(N)
        value = np.zeros(N)
        for k, v in clamped.items():
            clamp[k], value[k] = 1.0, v
        super().__init__(name, RESERVOIR, N, synapse=RESERVOIR_RATE,
                         params=dict(tau=tau, f=f, A=A, clamp=clamp, clamp_value=value))
        self.n_inputs, self.no_input = n_inputs, tuple(no_input)

    def input_weights(self, seed):
        W = stable_rng(seed, "block", self.name, "W_in").uniform(-1, 1, (self.N, self.n_inputs))
        W[list(self.no_input)] = 0.0
        return W
