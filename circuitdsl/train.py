"""Gradient training: losses, optimisers (SGD, Adam), gradient clipping, and the `train` loop.

The gradients come from circuitdsl.compiler.backward (backpropagation through time derived
from the circuit's own equations). A circuit says how it is trained in
`circuit.meta["training"]`: which blocks take the data (`inputs`), which block is read out
(`readout`), what is `trainable`, the step `dt` and the defaults of the loop; `train`
arguments override them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from circuitdsl.circuit import stable_rng
from circuitdsl.compiler.backward import GradientError, GradientProgram


@njit(cache=True)
def _cross_entropy(logits, labels, grad):
    """Loss sum over points, gradient (softmax - one-hot) / n into `grad`, and the counts of
    correct and scored (label > 0) points, in one pass (float64 accumulation)."""
    T, B, C = logits.shape
    n = T * B
    total, correct, scored = 0.0, 0, 0
    for t in range(T):
        for b in range(B):
            top, arg = -np.inf, 0
            for c in range(C):
                if logits[t, b, c] > top:
                    top, arg = float(logits[t, b, c]), c
            z = 0.0
            for c in range(C):
                z += np.exp(logits[t, b, c] - top)
            lab = labels[t, b]
            total += np.log(z) - (logits[t, b, lab] - top)
            for c in range(C):
                grad[t, b, c] = (np.exp(logits[t, b, c] - top) / z - (c == lab)) / n
            if lab > 0:
                scored += 1
                correct += arg == lab
    return total, correct, scored


def cross_entropy(logits, labels):
    """Mean softmax cross-entropy over all (time, batch) points, its gradient, and the
    accuracy of the arg-max over points whose label is > 0 (NaN if there are none)."""
    T, B, C = logits.shape
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    if labels.shape != (T, B) or labels.min() < 0 or labels.max() >= C:
        raise GradientError(f"labels must have shape {(T, B)} with values in 0..{C - 1}")
    grad = np.empty(logits.shape, dtype=logits.dtype)
    total, correct, scored = _cross_entropy(logits, labels, grad)
    return float(total / (T * B)), grad, (correct / scored if scored else float("nan"))


def mean_squared_error(outputs, targets):
    """Mean of (outputs - targets)^2, its gradient, and NaN accuracy (a regression)."""
    diff = outputs - targets
    return float((diff ** 2).mean()), 2.0 * diff / diff.size, float("nan")


LOSSES = {"cross_entropy": cross_entropy, "mse": mean_squared_error}


def clip_by_global_norm(grads, max_norm):
    """Scale all gradients together so their joint L2 norm is at most max_norm; returns the
    norm before clipping (None, and nothing done, when max_norm is None)."""
    if max_norm is None:
        return None
    norm = float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads)))
    if norm > max_norm:
        for g in grads:
            g *= max_norm / norm
    return norm


class SGD:
    """Plain (optionally momentum) gradient descent, in place on the parameter arrays."""

    def __init__(self, params, lr=1e-2, momentum=0.0):
        self.params, self.lr, self.momentum = params, float(lr), float(momentum)
        self.velocity = [np.zeros_like(p) for p in params]

    def step(self, grads):
        for p, g, v in zip(self.params, grads, self.velocity):
            v *= self.momentum
            v += g
            p -= self.lr * v


class Adam:
    """Adam (Kingma & Ba 2015) with bias correction, in place on the parameter arrays."""

    def __init__(self, params, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        self.params, self.lr = params, float(lr)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, grads):
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        scale = self.lr * np.sqrt(1 - b2 ** self.t) / (1 - b1 ** self.t)
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            p -= scale * m / (np.sqrt(v) + self.eps * np.sqrt(1 - b2 ** self.t))


OPTIMIZERS = {"adam": Adam, "sgd": SGD}


def program_for(circuit, seed=0, cache=None, **overrides):
    """The GradientProgram of a circuit, from circuit.meta['training'] (+ overrides)."""
    spec = {**circuit.meta.get("training", {}), **overrides}
    missing = [k for k in ("dt", "inputs", "readout", "trainable") if k not in spec]
    if missing:
        raise GradientError(f"circuit '{circuit.name}': training needs {', '.join(missing)} "
                            "(in circuit.meta['training'] or as arguments)")
    return GradientProgram(circuit, spec["dt"], spec["inputs"], spec["readout"],
                           spec["trainable"], seed=seed, method=spec.get("method", "euler"),
                           lag=spec.get("lag", "feedforward"), cache=cache,
                           dtype=spec.get("dtype", np.float64))


@dataclass
class TrainResult:
    program: GradientProgram
    history: list = field(default_factory=list)    # (step, loss, accuracy) per step

    def smoothed(self, window=100):
        """Mean loss and accuracy over the `window` steps ending at each step (NaNs skipped)."""
        h = np.asarray([(l, a) for _, l, a in self.history], dtype=float)
        out = []
        for k in range(len(h)):
            part = h[max(0, k + 1 - window):k + 1]
            out.append((k + 1, float(np.nanmean(part[:, 0])), float(np.nanmean(part[:, 1]))
                        if np.isfinite(part[:, 1]).any() else float("nan")))
        return out


def train(circuit, task, steps=2000, batch_size=16, lr=1e-3, seq_len=100, seed=0,
          optimizer="adam", clip=None, loss="cross_entropy", progress=True, on_step=None,
          program=None, dataset=None):
    """Train `circuit` on `task` by BPTT; returns a TrainResult (program + per-step history).

    One `seed` drives the initial weights (circuit build) and the data. `on_step(step, loss,
    accuracy)` is called after every update (a run writes its trace there).
    """
    from circuitdsl.tasks import SequenceDataset
    for name, value in (("steps", steps), ("batch_size", batch_size), ("seq_len", seq_len)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise GradientError(f"{name} must be a positive integer, got {value!r}")
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise GradientError(f"lr must be a positive number, got {lr!r}")
    if optimizer not in OPTIMIZERS:
        raise GradientError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got "
                            f"{optimizer!r}")
    if loss not in LOSSES:
        raise GradientError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    program = program or program_for(circuit, seed)
    if program.n_inputs != task.n_obs:
        raise GradientError(f"task has {task.n_obs} observation channels but the circuit's "
                            f"inputs have {program.n_inputs} units")
    data_seed = int(stable_rng(seed, "training-data").integers(2**31))
    dataset = dataset or SequenceDataset(task, batch_size, seq_len, seed=data_seed)
    params = [p.value for p in program.parameters]
    opt = OPTIMIZERS[optimizer](params, lr=lr)
    loss_fn = LOSSES[loss]
    result = TrainResult(program)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=steps, desc=f"train {circuit.name}", unit="step")
    try:
        for step in range(1, steps + 1):
            x, labels = dataset()
            y = program.forward(x)
            value, dy, acc = loss_fn(y, labels)
            if not np.isfinite(value):
                raise GradientError(f"step {step}: the loss is {value}; lower lr or clip "
                                    "gradients (clip=...)")
            grads = program.backward(dy)
            clip_by_global_norm(grads, clip)
            opt.step(grads)
            result.history.append((step, value, acc))
            if on_step is not None:
                on_step(step, value, acc)
            if bar is not None:
                bar.update(1)
                if step % 20 == 0 or step == steps:
                    _, l100, a100 = _recent(result.history)
                    bar.set_postfix(loss=f"{l100:.4f}", acc=f"{a100:.3f}")
    finally:
        if bar is not None:
            bar.close()
    return result


def _recent(history, window=100):
    part = np.asarray([(l, a) for _, l, a in history[-window:]], dtype=float)
    acc = float(np.nanmean(part[:, 1])) if np.isfinite(part[:, 1]).any() else float("nan")
    return len(history), float(part[:, 0].mean()), acc
