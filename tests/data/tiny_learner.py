"""tiny-learner: a cheap circuit for sweep tests.

Eight noisy rate units with recurrent connections and a trial-end delta-like learning rule:
each trial the network runs 40 ms from rest with a constant drive; the error is how far the
mean rate of unit 0 is from `target`, and the recurrent weights move to shrink it. `gain`
scales the initial recurrent weights: with activation="linear" and a large gain the activity
grows without bound and the simulator raises SimulationError (used to test failed runs);
crash=1 ends the process that builds it at once, as a segfault or the out-of-memory killer
would (used to test a worker that dies).
"""
from __future__ import annotations

import os

import numpy as np

from circuitdsl.block import Population
from circuitdsl.blocks.neurons import RATE
from circuitdsl.circuit import Circuit
from circuitdsl.model import LearningRule, Model

DESCRIPTION = "eight noisy rate units learning a target rate (test circuit)"

UNIT = Model("NoisyRate", """
dx/dt = (-x + I + I_ext + sigma*xi)/tau
r = tanh(x)
""", states=dict(x=0.0, xi=0.0), params=dict(tau=10.0, I_ext=0.5, sigma=0.5),
    inputs=("I",), on_step="xi = randn()")

LINEAR = Model("NoisyLinear", """
dx/dt = (-x + I + I_ext + sigma*xi)/tau
r = x
""", states=dict(x=0.0, xi=0.0), params=dict(tau=10.0, I_ext=0.5, sigma=0.5),
    inputs=("I",), on_step="xi = randn()")

RULE = LearningRule("delta", params=dict(eta=0.05),
                    on_trial_end="w = w + clip(-eta*pre.x*(E - target), -0.05, 0.05)",
                    signals=("E", "target"))

PARAMS = {"gain": 1.0, "eta": 0.05, "target": 0.3, "activation": "tanh", "N": 8, "crash": 0}


def build(**params):
    unknown = sorted(set(params) - set(PARAMS))
    if unknown:
        raise ValueError(f"tiny-learner has no parameter {', '.join(unknown)}")
    p = {**PARAMS, **params}
    if p["crash"]:
        os._exit(7)
    model = {"tanh": UNIT, "linear": LINEAR}[p["activation"]]
    N = int(p["N"])
    c = Circuit("tiny-learner")
    c.add(Population("R", model, N, synapse=RATE))
    scale = float(p["gain"]) / np.sqrt(N)
    c.connect("R", "R", weight=lambda rng, n: scale * rng.normal(size=n),
              learning_rule=RULE.with_params(eta=float(p["eta"])))
    c.meta.update(kind="tiny", params=p, dt=1.0, default_trials=6, runner=TinyRunner)
    return c


class TinyRunner:
    """One trial = 40 ms from rest; error = mean rate of unit 0 minus the target."""

    columns = ("trial", "rate", "error", "seconds")

    def __init__(self, circuit, seed, dt=1.0):
        from circuitdsl.simulator import Simulator
        self.sim = Simulator(circuit, dt=dt, seed=seed, method="euler")
        self.target = float(circuit.meta["params"]["target"])

    def start(self):
        pass

    def trial(self, k):
        self.sim.reset()
        rec = self.sim.run(40.0, record=["R.x"])
        rate = float(np.mean(rec["R.x"][:, 0]))
        self.sim.apply_learning({"E": rate, "target": self.target})
        return dict(trial=k, rate=f"{rate:.12g}", error=f"{rate - self.target:.12g}")

    def state(self):
        a = self.sim.arrays
        return dict(F=a["F"].copy(), RNG=a["RNG"].copy())

    def restore(self, state):
        a = self.sim.arrays
        a["F"][:], a["RNG"][:] = state["F"], state["RNG"]

    def metrics(self, rows):
        err = np.abs([float(r["error"]) for r in rows])
        return dict(final_error=round(float(err[-1]), 6), mean_error=round(float(err.mean()), 6))

    def finish(self, out, rows, meta):
        return f"|error| {abs(float(rows[-1]['error'])):.3f} after {len(rows)} trials"
