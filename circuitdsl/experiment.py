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
            _write_rows(out / "trace.csv", runner.columns, [], "w")
            _save_checkpoint(ckpt, runner, 0)
    bar = tqdm(total=n_trials, initial=start, disable=not progress, unit="trial")
    for k in range(start + 1, n_trials + 1):
        t0 = time.perf_counter()
        row = runner.trial(k)
        row["seconds"] = f"{time.perf_counter() - t0:.4f}"
        rows.append(row)
        if out:
            _write_rows(out / "trace.csv", runner.columns, [row], "a")
            _save_checkpoint(ckpt, runner, k)
        bar.update(1)
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


def run_experiment(agent, env, n_trials, t_warmup=200.0, out=None, resume=False, progress=True):
    """Run `n_trials` classification trials; returns the trace (TRACE_COLUMNS)."""
    return run_trials(ClassificationRunner(agent, env, t_warmup), n_trials, out, resume, progress)
