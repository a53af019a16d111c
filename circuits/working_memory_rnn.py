"""working-memory-rnn: a ReLU RNN trained by backpropagation through time to compare two
values held across a delay (the parametric working-memory task, reference §D).

h_t = relu(W_ir x_t + W_rr h_{t-1} + b_rr), o_t = W_ro h_t + b_ro: rate layers with alpha =
dt/tau = 1, Kaiming-normal weights (truncated normal, variance 1/fan_in), biases
U(+-1/sqrt(hidden)). Trained with Adam on the softmax cross-entropy over all time steps of
DelayComparisonTask with the BrainPy tutorial's delays (200-3200 ms), batch 16 x 100 steps.
"""
from __future__ import annotations

import numpy as np

from circuitdsl.blocks.rnn import (InputPopulation, LeakyRateLayer, kaiming_normal,
                                  uniform_init)
from circuitdsl.circuit import Circuit, resolve_params

DESCRIPTION = "ReLU RNN trained by BPTT on delayed comparison of two values (BrainPy tutorial)"

PARAMS = {"hidden": 64, "dt": 100.0, "tau": 100.0, "steps": 2000, "batch_size": 16,
          "seq_len": 100, "lr": 1e-3}

# What `circuitdsl show working-memory-rnn --params` says each parameter means.
PARAM_HELP = {
    "hidden": "units of the recurrent ReLU layer",
    "dt": "time step in ms (one task step)",
    "tau": "time constant of the recurrent layer in ms (dt/tau = 1: no leak)",
    "steps": "training steps (--steps overrides it)",
    "batch_size": "sequences per training step (--batch-size overrides it)",
    "seq_len": "time steps per training sequence",
    "lr": "Adam learning rate (--lr overrides it)",
}


def build(**params):
    p = resolve_params("working-memory-rnn", PARAMS, params)
    H, dt = int(p["hidden"]), float(p["dt"])
    if H < 1:
        raise ValueError(f"working-memory-rnn: hidden must be >= 1, got {H}")
    c = Circuit("working-memory-rnn")
    bound = 1.0 / np.sqrt(H)
    c.add(InputPopulation("obs", 2),
          LeakyRateLayer("rnn", H, "relu", tau=p["tau"], bias=uniform_init(bound)),
          LeakyRateLayer("out", 3, "linear", tau=dt, bias=uniform_init(bound)))
    c.connect("obs", "rnn", weight=kaiming_normal(2))
    c.connect("rnn", "rnn", weight=kaiming_normal(H), self_connections=True)
    c.connect("rnn", "out", weight=kaiming_normal(H))
    c.meta.update(kind="training", params=p, training=dict(
        dt=dt, inputs=["obs"], readout="out", hidden="rnn",
        trainable=["obs -> rnn", "rnn -> rnn", "rnn -> out", "rnn.I_ext", "out.I_ext"],
        dtype=np.float32,   # as JAX and BrainPy train it, and faster (float64 works too)
        task=lambda: _task(dt), steps=p["steps"], batch_size=p["batch_size"],
        seq_len=p["seq_len"], lr=p["lr"], loss="cross_entropy"))
    return c


def _task(dt):
    from circuitdsl.tasks import TUTORIAL_TIMING, DelayComparisonTask
    return DelayComparisonTask(dt=dt, timing=TUTORIAL_TIMING)
