"""Blocks for gradient-trained rate networks: data inputs and discrete-time rate layers.

`InputPopulation` holds one value per unit that a training loop sets from the data each step
(circuitdsl.compiler.backward sets its state `x`). `LeakyRateLayer` is a rate population
integrated with Euler at a step chosen by `alpha = dt/tau`: with alpha = 1 the update is the
discrete RNN h_t = f(sum of inputs + bias), the bias being the model's `I_ext`. (Unlike the
instantaneous layers of blocks/layers.py, its output is a state, so the training path can
differentiate through it.)
"""
from __future__ import annotations

import numpy as np

from circuitdsl.block import BlockError, Population
from circuitdsl.blocks.neurons import RATE, RATE_MODELS
from circuitdsl.model import Model

INPUT = Model("Input", "r = x", states=dict(x=0.0),
              doc="A data channel: x is set from outside every step, r = x.")


def InputPopulation(name, N=1):
    """N data channels; their outgoing edges carry `I += w*pre.r` like rate units."""
    return Population(name, INPUT, N, synapse=RATE)


def LeakyRateLayer(name, N, activation="relu", tau=1.0, bias=0.0):
    """N rate units r = f(x), tau dx/dt = -x + I + bias, integrated with Euler.

    `bias` is a scalar, one value per unit, or a callable (rng, N) -> values drawn at build
    time from the block's own random stream (so it follows the circuit seed). Choose
    dt = tau (alpha = 1) for the plain discrete RNN.
    """
    if activation not in RATE_MODELS:
        raise BlockError(f"block '{name}': activation must be one of "
                         f"{', '.join(RATE_MODELS)}, got {activation!r}")
    pop = Population(name, RATE_MODELS[activation], N, params=dict(tau=tau),
                     synapse=RATE, integrator="euler")
    if callable(bias):
        # drawn by NetworkBuilder from stable_rng(seed, "block", path)
        pop.params["I_ext"] = bias
    else:
        pop.params["I_ext"] = pop._per_unit("I_ext", bias, pop.model.params, "parameter")
    return pop


def kaiming_normal(fan_in, scale=1.0):
    """Weights drawn from a normal truncated at +-2 standard deviations, rescaled so the
    variance is scale/fan_in (0.8796... is the std of the standard normal cut at +-2)."""
    std = np.sqrt(scale / fan_in) / 0.87962566103423978

    def draw(rng, n):
        out = rng.standard_normal(n)
        bad = np.abs(out) > 2.0
        while bad.any():   # redraw the tails: exact truncation, deterministic in the stream
            out[bad] = rng.standard_normal(int(bad.sum()))
            bad = np.abs(out) > 2.0
        return std * out
    return draw


def uniform_init(bound):
    """Values U(-bound, bound) as a build-time draw (rng, n) -> array."""
    return lambda rng, n: rng.uniform(-bound, bound, n)
