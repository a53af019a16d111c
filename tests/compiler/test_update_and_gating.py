"""Engine features LTTB needs, tested on small generic circuits: `update` statements (after
integration, may read inputs), post-factor gated per-step rules, rule parameters given as
matrices, and dense row blocks (E -> E and I -> E onto the E part of an E+I group)."""
import numpy as np
import pytest

from circuitdsl.block import Population
from circuitdsl.circuit import Circuit
from circuitdsl.equations import EquationError
from circuitdsl.model import LearningRule, Model, Synapse
from circuitdsl.simulator import Simulator

# A discrete map with an ODE part: x is integrated, then `update` reads the input and x.
MAP = Model("Map", "dx/dt = -x/tau", states=dict(x=1.0, y=0.0, g=0.0, r=0.5),
            params=dict(tau=10.0, c=0.3, learn=1.0), inputs=("I",),
            update="""
y = 0.5*y + I + x
g = where(y > c, y - c, 0)
r = tanh(y)
""")
CURRENT = Synapse("r", current="I += w*pre.r")
GATED = LearningRule("gated", on_step="w = clip(w + eta*post.learn*post.g*pre.r, lo, hi)",
                     params=dict(eta=0.05, lo=-0.4, hi=0.4))
UNGATED = LearningRule("ungated", on_step="w = clip(w + eta*(post.g + pre.r)*pre.r, lo, hi)",
                       params=dict(eta=0.05, lo=-0.4, hi=0.4))


def reference(W, n, lo, hi, c, eta=0.05, tau=10.0):
    N = W.shape[0]
    x, y, g, r = np.ones(N), np.zeros(N), np.zeros(N), np.full(N, 0.5)
    W = W.copy()
    ys = []
    for _ in range(n):
        I = W @ r
        x = x + 1.0 * (-x / tau)
        y = 0.5 * y + I + x
        g = np.where(y > c, y - c, 0.0)
        r = np.tanh(y)
        W = np.clip(W + eta * np.outer(g, r), lo, hi)      # eta: scalar or (N, N)
        ys.append(y)
    return np.array(ys), W


def circuit(W, rule, E=6, I=0, thresholds=0.3, **params):
    c = Circuit("map")
    c.add(Population("E", MAP, E, synapse=CURRENT, params=dict(c=thresholds)))
    if I:
        c.add(Population("I", MAP, I, synapse=CURRENT))
    c.connect("E", "E", weight=W[:E, :E] if I else W, self_connections=True,
              learning_rule=rule.with_params(**params) if params else rule)
    if I:
        c.connect("I", "E", weight=W[:E, E:], learning_rule=rule)
    return c


def test_update_reads_inputs_and_gated_rule_matches_numpy():
    rng = np.random.default_rng(0)
    W = rng.uniform(-0.3, 0.3, (6, 6))
    c = np.array([0.3, 0.3, 0.3, 1e3, 1e3, 1e3])     # units 3..5 never open their gate
    sim = Simulator(circuit(W, GATED, thresholds=c), dt=1.0, method="euler")
    assert sim.plan()[0]["rule"] == "gated rows"
    rec = sim.run(40.0, record=["E.y", "E.g"])
    ys, W_ref = reference(W, 40, -0.4, 0.4, c)
    assert np.max(np.abs(rec["E.y"] - ys)) < 1e-12
    g = rec["E.g"]
    assert np.all(g[:, 3:] == 0) and (g[:, :3] > 0).mean() > 0.5  # rows skipped, rows learning
    w = np.zeros_like(W)
    s = sim.network.synapse_sets[0]
    w[s.post_idx, s.pre_idx] = sim.synapse_weights()[0]
    assert np.allclose(w, W_ref, rtol=0, atol=1e-14)
    assert np.any(w == 0.4) and not np.allclose(w, W)           # learning and the clip bit


def test_rule_without_a_post_factor_is_not_gated():
    sim = Simulator(circuit(np.full((3, 3), 0.1), UNGATED, E=3), dt=1.0, method="euler")
    assert sim.plan()[0]["rule"] == "plain loop"


def test_matrix_rule_parameter_and_dense_rows():
    """E -> E and I -> E make rows 0..5 of the E+I group dense: one BLAS product; the
    diagonal's bounds [0, 0] keep it at zero, as a matrix-valued rule parameter."""
    rng = np.random.default_rng(1)
    W = np.zeros((10, 10))
    W[:6] = rng.uniform(-0.3, 0.3, (6, 10))
    np.fill_diagonal(W, 0.05)           # nonzero, so the weight matrix keeps the synapse
    off = 1 - np.eye(6)
    c = circuit(W, GATED, E=6, I=4, lo=-0.4 * off, hi=0.4 * off)
    sim = Simulator(c, dt=1.0, method="euler")
    p = sim.projections()[0]
    assert p.dense_rows == (0, 6) and not p.full
    assert [row["current"] for row in sim.plan()] == ["dense BLAS"]   # one projection
    sim.run(30.0)
    w = sim.synapse_weights()
    s0 = sim.network.synapse_sets[0]
    assert np.all(w[0][s0.pre_idx == s0.post_idx] == 0.0)
    assert np.any(w[0][s0.pre_idx != s0.post_idx] != W[:6, :6][s0.post_idx, s0.pre_idx][
        s0.pre_idx != s0.post_idx])


def test_bad_matrix_parameter_names_the_edge():
    c = circuit(np.full((3, 3), 0.1), GATED, E=3, hi=np.ones((2, 2)))
    with pytest.raises(ValueError, match="edge E -> E: learning rule 'gated' parameter 'hi' has "
                                         "shape \\(2, 2\\); expected a scalar or \\(3, 3\\)"):
        Simulator(c, dt=1.0)


def test_on_step_still_cannot_read_inputs():
    with pytest.raises(EquationError, match="on_step runs before inputs are summed"):
        Model("Bad", states=dict(y=0.0), inputs=("I",), on_step="y = I")
    Model("Good", states=dict(y=0.0), inputs=("I",), update="y = I")


@pytest.mark.parametrize("uniform", [True, False])
def test_shared_rate_is_read_once_per_row_only_while_uniform(uniform):
    """A rate every edge set to one value is read once per row; if a single synapse's rate is
    changed, the kernel notices at the start of the run and reads it per synapse again."""
    rng = np.random.default_rng(2)
    W = rng.uniform(-0.3, 0.3, (6, 6))
    c = np.array([0.3, 0.3, 0.3, 1e3, 1e3, 1e3])
    sim = Simulator(circuit(W, GATED, thresholds=c), dt=1.0, method="euler")
    assert "_uni_p0" in sim.source and "f_eta = _h_p0_eta" in sim.source
    eta = np.full((6, 6), 0.05)
    if not uniform:
        proj, s0 = sim.projections()[0], sim.network.synapse_sets[0]
        q = int(np.flatnonzero((s0.post_idx[proj.order_origin[1]] == 1) &
                               (s0.pre_idx[proj.order_origin[1]] == 2))[0])
        sim.field(proj, "eta")[q] = 0.0      # this synapse frozen
        eta[1, 2] = 0.0
    sim.run(40.0)
    _, W_ref = reference(W, 40, -0.4, 0.4, c, eta=eta)
    w = np.zeros_like(W)
    s0 = sim.network.synapse_sets[0]
    w[s0.post_idx, s0.pre_idx] = sim.synapse_weights()[0]
    assert np.allclose(w, W_ref, rtol=0, atol=1e-14)
    if not uniform:
        assert w[1, 2] == W[1, 2] and abs(reference(W, 40, -0.4, 0.4, c)[1][1, 2] - W[1, 2]) > 1e-3
