"""Trial loops with a progress bar, a CSV trace and resumable checkpoints.

`run_trials(runner, n_trials, out=...)` drives any runner (an object with `columns`, `start()`,
`trial(k) -> row`, `state() -> {name: array}`, `restore(state)` and optionally
`postfix(rows)`). With `out`, every finished trial is appended to out/trace.csv and the
runner's state is saved atomically to out/checkpoint.npz, so an interrupted run resumed with
`resume=True` writes the same trace as an uninterrupted one.

Circuit-specific runners live with their circuits (e.g. circuits/_classification.py) and are
declared in `circuit.meta["runner"]`.
"""
from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm


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
    try:
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
    finally:     # an error or Ctrl-C must not leave a half-drawn bar over its message
        bar.close()
    return rows
