"""The basal-ganglia loop of the full corticostriatal model (Pathak et al.; big-model page §3-5).

Blocks:
- `GPi`, `GPe`, `STN`, `Thalamus`: plain groups of the HH cells of blocks/neurons.py with their
  own size, background current and synaptic conductance; no internal synapses.
- `CholinergicInterneuron`: one excitatory HH cell driven by its own neural mass (the ITN
  parameter set, an 11.6-Hz rhythm) through I_asc = w * r_e.
- `STACorticalWTA`: a CorticalWTA whose excitatory cells also carry the short-term
  augmentation states (z_stp, G_stp) that an `sta=True` edge multiplies its current by.

Edges between them are registered here with the connection registry (no engine change). The
rule follows the page: edges into STN, Thalamus or a cortex use the hypergeometric rule; edges
into GPi or GPe, for which the page names no rule (its open question Q1), use an independent
Bernoulli draw per (source, target) pair. An edge's `connection_rule=` overrides the default.
"""
from __future__ import annotations

import numpy as np

from circuitdsl.block import Composite, Population
from circuitdsl.blocks.basal_ganglia import Striatum
from circuitdsl.blocks.cortex import CorticalWTA
from circuitdsl.blocks.neural_mass import NextGenerationEI
from circuitdsl.blocks.neurons import CONDUCTANCE, HH_EXCI, HH_EXCI_EQUATIONS, HH_INHIB
from circuitdsl.connections import (CONNECTION_RULES, add_unit_synapses, registry,
                                    unit_list)
from circuitdsl.model import Model, Synapse

# ---- the STA synapse ---------------------------------------------------------------------------

#: The augmentation part of Glu_AMPA_STA_Synapse (page §4), written on the *postsynaptic*
#: cell: its gate z_stp follows the cell's own voltage V (not the presynaptic one), and G_stp
#: relaxes toward k_stp while z_stp is open. A per-synapse (pre, post) G_stp would obey the same
#: ODE from the same initial value, so one pair per post cell is exact.
STA_EQUATIONS = """
dz_stp/dt = -z_stp/tau4 + G_syn_stp/(1 + exp(-4.394*(V - V_shift_stp)/V_range_stp))
dG_stp/dt = -G_stp/tau3 + (z_stp/z_stp_scale)*(k_stp - G_stp)
"""
STA_PARAMS = dict(tau3=2000.0, tau4=0.1, k_stp=0.5, G_syn_stp=3.0, V_shift_stp=10.0,
                  V_range_stp=35.0, z_stp_scale=5.0)


HH_EXCI_STA = Model(
    "HHNeuronExci_STA",
    HH_EXCI_EQUATIONS + STA_EQUATIONS,
    states=dict(HH_EXCI.states, z_stp=0.0, G_stp=0.0),
    params=dict(HH_EXCI.params, **STA_PARAMS),
    inputs=HH_EXCI.inputs,
    spike=HH_EXCI.spike,
    events=HH_EXCI.events,
    doc="Excitatory HH neuron with the postsynaptic short-term augmentation states of an STA "
        "synapse (z_stp driven by this cell's V, G_stp <= k_stp).",
)

#: Thalamus -> cortex with augmentation: the presynaptic AMPA gate G (the thalamic cell's own,
#: driven by the thalamic V) times the postsynaptic augmentation G_stp (driven by the cortical
#: V), reference §4: I_syn,post += -w * G_pre * G_stp,post * (V_post - E_syn,pre).
STA_AMPA = Synapse("sta conductance",
                   current="I_syn += -w*pre.G*post.G_stp*(post.V - pre.E_syn)")


class STACorticalWTA(CorticalWTA):
    """A CorticalWTA (same arguments) whose excitatory cells are HHNeuronExci_STA, so that
    edges into it may be made with `sta=True`. Without such an edge G_stp is computed but read
    by nothing, so the cortex behaves as a plain CorticalWTA."""

    def __init__(self, name, **kwargs):
        super().__init__(name, **kwargs)
        for k in range(self.N_wta):
            wta = self.parts[f"wta{k + 1}"]
            wta.parts["exci"] = _with_model(wta.parts["exci"], HH_EXCI_STA)


