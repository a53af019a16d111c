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
