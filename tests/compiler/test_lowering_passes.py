"""Lowering, layout, CSR, binding and ordering: tested without compiling any Numba."""
import numpy as np
import pytest

from circuitdsl.block import Population
from circuitdsl.circuit import Circuit
from circuitdsl.compiler import interface as kif
from circuitdsl.compiler.layout import Layout, key
from circuitdsl.compiler.lower import dense_rows, lower
from circuitdsl.equations import EquationError
from circuitdsl.errors import BuildError, ValidationError
from circuitdsl.model import Model, Synapse

LEAK = Model("Leak", "dx/dt = -x/tau + I", states=dict(x=0.0), params=dict(tau=10.0),
             inputs=("I",))
# an instantaneous unit: its output reads this step's input
PASS = Model("Pass", "y = 2*I", states=dict(s=0.0), inputs=("I",))
LIN = Synapse("lin", current="I += w*pre.x")
FROM_Y = Synapse("from y", current="I += w*pre.y")


def _two_pops(W, density=1.0):
    c = Circuit("two")
    c.add(Population("A", LEAK, W.shape[1], synapse=LIN, init=dict(x=np.arange(W.shape[1]))))
    c.add(Population("B", LEAK, W.shape[0], synapse=LIN))
    c.connect("A", "B", weight=W)
    return c


def test_groups_share_a_model_and_layout_answers_typed_questions():
    W = np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]])
    low = lower(_two_pops(W).build(0), 0.1)
    (g,) = low.groups                        # A and B share model and integrator: one group
    assert g.N == 5 and g.paths == ["A", "B"]
    lay = low.layout
    assert lay.size(g) == 5
    assert lay.state(g, "x") == 0 and lay.param(g, "tau") == 0 and lay.input(g, "I") == 0
    np.testing.assert_array_equal(low.arrays["S"][lay.state(g, "x"):][:5], [0, 1, 2, 0, 0])
    assert lay.slot(g, "tau") == ("P", 0)
    with pytest.raises(KeyError):
        lay.slot(g, "nope")
    assert g.locate(4) == ("B", 1)


def test_csr_by_target_with_origin_of_every_synapse():
    W = np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]])
    low = lower(_two_pops(W).build(0), 0.1)
    (p,) = low.projections
    lay, a = low.layout, low.arrays
    assert p.M == 3 and lay.synapses(p) == 3
    # post units are B's: group-local 3 and 4; pre units A's 0..2
    x = lay.index_start(p)
    np.testing.assert_array_equal(a["POST"][x:x + 3], [3, 3, 4])
    np.testing.assert_array_equal(a["PRE"][x:x + 3], [0, 2, 1])
    np.testing.assert_array_equal(a["F"][lay.field_slice(p, "w")], [1.0, 2.0, 3.0])
    r = lay.rows(p)
    np.testing.assert_array_equal(a["PTR"][r:r + 6], [0, 0, 0, 0, 2, 3])
    assert p.order_origin.shape == (2, 3) and set(p.order_origin[0]) == {0}
    assert not p.full and p.dense_rows is None
    assert p.label == "A -> B"


def test_dense_detection_full_and_row_blocks():
    pre = np.tile(np.arange(3), 2)
    assert dense_rows(pre, np.repeat([4, 5], 3), 3) == (4, 2)
    assert dense_rows(pre[:-1], np.repeat([4, 5], 3)[:-1], 3) is None
    assert dense_rows(pre, np.repeat([4, 6], 3), 3) is None          # not contiguous
    # A and B in one group: A is only part of the pre group, so the rows are not dense
    (p,) = lower(_two_pops(np.ones((2, 3))).build(0), 0.1).projections
    assert p.dense_rows is None and not p.full
    # B of its own model: every A unit onto every B unit, a full matrix
    c = Circuit("sep")
    c.add(Population("A", LEAK, 3, synapse=LIN))
    c.add(Population("B", Model("Leak2", "dx/dt = -x/tau + I", states=dict(x=0.0),
                                params=dict(tau=10.0), inputs=("I",)), 2))
    c.connect("A", "B", weight=np.ones((2, 3)))
    (p,) = lower(c.build(0), 0.1).projections
    assert p.full and p.dense_rows == (0, 2)


