"""Figures that show what learned: assertions on the drawn data (no kernel is compiled)."""
import numpy as np
import pytest

from circuitdsl.blocks import HHNeuronExci
from circuitdsl.circuit import Circuit
from circuitdsl.circuits import category_learning
from circuitdsl.learning import HebbianPlasticity
from circuitdsl.plotting import (adjacency_figure, families_from_arrays, families_to_arrays,
                                 family_scales, learning_curve, natural_key, weight_families)


def test_natural_order():
    names = ["E1[10]", "E1[2]", "E2[0]", "E1[1]", "A.ff_inh", "A.wta10.exci[0]", "A.wta2.exci[0]"]
    assert sorted(names, key=natural_key) == [
        "A.ff_inh", "A.wta2.exci[0]", "A.wta10.exci[0]", "E1[1]", "E1[2]", "E1[10]", "E2[0]"]


def _two_populations():
    """E (12 units) -> F (3 units): plastic E[0] -> F[0] and E[10] -> F[1]; fixed F[0] -> F[2]."""
    c = Circuit("small")
    c.add(HHNeuronExci("E", N=12), HHNeuronExci("F", N=3))
    W = np.zeros((3, 12))
    W[0, 0], W[1, 10] = 0.2, 0.6
    c.connect("E", "F", weight=W, learning_rule=HebbianPlasticity())
    V = np.zeros((3, 3))
    V[2, 0] = 5.0
    c.connect("F", "F", weight=V)
    return c.build(0)


def test_families_keep_units_without_synapses_in_natural_order():
    fam = weight_families(_two_populations())
    units = [f"E[{k}]" for k in range(12)] + [f"F[{k}]" for k in range(3)]
    assert fam["units"] == units            # E[1..9], E[11] have no synapse and are kept
    assert fam["fixed"][units.index("F[0]"), units.index("F[2]")] == 5.0
    assert np.count_nonzero(fam["fixed"]) == 1
    (f,) = fam["families"]
    assert f["label"] == "E -> F (HebbianPlasticity)"
    assert f["pre"] == units[:12] and f["post"] == units[12:]
    assert f["w"][0, 0] == 0.2 and f["w"][10, 1] == 0.6
    assert np.count_nonzero(np.isfinite(f["w"])) == 2    # NaN = no synapse, not weight 0
    back = families_from_arrays(families_to_arrays(fam))
    assert back["units"] == units and np.array_equal(back["fixed"], fam["fixed"])
    assert np.array_equal(back["families"][0]["w"], f["w"], equal_nan=True)


def test_old_weight_files_are_drawn_in_natural_order():
    old = dict(names=np.asarray(["E[10]", "E[2]", "F"]), adjacency=np.arange(9.0).reshape(3, 3))
    state = families_from_arrays(old)
    assert state["units"] == ["E[2]", "E[10]", "F"]
    assert state["fixed"][0, 1] == old["adjacency"][1, 0]
    assert state["families"] == []
    fig = adjacency_figure(state, "old run")
    assert "no per-family data" in fig.axes[0].get_title()


def _category_states():
    """category-learning's families before, and after a fake change of every plastic weight."""
    before = weight_families(category_learning.build().build(1))
    after = dict(units=before["units"], fixed=before["fixed"],
                 families=[dict(f, w=f["w"] * 2.0) for f in before["families"]])
    return before, after


def test_adjacency_figure_shows_every_plastic_family_on_its_own_scale():
    before, after = _category_states()
    labels = [f["label"] for f in before["families"]]
    assert labels == ["VAC -> AC (HebbianPlasticity)",
                      "AC -> STR1 (HebbianModulationPlasticity)",
                      "AC -> STR2 (HebbianModulationPlasticity)"]
    scales = family_scales(before, after)
    fig = adjacency_figure(after, "after", before=before, scales=scales)
    axes = fig.axes
    titles = [a.get_title() for a in axes]
    # family panels: each its own colour range, from 0 to the family's largest weight
    for f in after["families"]:
        (ax,) = [a for a in axes if a.get_title().startswith(f["label"])]
        (im,) = ax.get_images()
        assert im.get_clim() == (0.0, pytest.approx(np.nanmax(f["w"])))
        assert [t.get_text() for t in ax.get_yticklabels()] == f["pre"]
        assert [t.get_text() for t in ax.get_xticklabels()] == f["post"]
    striatal = np.nanmax(after["families"][1]["w"])
    assert 0.1 < striatal < 1.2          # the scale a cortico-striatal weight is seen on
    assert scales["fixed"] == 1.0 and scales["families"][labels[0]] == pytest.approx(6.0)
    # the difference panels: after - before, on a symmetric scale
    diffs = [a for a in axes if a.get_title().startswith("change:")]
    assert len(diffs) == 3
    for a, f0, f1 in zip(diffs, before["families"], after["families"]):
        (im,) = a.get_images()
        d = np.nanmax(np.abs(f1["w"] - f0["w"]))
        assert im.get_clim() == (pytest.approx(-d), pytest.approx(d))
        assert np.allclose(np.ma.filled(im.get_array(), np.nan), f1["w"] - f0["w"],
                           equal_nan=True)
    # whole-network panel: the units in natural order, fixed + one overlay per family
    big = axes[0]
    assert [t.get_text() for t in big.get_yticklabels()] == after["units"]
    assert after["units"] == sorted(after["units"], key=natural_key)
    assert len(big.get_images()) == 1 + 3
    assert all(t.get_fontsize() >= 7 for t in big.get_yticklabels())   # readable in print
    assert "after" in titles[0]


@pytest.mark.parametrize("n", [5, 19, 20, 21, 45])
def test_learning_curve_is_drawn_and_labelled_for_any_length(n):
    rng = np.random.default_rng(n)
    correct = rng.integers(0, 2, n)
    fig = learning_curve([dict(correct=str(c)) for c in correct], window=20)
    ax = fig.axes[0]
    curve = [ln for ln in ax.get_lines() if ln.get_label().startswith("accuracy over")]
    (ln,) = curve
    x, y = ln.get_xdata(), ln.get_ydata()
    assert list(x) == list(range(1, n + 1))              # one point per trial, even at n = 20
    w = min(20, n)
    assert ln.get_label().startswith(f"accuracy over the last {w} trials")
    for k in (0, n // 2, n - 1):
        assert y[k] == pytest.approx(correct[max(0, k - w + 1):k + 1].mean())
