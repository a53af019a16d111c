"""Basal ganglia blocks for category learning: Striatum, TAN, SNc and GreedyPolicy.

Discrete blocks have no differential equations: their parameters are set by timed events that
run inside the kernel every `t_block` ms (latches of summed input), at `t_event` (snapshots,
Poisson samples, the striatal competition). Event order inside one step (reference §4):
latch striosomes/matrisomes (0), latch TAN/SNc (10), snapshots and TAN samples (20),
competition (30), striosome and MSN follow-up (40), spike-window reset (50).
"""
from __future__ import annotations

import numpy as np

from circuitdsl.block import Composite, Control, Population
from circuitdsl.blocks.cortex import CorticalWTA
from circuitdsl.blocks.neurons import CONDUCTANCE, HHNeuronInhib
from circuitdsl.connections import add_unit_synapses, hypergeometric_pairs, registry, unit_list
from circuitdsl.model import Event, Model, Synapse

MATRISOME = Model(
    "Matrisome",
    """
rho = H*jcn_t_block
rho_ = H_snapshot*jcn_snapshot
H_learning = H
""",
    params=dict(H=1.0, TAN_spikes=0.0, jcn_t_block=0.0, jcn_snapshot=0.0, H_snapshot=1.0,
                t_block=90.0),
    inputs=("jcn",),
    events=[Event("jcn_t_block = jcn + TAN_spikes", at="t_block", every="t_block", order=0)],
    doc="Matrisome: latched cortical drive plus the TAN sample; rho_ (snapshot taken by the "
        "competition edge at its t_event) is the decision value.",
)

STRIOSOME = Model(
    "Striosome",
    "rho = H*jcn_t_block\nH_learning = H",
    params=dict(H=1.0, jcn_t_block=0.0, t_block=90.0),
    inputs=("jcn",),
    events=[Event("jcn_t_block = jcn", at="t_block", every="t_block", order=0)],
    doc="Striosome: latched cortical drive, read by TANs and the SNc.",
)

TAN_MODEL = Model(
    "TAN",
    "R = min(kappa, kappa/(lam*jcn_t_block + sqrt(eps)))",
    params=dict(kappa=100.0, lam=1.0, jcn_t_block=0.0, t_block=90.0),
    inputs=("jcn",),
    events=[Event("jcn_t_block = jcn", at="t_block", every="t_block", order=10)],
    doc="Tonically active neurons: Poisson exploration noise of rate R.",
)

SNC_MODEL = Model(
    "SNc",
    "R_ = min(kappa, kappa/(lam*jcn_snapshot + sqrt(eps)))",
    params=dict(kappa=1.0, lam=0.33, t_event=90.0, jcn_t_block=0.0, jcn_snapshot=0.0,
                t_block=90.0),
    inputs=("jcn",),
    events=[Event("jcn_t_block = jcn", at="t_block", every="t_block", order=10),
            Event("jcn_snapshot = jcn_t_block", at="t_event", order=20)],
    doc="Dopamine: R_ at the t_event snapshot is the trial's dopamine level.",
)

#: Cortical excitatory neuron -> matrisome/striosome: jcn += w * spikes in the current window.
DRIVE = Synapse("drive", current="jcn += w*pre.spikes_window")
#: Striosome -> TAN/SNc: jcn += w * H * latched striosome drive.
STRIO_DRIVE = Synapse("striosome drive", current="jcn += w*pre.H*pre.jcn_t_block")
#: TAN -> matrisome: at t_event the matrisome's TAN_spikes becomes w * Poisson(R).
TAN_SAMPLE = Synapse("TAN sample", params=dict(t_event=90.0),
                     events=[Event("post.TAN_spikes = w*poisson(pre.R)", at="t_event", order=20)])
#: Matrisome_src -> matrisome_dst: snapshot of the target at t_event, then the competition on
#: snapshot values (ties keep H = 1).
COMPETE = Synapse("competition", params=dict(t_event=180.0, t_init=0.1),
                  events=[Event("post.H = 1", at="t_init", order=30),
                          Event("post.H_snapshot = post.H\npost.jcn_snapshot = post.jcn_t_block",
                                at="t_event", order=20),
                          Event("post.H = where(pre.rho_ > post.rho_, 0, 1)", at="t_event",
                                order=30)])
