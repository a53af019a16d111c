"""Figures of an lttb-trajectory run: figure1.png (clock, target vs output, rasters) and
learning_curve.png (outer variance and inner error per tested iteration)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _tested(rows, key):
    pts = [(int(r["iteration"]), float(r[key])) for r in rows if r.get(key, "") != ""]
    return np.asarray(pts).reshape(-1, 2)


def learning_curve(rows, path, title=""):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, key, label in ((axes[0], "outer_variance", "outer variance var(y* - Y), test"),
                           (axes[1], "inner_error", "inner error var(B_rec - B_targ), training")):
        pts = _tested(rows, key)
        if len(pts):
            ax.semilogy(pts[:, 0], pts[:, 1], "o-", ms=3)
        ax.set_xlabel("iteration")
        ax.set_title(label, fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def figure1(runner, path, title="", n_raster=100):
    """Clock, target vs output (test trial) and spike/burst rasters (training trial, no
    learning applied: the runner's state is left as it was)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    saved = runner.state()
    ov, test = runner.test(["clock.c", "E.Ss", "E.Brec"])
    runner.sim.reset()                              # a training trial shown with rules frozen
    for pop in ("E", "I", "RO"):
        runner.sim.set(pop, "learn", 0.0)
    train = runner.sim.run(runner.n_run * runner.dt, record=["E.Ss", "E.B", "E.Brec"],
                           inputs=runner.train_inputs)
    runner.restore(saved)
    t = np.arange(1, runner.n_run + 1) * runner.dt
    fig = plt.figure(figsize=(10, 8))
    grid = fig.add_gridspec(6, 1, height_ratios=[0.7, 1, 1, 1, 2, 2])
    ax = fig.add_subplot(grid[0])
    ax.imshow(test["clock.c"].T, aspect="auto", cmap="Greys", interpolation="nearest",
              extent=(t[0], t[-1], test["clock.c"].shape[1] - 0.5, -0.5))
    ax.set_ylabel("clock")
    ax.set_xticks([])
    for d in range(3):
        ax = fig.add_subplot(grid[1 + d])
        ax.plot(t, runner.target[1:runner.n_run + 1, d], "k", lw=1.5, label="target y*")
        ax.plot(t, test["RO.Y"][:, d], "C3", lw=1, label="output Y (test)")
        ax.set_ylabel(f"y{d + 1}")
        ax.set_xticks([])
        if d == 0:
            ax.legend(fontsize=7, loc="upper right", ncol=2)
    for row, (what, rec) in enumerate((("test", test), ("training", train))):
        ax = fig.add_subplot(grid[4 + row])
        if "E.Ss" in rec.data:
            k, i = np.nonzero(rec["E.Ss"][:, :n_raster])
            ax.plot(t[k], i, "|", color="0.6", ms=2, label="somatic spikes")
        for key, color, label in (("E.B", "C0", "target bursts"),
                                  ("E.Brec", "C3", "predicted bursts")):
            if key in rec.data:
                k, i = np.nonzero(rec[key][:, :n_raster])
                ax.plot(t[k], i, ".", color=color, ms=2, label=label)
        ax.set_ylabel(f"unit ({what})")
        ax.legend(fontsize=7, loc="upper right", ncol=3, markerscale=3)
    ax.set_xlabel("time (ms)")
    fig.suptitle(f"{title}  outer variance {ov:.4f}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw(runner, out, rows, meta):
    out = Path(out)
    title = f"{meta.get('circuit', '')}, seed {meta.get('seed', '')}"
    figure1(runner, out / "figure1.png", title)
    learning_curve(rows, out / "learning_curve.png", title)
