"""Agent: a compiled circuit plus its policy and learning rules, run one trial at a time.

Every trial starts from the same state u0 (the end of the warm-up, reference §4); weights and
discrete parameters carry over from trial to trial.

The Agent knows no particular block: it asks the circuit's blocks by role
(circuitdsl/roles.py) — the stimulus blocks show an item and give the trial length, the
policy names its action sources and decides, each learning rule's `modulator` gives that
rule its signals.
"""
from __future__ import annotations

import numpy as np

from circuitdsl.roles import Modulator, Policy, Stimulus, blocks_with
from circuitdsl.simulator import Simulator


# What a checkpoint keeps of the simulator: parameters (discrete states, stimulus), per-synapse
# fields (weights, traces) and the random streams. The states need not be kept: every trial
# starts from u0, saved beside them.
_CARRIED = ("P", "F", "RNG")


class Agent:
    """Runs trials of `circuit`; `t_block` (ms) sets the latch period of every block that has
    one (None: no latches)."""

    def __init__(self, circuit, t_block=90.0, dt=0.05, seed=0, method="exponential_euler",
                 cache=None, math="libm"):
        self.circuit = circuit
        self.sim = Simulator(circuit, dt=dt, seed=seed, method=method, cache=cache, math=math)
        self.t_block = t_block
        net = self.sim.network
        for path, (model, _) in self.sim.populations().items():
            if "t_block" in model.params:
                self.sim.set(path, "t_block", 1e300 if t_block is None else t_block)
        policies = blocks_with(circuit, Policy)
        if len(policies) > 1:
            raise ValueError(f"circuit '{circuit.name}' has {len(policies)} policies "
                             f"({', '.join(p.name for p in policies)}); an Agent needs at most one")
        self.policy = policies[0] if policies else None
        self.actions, self.sources = [], []
        if self.policy is not None:
            self.actions = list(self.policy.action_sources(circuit))
            self.sources = [(net.path(circuit[n]), circuit[n]) for n in self.actions]
        self.stimuli = [(net.path(b), b) for b in blocks_with(circuit, Stimulus)]
        # The modulators, by first appearance among the edges' rules; the first one's value is
        # the trace's logged signal.
        self.modulators = {}
        for s in net.synapse_sets:
            mod = s.rule.modulator if s.rule is not None else None
            if mod is None or id(mod) in self.modulators:
                continue
            if not isinstance(mod, Modulator):
                raise ValueError(f"learning rule '{s.rule.name}': its modulator {mod!r} does not "
                                 "answer signals(sim, path) and logged(sim, path, feedback)")
            if id(mod) not in net.paths:
                raise ValueError(f"learning rule '{s.rule.name}': its modulator '{mod.name}' is "
                                 f"not a block of circuit '{circuit.name}'; add it")
            self.modulators[id(mod)] = (net.path(mod), mod)
        self.u0 = None

    @property
    def t_trial(self):
        return self.stimuli[0][1].t_trial if self.stimuli else 1000.0

    def show(self, k):
        """Show item k on every stimulus block."""
        for path, stim in self.stimuli:
            stim.show(self.sim, path, k)

    def warmup(self, t_warmup, stimulus=0):
        self.show(stimulus)
        self.sim.reset()
        if t_warmup > 0:
            self.sim.run(t_warmup)
        self.u0 = self.sim.state(("S",))["S"]

    def run_trial(self, stimulus):
        """Simulate one trial on stimulus index `stimulus`; returns the chosen action (1-based,
        0 without a policy)."""
        if self.u0 is None:
            self.warmup(0.0, stimulus)
        self.show(stimulus)
        self.sim.reset(self.u0)
        self.sim.run(self.t_trial)
        return self.decide()

    def decide(self):
        if self.policy is None:
            return 0
        return int(self.policy.decide(self.sim, self.sources))

    def signals(self):
        """The first modulator's signals now ({} without a modulator)."""
        for path, mod in self.modulators.values():
            return dict(mod.signals(self.sim, path))
        return {}

    def learn(self, feedback):
        """Apply every trial-end rule, each with the signals of its own modulator; returns the
        first modulator's logged value (nan without one)."""
        signals = {"feedback": float(feedback)}
        # keyed by projection, so each rule gets the signals of its own modulator
        for p in self.sim.projections():
            mod = p.rule.modulator if p.rule is not None else None
            if mod is not None:
                for name, value in mod.signals(self.sim, self.sim.network.path(mod)).items():
                    signals[(p.index, name)] = float(value)
        self.sim.apply_learning(signals)
        for path, mod in self.modulators.values():
            return float(mod.logged(self.sim, path, feedback))
        return float("nan")

    # ---- state for checkpoints ----------------------------------------------------------------

    def state(self):
        arrays = self.sim.state(_CARRIED)
        return dict({k: arrays[k] for k in _CARRIED},
                    u0=(self.u0.copy() if self.u0 is not None else np.zeros(0)))

    def restore(self, state):
        self.sim.restore({k: state[k] for k in _CARRIED})
        self.u0 = state["u0"].copy() if len(state["u0"]) else None