#: A striatum's own matrisome -> its striosome: H follows the competition's outcome.
FOLLOW_H = Synapse("follow H", params=dict(t_event=180.0, t_init=0.1),
                   events=[Event("post.H = 1", at="t_init", order=40),
                           Event("post.H = pre.H", at="t_event", order=40)])
#: A striatum's own matrisome -> its MSNs: the loser's MSNs get I_bg = -2.
SILENCE = Synapse("silence losers", params=dict(t_event=180.0, t_init=0.1),
                  events=[Event("post.I_bg = 0", at="t_init", order=40),
                          Event("post.I_bg = where(pre.H > 0.5, 0, -2)", at="t_event",
                                order=40)])


class Striatum(Composite):
    """N_inhib medium spiny neurons (inhibitory HH, G_syn 1.2) plus a matrisome and a
    striosome. The MSNs take plastic cortical input; decisions read the matrisome."""

    def __init__(self, name, N_inhib=25, E_syn_inhib=-70.0, G_syn_inhib=1.2, I_bg=0.0,
                 tau_inhib=70.0):
        super().__init__(name)
        self.N_inhib = N_inhib
        self.add(HHNeuronInhib("msn", N_inhib, E_syn=E_syn_inhib, G_syn=G_syn_inhib,
                               tau=tau_inhib, I_bg=I_bg))
        self.add(Population("matrisome", MATRISOME, 1))
        self.add(Population("striosome", STRIOSOME, 1))

    def units(self, role):
        if role in ("inhibitory", "msn"):
            return [(self.parts["msn"], np.arange(self.N_inhib))]
        return super().units(role)

    def decision_value(self, sim, path):
        """Action-source role (circuitdsl/roles.py): the matrisome's rho_, the latched drive
        plus TAN sample snapshotted by the competition at its t_event."""
        return float(sim.get(f"{path}.matrisome", "rho_")[0])


def TAN(name, kappa=100.0, lam=1.0):
    """Tonically active neurons (one discrete unit)."""
    return Population(name, TAN_MODEL, 1, params=dict(kappa=kappa, lam=lam))


class SNc(Population):
    """Dopaminergic modulator (one discrete unit); its R_ is the trial's dopamine. As the
    `modulator` of a HebbianModulationPlasticity rule it gives the rule `dopamine` (R_) and
    `kappa_DA` (its kappa) after each trial (Modulator role, circuitdsl/roles.py)."""

    def __init__(self, name, kappa_DA=1.0, lambda_DA=0.33, t_event=90.0):
        super().__init__(name, SNC_MODEL, 1, params=dict(kappa=kappa_DA, lam=lambda_DA,
                                                         t_event=t_event))

    def signals(self, sim, path):
        return {"dopamine": float(sim.get(path, "R_")[0]),
                "kappa_DA": float(sim.get(path, "kappa")[0])}

    def logged(self, sim, path, feedback):
        """Neuroblox's logged dopamine DA_log = rpe + kappa_DA, rpe = feedback - (kappa_DA -
        DA): in (1, 2] on a correct trial, (0, 1] on an error. Written in the rule's own order
        of operations, so the logged number is the one the rule used."""
        sig = self.signals(sim, path)
        da, kappa = sig["dopamine"], sig["kappa_DA"]
        return feedback - (kappa - da) + kappa


class GreedyPolicy(Control):
    """Chooses the striatum whose matrisome rho_ is largest (ties: the first). Its sources, in
    the order their edges were added, are the actions 1, 2, ... (Policy role,
    circuitdsl/roles.py); each must answer `decision_value(sim, path)` (a Striatum does)."""

    def __init__(self, name, t_decision=180.0):
        super().__init__(name)
        self.t_decision = t_decision

    def action_sources(self, circuit):
        sources = [c.src for c in circuit.connections if c.dst == self.name]
        if len(sources) < 2:
            raise ValueError(f"policy '{self.name}' needs at least two blocks connected to it "
                             f"(its actions), has {len(sources)}")
        for name in sources:
            if not callable(getattr(circuit[name], "decision_value", None)):
                raise ValueError(f"policy '{self.name}': its source '{name}' "
                                 f"({type(circuit[name]).__name__}) has no decision_value(sim, "
                                 "path); connect Striatum blocks to it")
        return sources

    def decide(self, sim, sources):
        values = [block.decision_value(sim, path) for path, block in sources]
        return int(np.argmax(values)) + 1    # argmax keeps the first on ties


