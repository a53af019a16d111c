"""Recording any state, parameter, input or derived quantity (one that reads an input too)."""
import numpy as np
import pytest

from circuitdsl.block import Population
from circuitdsl.circuit import Circuit
from circuitdsl.errors import ValidationError
from circuitdsl.model import Model, Synapse
from circuitdsl.simulator import Simulator

# x relaxes toward its input; `drive` is a derived quantity that reads the input I.
LEAKY = Model("LeakyIn", """
dx/dt = (-x + I)/tau
drive = 2*I + x
""", states=dict(x=0.0), params=dict(tau=5.0), inputs=("I",))
SRC = Model("Const", "dy/dt = 0", states=dict(y=1.0))
SYN = Synapse("lin", current="I += w*pre.y")


@pytest.fixture(scope="module")
def sim():
    c = Circuit("rec")
    c.add(Population("A", SRC, 2, synapse=SYN, init=dict(y=np.array([1.0, 2.0]))))
    c.add(Population("B", LEAKY, 3))
    c.connect("A", "B", weight=np.full((3, 2), 0.5))
    return Simulator(c, dt=0.1, method="euler")


def test_input_and_derived_quantity_reading_it_are_recorded(sim):
    sim.reset()
    rec = sim.run(1.0, record=["B.I", "B.drive", "B.x", "B.tau"])
    # every step: I = 0.5*1 + 0.5*2 = 1.5 for every unit of B
    assert rec["B.I"].shape == (10, 3)
    np.testing.assert_array_equal(rec["B.I"], 1.5)
    # Euler on dx/dt = (1.5 - x)/5 from 0 with dt = 0.1
    x = np.zeros(3)
    for _ in range(10):
        x = x + 0.1 * (1.5 - x) / 5.0
    np.testing.assert_allclose(rec["B.x"][-1], x, rtol=0, atol=1e-15)
    np.testing.assert_allclose(rec["B.drive"], 2 * 1.5 + rec["B.x"], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(rec["B.tau"], 5.0)
    assert sim.get("B", "I").tolist() == [1.5, 1.5, 1.5]


def test_unknown_variable_names_block_and_model(sim):
    with pytest.raises(ValidationError, match="block 'B' \\(model 'LeakyIn'\\) has no state or "
                                              "parameter 'nope'"):
        sim.run(0.1, record=["B.nope"])


def test_state_restore_round_trip_and_refusals(sim):
    sim.reset()
    sim.run(0.5)
    saved = sim.state()
    after_half = sim.run(0.5, record=["B.x"])["B.x"]
    sim.restore(saved)
    assert sim.k == 5
    again = sim.run(0.5, record=["B.x"])["B.x"]
    np.testing.assert_array_equal(after_half, again)
    with pytest.raises(ValidationError, match="no array 'Z'"):
        sim.restore({"Z": np.zeros(1)})
    with pytest.raises(ValidationError, match="array 'S' has shape \\(1,\\)"):
        sim.restore({"S": np.zeros(1)})


def test_padding_units_never_stop_a_run_and_are_never_named():
    """Group rows are padded to whole vectors with copies of unit 0 at build time; here every
    unit is built unstable (dx/dt = a x, a = 10), then the three real units are made stable:
    only the padding diverges, and the run must not notice. A real unit that diverges is
    reported by name."""
    from circuitdsl.errors import SimulationError
    grow = Model("Grow", "dx/dt = a*x", states=dict(x=1.0), params=dict(a=10.0))
    c = Circuit("pad")
    c.add(Population("G", grow, 3))
    sim = Simulator(c, dt=1.0, method="euler")
    sim.set("G", "a", -0.5)
    rec = sim.run(400.0, record=["G.x"])           # 11**400 overflows in the padding
    np.testing.assert_allclose(rec["G.x"][-1], 0.5 ** 400, rtol=1e-12)
    sim.reset()
    sim.set("G", "a", np.array([-0.5, -0.5, 10.0]))
    with pytest.raises(SimulationError, match=r"state 'x' of block 'G' \(unit 2\) became inf"):
        sim.run(400.0)
