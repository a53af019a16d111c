"""Classification runs (category-learning, hebbian-cortex): one stimulus per trial, the
agent's action judged against the stimulus's category, learning with feedback and dopamine.

A circuit declares `meta["runner"] = classification_runner` and `meta["redraw"] =
draw_classification`; the generic trial loop is circuitdsl.experiment.run_trials.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from circuitdsl.agent import Agent
from circuitdsl.environments import ClassificationEnvironment
from circuitdsl.experiment import read_trace, run_trials
from circuitdsl.plotting import (adjacency_figure, adjacency_matrix, families_from_arrays,
                                 families_to_arrays, family_scales, learning_curve,
                                 weight_families)

TRACE_COLUMNS = ("trial", "stimulus", "category", "action", "correct", "dopamine", "seconds")


class ClassificationRunner:
    """One stimulus per trial; the agent's action is judged; learning with feedback/dopamine.

    Without a policy every trial counts as correct (feedback = 1, reference §4) and the
    environment still moves on to the next stimulus."""

    columns = TRACE_COLUMNS

    def __init__(self, agent, env, t_warmup=200.0):
        self.agent, self.env, self.t_warmup = agent, env, t_warmup
        self.n_correct = 0

    def start(self):
        self.env.reset()
        self.agent.warmup(self.t_warmup, self.env.trial()[0])

    def trial(self, k):
        stimulus, category = self.env.trial()
        action = self.agent.run_trial(stimulus)
        # step() judges and advances to the next stimulus: call it on every trial, with or
        # without a policy (a run without one walked through a single image before).
        judged = self.env.step(action)
        correct = judged if self.agent.policy is not None else True
        dopamine = self.agent.learn(1.0 if correct else 0.0)
        return dict(trial=k, stimulus=stimulus + 1, category=category, action=action,
                    correct=int(correct), dopamine=f"{dopamine:.10g}")

    def state(self):
        return dict(self.agent.state(), env_current=np.asarray(self.env.current))

    def restore(self, state):
        self.agent.restore(state)
        self.env.current = int(state["env_current"])

    def postfix(self, rows):
        return dict(accuracy=f"{np.mean([int(r['correct']) for r in rows]):.3f}")

    def metrics(self, rows):
        """Headline numbers for run.json and sweep summaries."""
        c = np.asarray([int(r["correct"]) for r in rows], dtype=float)
        return dict(accuracy=round(float(c.mean()), 4),
                    accuracy_after_100=round(float(c[99:].mean()), 4) if len(c) > 100 else None)

    def on_start(self, out):
        save_weights(Path(out) / "weights_before.npz", self.agent.sim)

    def finish(self, out, rows, meta):
        """weights_after.npz, the adjacency figures and the learning curve."""
        save_weights(Path(out) / "weights_after.npz", self.agent.sim)
        draw_classification(out, meta)
        correct = np.asarray([int(r["correct"]) for r in rows])
        return (f"accuracy {correct.mean():.3f} (last {min(100, len(correct))}: "
                f"{correct[-100:].mean():.3f})")


def save_weights(path, sim):
    """Per-synapse-set weights (set0, set1, ...), the named adjacency matrix in Neuroblox's
    alphabetical order (names, adjacency) and the arrays the figures draw (units, fixed,
    family{k}_*: see plotting.weight_families)."""
    weights = sim.synapse_weights()
    names, W = adjacency_matrix(sim.network, weights)
    np.savez(path, names=np.asarray(names), adjacency=W,
             **{f"set{k}": w for k, w in enumerate(weights)},
             **families_to_arrays(weight_families(sim.network, weights)))


def draw_classification(out, meta):
    """Redraw adjacency_before.png and adjacency_after.png (the after figure adds after -
    before per plastic family; both share each family's colour scale) and, for a run with a
    policy, learning_curve.png (without one every trial counts as correct: no curve)."""
    out = Path(out)
    states = {tag: families_from_arrays(np.load(out / f"weights_{tag}.npz"))
              for tag in ("before", "after") if (out / f"weights_{tag}.npz").exists()}
    scales = family_scales(*states.values())
    for tag, state in states.items():
        adjacency_figure(state, f"{meta.get('circuit', '')}: weights {tag} learning "
                         f"(seed {meta.get('seed', '')})", out / f"adjacency_{tag}.png",
                         before=states.get("before") if tag == "after" else None,
                         scales=scales)
    if (out / "trace.csv").exists():
        trace = read_trace(out / "trace.csv")
        if trace and any(r["action"] != "0" for r in trace):
            learning_curve(trace, path=out / "learning_curve.png",
                           title=f"{meta.get('circuit', '')}, seed {meta.get('seed', '')}")


def classification_runner(circuit, seed, dt):
    """The runner of a circuit with a stimulus block (meta["stimulus"]) and optionally a policy."""
    agent = Agent(circuit, t_block=circuit.meta.get("t_block"), dt=dt, seed=seed)
    stim = circuit[circuit.meta["stimulus"]]
    env = ClassificationEnvironment(stim, stim.images.n_stimuli)
    return ClassificationRunner(agent, env, circuit.meta.get("t_warmup", 200.0))


def run_experiment(agent, env, n_trials, t_warmup=200.0, out=None, resume=False, progress=True):
    """Run `n_trials` classification trials; returns the trace (TRACE_COLUMNS)."""
    return run_trials(ClassificationRunner(agent, env, t_warmup), n_trials, out, resume, progress)