def _with_model(pop, model):
    """The same population (name, size, overrides, outgoing synapse) with another model whose
    parameters include the old one's; a background current drawn from the seed stays a draw."""
    new = Population(pop.name, model, pop.N, synapse=pop.synapse, integrator=pop.integrator)
    new.params, new.init = dict(pop.params), dict(pop.init)
    return new


# ---- the nuclei --------------------------------------------------------------------------------

class Nucleus(Population):
    """N HH cells of one kind with no internal synapses (GPi, GPe, STN, Thalamus).

    `default_rule` is how an edge *into* this nucleus draws its pairs when it gives a
    density and no `connection_rule`."""

    default_rule = "bernoulli"

    def __init__(self, name, model, N, I_bg, G_syn, E_syn, tau):
        super().__init__(name, model, N, params=dict(I_bg=I_bg, G_syn=G_syn, E_syn=E_syn,
                                                     tau=tau), synapse=CONDUCTANCE)



class GPi(Nucleus):
    """Globus pallidus internus: N inhibitory HH cells (I_bg 4 uA/cm^2, GABA_A G_syn 8
    mS/cm^2, E_syn -70 mV, tau 70 ms); isolated, each fires about 126 spikes/s."""

    def __init__(self, name, N=25, I_bg=4.0, G_syn=8.0, E_syn=-70.0, tau=70.0):
        super().__init__(name, HH_INHIB, N, I_bg, G_syn, E_syn, tau)


class GPe(Nucleus):
    """Globus pallidus externus: as GPi with 15 cells by default."""

    def __init__(self, name, N=15, I_bg=4.0, G_syn=8.0, E_syn=-70.0, tau=70.0):
        super().__init__(name, HH_INHIB, N, I_bg, G_syn, E_syn, tau)


class STN(Nucleus):
    """Subthalamic nucleus: N excitatory HH cells (I_bg 3, AMPA G_syn 3, E_syn 0, tau 5);
    isolated, each fires about 96 spikes/s. Edges into it are hypergeometric."""

    default_rule = "hypergeometric"

    def __init__(self, name, N=15, I_bg=3.0, G_syn=3.0, E_syn=0.0, tau=5.0):
        super().__init__(name, HH_EXCI, N, I_bg, G_syn, E_syn, tau)


class Thalamus(Nucleus):
    """Thalamus: as STN with 25 cells by default; edges into it are hypergeometric."""

    default_rule = "hypergeometric"

    def __init__(self, name, N=25, I_bg=3.0, G_syn=3.0, E_syn=0.0, tau=5.0):
        super().__init__(name, HH_EXCI, N, I_bg, G_syn, E_syn, tau)


# ---- the cholinergic interneuron ---------------------------------------------------------------

#: The ITN neural mass of the big model: the tutorial set (blocks/neural_mass.TUTORIAL) with
#: every 26 replaced by 36; an 11.6-Hz limit cycle with r_e in [0.0061, 0.0225].
ITN = dict(C_e=72.0, C_i=36.0, alpha_ee=10 / 36, alpha_ie=10 / 36, alpha_ei=0.8 / 36,
           alpha_ii=0.8 / 36, k_ei=21.6, k_ie=21.6)


class CholinergicInterneuron(Composite):
    """The big model's `tan_nrn`: one excitatory HH cell (`name.cell`) driven by its own
    NextGenerationEI mass (`name.ITN`, parameters `mass`, default ITN) with
    I_asc = mass_weight * r_e. An edge from it to a Striatum reaches every MSN (AMPA)."""

    def __init__(self, name, mass_weight=100.0, mass=None, I_bg=0.0, G_syn=3.0, E_syn=0.0,
                 tau=5.0):
        super().__init__(name)
        self.add(NextGenerationEI("ITN", **(ITN if mass is None else mass)))
        self.add(Population("cell", HH_EXCI, 1, params=dict(I_bg=I_bg, G_syn=G_syn,
                                                             E_syn=E_syn, tau=tau),
                            synapse=CONDUCTANCE))
        self.connect("ITN", "cell", weight=mass_weight)

    def units(self, role):
        if role in ("excitatory", "all"):
            return [(self.parts["cell"], np.arange(1))]
        return super().units(role)


