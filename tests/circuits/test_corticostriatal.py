"""The corticostriatal circuit against the big-model page: counts, options, stimuli.

Everything here builds the network (circuit.build(seed)) without compiling a kernel, except
the tests marked slow (they run trials).
"""
import math
from pathlib import Path

import numpy as np
import pytest

from circuitdsl.blocks.basal_ganglia_loop import HH_EXCI_STA, STA_AMPA
from circuitdsl.blocks.neurons import CONDUCTANCE
from circuitdsl.circuits import corticostriatal
from circuitdsl.circuits._corticostriatal_outputs import counts, format_counts
from circuitdsl.cli import main
from circuitdsl.datasets import load_image_csv, save_image_csv
from circuitdsl.datasets_big import generate_dot_images, image_statistics

ORIGINAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "image_example.csv"


def _bernoulli(n, p):
    return ("bernoulli", n * p, math.sqrt(n * p * (1 - p)))


# Page §5. ("exact", n): a count fixed by the rule. ("bernoulli", mean, sd): independent pairs,
# accepted within 3 sd. ("range", lo, hi): hypergeometric edges whose last targets may run out
# of free sources; the page gives the range over 300 draws, and the rule's N_c is the maximum.
EDGES = {
    "stim -> VC": ("exact", 225), "LC -> VC": ("exact", 1), "LC -> PFC": ("exact", 1),
    "VC -> PFC": ("range", 1786, 1800),
    "PFC -> STR1": ("exact", 300), "PFC -> STR2": ("exact", 300),   # 100 MSN + 100 + 100
    "tan_nrn -> STR1": ("exact", 25), "tan_nrn -> STR2": ("exact", 25),
    "TAN1 -> STR1": ("exact", 1), "TAN2 -> STR2": ("exact", 1),
    "STR1 -> STR2": ("exact", 27), "STR2 -> STR1": ("exact", 27),  # event synapses: 1+1+25
    "STR1 -> AS": ("exact", 0), "STR2 -> AS": ("exact", 0),
}
for _k in (1, 2):
    EDGES.update({
        f"STR{_k} -> GPi{_k}": _bernoulli(25 * 25, 0.04),
        f"STR{_k} -> GPe{_k}": _bernoulli(25 * 15, 0.04),
        f"GPe{_k} -> GPi{_k}": _bernoulli(15 * 25, 0.04),
        f"STN{_k} -> GPi{_k}": _bernoulli(15 * 25, 0.04),
        f"GPi{_k} -> Thal{_k}": ("exact", 25),
        f"GPe{_k} -> STN{_k}": ("exact", 15),
        f"Thal{_k} -> PFC": ("range", 786, 800),
        f"STR{_k} -> TAN1": ("exact", 1), f"STR{_k} -> TAN2": ("exact", 1),
        f"STR{_k} -> SNc": ("exact", 1),
    })
# Inside the cortices: exc <-> own inh and ff_inh -> exc (fixed), plus the WTA -> WTA masks.
INNER = {"VC": (675, _bernoulli(45 * 44 * 25, 0.01)), "PFC": (300, _bernoulli(20 * 19 * 25, 0.01)),
         "tan_nrn": (1, ("exact", 0))}


def _check(label, n, spec):
    kind = spec[0]
    if kind == "exact":
        assert n == spec[1], (label, n, spec)
    elif kind == "range":
        assert spec[1] <= n <= spec[2], (label, n, spec)
    else:
        assert abs(n - spec[1]) <= 3 * spec[2], (label, n, spec)


@pytest.fixture(scope="module")
def built():
    c = corticostriatal.build()
    return c, c.build(0)


def test_603_hh_neurons_406_excitatory(built):
    c, net = built
    table = counts(c, net)
    assert table["hh"] == 603
    exc = sum(p.N for p in net.populations.values() if p.model.name.startswith("HHNeuronExci"))
    assert exc == 406 and table["hh"] - exc == 197
    per_block = {b: n for b, n, _ in table["blocks"]}
    assert (per_block["VC"], per_block["PFC"], per_block["tan_nrn"]) == (271, 121, 1)
    assert all(per_block[f"{n}{k}"] == size for k in (1, 2) for n, size in
               (("STR", 25), ("GPi", 25), ("GPe", 15), ("STN", 15), ("Thal", 25)))


