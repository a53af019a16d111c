"""Roles a block can play in a trial loop, so the Agent asks blocks instead of knowing them.

The Agent (circuitdsl/agent.py) finds the blocks of a circuit that play each role by the
methods they answer (structural typing: a block needs no base class, only the methods):

- a **stimulus** shows item k before a trial and says how long a trial lasts;
- a **policy** names the blocks whose order numbers its actions and picks one after a trial;
- an **action source** (a block a policy chooses among) gives the value the policy compares;
- a **modulator** (named by a learning rule's `modulator`) gives that rule its trial-level
  signals and the value the trace logs for it.

`sim` is the running Simulator and `path` the block's path in it (`sim.network.path(block)`);
a block reads and writes itself only through `sim.get` / `sim.set`. A new policy or stimulus
block implements these methods; agent.py does not change.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Stimulus(Protocol):
    """Shows item `k` (0-based) of its set; a trial lasts `t_trial` ms."""

    t_trial: float

    def show(self, sim, path, k) -> None: ...


@runtime_checkable
class Policy(Protocol):
    """Chooses an action after a trial. `action_sources(circuit)` lists the block names whose
    position (1-based) is the action number; `decide(sim, sources)` gets them as
    [(path, block)] in that order and returns the chosen action (1-based)."""

    def action_sources(self, circuit) -> list: ...

    def decide(self, sim, sources) -> int: ...


@runtime_checkable
class ActionSource(Protocol):
    """A block a policy chooses among: `decision_value` is what it compares."""

    def decision_value(self, sim, path) -> float: ...


@runtime_checkable
class Modulator(Protocol):
    """Gives the learning rules that name it their trial-level signals (by the rule's signal
    names, e.g. {"dopamine": ..., "kappa_DA": ...}) and, from `logged(sim, path, feedback)`,
    the number the trace records for the trial."""

    def signals(self, sim, path) -> dict: ...

    def logged(self, sim, path, feedback) -> float: ...


def blocks_with(circuit, role):
    """The circuit's top-level blocks that play `role`, in the order they were added."""
    return [b for b in circuit.blocks if isinstance(b, role)]
