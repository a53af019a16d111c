"""Backpropagation through time, derived by sympy from the same equations the simulator runs.

A circuit of differentiable blocks is lowered as for simulation (groups, projections), then:

- each group's *discrete* update s' = Phi(s, theta, u, t, dt) is written symbolically from its
  equations and integrator (Euler, RK4 or exponential Euler), and sympy differentiates it with
  respect to state, parameters and inputs;
- each projection's current must be `w * h(pre)`: it contributes W h to the forward step and
  W^T (plus dh/dpre) to the backward step;
- two Numba functions are generated and cached like the simulation kernels: `forward` runs a
  batch of sequences and keeps a tape (states and summed inputs at every step), `backward`
  walks the tape in reverse and accumulates the gradients.

Within a step, groups update in the lowered (topological) order. With lag="feedforward" an edge
from a group earlier in that order carries this step's value (h_t = f(W_in x_t + W h_{t-1}),
o_t = W_out h_t, the usual RNN convention); edges within a group or going back in the order
carry the previous step's value. With lag="all" every edge carries the previous step's value,
which is what the simulation kernel does.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import sympy as sp

from circuitdsl.compiler import statements as cg
from circuitdsl.compiler.bptt_source import (BPTTSource, GradientError, _no_heaviside, _sym,
                                             discrete_update)
from circuitdsl.compiler import weights
from circuitdsl.compiler.cache import get_cache
from circuitdsl.compiler.lower import lower
from circuitdsl.equations import RandomFunction

__all__ = ["GradientError", "GradientProgram", "Parameter", "discrete_update"]


@dataclass
class Parameter:
    """One trainable array: `value` is the program's own array (updated in place by the
    optimisers); `mask` is 1 where the entries belong to what the user named trainable."""
    name: str
    value: np.ndarray
    mask: np.ndarray

    @cached_property
    def everywhere(self):
        return bool(self.mask.all())


class GradientProgram(BPTTSource):
    """Forward and backward passes of a circuit over batches of sequences.

    `inputs`: populations (paths) whose first state is set from the data each step (columns
    of X in this order). `readout`: a population path, or (path, variable); the forward pass
    returns that variable. `trainable`: edge labels 'src -> dst' and 'block.param' names.
    """

    def __init__(self, circuit, dt, inputs, readout, trainable, seed=0, method="euler",
                 lag="feedforward", cache=None, dtype=np.float64):
        if lag not in ("feedforward", "all"):
            raise GradientError(f"lag must be 'feedforward' or 'all', got {lag!r}")
        self.circuit, self.dt, self.lag = circuit, float(dt), lag
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise GradientError(f"dtype must be float32 or float64, got {dtype!r}")
        self.network = circuit.build(seed)
        self.lowered = lower(self.network, self.dt, method, seed)     # bound, validated
        self.groups, self.projections = self.lowered.groups, self.lowered.projections
        self._where = {path: (g, off, pop) for g in self.groups for path, pop, off in g.pops}
        self._check_blocks()
        self._setup_inputs(list(inputs))
        self._setup_readout(readout)
        self._setup_trainable(list(trainable))
        self._derive(method)
        self.source = self._generate()
        self.module = (cache or get_cache()).load(self.source)
        self._tape = None

    # ---- checks and bookkeeping ----------------------------------------------------------

    def _pop(self, path, what):
        if path not in self._where:
            raise GradientError(f"{what}: no population '{path}' in circuit "
                                f"'{self.circuit.name}'; populations: {', '.join(self._where)}")
        return self._where[path]

    def _check_blocks(self):
        for g in self.groups:
            m, owner = g.model, g.pops[0][0]
            if m.spike is not None or m.events or m.on_step:
                raise GradientError(f"block '{owner}': model '{m.name}' has spikes, events or "
                                    "on_step statements; gradient training needs "
                                    "differentiable rate blocks")
        for p in self.projections:
            label = p.sets[0].connection.label if p.sets[0].connection else p.name
            if getattr(p.synapse, "feedback", False):
                raise GradientError(f"edge {label}: synapse '{p.synapse.name}' is a feedback "
                                    "edge (a learning signal); gradient training computes its "
                                    "own, remove it")
            if p.on_pre or p.events or p.delay:
                raise GradientError(f"edge {label}: synapse '{p.synapse.name}' acts on spikes "
                                    "or events; gradient training needs a current 'I += w*...'")
            if p.rule is not None:
                raise GradientError(f"edge {label}: it carries learning rule '{p.rule.name}'; "
                                    "remove it to train the edge by gradient")
            if p.current is None:
                raise GradientError(f"edge {label}: synapse '{p.synapse.name}' has no current")
            expr = cg.resolve_edge(p.current.expr, p.pre.model, p.post.model)
            w = _sym("w")
            h = sp.simplify(expr / w)
            bad = [s.name for s in h.free_symbols if not s.name.startswith("pre__")]
            if w in h.free_symbols or bad or h.atoms(RandomFunction):
                raise GradientError(f"edge {label}: synapse '{p.synapse.name}' current "
                                    f"'{p.current.line.text.strip()}' is not w * f(pre); "
                                    "gradient training supports only that form")
            pre_inputs = sorted(s.name[5:] for s in h.free_symbols
                                if s.name[5:] in p.pre.model.inputs)
            if pre_inputs:
                raise GradientError(f"edge {label}: its current reads input '{pre_inputs[0]}' "
                                    f"of the source this step (an instantaneous layer); "
                                    "gradient training needs sources whose output is a "
                                    "function of their state (e.g. blocks.rnn.LeakyRateLayer)")
            p.h = h
            p.input_index = list(p.post.model.inputs).index(p.current.target.split(".", 1)[1])
            p.same_step = self.lag == "feedforward" and p.pre.index < p.post.index

    def _setup_inputs(self, inputs):
        self.clamped, col = {}, 0
        for path in inputs:
            g, off, pop = self._pop(path, "inputs")
            if not g.model.states:
                raise GradientError(f"inputs: block '{path}' (model '{g.model.name}') has no "
                                    "state to set from the data")
            idx = self.clamped.setdefault(g.index, np.full(g.N, -1, dtype=np.int64))
            idx[off:off + pop.N] = np.arange(col, col + pop.N)
            col += pop.N
        for k, idx in self.clamped.items():
            if (idx < 0).any():
                g = self.groups[k]
                other = g.locate(int(np.flatnonzero(idx < 0)[0]))[0]
                raise GradientError(f"inputs: block '{other}' shares model '{g.model.name}' "
                                    "with an input block but is not listed as an input")
        self.n_inputs = col

    def _setup_readout(self, readout):
        path, var = (readout, None) if isinstance(readout, str) else readout
        g, off, pop = self._pop(path, "readout")
        m = g.model
        var = var or ("r" if "r" in m.derived else next(iter(m.states)))
        if var not in m.states and var not in m.derived:
            raise GradientError(f"readout: block '{path}' (model '{m.name}') has no state or "
                                f"derived quantity '{var}'")
        if g.index in self.clamped:
            raise GradientError(f"readout: block '{path}' is an input")
        expr = m.expand(_sym(var)) if var in m.states else m.expand(m.derived[var])
        if any(s.name in m.inputs for s in expr.free_symbols):
            raise GradientError(f"readout: '{path}.{var}' reads the block's inputs directly; "
                                "read out a state, or a quantity derived from states")
        self.readout = (g, off, pop.N, var, m.expand(_sym(var)) if var in m.states
                        else m.expand(m.derived[var]))

    def _setup_trainable(self, names):
        self.parameters = []
        self.train_params = {g.index: [] for g in self.groups}
        self.train_w = set()
        masks_w = {p.index: np.zeros(len(p.order_origin[0])) for p in self.projections}
        masks_p = {}
        labels = {}
        for p in self.projections:
            for k, s in enumerate(p.sets):
                if s.connection is not None:
                    labels.setdefault(s.connection.label, []).append((p, k))
        for name in names:
            if "->" in name:
                key = " -> ".join(part.strip() for part in name.split("->"))
                if key not in labels:
                    raise GradientError(f"trainable: no edge '{key}'; edges: "
                                        f"{', '.join(labels) or 'none'}")
                for p, k in labels[key]:
                    if p.pre.index in self.clamped and p.post.index in self.clamped:
                        raise GradientError(f"trainable: edge '{key}' joins two inputs")
                    masks_w[p.index][p.order_origin[0] == k] = 1.0
                    self.train_w.add(p.index)
                continue
            path, _, param = name.rpartition(".")
            g, off, pop = self._pop(path, f"trainable '{name}'")
            if param not in g.model.params:
                raise GradientError(f"trainable: block '{path}' (model '{g.model.name}') has no "
                                    f"parameter '{param}'; it has: {', '.join(g.model.params)}")
            if g.index in self.clamped:
                raise GradientError(f"trainable: '{name}' belongs to an input block")
            if param not in self.train_params[g.index]:
                self.train_params[g.index].append(param)
            mask = masks_p.setdefault((g.index, param), np.zeros(g.N))
            mask[off:off + pop.N] = 1.0
        # the program's own arrays: parameters per group, weights per projection
        layout, arrays = self.lowered.layout, self.lowered.arrays
        self.P = {}
        for g in self.groups:
            rows = [arrays["P"][layout.param(g, x):layout.param(g, x) + g.N]
                    for x in g.model.params]
            self.P[g.index] = np.stack(rows).astype(self.dtype) if rows else \
                np.zeros((0, g.N), self.dtype)
        self.W, self.PTR, self.PRE = {}, {}, {}
        for p in self.projections:
            M, off = layout.synapses(p), layout.field(p, "w")
            w = arrays["F"][off:off + M].astype(self.dtype)
            self.W[p.index] = w.reshape(p.post.N, p.pre.N) if p.full else w
            r, x = layout.rows(p), layout.index_start(p)
            self.PTR[p.index] = arrays["PTR"][r:r + p.post.N + 1].copy()
            self.PRE[p.index] = arrays["PRE"][x:x + M].copy()
        self._slots = []   # where each Parameter's gradient comes from
        for p in self.projections:
            if p.index in self.train_w:
                on = set(p.order_origin[0][masks_w[p.index] > 0])
                label = " + ".join(dict.fromkeys(s.connection.label for k, s in
                                                 enumerate(p.sets) if k in on))
                self.parameters.append(Parameter(label, self.W[p.index],
                                                 masks_w[p.index].reshape(self.W[p.index].shape)))
                self._slots.append(("W", p.index, None))
        for g in self.groups:
            for j, param in enumerate(self.train_params[g.index]):
                self._slots.append(("P", g.index, j))
                row = list(g.model.params).index(param)
                paths = [path for path, pop, off in g.pops
                         if masks_p[(g.index, param)][off] > 0]
                self.parameters.append(Parameter(f"{'+'.join(paths)}.{param}",
                                                 self.P[g.index][row],
                                                 masks_p[(g.index, param)]))
        if not self.parameters:
            raise GradientError("trainable: nothing to train (name edges 'src -> dst' or "
                                "parameters 'block.param')")

    # ---- running ------------------------------------------------------------------------------

    def _args(self, backward, T, B, grads=None):
        args = []
        tape = self._tape
        for g in self.groups:
            k = g.index
            args += [tape["S"][k], self.P[k]]
            if g.model.inputs:
                args.append(tape["U"][k])
            if k in self.clamped and not backward:
                args.append(self.clamped[k])
            if backward and self.train_params[k]:
                args.append(grads["P"][k])
        for p in self.projections:
            j = p.index
            args += [self.W[j], self.PTR[j], self.PRE[j]]
            if backward and j in self.train_w:
                args.append(grads["W"][j])
        return args

    def forward(self, X):
        """Run a batch: X (T, B, n_inputs) -> the readout (T, B, N_readout). Keeps the tape."""
        X = np.ascontiguousarray(X, dtype=self.dtype)
        if X.ndim != 3 or X.shape[2] != self.n_inputs:
            raise GradientError(f"inputs: X must have shape (T, B, {self.n_inputs}), got "
                                f"{X.shape}")
        T, B = X.shape[:2]
        layout, init = self.lowered.layout, self.lowered.init_state
        if self._tape is None or self._tape["shape"] != (T, B):
            self._tape = dict(shape=(T, B), S={}, U={})
            for g in self.groups:
                m = g.model
                self._tape["S"][g.index] = np.zeros((T + 1, len(m.states), B, g.N), self.dtype)
                self._tape["U"][g.index] = np.zeros((T, len(m.inputs), B, g.N), self.dtype)
        for g in self.groups:
            for j, x in enumerate(g.model.states):
                off = layout.state(g, x)
                self._tape["S"][g.index][0, j] = init[off:off + g.N]
        rg, ro_off, ro_n, _, _ = self.readout
        Y = np.zeros((T, B, ro_n), self.dtype)
        self.module.forward(X, self.dtype.type(self.dt), Y, ro_off, *self._args(False, T, B))
        return Y

    def backward(self, dY):
        """Gradients of a loss with dL/dY = dY (after `forward`), one per `parameters` entry."""
        if self._tape is None:
            raise GradientError("backward needs a forward pass first")
        T, B = self._tape["shape"]
        rg, ro_off, ro_n, _, _ = self.readout
        dY = np.ascontiguousarray(dY, dtype=self.dtype)
        if dY.shape != (T, B, ro_n):
            raise GradientError(f"backward: dY must have shape {(T, B, ro_n)}, got {dY.shape}")
        grads = dict(P={g.index: np.zeros((len(self.train_params[g.index]), g.N), self.dtype)
                        for g in self.groups},
                     W={j: np.zeros_like(self.W[j]) for j in self.train_w})
        self.module.backward(dY, self.dtype.type(self.dt), ro_off,
                             *self._args(True, T, B, grads))
        out = []
        for (kind, i, j), prm in zip(self._slots, self.parameters):
            g = grads["W"][i] if kind == "W" else grads["P"][i][j]
            out.append(g if prm.everywhere else g * prm.mask)
        return out

    def states(self, path, var=None):
        """A population's state (or derived quantity) over the last forward pass: (T, B, N)."""
        g, off, pop = self._pop(path, "states")
        m = g.model
        var = var or next(iter(m.states))
        S = self._tape["S"][g.index][1:, :, :, off:off + pop.N]
        if var in m.states:
            return S[:, list(m.states).index(var)].copy()
        if var not in m.derived:
            raise GradientError(f"block '{path}' has no state or derived quantity '{var}'")
        expr = m.expand(m.derived[var])
        syms = sorted(expr.free_symbols, key=lambda s: s.name)
        vals = []
        for s in syms:
            if s.name in m.states:
                vals.append(S[:, list(m.states).index(s.name)])
            elif s.name in m.params:
                vals.append(self.P[g.index][list(m.params).index(s.name), off:off + pop.N])
            else:
                raise GradientError(f"block '{path}': '{var}' depends on '{s.name}'")
        f = sp.lambdify(syms, _no_heaviside(expr), "numpy")
        return np.broadcast_to(np.asarray(f(*vals), dtype=float), S[:, 0].shape).copy()

    def export(self):
        """Current values: {edge label: (N_dst, N_src) matrix (0 where no synapse),
        'block.param': per-unit values} for every edge and trainable parameter."""
        out = {}
        for p in self.projections:
            flat = self.W[p.index].ravel()
            for k, s in enumerate(p.sets):
                label = s.connection.label if s.connection else f"{p.name}.{k}"
                mat = out.setdefault(label, np.zeros((s.post.N, s.pre.N)))
                q, idx = weights.set_positions(p, k)
                mat[s.post_idx[idx], s.pre_idx[idx]] = flat[q]
        for g in self.groups:
            for param in self.train_params[g.index]:
                row = list(g.model.params).index(param)
                for path, pop, off in g.pops:
                    out[f"{path}.{param}"] = self.P[g.index][row, off:off + pop.N].copy()
        return out
