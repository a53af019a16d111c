"""Per-step weight rules gated by a postsynaptic factor: rows whose factor is 0 are skipped.

An online rule `w = w + g*h` (or `w = clip(w + g*h, lo, hi)`) whose increment has a factor g
that depends only on the postsynaptic unit (and time) changes nothing in a row where g = 0.
The kernel then computes g once per postsynaptic unit and visits the unit's synapses only when
g != 0 (LTTB's recurrent rule is nonzero only inside somatic windows, a quarter of the rows or
fewer). For the clipped form a skipped row keeps weights that already lie within [lo, hi] as
they are, which is what the clip gives; a weight outside its bounds is clipped the first time
its row is visited, so start such rules with weights inside their bounds.

Rules with random draws, several statements or a learning target other than the edge's own
post unit are left to the plain per-synapse loop.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from circuitdsl.compiler import statements as cg
from circuitdsl.compiler.printer import KernelPrinter
from circuitdsl.equations import RandomFunction

GATE = sp.Symbol("_gate", real=True)


def _post_side(sym):
    return sym.name.startswith("post__") or sym.name in ("t", "dt")


def _is_clip_of(expr, x):
    """expr is x, or min/max nests of x with bounds free of x."""
    if expr == x:
        return True
    if isinstance(expr, (sp.Min, sp.Max)):
        inner = [a for a in expr.args if x in a.free_symbols]
        return len(inner) == 1 and _is_clip_of(inner[0], x)
    return False


def plan(p):
    """(gate expression, gated statement expression) for projection p's per-step rule, or
    None when the rule does not have the gated form."""
    if len(p.rule_step) != 1 or p.lpost is not p.post or "." in p.rule_step[0].target:
        return None
    st = p.rule_step[0]
    x = sp.Symbol(st.target, real=True)
    expr = cg.resolve_edge(st.expr, p.pre.model, p.lpost.model)
    if expr.atoms(RandomFunction):
        return None
    if st.op == "+=":
        expr = x + expr
    elif st.op != "=":
        return None
    # The sum x + increment, at the top or inside a clip.
    node = next((a for a in sp.preorder_traversal(expr)
                 if isinstance(a, sp.Add) and x in a.args), None)
    if node is None:
        return None
    inc = node - x
    gate = [f for f in sp.Mul.make_args(inc)
            if f.free_symbols and all(_post_side(s) for s in f.free_symbols)]
    if not gate:
        return None
    g = sp.Mul(*gate)
    rest = sp.Mul(*[f for f in sp.Mul.make_args(inc) if f not in gate])
    gated = expr.xreplace({node: x + GATE * rest})
    if GATE not in gated.free_symbols or not _is_clip_of(gated.xreplace({GATE: 0}), x):
        return None
    return g, gated


def _uniform_params(p, gated):
    """Rule parameters the gated statement reads that every edge of p set to the same scalar:
    read once per row while they stay uniform (checked at the start of every kernel call)."""
    out = []
    for name in p.rule.params:
        if sp.Symbol(name, real=True) not in gated.free_symbols:
            continue
        values = [np.asarray(s.rule.params[name], dtype=float) for s in p.sets]
        if all(v.ndim == 0 for v in values) and len({float(v) for v in values}) == 1:
            out.append(name)
    return out


def emit_setup(fn, p):
    """Before the step loop: is each hoistable parameter still one value for all synapses?
    (A runner may scale a rate between calls; a user may set single synapses.)"""
    planned = plan(p) if p.rule_step else None
    if planned is None or not _uniform_params(p, planned[1]):
        return
    M = fn.off(f"M_{p.name}")
    fn.emit(1, f"_uni_{p.name} = {M} > 0")
    for f in _uniform_params(p, planned[1]):
        off = fn.off(f"F_{p.name}_{f}")
        fn.emit(1, f"for q in range(1, {M}):")
        fn.emit(2, f"if F[{off} + q] != F[{off}]:")
        fn.emit(3, f"_uni_{p.name} = False")
        fn.emit(3, "break")
        fn.emit(1, f"_h_{p.name}_{f} = F[{off}] if _uni_{p.name} else 0.0")


def _inner(fn, p, depth, gated, target, names, loads, printer, hoisted):
    X = fn.off(f"X_{p.name}")
    loads = dict(loads)
    for f in hoisted:
        fn.emit(depth, f"f_{f} = _h_{p.name}_{f}")
        loads.pop(f)
    # Values of the post unit are loaded once per row, not once per synapse.
    post_syms = [x for x in gated.free_symbols if x.name.startswith("post__")]
    cg._emit_loads(fn, depth, loads, post_syms)
    for x in post_syms:
        loads.pop(x.name, None)
    # Presynaptic values through views of their arrays: with plain indexing in the loop the
    # compiler vectorises it (measured: LTTB's training trial 117 -> 67 ms).
    m, g, N = p.pre.model, p.pre.name, fn.off(f"N_{p.pre.name}")
    for x in sorted((x for x in gated.free_symbols if x.name.startswith("pre__")),
                    key=lambda x: x.name):
        var = x.name[len("pre__"):]
        arr = "S" if var in m.states else "P" if var in m.params else "I"
        start = fn.off(f"{arr}_{g}_{var}")
        fn.emit(depth, f"_vp_{x.name} = {arr}[{start}:{start} + {N}]")
        loads[x.name] = f"{x.name} = _vp_{x.name}[j]"
    fn.emit(depth, "for _o in range(_q1 - _q0):")
    # A dense row holds every pre unit in order: j is the position in the row, no gather.
    fn.emit(depth + 1, "j = _o" if p.dense_rows else f"j = PRE[{X} + _q0 + _o]")
    cg._emit_loads(fn, depth + 1, loads, [gated, sp.Symbol(target)])
    fn.emit(depth + 1, f"{names[target]} = {printer.doprint(gated)}")
    fn.emit(depth + 1, f"_vf_{target}[_o] = {names[target]}")


def emit(fn, p, stream):
    """Emit the gated per-step loop for projection p; False if the rule is not gated."""
    if not p.rule_step:
        return False
    planned = plan(p)
    if planned is None:
        return False
    g, gated = planned
    st = p.rule_step[0]
    names, loads = cg._edge_names(fn, p, p.pre, p.post, "j", "i", "q")
    names[GATE.name] = GATE.name
    printer = KernelPrinter(names, stream)
    R = fn.off(f"R_{p.name}")
    fn.emit(1, f"for i in range({fn.off(f'N_{p.post.name}')}):")
    cg._emit_loads(fn, 2, loads, [g])
    fn.emit(2, f"_gate = {printer.doprint(g)}")
    fn.emit(2, "if _gate == 0.0:")
    fn.emit(3, "continue")
    fn.emit(2, f"_q0 = PTR[{R} + i]")
    fn.emit(2, f"_q1 = PTR[{R} + i + 1]")
    # The row's fields as views: the loop then reads and writes plain contiguous arrays
    # (about 2x faster than offsets into F, which the compiler must assume may overlap).
    target = st.target
    fields = [f for f in p.fields if sp.Symbol(f, real=True) in gated.free_symbols or f == target]
    for f in fields:
        off = fn.off(f"F_{p.name}_{f}")
        fn.emit(2, f"_vf_{f} = F[{off} + _q0:{off} + _q1]")
        loads[f] = f"f_{f} = _vf_{f}[_o]"
    uniform = _uniform_params(p, gated)
    if uniform:       # a rate shared by the whole projection: one load per row, not per synapse
        fn.emit(2, f"if _uni_{p.name}:")
        _inner(fn, p, 3, gated, target, names, loads, printer, uniform)
        fn.emit(2, "else:")
        _inner(fn, p, 3, gated, target, names, loads, printer, [])
    else:
        _inner(fn, p, 2, gated, target, names, loads, printer, [])
    return True