def test_every_edge_has_the_page_count(built):
    c, net = built
    table = counts(c, net)
    labels = [e for e, _, _ in table["edges"]]
    assert sorted(labels) == sorted(EDGES), set(labels) ^ set(EDGES)
    for label, n, _ in table["edges"]:
        _check(label, n, EDGES[label])
    for block, n_hh, inner in table["blocks"]:
        if block in INNER:
            fixed, masks = INNER[block]
            _check(f"{block} inner", inner - fixed, masks)
        else:
            assert inner == 0, block        # nuclei, striata: no internal synapses
    # page: about 3 980 plastic (1793 + 1586 + 600)
    assert abs(net.n_plastic - 3980) <= 20, net.n_plastic


def test_sta_edges_multiply_by_the_pfc_augmentation(built):
    c, net = built
    thal = [s for s in net.synapse_sets if s.connection is not None and
            s.connection.src.startswith("Thal") and s.connection.dst == "PFC"]
    assert thal and all(s.synapse is STA_AMPA and s.post.model is HH_EXCI_STA for s in thal)
    assert all(s.rule is not None and s.rule.params["W_lim"] == 6.0 for s in thal)
    stp = sum(p.N for p in net.populations.values() if p.model is HH_EXCI_STA)
    assert stp == 100                       # the 100 PFC excitatory cells, 200 more states


def test_no_sta_is_the_plain_ampa_control():
    c = corticostriatal.build(sta=False)
    net = c.build(0)
    assert not any(p.model is HH_EXCI_STA for p in net.populations.values())
    thal = [s for s in net.synapse_sets if s.connection is not None and
            s.connection.src.startswith("Thal") and s.connection.dst == "PFC"]
    assert all(s.synapse is CONDUCTANCE for s in thal)
    assert counts(c, net)["hh"] == 603
    # the same seed draws the same pairs and weights with or without STA
    ref = corticostriatal.build().build(0)
    assert net.n_plastic == ref.n_plastic


def test_pallidal_rule_hypergeometric_fills_gpi_and_gpe_one_to_one():
    c = corticostriatal.build(pallidal_rule="hypergeometric")
    table = dict((e, n) for e, n, _ in counts(c, c.build(0))["edges"])
    assert (table["STR1 -> GPi1"], table["STR1 -> GPe1"], table["GPe1 -> GPi1"],
            table["STN1 -> GPi1"]) == (25, 15, 15, 15)


def test_bad_options_name_the_parameter():
    with pytest.raises(ValueError, match="sta is true or false"):
        corticostriatal.build(sta="yes")
    with pytest.raises(ValueError, match="pallidal_rule must be"):
        corticostriatal.build(pallidal_rule="indegree")


