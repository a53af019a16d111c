"""Trial loops with a progress bar, a CSV trace and resumable checkpoints.

`run_trials(runner, n_trials, out=...)` drives any runner (an object with `columns`, `start()`,
`trial(k) -> row`, `state() -> {name: array}`, `restore(state)` and optionally
`postfix(rows)`). With `out`, every finished trial is appended to out/trace.csv and the
runner's state is saved atomically to out/checkpoint.npz, so an interrupted run resumed with
`resume=True` writes the same trace as an uninterrupted one.

`run_experiment(agent, env, n_trials)` is the classification loop (category learning).
"""
from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

TRACE_COLUMNS = ("trial", "stimulus", "category", "action", "correct", "dopamine", "seconds")


def read_trace(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _write_rows(path, columns, rows, mode):
    with open(path, mode, newline="") as fh:
        w = csv.DictWriter(fh, columns)
        if mode == "w":
            w.writeheader()
        w.writerows(rows)


def _save_checkpoint(path, runner, trial):
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, trial=trial, **runner.state())
    os.replace(tmp, path)


def run_trials(runner, n_trials, out=None, resume=False, progress=True):
    """Run trials start..n_trials of `runner`; returns all rows (as dicts)."""
    rows, start = [], 0
    out = Path(out) if out else None
    ckpt = out / "checkpoint.npz" if out else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    if resume:
        if ckpt is None or not ckpt.exists():
            raise FileNotFoundError(f"nothing to resume in {out}: no checkpoint.npz")
        data = np.load(ckpt)
        start = int(data["trial"])
        runner.restore({k: data[k] for k in data.files if k != "trial"})
        rows = read_trace(out / "trace.csv")[:start]   # drop a row written after the checkpoint
        _write_rows(out / "trace.csv", runner.columns, rows, "w")
    else:
        runner.start()
        if out:
            if hasattr(runner, "on_start"):
                runner.on_start(out)
            _write_rows(out / "trace.csv", runner.columns, [], "w")
            _save_checkpoint(ckpt, runner, 0)
    # A runner of many short trials saves every `checkpoint_every` trials: an interruption
    # then loses at most that many, and trace and checkpoint always agree.
    every = max(1, int(getattr(runner, "checkpoint_every", 1)))
    runner.n_trials = n_trials   # a runner that works ahead in blocks must stop here
    timed = "seconds" in runner.columns
    bar = tqdm(total=n_trials, initial=start, disable=not progress, unit="trial")
    pending = []
    for k in range(start + 1, n_trials + 1):
        t0 = time.perf_counter()
        row = runner.trial(k)
        if timed:
            row["seconds"] = f"{time.perf_counter() - t0:.4f}"
        rows.append(row)
        pending.append(row)
        if k % every and k != n_trials:
            continue
        if out:
            _write_rows(out / "trace.csv", runner.columns, pending, "a")
            _save_checkpoint(ckpt, runner, k)
        bar.update(len(pending))
        pending = []
        if hasattr(runner, "postfix"):
            bar.set_postfix(runner.postfix(rows))
    bar.close()
    return rows


class ClassificationRunner:
    """One stimulus per trial; the agent's action is judged; learning with feedback/dopamine."""

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
        correct = self.env.step(action) if self.agent.policy is not None else True
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
    """Per-synapse-set weights plus the named adjacency matrix, for plots and comparisons."""
    from circuitdsl.plotting import adjacency_matrix
    weights = sim.synapse_weights()
    names, W = adjacency_matrix(sim.network, weights)
    np.savez(path, names=np.asarray(names), adjacency=W,
             **{f"set{k}": w for k, w in enumerate(weights)})


def draw_classification(out, meta):
    """Redraw adjacency_before/after.png (one colour scale) and learning_curve.png."""
    from circuitdsl.plotting import adjacency_figure, learning_curve
    out = Path(out)
    mats = {tag: np.load(out / f"weights_{tag}.npz") for tag in ("before", "after")
            if (out / f"weights_{tag}.npz").exists()}
    vmax = max([float(d["adjacency"].max()) for d in mats.values()] + [0.0]) or 1.0
    for tag, d in mats.items():
        adjacency_figure(list(d["names"]), d["adjacency"],
                         f"{meta.get('circuit', '')}: weights {tag} learning",
                         out / f"adjacency_{tag}.png", vmax=vmax)
    if (out / "trace.csv").exists():
        trace = read_trace(out / "trace.csv")
        if trace:
            learning_curve(trace, path=out / "learning_curve.png",
                title=f"{meta.get('circuit', '')}, seed {meta.get('seed', '')}")


def classification_runner(circuit, seed, dt):
    """The runner of a circuit with an ImageStimulus and (optionally) a GreedyPolicy."""
    from circuitdsl.agent import Agent
    from circuitdsl.environments import ClassificationEnvironment
    agent = Agent(circuit, t_block=circuit.meta.get("t_block"), dt=dt, seed=seed)
    stim = circuit[circuit.meta["stimulus"]]
    env = ClassificationEnvironment(stim, stim.images.n_stimuli)
    return ClassificationRunner(agent, env, circuit.meta.get("t_warmup", 200.0))


def run_experiment(agent, env, n_trials, t_warmup=200.0, out=None, resume=False, progress=True):
    """Run `n_trials` classification trials; returns the trace (TRACE_COLUMNS)."""
    return run_trials(ClassificationRunner(agent, env, t_warmup), n_trials, out, resume, progress)
