"""Edges a composite block makes inside itself get the same checks as Circuit.connect."""
import numpy as np
import pytest

from circuitdsl.block import Composite, Population
from circuitdsl.circuit import Circuit, CircuitError
from circuitdsl.model import LearningRule, Model, Synapse

LEAK = Model("Leak", "dx/dt = -x + I", states=dict(x=0.0), inputs=("I",))
LIN = Synapse("lin", current="I += w*pre.x")


class Pair(Composite):
    def __init__(self, name, **edge):
        super().__init__(name)
        self.add(Population("a", LEAK, 2, synapse=LIN))
        self.add(Population("b", LEAK, 3))
        self.connect("a", "b", **edge)


def _build(**edge):
    c = Circuit("comp")
    c.add(Pair("P", **edge))
    return c.build(0)


def test_a_valid_inner_edge_builds():
    net = _build(weight=np.full((3, 2), 0.5))
    (s,) = net.synapse_sets
    assert s.connection.label == "P.a -> P.b" and len(s.weight) == 6


@pytest.mark.parametrize("edge, message", [
    (dict(weight=np.ones((2, 2))), r"edge P\.a -> P\.b: weight"),
    (dict(delay=-1), r"edge P\.a -> P\.b: delay is a number of steps >= 0, got -1"),
    (dict(connection_rule="ring"), r"edge P\.a -> P\.b: connection_rule must be"),
    (dict(learning_rule="hebb"), r"edge P\.a -> P\.b: learning_rule must be a LearningRule"),
    (dict(bogus=1), r"edge P\.a -> P\.b: unknown option bogus"),
])
def test_inner_edges_are_checked_like_outer_ones(edge, message):
    with pytest.raises(CircuitError, match=message):
        _build(**edge)
    # and the same edge made with Circuit.connect gives the same message, but for its name
    c = Circuit("flat")
    c.add(Population("a", LEAK, 2, synapse=LIN), Population("b", LEAK, 3))
    with pytest.raises(CircuitError, match=message.replace(r"P\.", "")):
        c.connect("a", "b", **edge)


def test_a_rule_on_an_inner_edge_is_kept():
    rule = LearningRule("r", on_trial_end="w = w + 0.0")
    (s,) = _build(weight=np.full((3, 2), 0.5), learning_rule=rule).synapse_sets
    assert s.rule is not None and s.rule.name == "r"