def test_show_prints_the_page_counts(capsys):
    assert main(["show", "corticostriatal"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].endswith(" 3980 plastic")
    blocks = out.split("blocks:")[1].split("edges:")[0]
    lines = {line.split()[0]: line for line in blocks.splitlines() if line.strip()}
    assert lines["VC"].endswith(" 271 units") and lines["PFC"].endswith(" 121 units")
    assert lines["GPe1"].endswith(" 15 units") and lines["tan_nrn"].endswith(" 2 units")
    assert "25 synapses" in out.split("GPi1 -> Thal1")[1].splitlines()[0]
    assert "1794 synapses" in out.split("VC -> PFC")[1].splitlines()[0]
    assert "Thal1 -> PFC" in out and "rule: HebbianPlasticity" in \
        out.split("Thal1 -> PFC")[1].splitlines()[0]


def test_format_counts_is_the_docs_table(built):
    text = format_counts(counts(*built))
    assert text.startswith("HH neurons: 603;")
    assert "| VC -> PFC | 1794 | 1794 |" in text


# ---- stimuli ---------------------------------------------------------------------------------

def test_generated_dot_images_have_the_page_statistics():
    """Page §8: 29-35 non-zero pixels (mean 33.4), 6.9 ones and 26.5 arms per image, about
    630 distinct rows, shared non-zero pixels 17-19 within and 6.4 between categories, a
    nearest-class-mean classifier at 100 %, 18.7 active WTAs, balanced, switch ~0.5."""
    s = image_statistics(generate_dot_images(1000, 15, seed=0))
    assert (s["n"], abs(s["n_cat1"] - s["n_cat2"]) <= 1) == (1000, True)
    assert 25 <= s["nonzero_min"] and s["nonzero_max"] == 35
    assert abs(s["nonzero_mean"] - 33.4) <= 0.5
    assert abs(s["ones_mean"] - 6.9) <= 0.3 and abs(s["arms_mean"] - 26.5) <= 0.5
    assert abs(s["distinct"] - 630) <= 40
    for key, want in (("shared_within_1", 17.0), ("shared_within_2", 18.9),
                      ("shared_between", 6.4)):
        assert abs(s[key] - want) <= 2.0, (key, s[key])
    assert s["nearest_mean_accuracy"] >= 0.99
    assert abs(s["active_wtas_mean"] - 18.7) <= 1.0
    assert abs(s["switch_probability"] - 0.5) <= 0.05
    x = generate_dot_images(1000, 15, seed=0).images
    assert set(np.unique(x)) == {0.0, 0.6, 1.0}


def test_generator_is_deterministic_and_column_major():
    a, b = generate_dot_images(50, seed=3), generate_dot_images(50, seed=3)
    assert a.sha256 == b.sha256 and a.sha256 != generate_dot_images(50, seed=4).sha256
    # one dot at (row 0, col 14): pixel index col*15 + row in column-major order
    one = generate_dot_images(2, 15, seed=0, jitter=0.0, pool_size=None,
                              prototypes={1: ((0, 14),), 2: ((14, 0),)})
    img = one.images[list(one.categories).index(1)]
    assert img[14 * 15 + 0] == 1.0 and img[14 * 15 + 1] == 0.6 and img[13 * 15 + 0] == 0.6
    assert np.count_nonzero(img) == 3                        # clipped at the corner


def test_stimuli_csv_with_trailing_spaces_loads_through_the_existing_loader(tmp_path):
    """The original file writes its categories as '1 '; load_image_csv strips them."""
    images = generate_dot_images(40, 15, seed=5)
    path = tmp_path / "dots.csv"
    save_image_csv(images, path)
    lines = path.read_text().split("\n")
    path.write_text("\n".join([lines[0]] + [ln + " " for ln in lines[1:]]))
    c = corticostriatal.build(stimuli=str(path))
    stim = c["stim"]
    assert np.array_equal(stim.images.images, images.images)
    assert np.array_equal(stim.images.categories, images.categories)
    assert main(["show", "corticostriatal", "--set", f"stimuli={path}"]) == 0   # run: --stimuli


def test_stimuli_csv_of_the_wrong_size_is_refused(tmp_path):
    from circuitdsl.datasets import StimulusFileError, generate_category_stimuli
    path = tmp_path / "small.csv"
    save_image_csv(generate_category_stimuli(10, 20), path)
    with pytest.raises(StimulusFileError, match="20 pixel columns .* n_pixels=225"):
        corticostriatal.build(stimuli=str(path))


@pytest.mark.skipif(not ORIGINAL.exists(), reason="image_example.csv is not shipped")
def test_original_images_match_the_page_statistics():
    s = image_statistics(load_image_csv(ORIGINAL, n_pixels=225))
    assert (s["n_cat1"], s["n_cat2"], s["distinct"]) == (501, 499, 630)
    assert (s["nonzero_min"], s["nonzero_max"]) == (29, 35)


# ---- runs (slow: they compile and run the 603-neuron kernel) --------------------------------

@pytest.mark.slow
def test_same_seed_same_trace_and_resume_continues_it(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["run", "corticostriatal", "--trials", "3", "--seed", "4", "--out", str(a),
                 "--quiet"]) == 0
    assert main(["run", "corticostriatal", "--trials", "2", "--seed", "4", "--out", str(b),
                 "--quiet"]) == 0
    assert main(["run", "--resume", str(b), "--trials", "3", "--quiet"]) == 0

    def rows(d):
        return [line.rsplit(",", 1)[0] for line in (d / "trace.csv").read_text().splitlines()]
    assert rows(a) == rows(b)
    assert (a / "block_summary.png").exists() and (a / "plastic_weights.png").exists()
