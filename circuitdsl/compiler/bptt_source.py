"""Source generation for backpropagation through time (used by compiler/backward.py).

`discrete_update` writes a model's step s' = Phi(s, theta, u, t, dt) from its ODEs, its
integrator (the closed form of the registry's definition in compiler/integrators.py, the one
the simulation kernel prints) and its `update` statements; `BPTTSource` (a mixin of
GradientProgram) differentiates it with sympy and prints the generated `forward` (with tape)
and `backward` Numba functions.
"""
from __future__ import annotations

import sympy as sp

from circuitdsl.compiler import statements as cg
from circuitdsl.compiler.integrators import INTEGRATORS
from circuitdsl.compiler.printer import GradientPrinter, KernelPrinter, print_cse
from circuitdsl.equations import RandomFunction
from circuitdsl.errors import GradientError   # raised here; re-exported by compiler/backward.py


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
    new = {x: syms[x] for x in model.states}   # states without an equation keep their value
    integrator = INTEGRATORS.get(scheme, f"block '{owner}' (model '{model.name}')")
    new.update(integrator.update(odes).closed_form())
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


class BPTTSource:
    """Derivation and printing; the program supplies groups, projections, clamped, readout,
    train_params and train_w."""

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
        lines, outs = print_cse([_no_heaviside(e) for e in exprs], names,
                                printer_class=GradientPrinter)
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
        parts = [cg.header("libm")]
        parts.append(self._forward().text())
        parts.append(self._backward().text())
        return "\n\n".join(parts)

    def _forward_current(self, src, depth, p, k, all_steps):
        j, a = p.index, p.input_index
        if all_steps:
            self._h_all(src, depth, p)
            H = f"HA{j}.reshape(T * B, HA{j}.shape[2])"
        else:
            self._h(src, depth, p, "t + 1" if p.same_step else "t")
            H = f"H{j}"
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
