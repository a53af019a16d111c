"""Carried states (Model(..., carried=...)): kept across Simulator.reset() and between the
trials of run_trials, on a tiny generic model; every other state goes back to its initial
value."""
import numpy as np
import pytest

from circuitdsl.block import Population
from circuitdsl.circuit import Circuit
from circuitdsl.equations import EquationError
from circuitdsl.model import Model
from circuitdsl.simulator import Simulator

# x relaxes to the input; m is a running sum of x and n counts steps, both over all trials.
LEAKY = Model("Leaky", "dx/dt = (-x + I_in)/tau", states=dict(x=0.25, m=0.0, n=0.0),
              params=dict(tau=5.0), inputs=("I_in",),
              update="""
m = 0.5*m + x
n = n + 1
""", carried=("m", "n"))


def simulator(model=LEAKY, N=3):
    c = Circuit("carried")
    c.add(Population("P", model, N))
    return Simulator(c, dt=1.0, method="euler")


def test_reset_keeps_carried_states_and_restores_the_others():
    sim = simulator()
    sim.run(4.0, inputs={"P.I_in": np.array([1.0, 2.0, 3.0])})
    m, x = sim.get("P", "m"), sim.get("P", "x")
    assert np.all(sim.get("P", "n") == 4.0) and np.all(m > 0) and not np.allclose(x, 0.25)
    sim.reset()
    assert np.array_equal(sim.get("P", "m"), m) and np.all(sim.get("P", "n") == 4.0)
    assert np.all(sim.get("P", "x") == 0.25) and sim.k == 0
    sim.run(1.0, inputs={"P.I_in": np.array([1.0, 2.0, 3.0])})
    x1 = sim.get("P", "x")
    assert np.array_equal(sim.get("P", "m"), 0.5 * m + x1)      # continues from before reset
    assert np.all(sim.get("P", "n") == 5.0)
    sim.reset(carried=False)
    assert np.all(sim.get("P", "m") == 0.0) and np.all(sim.get("P", "n") == 0.0)
    explicit = sim.lowered.init_state.copy()
    explicit[:] = 7.0
    sim.run(2.0)
    sim.reset(explicit)                                          # an explicit state is taken whole
    assert np.all(sim.get("P", "m") == 7.0) and np.all(sim.get("P", "x") == 7.0)


def test_run_trials_carries_them_like_reset_run():
    """run_trials keeps carried states from trial to trial, bit for bit as reset(); run()."""
    rng = np.random.default_rng(0)
    table = rng.uniform(-1, 1, (2, 6, 3))                       # 2 cases of 6 steps
    cases = [0, 1, 1, 0, 1]
    a = simulator()
    out = a.run_trials(6.0, cases, inputs={"P.I_in": table}, learn=False,
                       collect=["P.x", "P.m", "P.n"])
    b = simulator()
    for n, c in enumerate(cases):
        b.reset()
        b.run(6.0, inputs={"P.I_in": table[c]})
        for var in ("x", "m", "n"):
            assert np.array_equal(out[f"P.{var}"][n], b.get("P", var)), (n, var)
    assert np.array_equal(out["P.n"][:, 0], [6.0, 12.0, 18.0, 24.0, 30.0])


def test_without_carried_states_reset_restores_everything():
    plain = Model("Plain", "dx/dt = (-x + I_in)/tau", states=dict(x=0.25, m=0.0),
                  params=dict(tau=5.0), inputs=("I_in",), update="m = 0.5*m + x")
    sim = simulator(plain)
    sim.run(3.0, inputs={"P.I_in": np.ones(3)})
    sim.reset()
    assert np.all(sim.get("P", "m") == 0.0) and np.all(sim.get("P", "x") == 0.25)
    out = sim.run_trials(3.0, [0, 0], inputs={"P.I_in": np.ones((1, 3, 3))}, learn=False,
                         collect=["P.m"])
    assert np.array_equal(out["P.m"][0], out["P.m"][1])         # each trial from the start


def test_carried_must_name_a_state():
    with pytest.raises(EquationError, match="carried state 'tau' is not a state; states are: x"):
        Model("Bad", "dx/dt = -x/tau", states=dict(x=0.0), params=dict(tau=5.0),
              carried=("tau",))
