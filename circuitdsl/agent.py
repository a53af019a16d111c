"""Agent: a compiled circuit plus its policy and learning rules, run one trial at a time.

Every trial starts from the same state u0 (the end of the warm-up, reference §4); weights and
discrete parameters carry over from trial to trial.
"""
from __future__ import annotations

import numpy as np

from circuitdsl.simulator import Simulator


class Agent:
    """Runs trials of `circuit`; `t_block` (ms) sets the latch period of every block that has
    one (None: no latches)."""

    def __init__(self, circuit, t_block=90.0, dt=0.05, seed=0, method="exponential_euler",
                 cache=None):
        from circuitdsl.blocks.basal_ganglia import GreedyPolicy
        from circuitdsl.blocks.stimuli import ImageStimulus
        self.circuit = circuit
        self.sim = Simulator(circuit, dt=dt, seed=seed, method=method, cache=cache)
        self.t_block = t_block
        for path, (g, pop, off) in self.sim._pop_index.items():
            if "t_block" in g.model.params:
                self.sim.set(path, "t_block", 1e300 if t_block is None else t_block)
        policies = [b for b in circuit.blocks if isinstance(b, GreedyPolicy)]
        if len(policies) > 1:
            raise ValueError(f"circuit '{circuit.name}' has {len(policies)} policies; an Agent "
                             "needs at most one")
        self.policy = policies[0] if policies else None
        self.actions = []
        if self.policy is not None:
            self.actions = [c.src for c in circuit.connections if c.dst == self.policy.name]
            if len(self.actions) != 2:
                raise ValueError(f"policy '{self.policy.name}' needs exactly two striata "
                                 f"connected to it, has {len(self.actions)}")
        self.stimuli = [b for b in circuit.blocks if isinstance(b, ImageStimulus)]
        self.modulators = {}
        for s in self.sim.network.synapse_sets:
            mod = getattr(s.rule, "modulator", None) if s.rule is not None else None
            if mod is not None:
                self.modulators[id(mod)] = self.sim.network.path(mod)
        self.u0 = None

    @property
    def t_trial(self):
        return self.stimuli[0].t_trial if self.stimuli else 1000.0

    def show(self, k):
        """Put stimulus k on every ImageStimulus (value and its switch-off time)."""
        for stim in self.stimuli:
            path = self.sim.network.path(stim)
            self.sim.set(path, "value", stim.image(k))
            self.sim.set(path, "t_stimulus", stim.t_stimulus)

    def warmup(self, t_warmup, stimulus=0):
        self.show(stimulus)
        self.sim.reset()
        if t_warmup > 0:
            self.sim.run(t_warmup)
        self.u0 = self.sim.arrays["S"].copy()

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
        rho = [float(self.sim.get(f"{a}.matrisome", "rho_")[0]) for a in self.actions]
        return int(np.argmax(rho)) + 1    # argmax keeps the first on ties

    def dopamine(self):
        """(DA, kappa) of the first modulator, or (nan, nan) without one."""
        for path in self.modulators.values():
            return float(self.sim.get(path, "R_")[0]), float(self.sim.get(path, "kappa")[0])
        return float("nan"), float("nan")

    def learn(self, feedback):
        """Apply every trial-end rule, each with the dopamine of its own modulator; returns
        the logged dopamine (rpe + kappa_DA) of the first modulator."""
        signals = {"feedback": float(feedback)}
        for p in self.sim.lowered.projections:
            mod = getattr(p.rule, "modulator", None) if p.rule is not None else None
            if mod is not None:
                path = self.sim.network.path(mod)
                signals[(p.index, "dopamine")] = float(self.sim.get(path, "R_")[0])
                signals[(p.index, "kappa_DA")] = float(self.sim.get(path, "kappa")[0])
        self.sim.apply_learning(signals)
        da, kappa = self.dopamine()
        return feedback - (kappa - da) + kappa if np.isfinite(da) else float("nan")

    # ---- state for checkpoints ----------------------------------------------------------------

    def state(self):
        a = self.sim.arrays
        return dict(P=a["P"].copy(), F=a["F"].copy(), RNG=a["RNG"].copy(),
                    u0=(self.u0.copy() if self.u0 is not None else np.zeros(0)))

    def restore(self, state):
        a = self.sim.arrays
        a["P"][:], a["F"][:], a["RNG"][:] = state["P"], state["F"], state["RNG"]
        self.u0 = state["u0"].copy() if len(state["u0"]) else None
