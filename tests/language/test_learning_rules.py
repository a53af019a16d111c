"""Learning rules written in the equation language: per-step traces and trial-end updates."""
import numpy as np
import pytest

from circuitdsl.block import Population
from circuitdsl.blocks.neurons import RATE
from circuitdsl.circuit import Circuit
from circuitdsl.model import LearningRule, Model
from circuitdsl.simulator import Simulator

# A Miconi-style unit: r_prev keeps the previous step's rate, x_mean a running mean of x.
UNIT = Model("TraceUnit", """
dx/dt = (-x + I + I_ext)/tau
r = tanh(x)
""", states=dict(x=0.0, r_prev=0.0, x_mean=0.0), params=dict(tau=10.0, I_ext=0.0),
    inputs=("I",), on_step="x_mean = 0.05*x_mean + 0.95*x\nr_prev = tanh(x)")

RULE = LearningRule("cubic trace", traces=dict(e=0.0), params=dict(eta=0.1),
                    on_step="e = e + (pre.r_prev*(post.x - post.x_mean))**3",
                    on_trial_end="w = w + clip(-eta*e*(E - Ebar), -0.01, 0.01)",
                    signals=("E", "Ebar"))


MIXED = LearningRule("mixed trace", traces=dict(e=0.0), params=dict(eta=0.1),
                     on_step="e = e + (pre.r_prev*post.x + post.x_mean)**3",
                     on_trial_end="w = w + clip(-eta*e*(E - Ebar), -0.01, 0.01)",
                     signals=("E", "Ebar"))


def numpy_reference(W, x0, I_ext, tau, dt, n, eta, E, Ebar, mixed=False):
    x, xm, rp = x0.copy(), np.zeros_like(x0), np.zeros_like(x0)
    e = np.zeros_like(W)
    for _ in range(n):
        xm = 0.05 * xm + 0.95 * x            # on_step, before integration
        rp = np.tanh(x)
        x = x + dt * (-x + W @ np.tanh(x) + I_ext) / tau
        if mixed:
            e += (np.outer(x, rp) + xm[:, None]) ** 3
        else:
            e += (np.outer(x - xm, rp)) ** 3      # per-step rule, after integration
    mask = W != 0
    return x, e * mask, W + np.clip(-eta * e * (E - Ebar), -0.01, 0.01) * mask


@pytest.mark.parametrize("layout, rule, strategy", [
    ("sparse", RULE, "separable traces"),   # per-synapse dot over stored steps
    ("full", RULE, "separable traces"),     # on a dense matrix: one GEMM per chunk
    ("full", MIXED, "plain loop"),          # not separable: per synapse, per step
])
def test_per_step_trace_and_trial_end_update_match_numpy(layout, rule, strategy):
    rng = np.random.default_rng(5)
    N = 8
    W = rng.normal(0, 1.5 / np.sqrt(N), (N, N))
    if layout == "sparse":
        np.fill_diagonal(W, 0.0)
    x0, I_ext = rng.uniform(-0.5, 0.5, N), rng.normal(size=N)
    c = Circuit("trace")
    c.add(Population("R", UNIT, N, synapse=RATE, init=dict(x=x0), params=dict(I_ext=I_ext)))
    c.connect("R", "R", weight=W, learning_rule=rule, self_connections=True)
    sim = Simulator(c, dt=1.0, method="euler")
    (plan,) = sim.plan()
    assert plan["rule"] == strategy
    assert sim.projections()[0].full == (layout == "full")
    assert plan["current"] == ("dense BLAS" if layout == "full" else "presynaptic hoisting")
    rec = sim.run(1500.0, record=["R.x"])               # > one 1024-step buffer
    x_ref, e_ref, w_ref = numpy_reference(W, x0, I_ext, 10.0, 1.0, 1500, 0.1, 0.7, 0.4,
                                          mixed=rule is MIXED)
    assert np.max(np.abs(rec["R.x"][-1] - x_ref)) < 1e-12
    p = sim.projections()[0]
    s = sim.network.synapse_sets[0]
    e = np.zeros_like(W)
    e[s.post_idx[p.order_origin[1]], s.pre_idx[p.order_origin[1]]] = sim.field(p, "e")
    assert np.allclose(e, e_ref, rtol=1e-10, atol=1e-12 * np.abs(e_ref).max())
    sim.apply_learning({"E": 0.7, "Ebar": 0.4})
    w = np.zeros_like(W)
    w[s.post_idx, s.pre_idx] = sim.synapse_weights()[0]
    assert np.allclose(w, w_ref, rtol=1e-12, atol=1e-15)
    assert not np.allclose(w, W)
    sim.reset()                                   # traces restart at their initial value
    assert np.all(sim.field(p, "e") == 0.0)


def test_missing_signal_is_named():
    c = Circuit("t")
    c.add(Population("R", UNIT, 2, synapse=RATE))
    c.connect("R", "R", weight=np.ones((2, 2)), learning_rule=RULE)
    sim = Simulator(c, dt=1.0, method="euler")
    import pytest
    with pytest.raises(ValueError, match="learning rule 'cubic trace' needs signal\\(s\\) Ebar"):
        sim.apply_learning({"E": 1.0})
