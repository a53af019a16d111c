"""Cortical blocks: WinnerTakeAll and CorticalWTA (the Neuroblox "Cortical" layer).

WinnerTakeAll: N_exci excitatory HH neurons and one inhibitory interneuron, exci <-> inh with
weight 1, no exci-exci connections. CorticalWTA: N_wta WTAs plus a feed-forward interneuron
that inhibits every excitatory neuron; WTA i -> WTA j (i != j) through a Bernoulli(density)
exci->exci mask with the block's weight. Equations and defaults: reference §1.4-1.5.
"""
from __future__ import annotations

import numpy as np

from circuitdsl.block import Composite, Population
from circuitdsl.connections import add_unit_synapses, hypergeometric_pairs, registry, unit_list

from circuitdsl.blocks.neurons import CONDUCTANCE, HHNeuronExci, HHNeuronInhib


class WinnerTakeAll(Composite):
    """Lateral-inhibition microcircuit. `I_bg`: a vector (one value per excitatory neuron)
    or a scalar s, in which case neuron k gets s * U(0,1) drawn from the block's seed."""

    def __init__(self, name, N_exci=5, E_syn_exci=0.0, E_syn_inhib=-70.0, G_syn_exci=3.0,
                 G_syn_inhib=3.0, tau_exci=5.0, tau_inhib=70.0, I_bg=0.0):
        super().__init__(name)
        self.N_exci = N_exci
        i_bg = np.asarray(I_bg, dtype=float)
        if i_bg.ndim == 0:
            scale = float(i_bg)
            i_bg = (lambda rng, n: scale * rng.random(n)) if scale else 0.0
        self.add(HHNeuronInhib("inh", 1, E_syn=E_syn_inhib, G_syn=G_syn_inhib, tau=tau_inhib))
        exci = HHNeuronExci("exci", N_exci, E_syn=E_syn_exci, G_syn=G_syn_exci, tau=tau_exci)
        if callable(i_bg):
            exci.params["I_bg"] = i_bg
        else:
            exci.params["I_bg"] = exci._per_unit("I_bg", i_bg, exci.model.params, "parameter")
        self.add(exci)
        self.connect("exci", "inh", weight=1.0)
        self.connect("inh", "exci", weight=1.0)

    def units(self, role):
        if role == "excitatory":
            return [(self.parts["exci"], np.arange(self.N_exci))]
        if role == "inhibitory":
            return [(self.parts["inh"], np.arange(1))]
        return super().units(role)


class CorticalWTA(Composite):
    """N_wta WinnerTakeAll units and a feed-forward interneuron `ff_inh`.

    `density`, `weight` (and `connection_matrices[i][j]`, an N_exci x N_exci 0/1 array)
    describe the WTA -> WTA excitatory edges."""

    def __init__(self, name, N_wta=20, N_exci=5, E_syn_exci=0.0, E_syn_inhib=-70.0,
                 G_syn_exci=3.0, G_syn_inhib=4.0, G_syn_ff_inhib=3.5, I_bg_ar=0.0, tau_exci=5.0,
                 tau_inhib=70.0, density=0.1, weight=1.0, connection_matrices=None):
        super().__init__(name)
        self.N_wta, self.N_exci = N_wta, N_exci
        i_bg = np.broadcast_to(np.asarray(I_bg_ar, dtype=float), (N_wta,))
        for k in range(N_wta):
            self.add(WinnerTakeAll(f"wta{k + 1}", N_exci, E_syn_exci, E_syn_inhib, G_syn_exci,
                                   G_syn_inhib, tau_exci, tau_inhib, float(i_bg[k])))
        self.add(HHNeuronInhib("ff_inh", 1, E_syn=E_syn_inhib, G_syn=G_syn_ff_inhib,
                               tau=tau_inhib))
        for k in range(N_wta):
            self.connect("ff_inh", f"wta{k + 1}", weight=1.0)
        for i in range(N_wta):
            for j in range(N_wta):
                if i == j:
                    continue
                kw = dict(weight=weight, density=density)
                if connection_matrices is not None:
                    kw["connection_matrix"] = np.asarray(connection_matrices[i][j])
                self.connect(f"wta{i + 1}", f"wta{j + 1}", **kw)

    def units(self, role):
        if role == "excitatory":
            out = []
            for k in range(self.N_wta):
                out += self.parts[f"wta{k + 1}"].units("excitatory")
            return out
        if role == "inhibitory":
            out = []
            for k in range(self.N_wta):
                out += self.parts[f"wta{k + 1}"].units("inhibitory")
            return out + [(self.parts["ff_inh"], np.arange(1))]
        return super().units(role)


@registry.register(WinnerTakeAll, WinnerTakeAll, accepts=("connection_matrix",))
def _wta_to_wta(net, conn, src, dst, rng):
    """exci -> exci through a Bernoulli(density) mask (or `connection_matrix`, rows = source)."""
    n_s, n_d = src.N_exci, dst.N_exci
    mask = conn.options.get("connection_matrix")
    if mask is None:
        mask = rng.random((n_s, n_d)) < (conn.density if conn.density is not None else 1.0)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (n_s, n_d):
        raise ValueError(f"edge {conn.label}: connection_matrix must be ({n_s}, {n_d})")
    if src is dst:
        np.fill_diagonal(mask, False)
    pre, post = np.nonzero(mask)
    net.add_synapses(src.parts["exci"], pre, dst.parts["exci"], post,
                     conn.initial_weights(pre, post, rng), CONDUCTANCE, conn)


@registry.register(Population, WinnerTakeAll)
def _neuron_to_wta(net, conn, src, dst, rng):
    """A neuron (population) -> a WTA reaches every excitatory neuron of the WTA."""
    exci = dst.parts["exci"]
    pre = np.repeat(np.arange(src.N), exci.N)
    post = np.tile(np.arange(exci.N), src.N)
    net.add_synapses(src, pre, exci, post, conn.initial_weights(pre, post, rng),
                     conn.synapse or src.synapse, conn)


def _hypergeometric_only(src, dst, options):
    if options["connection_rule"] not in (None, "hypergeometric") or options["self_connections"]:
        return ("cortex -> cortex always uses the hypergeometric rule between excitatory "
                "neurons; connection_rule and self_connections do not apply")


@registry.register(CorticalWTA, CorticalWTA, validate=_hypergeometric_only)
def _cortex_to_cortex(net, conn, src, dst, rng):
    """Excitatory -> excitatory with the hypergeometric rule (balanced in/out degree)."""
    s_units, d_units = unit_list(src, "excitatory"), unit_list(dst, "excitatory")
    density = conn.density if conn.density is not None else 1.0
    pre, post = hypergeometric_pairs(len(s_units), len(d_units), density, rng)
    add_unit_synapses(net, s_units, d_units, pre, post, conn.initial_weights(pre, post, rng),
                      CONDUCTANCE, conn)
