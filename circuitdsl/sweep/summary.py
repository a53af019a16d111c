"""A sweep's results: summary.csv (one row per finished run, rewritten atomically after every
run) and summary.png (the headline metric against the first swept parameter).

A row is a dict with the run's name, grid values, seed, seconds, status and error, plus the
private keys `_k` (its position in the plan) and `_metrics` (run.json's metrics).
"""
from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

#: summary.csv columns of every sweep; a grid parameter may not take these names, and a
#: metric that does is written as metric_<name>.
RESERVED = ("run", "seed", "seconds", "status", "error")


def columns(rows):
    """The metric names of all rows, in order of first appearance."""
    metrics = []
    for r in rows:
        for m in r.get("_metrics", {}):
            if m not in metrics:
                metrics.append(m)
    return metrics


def metric_column(name):
    """The summary.csv column of a metric (renamed if it clashes with a fixed column)."""
    return f"metric_{name}" if name in RESERVED else name


def as_cell(value):
    """A value as a CSV cell: None is empty, lists and dicts are JSON."""
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value if isinstance(value, (int, float, str)) else json.dumps(value, default=str)


def write_summary(path, rows, grid_keys):
    """summary.csv, one row per finished run (done or failed), written atomically."""
    path = Path(path)
    metrics = columns(rows)
    header = ["run", *grid_keys, "seed", *[metric_column(m) for m in metrics], "seconds",
              "status", "error"]
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in sorted(rows, key=lambda r: r["_k"]):
            w.writerow([r["run"], *[as_cell(r[k]) for k in grid_keys], r["seed"],
                        *[as_cell(r["_metrics"].get(m)) for m in metrics],
                        as_cell(r["seconds"]), r["status"], r["error"]])
    os.replace(tmp, path)


def public_row(row, metrics):
    """A row as sweep() returns it: no private keys, one key per metric column."""
    out = {k: v for k, v in row.items() if not k.startswith("_")}
    out.update({metric_column(m): row["_metrics"].get(m) for m in metrics})
    return out


def finite(value):
    """A real, finite number (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(value)


def headline_metric(rows):
    """The first metric that has a finite number in some finished run (None if none)."""
    for m in columns(rows):
        if any(finite(r["_metrics"].get(m)) for r in rows if r["status"] == "done"):
            return m
    return None


def plot_summary(path, rows, grid_keys, title=""):
    """summary.png: the headline metric against the first swept parameter (one line per value
    of the others), each seed a dot and the mean +- standard deviation over seeds; without a
    grid, the metric per seed. Returns the metric plotted, or None (nothing to plot)."""
    metric = headline_metric(rows)
    if metric is None:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    done = [r for r in rows if r["status"] == "done" and finite(r["_metrics"].get(metric))]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    if not grid_keys:
        done.sort(key=lambda r: r["_k"])
        y = np.asarray([float(r["_metrics"][metric]) for r in done])
        ax.plot(range(len(y)), y, "o", color="k")
        ax.axhline(y.mean(), color="0.4", ls="--", lw=1,
                   label=f"mean {y.mean():.4g} ± {y.std():.2g} (sd)")
        ax.set_xticks(range(len(y)), [str(r["seed"]) for r in done], rotation=45, fontsize=7)
        ax.set_xlabel("seed")
        ax.legend(frameon=False)
    else:
        first, rest = grid_keys[0], grid_keys[1:]
        values = []
        for r in rows:
            if r[first] not in values:
                values.append(r[first])
        numeric = all(finite(v) for v in values)
        xpos = {v: (float(v) if numeric else i) for i, v in enumerate(values)}
        groups = {}
        for r in done:
            groups.setdefault(tuple(r[k] for k in rest), []).append(r)
        for g, (label, members) in enumerate(groups.items()):
            xs, means, sds = [], [], []
            colour = f"C{g % 10}"
            for v in values:
                y = [float(r["_metrics"][metric]) for r in members if r[first] == v]
                if not y:
                    continue
                xs.append(xpos[v])
                means.append(np.mean(y))
                sds.append(np.std(y))
                ax.plot([xpos[v]] * len(y), y, ".", color=colour, alpha=0.35)
            name = ", ".join(f"{k}={v}" for k, v in zip(rest, label)) or None
            ax.errorbar(xs, means, yerr=sds, color=colour, marker="o", capsize=3, label=name)
        if not numeric:
            ax.set_xticks(range(len(values)), [str(v) for v in values])
        elif len(values) > 2 and min(values) > 0 and max(values) / min(values) >= 100:
            ax.set_xscale("log")
        ax.set_xlabel(first)
        if rest:
            ax.legend(frameon=False, fontsize=8)
    n_failed = sum(r["status"] == "failed" for r in rows)
    ax.set_ylabel(metric)
    ax.set_title(f"{title}: {len(done)} runs" + (f", {n_failed} failed" if n_failed else "") +
                 " (mean ± sd over seeds)" * bool(grid_keys), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return metric
