"""run_experiment: trial after trial, with a progress bar, a CSV trace and resumable checkpoints.

With `out`, every finished trial is appended to out/trace.csv and the learning state (weights,
parameters, random streams, u0) is saved atomically to out/checkpoint.npz, so an interrupted
run resumed with `resume=True` gives the same trace as an uninterrupted one.
"""
from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

TRACE_COLUMNS = ("trial", "stimulus", "category", "action", "correct", "dopamine", "seconds")


def _save_checkpoint(path, agent, env, trial):
    state = agent.state()
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, trial=trial, env_current=env.current, **state)
    os.replace(tmp, path)


def read_trace(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def run_experiment(agent, env, n_trials, t_warmup=200.0, out=None, resume=False, progress=True):
    """Run `n_trials` trials; returns the trace as a list of dicts (TRACE_COLUMNS)."""
    rows, start = [], 0
    out = Path(out) if out else None
    ckpt = out / "checkpoint.npz" if out else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    if resume and ckpt is not None and ckpt.exists():
        data = np.load(ckpt)
        agent.restore({k: data[k] for k in ("P", "F", "RNG", "u0")})
        start = int(data["trial"])
        env.current = int(data["env_current"])
        rows = read_trace(out / "trace.csv")[:start]
        _rewrite(out / "trace.csv", rows)
    else:
        if resume:
            raise FileNotFoundError(f"nothing to resume in {out}: no checkpoint.npz")
        env.reset()
        agent.warmup(t_warmup, env.trial()[0])
        if out:
            _rewrite(out / "trace.csv", [])
            _save_checkpoint(ckpt, agent, env, 0)
    bar = tqdm(total=n_trials, initial=start, disable=not progress, unit="trial")
    n_correct = sum(int(r["correct"]) for r in rows)
    for trial in range(start + 1, n_trials + 1):
        t0 = time.perf_counter()
        stimulus, category = env.trial()
        action = agent.run_trial(stimulus)
        correct = env.step(action) if agent.policy is not None else True
        dopamine = agent.learn(1.0 if correct else 0.0)
        row = dict(trial=trial, stimulus=stimulus + 1, category=category, action=action,
                   correct=int(correct), dopamine=f"{dopamine:.10g}",
                   seconds=f"{time.perf_counter() - t0:.4f}")
        rows.append(row)
        n_correct += int(correct)
        if out:
            with open(out / "trace.csv", "a", newline="") as fh:
                csv.DictWriter(fh, TRACE_COLUMNS).writerow(row)
            _save_checkpoint(ckpt, agent, env, trial)
        bar.update(1)
        bar.set_postfix(accuracy=f"{n_correct / len(rows):.3f}")
    bar.close()
    return rows


def _rewrite(path, rows):
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, TRACE_COLUMNS)
        w.writeheader()
        w.writerows(rows)
