"""Figures: adjacency matrices (before/after learning, per plastic family) and learning curves.

Unit names are shown in natural order (`E1[2]` before `E1[10]`). The saved `adjacency`
matrix of `adjacency_matrix` keeps Neuroblox's alphabetical order, so saved files compare
with older runs; the figures reorder it.
"""
from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

KINDS = ("conductance", "drive")
#: colour maps of plastic families, in order (fixed synapses are grey)
FAMILY_CMAPS = ("Blues", "Oranges", "Greens", "Purples", "Reds", "YlOrBr")


def natural_key(name):
    """Sort key that orders the numbers inside a name by value: E1[2] < E1[10] < E2[0]."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(name))]


def adjacency_matrix(network, weights=None, kinds=KINDS):
    """(names, W) with W[source, destination] summed over synapses of the given kinds.

    Names are the units with a synapse, sorted alphabetically as in Neuroblox's adjacency
    plot (the order saved in weights_*.npz); the figures use `weight_families`."""
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


def weight_families(network, weights=None, kinds=KINDS):
    """The weights drawn by the adjacency figures, as plain arrays (saved with the weights).

    Returns a dict: `units` (every unit of every population that has a synapse of `kinds`,
    natural order, so units without synapses are kept), `fixed` (units x units, summed
    non-plastic weights, 0 where none) and `families`: one entry per plastic edge (its
    connection and rule), each with `label`, `pre` and `post` unit names and `w` (pre x post,
    NaN where there is no synapse)."""
    weights = weights if weights is not None else [s.weight for s in network.synapse_sets]
    units, entries, families = set(), [], {}
    for s, w in zip(network.synapse_sets, weights):
        if kinds and s.synapse.name not in kinds:
            continue
        pre_names = s.pre.unit_names(network.path(s.pre))
        post_names = s.post.unit_names(network.path(s.post))
        units.update(pre_names)
        units.update(post_names)
        if s.rule is None:
            entries.extend((pre_names[a], post_names[b], x)
                           for a, b, x in zip(s.pre_idx, s.post_idx, w))
            continue
        conn = s.connection
        label = (f"{conn.src} -> {conn.dst}" if conn is not None else
                 f"{network.path(s.pre)} -> {network.path(s.post)}") + f" ({s.rule.name})"
        fam = families.setdefault(label, dict(pre=set(), post=set(), entries=[]))
        fam["pre"].update(pre_names)
        fam["post"].update(post_names)
        fam["entries"].extend((pre_names[a], post_names[b], x)
                              for a, b, x in zip(s.pre_idx, s.post_idx, w))
    units = sorted(units, key=natural_key)
    index = {n: k for k, n in enumerate(units)}
    fixed = np.zeros((len(units), len(units)))
    for a, b, x in entries:
        fixed[index[a], index[b]] += x
    out = []
    for label, fam in families.items():
        pre, post = sorted(fam["pre"], key=natural_key), sorted(fam["post"], key=natural_key)
        r, c = {n: k for k, n in enumerate(pre)}, {n: k for k, n in enumerate(post)}
        W = np.full((len(pre), len(post)), np.nan)
        for a, b, x in fam["entries"]:
            W[r[a], c[b]] = x if np.isnan(W[r[a], c[b]]) else W[r[a], c[b]] + x
        out.append(dict(label=label, pre=pre, post=post, w=W))
    return dict(units=units, fixed=fixed, families=out)


def families_to_arrays(fam):
    """`weight_families` output as npz-ready arrays (family k: family{k}_label/_pre/_post/_w)."""
    data = dict(units=np.asarray(fam["units"]), fixed=fam["fixed"],
                n_families=np.asarray(len(fam["families"])))
    for k, f in enumerate(fam["families"]):
        data.update({f"family{k}_label": np.asarray(f["label"]), f"family{k}_pre":
                     np.asarray(f["pre"]), f"family{k}_post": np.asarray(f["post"]),
                     f"family{k}_w": f["w"]})
    return data


def families_from_arrays(d):
    """Inverse of `families_to_arrays` (d: a loaded npz or dict). A file written before the
    families were saved gives its whole `adjacency` as the fixed matrix, reordered."""
    if "units" not in d:
        names = list(d["names"])
        order = sorted(range(len(names)), key=lambda k: natural_key(names[k]))
        return dict(units=[names[k] for k in order],
                    fixed=np.asarray(d["adjacency"])[np.ix_(order, order)], families=[])
    fams = [dict(label=str(d[f"family{k}_label"]), pre=list(d[f"family{k}_pre"]),
                 post=list(d[f"family{k}_post"]), w=np.asarray(d[f"family{k}_w"]))
            for k in range(int(d["n_families"]))]
    return dict(units=list(d["units"]), fixed=np.asarray(d["fixed"]), families=fams)


def family_scales(*states):
    """Colour-scale maxima shared by several states (before, after): fixed and per family."""
    fixed = max([float(np.max(s["fixed"], initial=0.0)) for s in states] + [0.0]) or 1.0
    fams = {}
    for s in states:
        for f in s["families"]:
            m = float(np.nanmax(f["w"], initial=0.0)) if np.isfinite(f["w"]).any() else 0.0
            fams[f["label"]] = max(fams.get(f["label"], 0.0), m)
    return dict(fixed=fixed, families={k: (v or 1.0) for k, v in fams.items()})


def _ticks(ax, rows, cols, size):
    ax.set_xticks(range(len(cols)), cols, rotation=90, fontsize=size)
    ax.set_yticks(range(len(rows)), rows, fontsize=size)


def adjacency_figure(state, title="", path=None, before=None, scales=None):
    """The weights of one state (`weight_families` / `families_from_arrays`), drawn so every
    plastic family is visible: left, the whole network (rows = sources, columns =
    destinations; fixed synapses grey, each plastic family in its own colour map and scale);
    then one panel per plastic family on its own scale; with `before`, a last column of
    after - before per family (red = grew, blue = shrank, symmetric scale). `scales` (from
    `family_scales`) shares colour ranges between figures. Saved and closed if `path`."""
    scales = scales or family_scales(state, *([before] if before else []))
    fams = state["families"]
    old = {f["label"]: f for f in (before["families"] if before else [])}
    units, n = state["units"], len(state["units"])
    n_col = 1 + (1 if fams else 0) + (1 if fams and before else 0)
    rows = max(1, len(fams))
    big = max(7.0, 0.13 * n + 2.5)
    fig = plt.figure(figsize=(big + 4.6 * (n_col - 1), max(big, 3.4 * rows)))
    widths = [big] + [4.2] * (n_col - 1)
    gs = fig.add_gridspec(rows, n_col, width_ratios=widths)
    ax = fig.add_subplot(gs[:, 0])
    index = {u: k for k, u in enumerate(units)}
    fixed = np.ma.masked_equal(state["fixed"], 0.0)
    # vmax above the largest fixed weight: fixed synapses stay mid-grey under the colours
    im = ax.imshow(fixed, cmap="Greys", vmin=0, vmax=1.6 * scales["fixed"],
                   interpolation="nearest", aspect="equal")
    fig.colorbar(im, ax=ax, label="fixed weight", fraction=0.035, pad=0.01)
    for k, f in enumerate(fams):
        full = np.full((n, n), np.nan)
        r, c = [index[u] for u in f["pre"]], [index[u] for u in f["post"]]
        full[np.ix_(r, c)] = f["w"]
        ax.imshow(np.ma.masked_invalid(full), cmap=FAMILY_CMAPS[k % len(FAMILY_CMAPS)], vmin=0,
                  vmax=scales["families"][f["label"]], interpolation="nearest", aspect="equal")
    size = 7 if n <= 60 else 5
    _ticks(ax, units, units, size)
    ax.set_xlabel("destination")
    ax.set_ylabel("source")
    note = ("grey: fixed synapses; colours: the plastic families (right), each on its own scale"
            if fams else "one grey scale: this weights file has no per-family data")
    ax.set_title((title or "weights") + "\n" + note, fontsize=10)
    for k, f in enumerate(fams):
        cmap = FAMILY_CMAPS[k % len(FAMILY_CMAPS)]
        a = fig.add_subplot(gs[k, 1])
        vmax = scales["families"][f["label"]]
        im = a.imshow(np.ma.masked_invalid(f["w"]), cmap=cmap, vmin=0, vmax=vmax,
                      interpolation="nearest", aspect="auto")
        a.set_facecolor("0.93")    # grey = no synapse
        fig.colorbar(im, ax=a, label="weight", fraction=0.05, pad=0.02)
        _ticks(a, f["pre"], f["post"], 7)
        a.set_title(f"{f['label']}\nweights {np.nanmin(f['w']):.3g} to {np.nanmax(f['w']):.3g}",
                    fontsize=9, color=plt.get_cmap(cmap)(0.8))
        if f["label"] in old and n_col > 2:
            d = f["w"] - old[f["label"]]["w"]
            lim = float(np.nanmax(np.abs(d), initial=0.0)) or 1.0
            a = fig.add_subplot(gs[k, 2])
            im = a.imshow(np.ma.masked_invalid(d), cmap="RdBu_r", vmin=-lim, vmax=lim,
                          interpolation="nearest", aspect="auto")
            a.set_facecolor("0.93")
            fig.colorbar(im, ax=a, label="after - before", fraction=0.05, pad=0.02)
            _ticks(a, f["pre"], f["post"], 7)
            a.set_title(f"change: {np.nanmin(d):+.3g} to {np.nanmax(d):+.3g}", fontsize=9)
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=130)
        plt.close(fig)
    return fig


def learning_curve(trace, window=20, path=None, title=""):
    """Accuracy per trial as the mean of the last `window` trials (of all trials so far before
    trial `window`), with each trial's outcome as a tick at 0 (error) or 1 (correct)."""
    correct = np.asarray([float(r["correct"]) for r in trace])
    n = len(correct)
    trials = np.arange(1, n + 1)
    w = max(1, min(window, n))
    rolling = np.array([correct[max(0, k - w + 1):k + 1].mean() for k in range(n)])
    fig, ax = plt.subplots(figsize=(7.5, 4.0))
    ax.plot(trials, correct, "|", color="0.55", ms=6, label="trial outcome")
    ax.plot(trials, rolling, "-", color="k", lw=1.4, marker="o" if n <= 30 else None, ms=3,
            label=f"accuracy over the last {w} trials" + (f" (trials 1..k while k < {w})"
                                                          if w > 1 else ""))
    ax.axhline(0.5, color="grey", ls=":", lw=1, label="chance (two categories)")
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlim(0.5, n + 0.5)
    ax.set_xlabel("trial")
    ax.set_ylabel("accuracy")
    ax.legend(frameon=False, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2),
              ncol=3)
    ax.set_title(title)
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=130)
        plt.close(fig)
    return fig
