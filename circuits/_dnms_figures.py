"""Figures of dnms-reservoir runs: the learning curve per trial type and the outputs before and
after learning (moved from circuitdsl/plotting.py: they belong to the circuit)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def dnms_figures(out, rows, before, after, task, window=200):
    """learning_curve.png (median error over a sliding window, per trial type) and
    outputs.png (the output for the four types before and after learning, no perturbations)."""
    out = Path(out)
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for name in task.TYPES:
        err = np.asarray([float(r["error"]) for r in rows if r["type"] == name])
        trial = np.asarray([int(r["trial"]) for r in rows if r["type"] == name])
        w = max(1, min(window // 4, len(err)))
        med = np.array([np.median(err[max(0, k - w + 1):k + 1]) for k in range(len(err))])
        ax.plot(trial, med, label=name, lw=1.2)
    ax.set_yscale("log")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"median error (last {window // 4} of the type)")
    ax.legend(frameon=False, ncol=4)
    fig.tight_layout()
    fig.savefig(out / "learning_curve.png", dpi=120)
    plt.close(fig)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    t = np.arange(1, task.n_steps + 1) * (1000.0 / task.n_steps)
    for ax, traces, title in ((axes[0], before, "before learning"),
                              (axes[1], after, "after learning")):
        for k, trace in enumerate(traces):
            ax.plot(t, trace, label=task.TYPES[k], lw=1.2)
        ax.axvspan(task.resp * 1000.0 / task.n_steps, 1000.0, color="0.9", zorder=0)
        for y in (task.target, -task.target):
            ax.axhline(y, color="0.5", ls=":", lw=1)
        ax.set_title(f"output, {title} (no perturbations)")
        ax.set_xlabel("time (ms)")
    axes[0].set_ylabel("r_out")
    axes[1].legend(frameon=False, ncol=2)
    fig.tight_layout()
    fig.savefig(out / "outputs.png", dpi=120)
    plt.close(fig)
