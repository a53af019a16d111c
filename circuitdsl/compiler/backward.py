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

from circuitdsl.compiler import codegen as cg
from circuitdsl.compiler.cache import get_cache
from circuitdsl.compiler.lower import lower
from circuitdsl.compiler.printer import KernelPrinter, print_cse
from circuitdsl.equations import RandomFunction


class GradientError(ValueError):
    """A circuit, block, edge or parameter that gradient training cannot handle."""


def _sym(name):
    return sp.Symbol(name, real=True)


def _no_heaviside(expr):
    # d max(x, 0)/dx is Heaviside(x); printed as a comparison (the subgradient 0 at x = 0).
    return expr.replace(lambda e: isinstance(e, sp.Heaviside),
                        lambda e: sp.Piecewise((1, e.args[0] > 0), (0, True)))


def _gate(expr):
    """(condition, value) if expr is `value where condition else 0`, else None."""
    if isinstance(expr, sp.Piecewise) and len(expr.args) == 2 and expr.args[1].cond == True \
            and expr.args[1].expr == 0 and not expr.args[0].cond.atoms(RandomFunction):  # noqa: E712
        return expr.args[0].cond, expr.args[0].expr
    return None


def discrete_update(model, scheme, owner):
    """{state: expression of the state after one step} for a model and integrator."""
    odes = {x: model.expand(e) for x, e in model.ode.items()}
    for x, e in odes.items():
        if e.atoms(RandomFunction):
            raise GradientError(f"block '{owner}': d{x}/dt of model '{model.name}' draws random "
                                "numbers, so it has no derivative")
    syms = {x: _sym(x) for x in model.states}
    dt, t = _sym("dt"), _sym("t")
    new = {x: syms[x] for x in model.states}   # states without an equation keep their value
    if scheme == "euler":
        new.update({x: syms[x] + dt * f for x, f in odes.items()})
    elif scheme == "rk4":
        def stage(k, frac):
            subs = {syms[x]: syms[x] + frac * dt * k[x] for x in odes}
            subs[t] = t + frac * dt
            return {x: f.xreplace(subs) for x, f in odes.items()}
        k1 = odes
        k2 = stage(k1, sp.Rational(1, 2))
        k3 = stage(k2, sp.Rational(1, 2))
        k4 = stage(k3, 1)
        new.update({x: syms[x] + dt / 6 * (k1[x] + 2 * k2[x] + 2 * k3[x] + k4[x]) for x in odes})
    elif scheme == "exponential_euler":
        for x, f in odes.items():
            a = sp.diff(f, syms[x])
            if a != 0 and syms[x] not in a.free_symbols:
                # the same closed form the simulation kernel uses for x' = A x + B
                x_inf = -f.xreplace({syms[x]: 0}) / a
                new[x] = x_inf + (syms[x] - x_inf) * sp.exp(a * dt)
            else:
                new[x] = syms[x] + dt * f
    else:
        raise GradientError(f"block '{owner}': unknown integrator '{scheme}'")
    # `update` statements run after integration (a discrete-time map), in order
    for st in getattr(model, "update", ()):
        expr = model.expand(st.expr)
        if st.target not in model.states:
            raise GradientError(f"block '{owner}': update statement '{st.line.text.strip()}' "
                                f"assigns parameter '{st.target}', which has no derivative")
        if expr.atoms(RandomFunction):
            raise GradientError(f"block '{owner}': update statement '{st.line.text.strip()}' "
                                "draws random numbers, so it has no derivative")
        value = expr.xreplace({syms[x]: new[x] for x in model.states})
        old = new[st.target]
        new[st.target] = {"=": value, "+=": old + value, "-=": old - value,
                          "*=": old * value}[st.op]
    return new


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