def _one(pop):
    return np.zeros(1, dtype=np.int64)


def _scalar_weight(src, dst, options):
    if np.ndim(options["weight"]) != 0 or callable(options["weight"]):
        return ("cortex -> striatum takes a scalar weight w (each source neuron draws "
                "2w*U(0,1))")


@registry.register(CorticalWTA, Striatum, validate=_scalar_weight)
def _cortex_to_striatum(net, conn, src, dst, rng):
    """One weight per source excitatory neuron, 2w*U(0,1), shared by its MSN (hypergeometric),
    matrisome and striosome synapses; a learning rule's post is the matrisome (H)."""
    s_units = unit_list(src, "excitatory")
    w_src = 2.0 * float(conn.weight) * rng.random(len(s_units))
    d_units = unit_list(dst, "msn")
    density = conn.density if conn.density is not None else 1.0
    pre, post = hypergeometric_pairs(len(s_units), len(d_units), density, rng)
    matrisome = dst.parts["matrisome"]
    extra = {}
    if conn.learning_rule is not None:
        extra = dict(learn_post=matrisome, learn_post_idx=np.zeros(len(pre), np.int64))
    add_unit_synapses(net, s_units, d_units, pre, post, w_src[pre], CONDUCTANCE, conn, **extra)
    all_src = np.arange(len(s_units))
    zeros = np.zeros(len(s_units), dtype=np.int64)
    for target in ("matrisome", "striosome"):
        extra = {}
        if conn.learning_rule is not None:
            extra = dict(learn_post=matrisome, learn_post_idx=zeros)
        add_unit_synapses(net, s_units, [(dst.parts[target], 0)], all_src, zeros, w_src, DRIVE,
                          conn, **extra)


def _only_tan(src, dst, options):
    if src.model is not TAN_MODEL:
        return (f"only a TAN connects to a whole Striatum, not a '{src.model.name}'; connect "
                f"to its parts (e.g. '{dst.name}.msn') with their own edges")


def _only_modulators(src, dst, options):
    if dst.model not in (TAN_MODEL, SNC_MODEL):
        return f"a Striatum drives a TAN or an SNc, not a '{dst.model.name}'"


@registry.register(Population, Striatum, plastic=False, requires=("t_event",),
                   validate=_only_tan)
def _tan_to_striatum(net, conn, src, dst, rng):
    net.add_synapses(src, _one(src), dst.parts["matrisome"], _one(dst),
                     np.full(1, float(conn.weight)), TAN_SAMPLE, conn)


@registry.register(Striatum, Population, plastic=False, validate=_only_modulators)
def _striatum_to_modulator(net, conn, src, dst, rng):
    net.add_synapses(src.parts["striosome"], _one(src), dst, _one(dst),
                     np.full(1, float(conn.weight)), STRIO_DRIVE, conn)


@registry.register(Striatum, Striatum, plastic=False, requires=("t_event",))
def _striatum_competition(net, conn, src, dst, rng):
    """Events only: matrisome competition at t_event, then the loser's striosome H = 0 and
    its MSNs get I_bg = -2; all reset at t = 0.1 ms."""
    t_event = float(conn.options["t_event"])
    m_src, m_dst = src.parts["matrisome"], dst.parts["matrisome"]
    one = np.ones(1)
    net.add_synapses(m_src, _one(m_src), m_dst, _one(m_dst), one, COMPETE, conn,
                     params=dict(t_event=t_event))
    net.add_synapses(m_dst, _one(m_dst), dst.parts["striosome"], _one(dst), one, FOLLOW_H, conn,
                     params=dict(t_event=t_event))
    n = dst.N_inhib
    net.add_synapses(m_dst, np.zeros(n, np.int64), dst.parts["msn"], np.arange(n), np.ones(n),
                     SILENCE, conn, params=dict(t_event=t_event))


@registry.register(Striatum, GreedyPolicy, plastic=False)
def _striatum_to_policy(net, conn, src, dst, rng):
    """Registration only: the Agent reads the source matrisomes after each trial."""
