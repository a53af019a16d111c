"""Definition-time errors: each names the model, the line, and points at the fault."""
import numpy as np
import pytest

from circuitdsl.block import BlockError, Population
from circuitdsl.blocks.neurons import HHNeuronExci, RatePopulation
from circuitdsl.circuit import Circuit, CircuitError
from circuitdsl.equations import EquationError
from circuitdsl.learning import HebbianPlasticity
from circuitdsl.model import Event, Model, Synapse


def model(eqs, **kw):
    return Model("M", eqs, states=kw.get("states", dict(V=0.0)), params=kw.get("params",
                 dict(g=1.0)), inputs=kw.get("inputs", ("I",)), events=kw.get("events", ()))


@pytest.mark.parametrize("eqs, message, caret", [
    ("dV/dt = -G*V + I", "unknown name 'G' (did you mean 'g'?)", None),
    ("dV/dt = -g*V + I\ndV/dt = I", "'dV/dt' is defined twice", None),
    ("dW/dt = I", "derivative of 'W', which is not declared; states are: V", None),
    ("dg/dt = I", "derivative of 'g', which is a parameter", None),
    ("dV/dt = (V + I", "syntax error", None),
    ("dV/dt = exp(V, 2) + I", "'exp' takes 1 argument, got 2", None),
    ("dV/dt = foo(V) + I", "unknown function 'foo'", None),
    ("dV/dt = exp + I", "'exp' is a function; call it with arguments", None),
    ("dV/dt = 'a' + I", "only numbers are allowed as constants", None),
    ("dV/dt = V", "input 'I' is declared but no equation uses it", None),
    ("dV/dt = pre.V + I", "only nothing here may prefix a variable", None),
    ("V + I", "expected 'name = expression'", None),
    ("dV/dt = ", "missing expression", None),
    ("dV/dt += I", "'+=' is only allowed in statements", None),
])
def test_model_errors(eqs, message, caret):
    with pytest.raises(EquationError) as err:
        model(eqs)
    text = str(err.value)
    assert message in text
    assert text.startswith("M")
    assert "^" in text
    if caret:
        assert text.endswith(caret.rstrip("\n"))


def test_error_points_at_symbol():
    with pytest.raises(EquationError) as err:
        model("dV/dt = -g*V + I\n\ndV2/dt = 1")
    assert "line 3" in str(err.value)
    with pytest.raises(EquationError) as err:
        model("dV/dt = -g*V + Ix")
    lines = str(err.value).splitlines()
    assert lines[1].strip() == "dV/dt = -g*V + Ix"
    assert lines[2].index("^") == lines[1].index("Ix")


def test_event_names_unknown_parameter():
    with pytest.raises(EquationError, match="event 'at' names 'T', which is not a parameter"):
        model("dV/dt = I", events=[Event("V = 0", at="T")])
    with pytest.raises(EquationError, match="cannot assign to 'I' here"):
        model("dV/dt = I", events=[Event("I = 0", at=1.0)])


def test_synapse_current_form():
    with pytest.raises(EquationError, match="one line of the form 'INPUT"):
        Synapse("bad", current="I = w*pre.r")


def test_block_and_circuit_errors():
    with pytest.raises(BlockError, match="N must be a positive integer, got 0"):
        HHNeuronExci("E", N=0)
    with pytest.raises(BlockError, match="has no parameter 'I_bgg'"):
        HHNeuronExci("E", N=2, I_bgg=1.0)
    with pytest.raises(BlockError, match=r"parameter 'I_bg' has shape \(3,\), expected"):
        HHNeuronExci("E", N=2, I_bg=[1, 2, 3])
    with pytest.raises(ValueError, match="activation must be one of tanh, relu, linear"):
        RatePopulation("R", 3, activation="sigmoid")
    c = Circuit("c")
    c.add(RatePopulation("A", 3), RatePopulation("B", 2))
    with pytest.raises(CircuitError, match="already has a block named 'A'"):
        c.add(RatePopulation("A", 1))
    with pytest.raises(CircuitError, match="has no block 'C'"):
        c.connect("A", "C")
    with pytest.raises(CircuitError, match=r"did you mean 'A'"):
        c.connect("a", "B")
    with pytest.raises(CircuitError, match=r"density must be in \(0, 1\], got 1.5"):
        c.connect("A", "B", density=1.5)
    with pytest.raises(CircuitError, match=r"weight has shape \(3, 2\) but the edge needs "
                                           r"\(N_dst, N_src\) = \(2, 3\)"):
        c.connect("A", "B", weight=np.ones((3, 2)))
    with pytest.raises(CircuitError, match="weight contains NaN or Inf"):
        c.connect("A", "B", weight=float("nan"))
    with pytest.raises(CircuitError, match="delay is a number of steps >= 0"):
        c.connect("A", "B", delay=-1)
    with pytest.raises(CircuitError, match="unknown option tau"):
        c.connect("A", "B", tau=3)
    with pytest.raises(CircuitError, match="learning_rule must be a LearningRule"):
        c.connect("A", "B", learning_rule="hebb")


