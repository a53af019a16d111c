"""Figures of two-pathway-reaching runs: the training loss and the arm's trajectories before
and after training (moved from circuitdsl/plotting.py: they belong to the circuit)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def reaching_figures(out, rows, block, before, after, task, window=200):
    """training_loss.png (loss per trial, rolling mean, training blocks shaded by target) and
    trajectories.png (the arm's path to each trained target before and after training)."""
    out = Path(out)
    train = [r for r in rows if r["phase"] == "train"]
    loss = np.asarray([float(r["loss"]) for r in train])
    target = np.asarray([int(r["target"]) for r in train])
    colors = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(7, 3.6))
    if len(loss):
        w = max(1, min(window, len(loss)))
        roll = np.convolve(loss, np.ones(w) / w, mode="valid")
        start = 0
        for k in range(1, len(target) + 1):   # shade runs of one target (the blocks)
            if k == len(target) or target[k] != target[start]:
                if k - start >= block:
                    ax.axvspan(start + 1, k, color=colors(target[start]), alpha=0.12, lw=0)
                start = k
        ax.plot(np.arange(w, len(loss) + 1), roll, color="k", lw=1)
        ax.set_yscale("log")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors(k), alpha=0.3) for k in range(task.used)]
    ax.legend(handles, [f"target {k}" for k in range(task.used)], frameon=False, ncol=4,
              fontsize=8)
    ax.set_xlabel("training trial")
    ax.set_ylabel(f"loss (rolling mean of {window})")
    fig.tight_layout()
    fig.savefig(out / "training_loss.png", dpi=120)
    plt.close(fig)
    fig, axes = plt.subplots(1, 2, figsize=(8, 4), sharex=True, sharey=True)
    for ax, paths, title in ((axes[0], before, "before training"),
                             (axes[1], after, "after training")):
        for k, path in enumerate(paths):
            ax.plot(path[:, 0], path[:, 1], "-o", ms=2.5, color=colors(k), lw=1.2)
            ax.plot(*task.targets[k], "x", color=colors(k), ms=9, mew=2)
        ax.plot(*task.start, "ko", ms=4)
        ax.set_aspect("equal")
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(out / "trajectories.png", dpi=120)
    plt.close(fig)
