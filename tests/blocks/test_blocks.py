"""The cortico-striatal block library against the reference numbers."""
import numpy as np
from scipy.signal import find_peaks

from circuitdsl.blocks import CorticalWTA, NextGenerationEI
from circuitdsl.blocks.neural_mass import TUTORIAL
from circuitdsl.circuit import Circuit
from circuitdsl.circuits.category_learning import build
from circuitdsl.learning import HebbianPlasticity
from circuitdsl.simulator import Simulator


def test_cortex_to_cortex_hypergeometric_20_synapses():
    c = Circuit("cc")
    c.add(CorticalWTA("VAC", N_wta=4, N_exci=5, density=0.05),
          CorticalWTA("AC", N_wta=2, N_exci=5, density=0.05))
    c.connect("VAC", "AC", weight=3.0, density=0.1, learning_rule=HebbianPlasticity())
    net = c.build(1)
    sets = [s for s in net.synapse_sets if s.connection is c.connections[0]]
    post = [net.path(s.post) + f"[{i}]" for s in sets for i in s.post_idx]
    pre = [net.path(s.pre) + f"[{i}]" for s in sets for i in s.pre_idx]
    assert len(post) == 20 and net.n_plastic == 20
    assert sorted(np.unique(post, return_counts=True)[1]) == [2] * 10
    assert sorted(np.unique(pre, return_counts=True)[1]) == [1] * 20
    assert all(np.all(s.weight == 3.0) for s in sets)


def test_ff_inhibition_reaches_excitatory_neurons_only():
    c = Circuit("c")
    c.add(CorticalWTA("C", N_wta=2, N_exci=2, density=0.5))
    net = c.build(0)
    ff = [s for s in net.synapse_sets if net.path(s.pre) == "C.ff_inh"]
    targets = {net.path(s.post) for s in ff}
    assert targets == {"C.wta1.exci", "C.wta2.exci"}
    assert sum(len(s.pre_idx) for s in ff) == 4
    names = {n for s in net.synapse_sets for n in
             s.pre.unit_names(net.path(s.pre)) + s.post.unit_names(net.path(s.post))}
    assert len(names) == 7   # 2 x (2 exci + inh) + ff_inh


def test_category_learning_has_70_plastic_weights():
    net = build().build(0)
    hebb = sum(len(s.weight) for s in net.synapse_sets
               if s.rule is not None and s.rule.name == "HebbianPlasticity")
    mod = sum(len(s.weight) for s in net.synapse_sets
              if s.rule is not None and s.rule.name == "HebbianModulationPlasticity")
    assert (hebb, mod, net.n_plastic) == (20, 50, 70)
    hh = sum(p.N for p in net.populations.values() if p.model.name.startswith("HHNeuron"))
    assert hh == 48


def test_ascending_mass_oscillates_at_16_hz():
    c = Circuit("m")
    c.add(NextGenerationEI("ASC", **TUTORIAL))
    sim = Simulator(c, dt=0.05)
    rec = sim.run(3000.0, record=["ASC.r_e"])
    r = rec["ASC.r_e"][:, 0][rec.t > 1000]
    t = rec.t[rec.t > 1000]
    peaks, _ = find_peaks(r)
    freq = 1000.0 / np.mean(np.diff(t[peaks]))
    assert abs(freq - 16.0) <= 0.5
    assert 0.0084 - 5e-4 <= r.min() and r.max() <= 0.031 + 5e-4