def test_learning_rule_on_edge_without_weights():
    from circuitdsl.blocks import SNc, Striatum
    c = Circuit("c")
    c.add(Striatum("S", 2), SNc("D"))
    with pytest.raises(CircuitError, match="has no weights, so it cannot carry a learning rule"):
        c.connect("S", "D", learning_rule=HebbianPlasticity())


def test_synapse_into_missing_input():
    from circuitdsl.simulator import Simulator
    c = Circuit("c")
    c.add(HHNeuronExci("E", 1), RatePopulation("R", 1))
    c.connect("E", "R")
    with pytest.raises(ValueError, match="feeds input 'I_syn', but model 'Rate\\[tanh\\]'"):
        Simulator(c)


def test_population_rejects_non_model():
    with pytest.raises(BlockError, match="model must be a circuitdsl Model"):
        Population("X", "not a model")


def test_delay_on_continuous_edge_is_refused():
    from circuitdsl.simulator import Simulator
    c = Circuit("c")
    c.add(RatePopulation("A", 2), RatePopulation("B", 2))
    c.connect("A", "B", delay=3)
    with pytest.raises(ValueError, match="edge A -> B: delay=3 steps, but synapse 'rate' has no "
                                         "spike"):
        Simulator(c)


def test_block_kind_checks_happen_at_connect():
    from circuitdsl.blocks import TAN, CorticalWTA, HHNeuronInhib, Striatum
    c = Circuit("c")
    c.add(Striatum("S", 2), HHNeuronInhib("X", 1), TAN("T"), CorticalWTA("C", 2, 2))
    with pytest.raises(CircuitError, match="edge X -> S: only a TAN connects to a whole Striatum"):
        c.connect("X", "S", t_event=90.0)
    with pytest.raises(CircuitError, match="edge S -> X: a Striatum drives a TAN or an SNc"):
        c.connect("S", "X")
    with pytest.raises(CircuitError, match="edge X -> C: only a NextGenerationEI mass"):
        c.connect("X", "C")
    with pytest.raises(CircuitError, match="edge T -> S: this kind of edge needs t_event"):
        c.connect("T", "S")


def test_rule_and_synapse_text_checked_when_defined():
    from circuitdsl.model import LearningRule
    with pytest.raises(EquationError, match="unknown name 'fooo'") as err:
        LearningRule("r", on_trial_end="w = w + fooo")
    assert str(err.value).startswith("r on_trial_end, line 1")
    with pytest.raises(EquationError, match="cannot assign to 'K' here"):
        LearningRule("r", on_trial_end="K = 1", params=dict(K=1.0))
    with pytest.raises(EquationError, match="syntax error"):
        Synapse("s", on_pre="post.V += (w")
    with pytest.raises(EquationError, match="'tanh' takes 1 argument"):
        Synapse("s", current="I += w*tanh(pre.x, 2)")


def test_on_step_cannot_read_inputs():
    with pytest.raises(EquationError, match="on_step runs before inputs are summed, so it cannot "
                                            "read input 'I'"):
        Model("M", "dV/dt = I", states=dict(V=0.0, u=0.0), inputs=("I",), on_step="u = I")


def test_cortex_edge_options_are_checked():
    from circuitdsl.blocks import CorticalWTA, Striatum
    c = Circuit("c")
    c.add(CorticalWTA("A", 2, 2), CorticalWTA("B", 2, 2), Striatum("S", 2))
    with pytest.raises(CircuitError, match="cortex -> striatum takes a scalar weight"):
        c.connect("A", "S", weight=np.ones(4), density=0.5)
    with pytest.raises(CircuitError, match="always uses the hypergeometric rule"):
        c.connect("A", "B", density=0.5, connection_rule="bernoulli")
