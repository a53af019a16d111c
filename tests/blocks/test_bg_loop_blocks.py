"""The basal-ganglia loop blocks (blocks/basal_ganglia_loop.py) against the big-model page.

The isolated-cell anchors of the page (§3, §4) were computed with an accurate solver, so the
cells run here with RK4 at dt = 0.01 ms, where the HH spike counts converge (the circuit's own
exponential-Euler step of 0.02 ms fires about 3 % fewer spikes at 100 Hz; see
docs/circuits/corticostriatal.md). One circuit of unconnected cells, one compile, one run.
"""
import numpy as np
import pytest
import sympy as sp
from scipy.signal import find_peaks

from circuitdsl.block import Population
from circuitdsl.blocks import (GPe, GPi, STN, CholinergicInterneuron, CorticalWTA, HHNeuronExci,
                               HHNeuronInhib, STACorticalWTA, Striatum, Thalamus)
from circuitdsl.blocks.basal_ganglia_loop import HH_EXCI_STA, STA_AMPA
from circuitdsl.blocks.neurons import CONDUCTANCE, HH_EXCI
from circuitdsl.circuit import Circuit
from circuitdsl.simulator import Simulator

T_END = 2400.0


@pytest.fixture(scope="module")
def cells():
    c = Circuit("isolated cells")
    c.add(GPi("GPi", N=2), GPe("GPe", N=2), STN("STN", N=2), Thalamus("Thal", N=2),
          CholinergicInterneuron("tan_nrn"),
          HHNeuronInhib("inh", 2, I_bg=[1.0, 2.0]), HHNeuronExci("exc", 2, I_bg=[8.4, 14.0]),
          Population("sta", HH_EXCI_STA, 3, params=dict(I_bg=[0.4, 1.0, 3.0]),
                     synapse=CONDUCTANCE))
    sim = Simulator(c, dt=0.01, method="rk4")
    rec = sim.run(T_END, record=["sta.G_stp", "sta.z_stp", "tan_nrn.ITN.r_e", "tan_nrn.cell.V"])
    return rec


def _rate(rec, path):
    """Spikes in the first second, per cell (the page's rates are spikes/s from rest)."""
    return [int(np.sum(s < 1000.0)) for s in rec.spike_times(path)]


@pytest.mark.parametrize("path, expected", [
    ("GPi", 126), ("GPe", 126),          # inhibitory at I_bg 4 (their ceiling)
    ("STN", 96), ("Thal", 96),           # excitatory at I_bg 3
])
def test_nuclei_fire_at_the_page_rates(cells, path, expected):
    # +-1 spike: a spike near t = 1000 ms may fall on either side of the window.
    assert all(abs(r - expected) <= 1 for r in _rate(cells, path)), _rate(cells, path)


def test_isolated_cell_anchors(cells):
    inh, exc = _rate(cells, "inh"), _rate(cells, "exc")
    assert abs(inh[0] - 48) <= 1 and abs(inh[1] - 79) <= 1, inh        # I_bg 1, 2
    assert abs(exc[0] - 193) <= 2 and abs(exc[1] - 262) <= 2, exc      # pixel 0.6, 1 (x 14)


def test_itn_mass_oscillates_at_11_6_hz(cells):
    t = cells.t
    r = cells["tan_nrn.ITN.r_e"][:, 0][t > 1000]
    peaks, _ = find_peaks(r)
    freq = 1000.0 / np.mean(np.diff(t[t > 1000][peaks]))
    assert abs(freq - 11.6) <= 0.1, freq
    # page: r_e in [0.0061, 0.0225]; 2e-4 is the page's rounding of the two ends
    assert abs(r.min() - 0.0061) <= 2e-4 and abs(r.max() - 0.0225) <= 2e-4, (r.min(), r.max())