class _Src:
    """Lines of a generated function."""

    def __init__(self, signature):
        # error_model="numpy": no zero-division checks inside the loops (they kept Numba from
        # vectorising them; the forward pass measured 25 % faster); the training loop checks
        # the loss for NaN/Inf instead.
        self.lines = ["@njit(cache=True, error_model='numpy')", f"def {signature}:"]

    def __call__(self, depth, line):
        self.lines.append("    " * depth + line)

    def text(self):
        return "\n".join(self.lines) + "\n"


class GradientProgram:
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
        self.lowered = lower(self.network, self.dt, method, seed)
        cg.bind_programs(self.lowered)
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
            start = layout[f"P_{g.name}_{next(iter(g.model.params))}"] if g.model.params else 0
            n = len(g.model.params)
            self.P[g.index] = arrays["P"][start:start + n * g.N].reshape(n, g.N).astype(
                self.dtype) if n else np.zeros((0, g.N), self.dtype)
        self.W, self.PTR, self.PRE = {}, {}, {}
        for p in self.projections:
            M, off = layout[f"M_{p.name}"], layout[f"F_{p.name}_w"]
            w = arrays["F"][off:off + M].astype(self.dtype)
            self.W[p.index] = w.reshape(p.post.N, p.pre.N) if p.full else w
            r, x = layout[f"R_{p.name}"], layout[f"X_{p.name}"]
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

    # ---- symbolic derivation ---------------------------------------------------------------

    def _derive(self, method):
        self.updates = {}
        for g in self.groups:
            if g.index in self.clamped:
                continue
            m = g.model
            phi = discrete_update(m, g.integrator, g.pops[0][0])
            lam = {x: _sym("_lam_" + x) for x in m.states}

            def vjp(sym):   # lambda^T dPhi/dsym, per unit (units of a group are independent)
                return sum(lam[x] * sp.diff(phi[x], sym) for x in m.states)
            self.updates[g.index] = dict(
                phi=[phi[x] for x in m.states],
                du=[vjp(_sym(u)) for u in m.inputs],
                ds=[vjp(_sym(y)) for y in m.states],
                dp=[vjp(_sym(q)) for q in self.train_params[g.index]])

    # ---- code generation --------------------------------------------------------------------

    def _names(self, g, prefix=""):
        m = g.model
        names = {"t": "tt", "dt": "dt"}
        names.update({prefix + x: f"s_{x}" for x in m.states})
        names.update({prefix + q: f"p_{q}" for q in m.params})
        names.update({prefix + u: f"u_{u}" for u in m.inputs})
        names.update({"_lam_" + x: f"lam_{x}" for x in m.states})
        return names

    def _loads(self, src, depth, g, exprs, tidx, unit, prefix="", inputs_t=None):
        k, m = g.index, g.model
        used = set()
        for e in exprs:
            used |= {s.name for s in e.free_symbols}
        for j, x in enumerate(m.states):
            if prefix + x in used:
                src(depth, f"s_{x} = S{k}[{tidx}, {j}, b, {unit}]")
        for j, q in enumerate(m.params):
            if prefix + q in used:
                src(depth, f"p_{q} = P{k}[{j}, {unit}]")
        for j, u in enumerate(m.inputs):
            if prefix + u in used:
                src(depth, f"u_{u} = U{k}[{inputs_t}, {j}, b, {unit}]")

    def _emit(self, src, depth, g, exprs, names):
        lines, outs = print_cse([_no_heaviside(e) for e in exprs], names)
        for ln in lines:
            src(depth, ln)
        return outs

    def _signature(self, head, backward):
        args = [head]
        for g in self.groups:
            k = g.index
            args += [f"S{k}", f"P{k}"]
            if g.model.inputs:
                args.append(f"U{k}")
            if k in self.clamped and not backward:
                args.append(f"XI{k}")
            if backward and self.train_params[k]:
                args.append(f"GP{k}")
        for p in self.projections:
            j = p.index
            args += [f"W{j}", f"PTR{j}", f"PRE{j}"]
            if backward and j in self.train_w:
                args.append(f"GW{j}")
        return ", ".join(args)

    def _h(self, src, depth, p, tidx):
        """H (B, N_pre): the presynaptic factor of projection p at tape index tidx."""
        j, pre = p.index, p.pre
        names = self._names(pre, "pre__")
        src(depth, f"H{j} = np.empty((B, S{pre.index}.shape[3]), FT)")
        src(depth, "for b in range(B):")
        src(depth + 1, f"for jj in range(S{pre.index}.shape[3]):")
        self._loads(src, depth + 2, pre, [p.h], tidx, "jj", "pre__")
        out = self._emit(src, depth + 2, pre, [p.h], names)
        src(depth + 2, f"H{j}[b, jj] = {out[0]}")

    def _h_all(self, src, depth, p):
        """HA (T, B, N_pre): the presynaptic factor of projection p at every step."""
        j, pre = p.index, p.pre
        names = self._names(pre, "pre__")
        src(depth, f"HA{j} = np.empty((T, B, S{pre.index}.shape[3]), FT)")
        src(depth, "for t in range(T):")
        src(depth + 1, "for b in range(B):")
        src(depth + 2, f"for jj in range(S{pre.index}.shape[3]):")
        self._loads(src, depth + 3, pre, [p.h], "t + 1" if p.same_step else "t", "jj", "pre__")
        out = self._emit(src, depth + 3, pre, [p.h], names)
        src(depth + 3, f"HA{j}[t, b, jj] = {out[0]}")

    def _hoisted(self, p):
        # data are known for every step before the loop: one matrix product for all steps
        return p.pre.index in self.clamped

    def _generate(self):
        parts = [cg.HEADER]
        parts.append(self._forward().text())
        parts.append(self._backward().text())
        return "\n\n".join(parts)

    def _forward_current(self, src, depth, p, k, all_steps):
        j, a = p.index, p.input_index
        if all_steps:
            self._h_all(src, depth, p)
            H, rows, t = f"HA{j}.reshape(T * B, HA{j}.shape[2])", "T", "t"
        else:
            self._h(src, depth, p, "t + 1" if p.same_step else "t")
            H, rows, t = f"H{j}", "1", "t"
        if p.full:
            src(depth, f"_o = np.dot({H}, W{j}.T)")
            if all_steps:
                src(depth, "for t in range(T):")
                depth += 1
            src(depth, "for b in range(B):")
            src(depth + 1, "for i in range(_o.shape[1]):")
            row = "t * B + b" if all_steps else "b"
            src(depth + 2, f"U{k}[t, {a}, b, i] += _o[{row}, i]")
            return
        if all_steps:
            src(depth, "for t in range(T):")
            depth += 1
        src(depth, "for b in range(B):")
        src(depth + 1, f"for i in range(PTR{j}.shape[0] - 1):")
        src(depth + 2, "acc = 0.0")
        src(depth + 2, f"for q in range(PTR{j}[i], PTR{j}[i + 1]):")
        hb = f"HA{j}[t, b, PRE{j}[q]]" if all_steps else f"H{j}[b, PRE{j}[q]]"
        src(depth + 3, f"acc += W{j}[q] * {hb}")
        src(depth + 2, f"U{k}[t, {a}, b, i] += acc")

    def _forward(self):
        src = _Src(f"forward({self._signature('X, dt, Y, ro_off', False)})")
        src(1, "T, B = X.shape[0], X.shape[1]")
        src(1, "FT = X.dtype")   # float64, or float32 for speed: every array has one type
        rg, _, _, _, rexpr = self.readout
        for g in self.groups:
            k, m = g.index, g.model
            if k in self.clamped:
                src(1, "for t in range(T):")
                src(2, "for b in range(B):")
                src(3, f"for i in range(S{k}.shape[3]):")
                src(4, f"S{k}[t + 1, 0, b, i] = X[t, b, XI{k}[i]]")
                for j in range(1, len(m.states)):
                    src(4, f"S{k}[t + 1, {j}, b, i] = S{k}[t, {j}, b, i]")
            elif m.inputs:
                src(1, f"U{k}[:] = 0.0")
        for p in self.projections:
            if self._hoisted(p) and p.post.index not in self.clamped:
                self._forward_current(src, 1, p, p.post.index, True)
        src(1, "for t in range(T):")
        src(2, "tt = t * dt")
        for g in self.groups:
            k, m = g.index, g.model
            if k in self.clamped:
                continue
            for p in self.projections:
                if p.post is g and not self._hoisted(p):
                    self._forward_current(src, 2, p, k, False)
            upd = self.updates[k]
            src(2, "for b in range(B):")
            src(3, f"for i in range(S{k}.shape[3]):")
            self._loads(src, 4, g, upd["phi"], "t", "i", inputs_t="t")
            outs = self._emit(src, 4, g, upd["phi"], self._names(g))
            for j, (x, o) in enumerate(zip(m.states, outs)):
                src(4, f"S{k}[t + 1, {j}, b, i] = {o}")
            if g is rg:
                src(2, "for b in range(B):")
                src(3, "for i in range(Y.shape[2]):")
                self._loads(src, 4, g, [rexpr], "t + 1", "ro_off + i")
                out = self._emit(src, 4, g, [rexpr], self._names(g))
                src(4, f"Y[t, b, i] = {out[0]}")
        return src

    def _backward(self):
        src = _Src(f"backward({self._signature('DY, dt, ro_off', True)})")
        src(1, "T, B = DY.shape[0], DY.shape[1]")
        src(1, "FT = DY.dtype")
        live = [g for g in self.groups if g.index not in self.clamped]
        for g in live:
            k, m = g.index, g.model
            shape = f"({len(m.states)}, B, S{k}.shape[3])"
            src(1, f"A{k} = np.zeros({shape}, FT)")
            src(1, f"C{k} = np.zeros({shape}, FT)")
            if m.inputs:   # input adjoints of every step, for the weight gradients at the end
                src(1, f"DT{k} = np.zeros(({len(m.inputs)}, T, B, S{k}.shape[3]), FT)")
        rg, _, _, _, rexpr = self.readout
        src(1, "for t in range(T - 1, -1, -1):")
        src(2, "tt = t * dt")
        for g in reversed(live):
            k, m = g.index, g.model
            names = self._names(g)
            if g is rg:   # the loss reads the readout variable after step t
                grads = [sp.diff(rexpr, _sym(x)) for x in m.states]
                src(2, "for b in range(B):")
                src(3, "for i in range(DY.shape[2]):")
                self._loads(src, 4, g, grads, "t + 1", "ro_off + i")
                outs = self._emit(src, 4, g, grads, names)
                for j, o in enumerate(outs):
                    if o not in ("0", "0.0"):
                        src(4, f"A{k}[{j}, b, ro_off + i] += DY[t, b, i] * ({o})")
            upd = self.updates[k]
            exprs = upd["du"] + upd["ds"] + upd["dp"]
            src(2, "for b in range(B):")
            src(3, f"for i in range(S{k}.shape[3]):")
            for j, x in enumerate(m.states):
                src(4, f"lam_{x} = A{k}[{j}, b, i]")
            self._loads(src, 4, g, exprs, "t", "i", inputs_t="t")
            outs = self._emit(src, 4, g, exprs, names)
            nu, ns = len(upd["du"]), len(upd["ds"])
            for j, o in enumerate(outs[:nu]):
                src(4, f"DT{k}[{j}, t, b, i] = {o}")
            for j, o in enumerate(outs[nu:nu + ns]):
                src(4, f"C{k}[{j}, b, i] += {o}")
            for j, o in enumerate(outs[nu + ns:]):
                src(4, f"GP{k}[{j}, i] += {o}")
            for p in self.projections:
                if p.post is g:
                    self._backward_projection(src, p)
        for g in live:
            k = g.index
            src(2, f"A{k}, C{k} = C{k}, A{k}")
            src(2, f"C{k}[:] = 0.0")
        # dense weight gradients: sum over steps and batch as one matrix product
        for p in self.projections:
            if p.full and p.index in self.train_w:
                j, k, a = p.index, p.post.index, p.input_index
                self._h_all(src, 1, p)
                src(1, f"_dT = DT{k}[{a}].reshape(T * B, DT{k}.shape[3])")
                src(1, f"GW{j} += np.dot(_dT.T, HA{j}.reshape(T * B, HA{j}.shape[2]))")
        return src

    def _backward_projection(self, src, p):
        j, a, pre = p.index, p.input_index, p.pre
        tidx = "t + 1" if p.same_step else "t"
        propagate = pre.index not in self.clamped
        train = j in self.train_w and not p.full    # dense: after the loop
        if not (propagate or train):
            return
        k = p.post.index
        if p.full:
            src(2, f"dH = np.dot(DT{k}[{a}, t], W{j})")
        else:
            if train:
                self._h(src, 2, p, tidx)
            if propagate:
                src(2, f"dH = np.zeros((B, S{pre.index}.shape[3]), FT)")
            src(2, "for b in range(B):")
            src(3, f"for i in range(PTR{j}.shape[0] - 1):")
            src(4, f"d = DT{k}[{a}, t, b, i]")
            src(4, f"for q in range(PTR{j}[i], PTR{j}[i + 1]):")
            if propagate:
                src(5, f"dH[b, PRE{j}[q]] += W{j}[q] * d")
            if train:
                src(5, f"GW{j}[q] += d * H{j}[b, PRE{j}[q]]")
        if not propagate:
            return
        # dH -> the presynaptic group's state adjoint (and its trainable parameters)
        m = pre.model
        target = f"A{pre.index}" if p.same_step else f"C{pre.index}"
        grads = [sp.diff(p.h, _sym("pre__" + x)) for x in m.states]
        pgrads = [sp.diff(p.h, _sym("pre__" + q)) for q in self.train_params[pre.index]]
        names = self._names(pre, "pre__")
        src(2, "for b in range(B):")
        src(3, f"for jj in range(S{pre.index}.shape[3]):")
        src(4, "g_h = dH[b, jj]")
        self._loads(src, 4, pre, grads + pgrads, tidx, "jj", "pre__")
        # A derivative that is 0 on one side of a condition (relu: x > 0) is written as an
        # `if`, which skips the work for units that are off (measured ~25 % of the backward).
        gated = {y: _gate(_no_heaviside(e)) for y, e in enumerate(grads)}
        rest = [y for y in range(len(grads)) if gated[y] is None]
        outs = self._emit(src, 4, pre, [grads[y] for y in rest] + pgrads, names)
        printer = KernelPrinter(names)
        for y, (cond, value) in ((y, g) for y, g in gated.items() if g is not None):
            src(4, f"if {printer.doprint(cond)}:")
            src(5, f"{target}[{y}, b, jj] += g_h * ({printer.doprint(value)})")
        for y, o in zip(rest, outs[:len(rest)]):
            if o not in ("0", "0.0"):
                src(4, f"{target}[{y}, b, jj] += g_h * ({o})")
        outs = [None] * len(grads) + outs[len(rest):]
        for q, o in enumerate(outs[len(grads):]):
            if o not in ("0", "0.0"):
                src(4, f"GP{pre.index}[{q}, jj] += g_h * ({o})")

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
                off = layout[f"S_{g.name}_{x}"]
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
                q = np.flatnonzero(p.order_origin[0] == k)
                idx = p.order_origin[1, q]
                mat[s.post_idx[idx], s.pre_idx[idx]] = flat[q]
        for g in self.groups:
            for param in self.train_params[g.index]:
                row = list(g.model.params).index(param)
                for path, pop, off in g.pops:
                    out[f"{path}.{param}"] = self.P[g.index][row, off:off + pop.N].copy()
        return out
