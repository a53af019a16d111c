"""Strategy choice per projection, the separable split, the gating plan, the declared
schedule and the printer: all on lowered circuits or sympy, without compiling Numba."""
import numpy as np
import sympy as sp

from circuitdsl.block import Population
from circuitdsl.circuit import Circuit
from circuitdsl.compiler import gating, schedule, separable, strategies
from circuitdsl.compiler.kernel import generate
from circuitdsl.compiler.lower import lower
from circuitdsl.compiler.printer import KernelPrinter
from circuitdsl.equations import rand
from circuitdsl.model import LearningRule, Model, Synapse

RATE = Model("Rate", "dx/dt = (-x + I)/tau", states=dict(x=0.1), params=dict(tau=10.0, g=1.0),
             inputs=("I",))
RATE2 = Model("Rate2", "dx/dt = (-x + I)/tau", states=dict(x=0.1), params=dict(tau=10.0, g=1.0),
              inputs=("I",))
LIN = Synapse("lin", current="I += w*pre.x")
TANH = Synapse("tanh", current="I += w*tanh(pre.x)")
POSTDEP = Synapse("postdep", current="I += w*pre.x*post.x")
HEBB_TRACE = LearningRule("trace", on_step="e += pre.x*post.x", on_trial_end="w = w + eta*e",
                          params=dict(eta=0.1), traces=dict(e=0.0))
GATED = LearningRule("gated", on_step="w = clip(w + eta*post.g*pre.x, lo, hi)",
                     params=dict(eta=0.05, lo=-1.0, hi=1.0))
PLAIN = LearningRule("plain", on_step="w = w + eta*(pre.x + post.x)*pre.x",
                     params=dict(eta=0.05))


def _lowered(synapse, rule=None, sparse=False, same_model=False):
    c = Circuit("s")
    c.add(Population("A", RATE, 4, synapse=synapse))
    c.add(Population("B", RATE if same_model else RATE2, 3))
    W = np.ones((3, 4))
    if sparse:
        W[0, 1] = W[2, 3] = 0.0
    c.connect("A", "B", weight=W, learning_rule=rule)
    return lower(c.build(0), 0.1)


def test_current_strategies_in_priority_order():
    assert strategies.plan(_lowered(LIN))[0].current.name == "dense BLAS"
    assert strategies.plan(_lowered(LIN, sparse=True))[0].current.name == "plain loop"
    assert strategies.plan(_lowered(TANH, sparse=True))[0].current.name == "presynaptic hoisting"
    # w * f(pre) * g(post) is not a matrix-vector product, even on dense rows
    assert strategies.plan(_lowered(POSTDEP))[0].current.name == "plain loop"


def test_rule_strategies_and_describe():
    low = _lowered(LIN, HEBB_TRACE)
    assert strategies.plan(low)[0].rule.name == "separable traces"
    assert strategies.plan(_lowered(LIN, GATED))[0].rule.name == "gated rows"
    assert strategies.plan(_lowered(LIN, PLAIN))[0].rule.name == "plain loop"
    assert strategies.plan(_lowered(LIN))[0].rule is None
    (row,) = strategies.describe(low, strategies.plan(low))
    assert row == dict(projection="p0", edges="A -> B", current="dense BLAS",
                       rule="separable traces")


def test_separable_split_of_a_product_trace():
    low = _lowered(LIN, HEBB_TRACE)
    (terms,) = [separable.plan(p) for p in low.projections]
    assert [t[0] for t in terms] == ["product"]
    kind, trace, f_pre, g_post = terms[0]
    assert trace == "e" and str(f_pre) == "pre__x" and str(g_post) == "post__x"


def test_gating_plan_finds_the_post_factor():
    (p,) = _lowered(LIN, GATED).projections
    gate, gated = gating.plan(p)
    assert str(gate) == "post__g"
    assert gating.plan(_lowered(LIN, PLAIN).projections[0]) is None


def test_schedule_declares_the_step_order_and_generate_follows_it():
    names = [name for name, _ in schedule.SCHEDULE]
    assert names == ["on_step", "inputs", "arrivals", "integrate", "update", "spikes", "on_pre",
                     "feedback", "rules", "check", "record"]
    src = generate(_lowered(LIN, GATED))
    trial = src[src.index("def trial("):src.index("def trials(")]
    marks = [trial.index("inputs_g"), trial.index("_bad = False"), trial.index("_gate = "),
             trial.index("if _bad:"), trial.index("REC[_r, c]")]
    assert marks == sorted(marks)


def test_printer_uses_the_name_map_and_draws_from_the_stream():
    x, w = sp.Symbol("pre__x", real=True), sp.Symbol("w", real=True)
    pr = KernelPrinter({"pre__x": "pre__x", "w": "f_w"}, stream="7")
    assert pr.doprint(sp.Min(x, w, 1)) .count("min(") == 2
    assert pr.doprint(w * rand()) == "f_w*rng_rand(RNG, 7)"
    assert pr.doprint(sp.Float(0.1)) == "0.1"
    try:
        pr.doprint(sp.Symbol("unknown", real=True))
    except KeyError as err:
        assert "no value for 'unknown'" in str(err)
    else:
        raise AssertionError("an unknown symbol must be refused")


DECAY = Model("Decay", "dG/dt = -G/tau + I", states=dict(G=0.0), params=dict(tau=5.0, c=1.0),
              inputs=("I",))


def _decay_source(model):
    c = Circuit("d")
    c.add(Population("A", model, 3, synapse=Synapse("s", current="I += w*pre.G")))
    c.connect("A", "A", weight=np.full((3, 3), 0.1))
    return generate(lower(c.build(0), 0.1))


def test_values_of_constant_parameters_are_computed_once_before_the_step_loop():
    trial = _decay_source(DECAY)
    trial = trial[trial.index("def trial("):trial.index("def trials(")]
    loop = trial.index("for k in range(")
    # exponential Euler's A = -1/tau and exp(A dt) read only tau and dt: before the loop
    assert 0 < trial.index("_A_G = -1/p_tau") < loop
    assert 0 < trial.index("_E_G = _exp(_A_G*dt)") < loop
    assert trial.index("_E_G = _pc_g0__E_G[i]") > loop
    assert "_exp(_A_G*dt)" not in trial[loop:]


def test_a_parameter_an_event_assigns_is_not_constant():
    from circuitdsl.compiler.group_code import constant_params
    from circuitdsl.model import Event
    latched = Model("Latched", "dG/dt = -G/tau + I", states=dict(G=0.0),
                    params=dict(tau=5.0, c=1.0), inputs=("I",),
                    events=[Event("tau = 2*tau", at=1.0)])
    c = Circuit("d")
    c.add(Population("A", latched, 2))
    low = lower(c.build(0), 0.1)
    assert constant_params(low, low.groups[0]) == {"c"}
    trial = _decay_source(latched)
    trial = trial[trial.index("def trial("):trial.index("def trials(")]
    assert "_pc_" not in trial and "_E_G = _exp(_A_G*dt)" in trial
