"""HH spike times against a tight reference (issue 13, item 3; docs/accuracy.md).

One excitatory and one inhibitory HH neuron of blocks/neurons.py, uncoupled, at I_bg = 0.4, 1
and 3, integrated by scipy DOP853 at rtol = atol = 1e-10 (bench/hh_reference.py, which builds
the reference itself and caches it in a temp file keyed by every input, source included).
A spike is an upward crossing of 0 mV: located on the dense output by the reference, and by
linear interpolation of the recorded V between the two steps around it for circuitdsl (the
Simulator reports the step after the crossing; hh_reference.ours checks that these are the
same spikes). Asserted: identical counts and worst |spike-time error| <= 0.05 ms.

The accurate setting is RECOMMENDED below: what docs/accuracy.md says the default for HH
models should become. The defaults themselves are not changed yet (a refactor in progress
compares traces at the old ones); when they are, these tests should run `Simulator(circuit)`
with no method or dt and RECOMMENDED goes.

Cost: the 200 ms version runs in the default suite (reference a few CPU seconds when not
cached, plus one kernel build; 11.6 s cold, 3.6 s warm here); the 1 s version is marked slow
(the reference alone takes 10-12 CPU seconds uncached, and over a minute of wall time on a
loaded machine).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import hh_reference as hr  # noqa: E402

from circuitdsl.blocks.neurons import HH_EXCI, HH_INHIB  # noqa: E402

#: the accurate setting docs/accuracy.md recommends for HH models, and the cheapest measured
#: setting that meets the bound (rk4 at 0.04 ms: 2.5 % below 0.041 ms, where the category-learning
#: circuit diverges, so not recommended as a default; it must stay within the bound too)
RECOMMENDED = dict(method="rk4", dt=0.025)
CHEAPEST = dict(method="rk4", dt=0.04)
SETTINGS = pytest.mark.parametrize("setting", [RECOMMENDED, CHEAPEST],
                                   ids=["recommended-rk4-0.025", "cheapest-rk4-0.04"])
BOUND_MS = 0.05


def _check(duration, method, dt):
    ref = hr.reference(duration)
    got = hr.ours(method, dt, duration)
    rows, summary = hr.compare(ref, got)
    counts = {nrn: (r["n_ref"], r["n_got"]) for nrn, r in rows.items()}
    return summary, counts


def test_reference_is_the_shipped_model():
    """The reference's hand-written right-hand side is the shipped models' (same equations,
    parameters, initial state), so the comparison measures integration and nothing else."""
    rng = np.random.default_rng(0)
    for model, kind in ((HH_EXCI, 0), (HH_INHIB, 1)):
        assert [model.states[x] for x in "Vnmh"] == hr.initial_state()
        exprs = [model.expand(model.ode[x]) for x in "Vnmh"]
        syms = sorted(set().union(*(e.free_symbols for e in exprs)), key=lambda s: s.name)
        model_rhs = sp.lambdify(syms, exprs, "math")
        for i_bg in hr.CURRENTS:
            values = {**model.params, "I_bg": i_bg, "I_syn": 0.0, "I_asc": 0.0, "I_in": 0.0}
            f = hr._rhs_for(kind, i_bg)
            for _ in range(50):
                y = [rng.uniform(-90, 50), *rng.uniform(0, 1, 3)]
                point = {**values, **dict(zip("Vnmh", y))}
                want = model_rhs(*[point[s.name] for s in syms])
                np.testing.assert_allclose(f(0.0, np.array(y)), want, rtol=1e-12, atol=1e-12)


def test_reference_spike_counts():
    """Over the 200 ms of the default-suite check every neuron spikes, one crossing per spike.
    (Over 1 s the E counts are the known 12, 41, 96 at I_bg = 0.4, 1, 3 - Neuroblox's test and
    the reference notes §1.1 - asserted by the slow test.)"""
    ref = hr.reference(200.0)
    assert all(len(ref[nrn]) >= 2 for nrn in hr.NEURONS)
    for nrn in hr.NEURONS:   # crossings are spikes, not root-finder duplicates
        assert np.all(np.diff(ref[nrn]) > 5.0), nrn


@SETTINGS
def test_spike_times_200ms(setting):
    summary, counts = _check(200.0, **setting)
    assert summary["count_diff"] == 0, counts
    assert summary["worst_ms"] <= BOUND_MS, summary


def test_exponential_euler_coarse_misses_the_bound():
    """Today's category-learning setting (exponential Euler, dt 0.05) is outside the bound: the
    test can tell a coarse integrator from an accurate one."""
    summary, counts = _check(200.0, "exponential_euler", 0.05)
    assert summary["count_diff"] > 0 or summary["worst_ms"] > BOUND_MS, summary


@pytest.mark.slow
@SETTINGS
def test_spike_times_1s(setting):
    summary, counts = _check(1000.0, **setting)
    assert [counts[(0, i)][0] for i in hr.CURRENTS] == [12, 41, 96], counts
    assert summary["count_diff"] == 0, counts
    assert summary["worst_ms"] <= BOUND_MS, summary
