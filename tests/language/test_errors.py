"""One exception tree: each module's named error is a kind of CircuitDSLError and still the
built-in a caller caught before, and user mistakes in the front end raise it with a message
that names what is wrong. Nothing here compiles a kernel."""
from __future__ import annotations

import numpy as np
import pytest

from circuitdsl import errors
from circuitdsl.block import BlockError, Population
from circuitdsl.circuit import Circuit, CircuitError, resolve_params
from circuitdsl.connections import ConnectionError_
from circuitdsl.datasets import (ImageSet, StimulusFileError, generate_category_stimuli,
                                 load_image_csv)
from circuitdsl.equations import EquationError
from circuitdsl.model import LearningRule, Model
from circuitdsl.sweep import SweepError
from circuitdsl.tasks import DelayComparisonTask, TaskError

RATE = Model("Rate", "dx/dt = (-x + I)/tau", states=dict(x=0.0), params=dict(tau=10.0),
             inputs=("I",))


@pytest.mark.parametrize("cls, kind, builtin", [
    (BlockError, errors.ValidationError, ValueError),
    (CircuitError, errors.ValidationError, ValueError),
    (ConnectionError_, errors.ValidationError, ValueError),
    (EquationError, errors.ValidationError, ValueError),
    (StimulusFileError, errors.ValidationError, ValueError),
    (TaskError, errors.ValidationError, ValueError),
    (SweepError, errors.RunError, ValueError),
    (errors.SimulationError, errors.CircuitDSLError, RuntimeError),
])
def test_every_named_error_has_its_kind_and_its_old_builtin(cls, kind, builtin):
    assert issubclass(cls, kind) and issubclass(cls, errors.CircuitDSLError)
    assert issubclass(cls, builtin)


def test_block_errors_name_the_block():
    with pytest.raises(BlockError, match="block 'E': N must be a positive integer, got 0"):
        Population("E", RATE, 0)
    with pytest.raises(errors.ValidationError, match="block name 'a.b' must be"):
        Population("a.b", RATE, 2)


def test_circuit_and_edge_errors_name_the_block_or_edge():
    c = Circuit("c")
    c.add(Population("E", RATE, 2))
    with pytest.raises(CircuitError, match=r"circuit 'c' has no block 'e' \(did you mean 'E'"):
        c.connect("E", "e")
    with pytest.raises(CircuitError, match=r"edge E -> E: density must be in \(0, 1\], got 7"):
        c.connect("E", "E", density=7)
    with pytest.raises(CircuitError, match="edge E -> E: unknown option bogus"):
        c.connect("E", "E", bogus=1)
    with pytest.raises(errors.ValidationError, match="c has no parameter zz; parameters: a"):
        resolve_params("c", {"a": 1}, {"zz": 2})
    with pytest.raises(ConnectionError_, match="edge E -> E: 'E' has no default synapse"):
        c.connect("E", "E")
        c.build(seed=0)


def test_equation_error_keeps_its_caret_under_the_symbol():
    with pytest.raises(EquationError) as info:
        Model("Bad", "dx/dt = -x/tua", states=dict(x=0.0), params=dict(tau=1.0))
    assert isinstance(info.value, errors.ValidationError)
    lines = str(info.value).splitlines()
    assert "unknown name 'tua'" in lines[0]
    assert lines[2].index("^") == lines[1].index("tua")


def test_learning_rule_parameter_is_a_validation_error():
    rule = LearningRule("hebb", on_trial_end="w = w + eta", params=dict(eta=0.1))
    with pytest.raises(errors.ValidationError,
                       match="learning rule 'hebb' has no parameter etaa; it has: eta"):
        rule.with_params(etaa=1.0)


def test_stimulus_data_errors_are_validation_errors(tmp_path):
    with pytest.raises(StimulusFileError, match=r"missing.csv: file not found"):
        load_image_csv(tmp_path / "missing.csv")
    with pytest.raises(errors.ValidationError, match=r"images must be 2-D, got shape \(3,\)"):
        ImageSet(np.zeros(3), np.ones(3), "x", "")
    with pytest.raises(errors.ValidationError, match="categories must be >= 1"):
        ImageSet(np.zeros((2, 4)), np.zeros(2), "x", "")
    with pytest.raises(errors.ValidationError, match="n_stimuli must be >= 1, got 0"):
        generate_category_stimuli(0, 20)


def test_task_options_are_validation_errors():
    with pytest.raises(TaskError, match="dt must be > 0, got 0"):
        DelayComparisonTask(dt=0)
    assert isinstance(TaskError("x"), errors.ValidationError)
