"""Instantaneous layers for discrete-time circuits (one step = one time unit, dt = 1).

These units have no dynamics of their own: their output is a function of this step's inputs,
so a chain cue -> representation -> hidden layer -> readout settles within one step (the
compiler orders blocks so each reads inputs already summed this step).

    Cue(n)                    r = value                  (one-hot, set per trial)
    RandomProjection(N)       r = I                      (fixed random weights on its inputs)
    RateLayer(N, 'tanh')      r = f(I + bias)            (I_fb: a feedback input for rules)
    LinearReadout(N, noise)   r = I + xi,  e = target - r,  d loss/dt = e**2/2

A readout's `target` input is the desired output (given per step); `e` is the error its
learning rules see, and `loss` sums e**2/2 over the steps of a trial.
"""
from __future__ import annotations

from circuitdsl.block import BlockError, Population
from circuitdsl.model import Model, Synapse

#: r of the source into input I of the target.
RATE = Synapse("rate", current="I += w*pre.r")

#: An error sent back through the transpose of the forward weights: summed after the step's
#: dynamics into I_fb, which only learning rules read (see Synapse(feedback=True)).
ERROR_FEEDBACK = Synapse("error feedback", current="I_fb += w*pre.e", feedback=True)

CUE = Model("Cue", "r = value", params=dict(value=0.0),
            doc="One input channel; the task sets `value` (a one-hot cue) per trial.")

LINEAR = Model("Linear", "r = I", inputs=("I",), doc="r = I: a fixed random projection's "
               "output when its incoming edges carry fixed random weights.")

ACTIVATIONS = {"tanh": "tanh(I + bias)", "relu": "max(I + bias, 0)", "linear": "I + bias"}
LAYERS = {a: Model(f"RateLayer[{a}]", f"r = {expr}", params=dict(bias=0.0),
                   inputs=("I",), feedback_inputs=("I_fb",), doc=f"Instantaneous rate unit, r = {expr}.")
          for a, expr in ACTIVATIONS.items()}

READOUT = Model(
    "LinearReadout",
    """
dloss/dt = (target - r)**2/2
r = I + xi
e = target - r
""",
    states=dict(loss=0.0, xi=0.0), params=dict(noise=0.0), inputs=("I", "target"),
    on_step="xi = noise*randn()",
    doc="Linear readout r = I + xi with Gaussian output noise xi ~ N(0, noise^2) per step.")


class Cue(Population):
    """n cue channels; `select(sim, k)` (or sim.set(name, 'value', one_hot)) picks cue k."""

    def __init__(self, name, n):
        super().__init__(name, CUE, n, synapse=RATE)

    def one_hot(self, k):
        if not 0 <= int(k) < self.N:
            raise BlockError(f"block '{self.name}': cue {k} out of range 0..{self.N - 1}")
        v = [0.0] * self.N
        v[int(k)] = 1.0
        return v


class RandomProjection(Population):
    """N linear units r = I. Connect sources to it with fixed random weights, e.g.
    weight=normal(1.0), and no learning rule: x = W_c cue + W_s s."""

    def __init__(self, name, N):
        super().__init__(name, LINEAR, N, synapse=RATE)


class RateLayer(Population):
    """N instantaneous rate units r = f(I + bias), f in tanh, relu, linear."""

    def __init__(self, name, N, activation="tanh", bias=0.0):
        if activation not in LAYERS:
            raise BlockError(f"block '{name}': activation must be one of "
                             f"{', '.join(LAYERS)}, got {activation!r}")
        self.activation = activation
        super().__init__(name, LAYERS[activation], N, params=dict(bias=bias), synapse=RATE)


class LinearReadout(Population):
    """N linear output units with output noise; they send `r` forward (RATE) and their error
    `e` back along edges made with synapse=ERROR_FEEDBACK."""

    def __init__(self, name, N, noise=0.0):
        if noise < 0:
            raise BlockError(f"block '{name}': noise must be >= 0, got {noise!r}")
        super().__init__(name, READOUT, N, params=dict(noise=noise), synapse=RATE)


def normal(std=1.0):
    """Weights drawn N(0, std^2) from the edge's own random stream (for connect(weight=...))."""
    std = float(std)
    return lambda rng, n: std * rng.normal(size=n)
