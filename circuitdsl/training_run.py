"""One gradient-training run into a directory: what `circuitdsl train` does.

Files: trace.csv (step, loss, accuracy; written as it goes), weights.npz (every edge as an
(N_dst, N_src) matrix and the trained parameters; saved at the end and on Ctrl-C),
learning_curve.png, pca.png (hidden trajectories of 20 test trials in the PC1-PC2 plane,
coloured by ground truth) and run.json.
"""
from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np

import circuitdsl
from circuitdsl.circuit import stable_rng
from circuitdsl.dirlock import DirLock
from circuitdsl.runs import RunError, build_circuit, write_json
from circuitdsl.train import _recent, program_for, train


def sample_trials(task, n, seed):
    """n single trials from a stream of their own, padded with zeros to one length:
    (X (T, n, n_obs), labels (T, n), lengths)."""
    rng = stable_rng(seed, "test-trials")
    trials = [task.trial(rng) for _ in range(n)]
    T = max(len(ob) for ob, _ in trials)
    X = np.zeros((T, n, task.n_obs))
    labels = np.zeros((T, n), dtype=np.int64)
    for k, (ob, gt) in enumerate(trials):
        X[:len(ob), k], labels[:len(gt), k] = ob, gt
    return X, labels, np.array([len(ob) for ob, _ in trials])


def evaluate(program, task, n=500, seed=0):
    """Decision accuracy over n fresh trials, each run alone from the initial state."""
    X, labels, _ = sample_trials(task, n, seed + 1)
    Y = program.forward(X)
    dec = labels > 0
    return float((Y.argmax(axis=-1)[dec] == labels[dec]).mean())


def learning_curve_figure(history, path, title, window=100):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    h = np.asarray([(s, l, a) for s, l, a in history], dtype=float)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    kernel = np.ones(min(window, len(h))) / min(window, len(h))
    for ax, col, label in ((a1, 1, "cross-entropy"), (a2, 2, "decision accuracy")):
        y = h[:, col]
        ax.plot(h[:, 0], y, color="0.8", lw=0.6, label="per step")
        ok = np.isfinite(y)
        if ok.sum() >= len(kernel):
            ax.plot(h[ok, 0][len(kernel) - 1:], np.convolve(y[ok], kernel, "valid"),
                    color="C0", label=f"mean of {len(kernel)} steps")
        ax.set_xlabel("training step")
        ax.set_ylabel(label)
        ax.legend(frameon=False)
    a1.set_yscale("log")
    a2.set_ylim(0, 1)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def pca_figure(program, task, hidden, path, seed, n=20):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    X, labels, lengths = sample_trials(task, n, seed)
    program.forward(X)
    H = program.states(hidden, "r") if "r" in program._where[hidden][0].model.derived \
        else program.states(hidden)
    points = np.concatenate([H[:L, k] for k, L in enumerate(lengths)])
    mean = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - mean, full_matrices=False)
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    colours = {1: "C0", 2: "C3"}
    for k, L in enumerate(lengths):
        gt = int(labels[L - 1, k])
        pc = (H[:L, k] - mean) @ vt[:2].T
        ax.plot(pc[:, 0], pc[:, 1], color=colours.get(gt, "0.5"), lw=0.9, alpha=0.8)
        ax.plot(pc[-1, 0], pc[-1, 1], "o", color=colours.get(gt, "0.5"), ms=4)
    ax.plot([], [], color="C0", label="ground truth 1 (first larger)")
    ax.plot([], [], color="C3", label="ground truth 2 (second larger)")
    ax.set_xlabel("PC1")
    ax.set_ylabel("PC2")
    ax.set_title(f"hidden state of {n} test trials (dot: decision step)", fontsize=9)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


TRAINING_FILES = ("run.json", "trace.csv", "weights.npz", "learning_curve.png", "pca.png")