def test_binding_fills_declared_fields_and_errors_carry_a_caret():
    low = lower(_two_pops(np.ones((2, 3))).build(0), 0.1)
    (p,) = low.projections
    assert p.current.target == "post.I" and str(p.current.expr) == "pre__x*w"
    assert p.on_pre == [] and p.rule_step == [] and p.rule_end == []
    bad = Synapse("bad", current="I += w*pre.nope")
    c = Circuit("bad")
    c.add(Population("A", LEAK, 2, synapse=bad))
    c.connect("A", "A", weight=np.ones((2, 2)))
    with pytest.raises(EquationError) as err:
        lower(c.build(0), 0.1)
    text = str(err.value)
    assert "nope" in text and "^" in text
    caret_line = text.splitlines()[[i for i, ln in enumerate(text.splitlines())
                                    if ln.strip().startswith("^")][0]]
    source_line = text.splitlines()[text.splitlines().index(caret_line) - 1]
    assert source_line[caret_line.index("^"):].startswith("pre.nope")   # the caret is under it


def test_instantaneous_chain_is_ordered_and_algebraic_loop_refused():
    c = Circuit("chain")
    c.add(Population("B", LEAK, 1, synapse=LIN))
    c.add(Population("P", PASS, 1, synapse=FROM_Y))
    c.connect("P", "B", weight=np.ones((1, 1)))
    low = lower(c.build(0), 0.1)
    assert [g.paths for g in low.groups] == [["P"], ["B"]] or \
        [g.paths for g in low.groups] == [["B"], ["P"]]
    loop = Circuit("loop")
    loop.add(Population("P", PASS, 1, synapse=FROM_Y))
    loop.add(Population("Q", Model("Pass2", "y = 3*I", states=dict(s=0.0), inputs=("I",)), 1,
                        synapse=FROM_Y))
    loop.connect("P", "Q", weight=np.ones((1, 1)))
    loop.connect("Q", "P", weight=np.ones((1, 1)))
    with pytest.raises(BuildError, match=r"edges (P -> Q, Q -> P|Q -> P, P -> Q) form an "
                                         r"algebraic loop"):
        lower(loop.build(0), 0.1)


def test_chain_reader_comes_after_the_unit_it_reads():
    """B reads P's derived y = 2*I, which is P's input this step: P's group must come first,
    although B was added first."""
    c = Circuit("chain")
    c.add(Population("B", PASS, 1, synapse=FROM_Y))
    c.add(Population("P", Model("Pass3", "y = 2*I", states=dict(s=0.0), inputs=("I",)), 1,
                     synapse=FROM_Y))
    c.add(Population("S", LEAK, 1, synapse=LIN))
    c.connect("S", "P", weight=np.ones((1, 1)))
    c.connect("P", "B", weight=np.ones((1, 1)))
    order = [g.paths[0] for g in lower(c.build(0), 0.1).groups]
    assert order.index("P") < order.index("B") and order.index("S") < order.index("P")


def test_rule_parameter_matrix_of_the_wrong_shape_names_the_edge():
    from circuitdsl.model import LearningRule
    rule = LearningRule("r", on_trial_end="w = w + eta", params=dict(eta=np.zeros((3, 3))))
    c = Circuit("r")
    c.add(Population("A", LEAK, 2, synapse=LIN))
    c.connect("A", "A", weight=np.ones((2, 2)), learning_rule=rule)
    with pytest.raises(ValidationError, match=r"edge A -> A: learning rule 'r' parameter 'eta' "
                                              r"has shape \(3, 3\); expected a scalar or \(2, 2\)"):
        lower(c.build(0), 0.1)


def test_layout_refuses_a_duplicate_key_and_keys_are_spelled_once():
    lay = Layout()
    lay.add("N_g0", 3)
    with pytest.raises(KeyError, match="added twice"):
        lay.add("N_g0", 4)
    assert lay.index("N_g0") == 0 and lay.array().tolist() == [3]

    class G:
        name = "g7"
    assert key.state(G, "V") == "S_g7_V" and key.size(G) == "N_g7"


def test_kernel_interface_signatures_and_calls_come_from_one_declaration():
    assert kif.signature("trial", kif.TRIAL).startswith("trial(k0, n_steps, dt, S, P, I, F")
    assert kif.call("trial", kif.TRIAL, k0=0).startswith("trial(0, n_steps, dt, S")
    with pytest.raises(KeyError, match="has no argument"):
        kif.call("trial", kif.TRIAL, bogus=1)
    vals = kif.values(("S", "k0"), {"S": "array S"}, k0=5)
    assert vals == ["array S", 5]
    with pytest.raises(KeyError, match="no value for kernel argument k0"):
        kif.values(("k0",), {})
    assert kif.Status.NONFINITE != kif.Status.SPIKES and kif.Status.SIZE > max(
        kif.Status.NONFINITE, kif.Status.TRIAL, kif.Status.STEP, kif.Status.SPIKES)