# ---- connection rules --------------------------------------------------------------------------

def _pairs(conn, n_src, n_dst, rng, default_rule):
    """(pre, post) unit indices: every pair without a density, else the edge's
    connection_rule (or the destination's default) at that density."""
    if conn.density is None:
        return np.tile(np.arange(n_src), n_dst), np.repeat(np.arange(n_dst), n_src)
    name = conn.connection_rule or default_rule
    if name == "hypergeometric":
        return CONNECTION_RULES[name](n_src, n_dst, conn.density, rng)
    return CONNECTION_RULES[name](n_src, n_dst, conn.density, rng, allow_self=True)


def _default_rule_of(dst):
    if isinstance(dst, Nucleus):
        return dst.default_rule
    return "hypergeometric"    # cortex targets (page §2.2: Cortical/STN/Thalamus)


def _loop_edge(src_role, dst_role):
    """A builder from `src_role` units of the source to `dst_role` units of the target,
    carrying the source's conductance synapse (or the edge's synapse=)."""
    def build(net, conn, src, dst, rng):
        # unit_list gives every unit of a Population (a nucleus), whatever the role.
        s_units, d_units = unit_list(src, src_role), unit_list(dst, dst_role)
        pre, post = _pairs(conn, len(s_units), len(d_units), rng, _default_rule_of(dst))
        synapse = conn.synapse or CONDUCTANCE
        if conn.options.get("sta"):
            synapse = _sta_synapse(conn, d_units)
        add_unit_synapses(net, s_units, d_units, pre, post,
                          conn.initial_weights(pre, post, rng), synapse, conn)
    build.__doc__ = (f"{src_role} units -> {dst_role} units; pairs by the edge's "
                     "connection_rule or the target's default (hypergeometric into STN, "
                     "Thalamus and cortex; Bernoulli into GPi and GPe).")
    return build


def _sta_synapse(conn, d_units):
    """STA_AMPA, after checking that every target cell carries G_stp."""
    missing = sorted({pop.name for pop, _ in d_units if "G_stp" not in pop.model.states})
    if missing:
        raise ValueError(f"edge {conn.label}: sta=True multiplies the current by the target "
                         f"cell's G_stp, but its '{missing[0]}' cells (model "
                         f"'{d_units[0][0].model.name}') have none; make the cortex an "
                         "STACorticalWTA")
    return STA_AMPA


def _excitatory_source(src, dst, options):
    if isinstance(src, Nucleus) and src.model is not HH_EXCI:
        return (f"'{src.name}' ({type(src).__name__}) is inhibitory; the loop's only edges into "
                "a cortex come from excitatory nuclei (Thalamus, STN)")


# Striatum (its MSNs) -> GPi / GPe (and any other nucleus): page §5 rows 10, 11, 16, 17.
registry.register(Striatum, Nucleus)(_loop_edge("msn", "all"))
# Nucleus -> nucleus: GPi -> Thalamus, GPe -> GPi, GPe -> STN, STN -> GPi (rows 12-23).
registry.register(Nucleus, Nucleus)(_loop_edge("all", "all"))
# Thalamus (or STN) -> cortex excitatory cells, optionally with STA (rows 14, 15).
registry.register(Nucleus, CorticalWTA, accepts=("sta",),
                  validate=_excitatory_source)(_loop_edge("all", "excitatory"))
# Cortex excitatory cells -> a nucleus (a hyperdirect cortex -> STN edge, say).
registry.register(CorticalWTA, Nucleus)(_loop_edge("excitatory", "all"))
# The cholinergic cell -> every MSN of a striatum (Q2) or every cell of a nucleus.
registry.register(CholinergicInterneuron, Striatum)(_loop_edge("excitatory", "msn"))
registry.register(CholinergicInterneuron, Nucleus)(_loop_edge("excitatory", "all"))