def _check_out(out, overwrite, clear=False):
    """Refuse to write over a training run that is there (unless `overwrite`), as a run does;
    with `clear` (only while holding the directory's lock) remove what that run wrote."""
    meta_path = out / "run.json"
    if out.exists() and not out.is_dir():
        raise RunError(f"--out '{out}' is a file, not a directory")
    if not meta_path.exists():
        return
    try:
        old = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        old = {}
    if not overwrite:
        raise RunError(f"--out '{out}' already holds a run ({old.get('circuit_source', '?')}, "
                       f"seed {old.get('seed', '?')}, {old.get('status', 'unknown status')}); "
                       "replace it with --overwrite, or choose another --out")
    for name in TRAINING_FILES if clear else ():
        if (out / name).is_file():
            (out / name).unlink()


def train_run(name, seed, out, params=None, steps=None, batch_size=None, lr=None,
              progress=True, overwrite=False):
    """Train circuit `name` (shipped or a .py file) into directory `out`; returns run.json.
    The directory is locked while training (a second run into it is refused), and a run
    already there is kept unless `overwrite`."""
    out = Path(out)
    _check_out(out, overwrite)          # before any compiling: a refusal comes at once
    with DirLock(out, what="training run"):
        _check_out(out, overwrite, clear=True)   # no other process can be writing now
        return _train(name, seed, out, params, steps, batch_size, lr, progress)


def _train(name, seed, out, params, steps, batch_size, lr, progress):
    circuit = build_circuit(name, dict(params or {}))
    spec = circuit.meta.get("training")
    if not spec:
        raise RunError(f"circuit '{name}' has no training set-up (circuit.meta['training'])")
    steps = steps if steps is not None else spec.get("steps", 1000)
    batch_size = batch_size if batch_size is not None else spec.get("batch_size", 16)
    lr = lr if lr is not None else spec.get("lr", 1e-3)
    for label, value in (("--steps", steps), ("--batch-size", batch_size)):
        if value < 1:
            raise RunError(f"{label} must be >= 1, got {value}")
    if not lr > 0:
        raise RunError(f"--lr must be > 0, got {lr}")
    task = spec["task"]()
    program = program_for(circuit, seed)
    out.mkdir(parents=True, exist_ok=True)
    meta = dict(circuit=circuit.name, circuit_source=str(name), version=circuitdsl.__version__,
                seed=seed, steps=steps, batch_size=batch_size, lr=lr,
                seq_len=spec.get("seq_len", 100), set=dict(params or {}),
                params=circuit.meta.get("params", {}), python=platform.python_version(),
                numpy=np.__version__, started=time.strftime("%Y-%m-%d %H:%M:%S"))
    write_json(out / "run.json", meta)
    history = []
    t0 = time.perf_counter()
    with open(out / "trace.csv", "w") as trace:
        trace.write("step,loss,accuracy\n")

        def on_step(step, loss, acc):
            history.append((step, loss, acc))
            trace.write(f"{step},{loss:.10g},{acc:.10g}\n")
            if step % 50 == 0:
                trace.flush()
        try:
            train(circuit, task, steps=steps, batch_size=batch_size, lr=lr,
                  seq_len=spec.get("seq_len", 100), seed=seed, loss=spec.get("loss",
                                                                           "cross_entropy"),
                  progress=progress, on_step=on_step, program=program)
        except KeyboardInterrupt:
            trace.flush()
            np.savez(out / "weights.npz", **program.export())
            meta.update(status="interrupted", steps_done=len(history))
            write_json(out / "run.json", meta)
            raise
    seconds = time.perf_counter() - t0
    np.savez(out / "weights.npz", **program.export())
    learning_curve_figure(history, out / "learning_curve.png", f"{circuit.name}, seed {seed}")
    hidden = spec.get("hidden")
    if hidden:
        pca_figure(program, task, hidden, out / "pca.png", seed)
    _, loss100, acc100 = _recent(history)
    test_acc = evaluate(program, task, seed=seed)
    meta.update(status="finished", steps_done=len(history), seconds=round(seconds, 2),
                finished=time.strftime("%Y-%m-%d %H:%M:%S"),
                metrics=dict(loss_last_100=round(loss100, 5), accuracy_last_100=round(acc100, 4),
                             test_accuracy_500_trials=round(test_acc, 4)),
                summary=f"loss {loss100:.4f}, decision accuracy {acc100:.3f} (mean of the "
                        f"last 100 steps); {test_acc:.3f} on 500 test trials")
    write_json(out / "run.json", meta)
    return meta