def test_cholinergic_cell_fires_about_4_spikes_per_itn_cycle(cells):
    """About 45 spikes/s, about 4 spikes in each 11.6-Hz cycle of its mass (page §3): the cell
    is phase-locked to the ITN rhythm (a cycle = the time between two peaks of r_e)."""
    t = cells.t
    spikes = cells.spike_times("tan_nrn.cell")[0]
    late = spikes[(spikes >= 1000.0) & (spikes < 2000.0)]
    assert 41 <= len(late) <= 49, len(late)                   # 45 +- 10 %
    r = cells["tan_nrn.ITN.r_e"][:, 0]
    peaks = t[find_peaks(r)[0]]
    peaks = peaks[peaks > 1000.0]
    per_cycle = [int(np.sum((spikes >= a) & (spikes < b))) for a, b in zip(peaks, peaks[1:])]
    assert len(per_cycle) >= 10 and set(per_cycle) <= {3, 4, 5}, per_cycle
    assert 3.5 <= np.mean(per_cycle) <= 4.5, per_cycle


@pytest.mark.parametrize("cell, anchors", [
    (0, (0.069, 0.101, 0.123)),   # 12 Hz (I_bg 0.4)
    (1, (0.18, 0.25, 0.28)),      # 42 Hz (I_bg 1)
    (2, (0.32, 0.37, 0.38)),      # 96 Hz (I_bg 3)
])
def test_sta_augmentation_grows_toward_its_saturation(cells, cell, anchors):
    """G_stp at 800, 1600 and 2400 ms within the page's ~5 % (its two-digit anchors are
    rounded, so at least 0.006), and never above k_stp = 0.5."""
    g = cells["sta.G_stp"][:, cell]
    for t_ms, want in zip((800.0, 1600.0, 2400.0), anchors):
        got = g[np.argmin(np.abs(cells.t - t_ms))]
        assert abs(got - want) <= max(0.05 * want, 0.006), (t_ms, got, want)
    assert np.all(np.diff(g[cells.t > 100]) >= -1e-3)          # it only relaxes slowly
    assert g.max() < 0.5


def test_sta_saturates_below_k_stp_at_a_steady_rate():
    """The steady state solves 0 = -G/tau3 + <z>/5 (k - G): G* = k<z>/(<z> + 5/tau3) < k.
    With the gate held open (z_stp at its steady value under a constant V far above
    threshold) the augmentation approaches k_stp = 0.5 from below."""
    z = 3.0 / (1 + np.exp(-4.394 * (40 - 10) / 35)) * 0.1    # dz/dt = 0 at V = 40 mV
    g_star = 0.5 * z / (z + 5 / 2000.0)
    assert 0.49 < g_star < 0.5
    c = Circuit("clamped")
    c.add(Population("x", HH_EXCI_STA, 1, params=dict(G_Na=0.0, G_K=0.0, G_L=0.0),
                     init=dict(V=40.0), synapse=CONDUCTANCE))
    sim = Simulator(c, dt=0.01, method="rk4")
    rec = sim.run(200.0, record=["x.G_stp", "x.V"])
    assert np.allclose(rec["x.V"], 40.0)                      # no currents: V stays put
    g = rec["x.G_stp"][:, 0]
    # dG/dt ~ z/5 (k - G): a time constant 5/z ~ 17 ms, so at 200 ms G is at G* within 1e-4
    assert abs(g[-1] - g_star) < 1e-3 and g.max() <= 0.5


def test_sta_model_repeats_the_excitatory_equations():
    """HH_EXCI_STA copies HH_EXCI's text; the right-hand sides must stay identical."""
    for state, rhs in HH_EXCI.ode.items():
        assert sp.simplify(HH_EXCI.expand(rhs) - HH_EXCI_STA.expand(HH_EXCI_STA.ode[state])) == 0
    assert set(HH_EXCI_STA.states) - set(HH_EXCI.states) == {"z_stp", "G_stp"}


def _edge_sets(net, conn):
    return [s for s in net.synapse_sets if s.connection is conn]


