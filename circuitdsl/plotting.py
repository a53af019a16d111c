"""Figures: adjacency matrices (before/after learning) and learning curves."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def adjacency_matrix(network, weights=None, kinds=("conductance", "drive")):
    """(names, W) with W[source, destination] summed over synapses of the given kinds.

    Names are unit names sorted alphabetically, as in Neuroblox's adjacency plot."""
    weights = weights if weights is not None else [s.weight for s in network.synapse_sets]
    names = set()
    entries = []
    for s, w in zip(network.synapse_sets, weights):
        if kinds and s.synapse.name not in kinds:
            continue
        pre_names = s.pre.unit_names(network.path(s.pre))
        post_names = s.post.unit_names(network.path(s.post))
        for a, b, x in zip(s.pre_idx, s.post_idx, w):
            entries.append((pre_names[a], post_names[b], x))
            names.update((pre_names[a], post_names[b]))
    names = sorted(names)
    index = {n: k for k, n in enumerate(names)}
    W = np.zeros((len(names), len(names)))
    for a, b, x in entries:
        W[index[a], index[b]] += x
    return names, W


def adjacency(network, weights=None, title="", path=None, vmax=None):
    """Grey heatmap of a built network's weights: y = source, x = destination."""
    names, W = adjacency_matrix(network, weights)
    return adjacency_figure(names, W, title, path, vmax)


def adjacency_figure(names, W, title="", path=None, vmax=None):
    """Grey heatmap of a named weight matrix (rows = sources); saved and closed if `path`."""
    n = len(names)
    fig, ax = plt.subplots(figsize=(max(6, n * 0.16), max(5, n * 0.15)))
    im = ax.imshow(W, cmap="Greys", vmin=0, vmax=vmax or (W.max() or 1), interpolation="nearest")
    ax.set_xticks(range(n), names, rotation=90, fontsize=5)
    ax.set_yticks(range(n), names, fontsize=5)
    ax.set_xlabel("destination")
    ax.set_ylabel("source")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label="weight")
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig


def learning_curve(trace, window=20, path=None, title=""):
    correct = np.asarray([float(r["correct"]) for r in trace])
    trials = np.arange(1, len(correct) + 1)
    rolling = np.convolve(correct, np.ones(window) / window, mode="valid") if len(correct) >= \
        window else np.cumsum(correct) / trials
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(trials[len(trials) - len(rolling):], rolling, color="k")
    ax.axhline(0.5, color="grey", ls=":", lw=1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("trial")
    ax.set_ylabel(f"accuracy (rolling {window})")
    ax.set_title(title)
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig


def dnms_figures(out, rows, before, after, task, window=200):
    """learning_curve.png (median error over a sliding window, per trial type) and
    outputs.png (the output for the four types before and after learning, no perturbations)."""
    from pathlib import Path
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


def reaching_figures(out, rows, block, before, after, task, window=200):
    """training_loss.png (loss per trial, rolling mean, training blocks shaded by target) and
    trajectories.png (the arm's path to each trained target before and after training)."""
    from pathlib import Path
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
