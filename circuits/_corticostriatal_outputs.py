"""What a corticostriatal run writes, at 603 neurons: counts, weights and figures.

The category-learning outputs (trace with dopamine, run.json, checkpoint and resume) come from
the shared ClassificationRunner. Its unit-by-unit adjacency figure would be an 830 x 830
picture here, so this runner saves and draws instead:

- weights_before.npz / weights_after.npz: every synapse set's weights (`set{k}`) plus the
  block-level summary (`groups`, `count`, `mean`: synapses and mean weight per pair of
  groups, rows = sources);
- block_summary.png: the mean weight per group pair before and after, with counts;
- plastic_weights.png: one row per plastic family (VC -> PFC, Thal_k -> PFC, PFC -> STR_k),
  before, after and after - before, unit by unit;
- learning_curve.png: the 40-trial running mean.

`counts(circuit, net)` is the neuron and synapse table of docs/circuits/corticostriatal.md
and of the tests (HH neurons per block, synapses per edge, inner edges included).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from circuitdsl.agent import Agent
from circuitdsl.circuits._classification import ClassificationRunner
from circuitdsl.environments import ClassificationEnvironment
from circuitdsl.experiment import read_trace
from circuitdsl.plotting import natural_key

#: Synapse kinds that carry a conductance or a drive (pixels, ascending input and event-only
#: edges are left out of the weight summaries).
WEIGHT_KINDS = ("conductance", "sta conductance", "drive")
WINDOW = 40


def group_of(path):
    """The summary group of a population path: the top-level block, with a cortex's WTA
    number dropped ('VC.wta3.exci' -> 'VC.exci', 'STR1.msn' stays, 'GPi1' stays)."""
    parts = path.split(".")
    if len(parts) == 1:
        return path
    return f"{parts[0]}.{parts[-1]}"


def _is_hh(pop):
    return pop.model.name.startswith("HHNeuron")


def counts(circuit, net):
    """{'blocks': [(block, HH neurons, inner synapses)], 'edges': [(label, synapses,
    plastic)], 'hh': total HH neurons, 'synapses': total HH synapses (conductance kinds)}."""
    top = {id(c) for c in circuit.connections}
    blocks = []
    for b in circuit.blocks:
        hh = sum(p.N for _, p in b.populations() if _is_hh(p))
        inner = sum(len(s.weight) for s in net.synapse_sets if s.connection is not None and
                    s.connection.src.split(".")[0] == b.name and
                    s.connection.dst.split(".")[0] == b.name and
                    id(s.connection) not in top)
        blocks.append((b.name, hh, inner))
    edges = []
    for conn in circuit.connections:
        sets = [s for s in net.synapse_sets if s.connection is conn]
        edges.append((conn.label, sum(len(s.weight) for s in sets),
                      sum(len(s.weight) for s in sets if s.rule is not None)))
    hh_syn = sum(len(s.weight) for s in net.synapse_sets if s.synapse.name in WEIGHT_KINDS[:2])
    return dict(blocks=blocks, edges=edges, synapses=hh_syn,
                hh=sum(p.N for p in net.populations.values() if _is_hh(p)))


def format_counts(table):
    """The counts as the markdown table of the docs page."""
    lines = [f"HH neurons: {table['hh']}; HH synapses (conductance and STA): "
             f"{table['synapses']}", "", "| block | HH neurons | synapses inside |",
             "|---|---|---|"]
    lines += [f"| {b} | {n} | {s} |" for b, n, s in table["blocks"]]
    lines += ["", "| edge | synapses | plastic |", "|---|---|---|"]
    lines += [f"| {e} | {n} | {p} |" for e, n, p in table["edges"]]
    return "\n".join(lines)


def block_summary(net, weights):
    """(groups, count, mean) over WEIGHT_KINDS synapses, rows = source groups."""
    groups = sorted({group_of(net.path(s.pre)) for s in net.synapse_sets} |
                    {group_of(net.path(s.post)) for s in net.synapse_sets},
                    key=lambda g: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", g)])
    index = {g: k for k, g in enumerate(groups)}
    n = len(groups)
    count, total = np.zeros((n, n)), np.zeros((n, n))
    for s, w in zip(net.synapse_sets, weights):
        if s.synapse.name not in WEIGHT_KINDS:
            continue
        a, b = index[group_of(net.path(s.pre))], index[group_of(net.path(s.post))]
        count[a, b] += len(w)
        total[a, b] += float(np.sum(w))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    keep = (count.sum(0) + count.sum(1)) > 0
    groups = [g for g, k in zip(groups, keep) if k]
    return groups, count[np.ix_(keep, keep)], mean[np.ix_(keep, keep)]


def families(net, weights):
    """Plastic families, one per (edge, synapse kind into a unit population): label, pre and
    post unit counts and the dense pre x post weight matrix (NaN where no synapse)."""
    out = {}
    for s, w in zip(net.synapse_sets, weights):
        if s.rule is None or s.synapse.name not in WEIGHT_KINDS[:2]:
            continue   # the matrisome/striosome copies equal the MSN ones' sources; skip
        conn = s.connection
        fam = out.setdefault(conn.label, dict(pre=set(), post=set(), entries=[]))
        pre_names = s.pre.unit_names(net.path(s.pre))
        post_names = s.post.unit_names(net.path(s.post))
        for a, b, x in zip(s.pre_idx, s.post_idx, w):
            fam["pre"].add(pre_names[a])
            fam["post"].add(post_names[b])
            fam["entries"].append((pre_names[a], post_names[b], float(x)))
    result = []
    for label, fam in out.items():
        # units in natural order (VC.wta2.exci[4] before VC.wta10.exci[0]): pixel order for VC
        rows = {n: k for k, n in enumerate(sorted(fam["pre"], key=natural_key))}
        cols = {n: k for k, n in enumerate(sorted(fam["post"], key=natural_key))}
        W = np.full((len(rows), len(cols)), np.nan)
        for a, b, x in fam["entries"]:
            W[rows[a], cols[b]] = x
        result.append((label, W))
    return result


def save_weights(path, sim):
    weights = sim.synapse_weights()
    groups, count, mean = block_summary(sim.network, weights)
    fams = families(sim.network, weights)
    np.savez(path, groups=np.asarray(groups), count=count, mean=mean,
             family_labels=np.asarray([f[0] for f in fams]),
             **{f"family{k}": f[1] for k, f in enumerate(fams)},
             **{f"set{k}": w for k, w in enumerate(weights)})


def redraw(out, meta):
    """block_summary.png, plastic_weights.png and learning_curve.png from a run directory."""
    import matplotlib.pyplot as plt
    from circuitdsl.plotting import learning_curve
    out = Path(out)
    data = {tag: np.load(out / f"weights_{tag}.npz") for tag in ("before", "after")
            if (out / f"weights_{tag}.npz").exists()}
    if data:
        _draw_summary(plt, data, out / "block_summary.png", meta)
        _draw_families(plt, data, out / "plastic_weights.png", meta)
    if (out / "trace.csv").exists():
        trace = read_trace(out / "trace.csv")
        if trace:
            learning_curve(trace, window=WINDOW, path=out / "learning_curve.png",
                           title=f"{meta.get('circuit', '')}, seed {meta.get('seed', '')}")


def _draw_summary(plt, data, path, meta):
    tags = list(data)
    groups = list(data[tags[0]]["groups"])
    vmax = max(float(np.nanmax(d["mean"])) for d in data.values())
    size = max(6.0, 0.32 * len(groups) + 2)
    fig, axes = plt.subplots(1, len(tags), figsize=(size * len(tags), size), squeeze=False)
    for ax, tag in zip(axes[0], tags):
        d = data[tag]
        im = ax.imshow(d["mean"], cmap="Greys", vmin=0, vmax=vmax)
        for (a, b), n in np.ndenumerate(d["count"]):
            if n:
                ax.text(b, a, f"{int(n)}", ha="center", va="center", fontsize=5,
                        color="tab:red")
        ax.set_xticks(range(len(groups)), groups, rotation=90, fontsize=6)
        ax.set_yticks(range(len(groups)), groups, fontsize=6)
        ax.set_xlabel("destination")
        ax.set_ylabel("source")
        ax.set_title(f"mean weight {tag} learning (numbers: synapses)", fontsize=9)
        fig.colorbar(im, ax=ax, shrink=0.6)
    fig.suptitle(f"{meta.get('circuit', '')}: block-level weights", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _draw_families(plt, data, path, meta):
    first = data[next(iter(data))]
    labels = [str(x) for x in first["family_labels"]]
    if not labels:
        return
    cols = list(data) + (["change"] if len(data) == 2 else [])
    fig, axes = plt.subplots(len(labels), len(cols), figsize=(4.2 * len(cols),
                                                               3.0 * len(labels)), squeeze=False)
    for k, label in enumerate(labels):
        mats = {tag: d[f"family{k}"] for tag, d in data.items()}
        vmax = max(float(np.nanmax(m)) for m in mats.values()) or 1.0
        for j, col in enumerate(cols):
            ax = axes[k, j]
            if col == "change":
                diff = mats["after"] - mats["before"]
                lim = float(np.nanmax(np.abs(diff))) or 1.0
                im = ax.imshow(diff.T, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim,
                               interpolation="nearest")
            else:
                im = ax.imshow(mats[col].T, aspect="auto", cmap="viridis", vmin=0, vmax=vmax,
                               interpolation="nearest")
            ax.set_title(f"{label}: {col}", fontsize=8)
            ax.set_xlabel("source unit", fontsize=7)
            ax.set_ylabel("target unit", fontsize=7)
            fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


class CorticostriatalRunner(ClassificationRunner):
    """The category-learning trial loop with this circuit's weight files and figures."""

    def on_start(self, out):
        save_weights(Path(out) / "weights_before.npz", self.agent.sim)

    def finish(self, out, rows, meta):
        save_weights(Path(out) / "weights_after.npz", self.agent.sim)
        redraw(out, meta)
        correct = np.asarray([int(r["correct"]) for r in rows], dtype=float)
        running = [correct[max(0, k - WINDOW + 1):k + 1].mean() for k in range(len(correct))]
        return (f"accuracy {correct.mean():.3f} (last {min(100, len(correct))}: "
                f"{correct[-100:].mean():.3f}; {WINDOW}-trial running mean at the end "
                f"{running[-1]:.3f})")

    def metrics(self, rows):
        """The classification metrics plus the acceptance numbers of issue 16."""
        out = super().metrics(rows)
        c = np.asarray([int(r["correct"]) for r in rows], dtype=float)
        running = np.array([c[max(0, k - WINDOW + 1):k + 1].mean() for k in range(len(c))])
        out.update(
            accuracy_100_400=round(float(c[99:400].mean()), 4) if len(c) >= 400 else None,
            running_max_by_400=round(float(running[:400].max()), 4) if len(c) else None,
            running_max_after_40=(round(float(running[40:].max()), 4) if len(c) > 40
                                  else None))
        return out


def corticostriatal_runner(circuit, seed, dt):
    agent = Agent(circuit, t_block=circuit.meta.get("t_block"), dt=dt, seed=seed)
    stim = circuit[circuit.meta["stimulus"]]
    env = ClassificationEnvironment(stim, stim.images.n_stimuli)
    return CorticostriatalRunner(agent, env, circuit.meta.get("t_warmup", 800.0))