def test_loop_edges_use_the_page_rules():
    c = Circuit("loop")
    c.add(Striatum("STR", N_inhib=25), GPi("GPi"), GPe("GPe"), STN("STN"), Thalamus("Thal"),
          STACorticalWTA("PFC", N_wta=20, N_exci=5, density=0.01),
          CholinergicInterneuron("tan_nrn"))
    e_str_gpi = c.connect("STR", "GPi", weight=4.0, density=0.04)
    e_gpi_thal = c.connect("GPi", "Thal", weight=0.16, density=0.04)
    e_gpe_stn = c.connect("GPe", "STN", weight=3.5, density=0.04)
    e_thal_pfc = c.connect("Thal", "PFC", weight=0.2, density=0.32, sta=True)
    e_tan = c.connect("tan_nrn", "STR", weight=0.17)
    e_hyper = c.connect("STR", "GPe", weight=4.0, density=0.04,
                        connection_rule="hypergeometric")
    net = c.build(3)
    # GPi -> Thal, hypergeometric at 25 x 25 x 0.04: N_c = 25, one input per cell, 1:1
    sets = _edge_sets(net, e_gpi_thal)
    pre = np.concatenate([s.pre_idx for s in sets])
    post = np.concatenate([s.post_idx for s in sets])
    assert sorted(pre) == list(range(25)) and sorted(post) == list(range(25))
    assert all(s.synapse is CONDUCTANCE and np.all(s.weight == 0.16) for s in sets)
    # GPe -> STN: N_c = 9 but out = in = 1, so a 1:1 permutation of 15
    assert sorted(np.concatenate([s.post_idx for s in _edge_sets(net, e_gpe_stn)])) == \
        list(range(15))
    # STR -> GPi is Bernoulli (Q1): in-degrees vary, the MSNs are the sources
    sets = _edge_sets(net, e_str_gpi)
    assert {net.path(s.pre) for s in sets} == {"STR.msn"}
    indeg = np.bincount(np.concatenate([s.post_idx for s in sets]), minlength=25)
    assert indeg.max() >= 2 or indeg.min() == 0
    # ... and the hypergeometric switch gives every GPe cell exactly one MSN
    assert sorted(np.concatenate([s.post_idx for s in _edge_sets(net, e_hyper)])) == \
        list(range(15))
    # Thal -> PFC: hypergeometric onto excitatory cells, N_c 800, in-degree <= 8, STA current
    sets = _edge_sets(net, e_thal_pfc)
    assert all(s.synapse is STA_AMPA and s.post.model is HH_EXCI_STA for s in sets)
    n = sum(len(s.weight) for s in sets)
    assert 780 <= n <= 800, n
    # tan_nrn -> STR: its one cell onto every MSN, nothing into matrisome or striosome
    sets = _edge_sets(net, e_tan)
    assert [(net.path(s.pre), net.path(s.post), len(s.weight)) for s in sets] == \
        [("tan_nrn.cell", "STR.msn", 25)]


def test_sta_edge_into_a_plain_cortex_names_the_edge():
    c = Circuit("bad")
    c.add(Thalamus("Thal"), CorticalWTA("PFC", N_wta=2, N_exci=5, density=0.5))
    c.connect("Thal", "PFC", weight=0.2, density=0.32, sta=True)
    with pytest.raises(ValueError, match=r"edge Thal -> PFC: sta=True .* STACorticalWTA"):
        c.build(0)


def test_inhibitory_nucleus_to_cortex_is_refused_with_its_name():
    c = Circuit("bad")
    c.add(GPi("GPi"), CorticalWTA("PFC", N_wta=2, N_exci=5, density=0.5))
    with pytest.raises(ValueError, match=r"edge GPi -> PFC: 'GPi' \(GPi\) is inhibitory"):
        c.connect("GPi", "PFC", weight=1.0, density=0.1)
