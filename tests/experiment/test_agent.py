"""The Agent asks blocks by role (circuitdsl/roles.py): a policy, stimulus and modulator block
written here, outside the engine, run with no edit to agent.py."""
from pathlib import Path

import numpy as np
import pytest

from circuitdsl.agent import Agent
from circuitdsl.block import Control, Population
from circuitdsl.blocks import SNc, CorticalWTA, GreedyPolicy, ImageStimulus, Striatum
from circuitdsl.circuit import Circuit
from circuitdsl.datasets import generate_category_stimuli
from circuitdsl.model import LearningRule, Model, Synapse
from circuitdsl.roles import ActionSource, Modulator, Policy, Stimulus

UNIT = Model("Unit", "dx/dt = (value + I - x)/tau\nr = x", states=dict(x=0.0),
             params=dict(value=0.0, tau=2.0), inputs=("I",))
RATE = Synapse("rate", current="I += w*pre.r")


class Lamp(Population):
    """Stimulus role: item k shows +1 (k even) or -1 (k odd) for 10 ms."""
    t_trial = 10.0

    def __init__(self, name):
        super().__init__(name, UNIT, 1, synapse=RATE)

    def show(self, sim, path, k):
        sim.set(path, "value", 1.0 if k % 2 == 0 else -1.0)


class Choice(Population):
    """Action-source role: its value is x."""

    def __init__(self, name):
        super().__init__(name, UNIT, 1, synapse=RATE)

    def decision_value(self, sim, path):
        return float(sim.get(path, "x")[0])


class Chooser(Control):
    """Policy role: the larger x among the named sources."""

    def __init__(self, name, sources):
        super().__init__(name)
        self.names = list(sources)

    def action_sources(self, circuit):
        return self.names

    def decide(self, sim, sources):
        return int(np.argmax([b.decision_value(sim, p) for p, b in sources])) + 1


class Bonus(Population):
    """Modulator role: gives its rule `bonus` = its value; the trace logs feedback + bonus."""

    def __init__(self, name, bonus):
        super().__init__(name, UNIT, 1, params=dict(value=bonus))

    def signals(self, sim, path):
        return {"bonus": float(sim.get(path, "value")[0])}

    def logged(self, sim, path, feedback):
        return feedback + self.signals(sim, path)["bonus"]


def _toy(modulator_in_circuit=True, policies=1):
    c = Circuit("toy")
    bonus = Bonus("bonus", 0.25)
    rule = LearningRule("bonus rule", on_trial_end="w = w + bonus*feedback",
                        signals=("feedback", "bonus"),
                        modulator=bonus if modulator_in_circuit else Bonus("elsewhere", 1.0))
    c.add(Lamp("lamp"), Choice("A"), Choice("B"), bonus,
          *[Chooser(f"pick{k}", ["A", "B"]) for k in range(policies)])
    c.connect("lamp", "A", weight=1.0, learning_rule=rule)
    c.connect("lamp", "B", weight=-1.0)
    return c


def test_blocks_written_outside_the_engine_play_every_role():
    agent = Agent(_toy(), t_block=None, dt=0.1, seed=0)
    assert agent.t_trial == 10.0                       # from the stimulus block
    assert agent.actions == ["A", "B"]
    agent.warmup(0.0)
    assert agent.run_trial(0) == 1                     # +1 drives A up, B down
    xa, xb = agent.sim.get("A", "x")[0], agent.sim.get("B", "x")[0]
    assert xa > 0.9 and xb < -0.9
    assert agent.run_trial(1) == 2                     # -1: B wins
    (w0,) = [w for s, w in zip(agent.sim.network.synapse_sets, agent.sim.synapse_weights())
             if s.rule is not None]
    assert agent.signals() == {"bonus": 0.25}
    assert agent.learn(1.0) == 1.25                    # the modulator's logged value
    (w1,) = [w for s, w in zip(agent.sim.network.synapse_sets, agent.sim.synapse_weights())
             if s.rule is not None]
    assert np.array_equal(w1, w0 + 0.25)               # its signal reached the rule


def test_role_errors_name_the_blocks():
    with pytest.raises(ValueError, match=r"2 policies \(pick0, pick1\)"):
        Agent(_toy(policies=2), t_block=None, dt=0.1)
    with pytest.raises(ValueError, match="modulator 'elsewhere' is not a block of circuit 'toy'"):
        Agent(_toy(modulator_in_circuit=False), t_block=None, dt=0.1)


def test_rule_modulator_is_a_declared_field_kept_by_with_params():
    snc = SNc("SNc")
    rule = LearningRule("r", on_trial_end="w = w + K*dopamine", params=dict(K=1.0),
                        signals=("dopamine",), modulator=snc)
    assert rule.modulator is snc and rule.with_params(K=2.0).modulator is snc
    assert LearningRule("plain", on_trial_end="w = w").modulator is None


def test_shipped_blocks_implement_the_roles():
    images = generate_category_stimuli(10, 20, seed=0)
    assert isinstance(ImageStimulus("stim", images), Stimulus)
    assert isinstance(GreedyPolicy("AS"), Policy)
    assert isinstance(Striatum("STR1", N_inhib=2), ActionSource)
    assert isinstance(SNc("SNc"), Modulator)
    c = Circuit("one")
    c.add(CorticalWTA("AC", N_wta=1, N_exci=2), Striatum("STR1", N_inhib=2), GreedyPolicy("AS"))
    c.connect("STR1", "AS")
    with pytest.raises(ValueError, match="policy 'AS' needs at least two blocks connected to it"):
        c["AS"].action_sources(c)


def test_agent_names_no_block():
    """The engine's Agent knows roles, not blocks: no block class, part or state name in it,
    and it uses the Simulator's public API only."""
    src = (Path(__file__).resolve().parents[2] / "circuitdsl" / "agent.py").read_text()
    for word in ("GreedyPolicy", "ImageStimulus", "Striatum", "SNc", "matrisome", "rho_",
                 '"R_"', "kappa", "dopamine", "circuitdsl.blocks", "sim.arrays", ".lowered",
                 "_pop_index"):
        assert word not in src, word
