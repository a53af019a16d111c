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
