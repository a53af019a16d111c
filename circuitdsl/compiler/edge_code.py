"""Code for projections: spike-triggered statements (with and without delay), timed edge
events and the per-synapse rule loop (shared by per-step and trial-end rules)."""
from __future__ import annotations

import sympy as sp

from circuitdsl.compiler import statements as cg
from circuitdsl.compiler.layout import key, state_or_param_key
from circuitdsl.compiler.printer import KernelPrinter
from circuitdsl.compiler.timing import emit_due
from circuitdsl.equations import RandomFunction


def refractory_guard(fn, p, depth, now):
    """Open an `if` that skips a post unit that is refractory and whose held state (a reset
    target, e.g. V) the edge would change; returns the depth inside (Brian2's semantics)."""
    m = p.post.model
    if m.spike is None or m.spike.refractory in (0, 0.0, None):
        return depth
    held = {s.target for s in m.spike_reset}
    touched = {s.target.split(".", 1)[1] for s in p.on_pre if s.target.startswith("post.")}
    if not held & touched:
        return depth
    r = m.spike.refractory
    if isinstance(r, str):
        fn.emit(depth, f"_refr = P[{fn.off(key.param(p.post, r))} + i]")
        r = "_refr"
    last = f"SPK[{fn.off(key.spikes(p.post))} + {fn.off(key.size(p.post))} + i]"
    fn.emit(depth, f"if {now} >= {last} + {r}:")
    return depth + 1


def on_pre(fn, lowered, p):
    g = p.pre
    K, N = fn.off(key.spikes(g)), fn.off(key.size(g))
    fn.emit(1, f"for j in range({N}):")
    fn.emit(2, f"if SPK[{K} + j] == 1.0:")
    fn.emit(3, f"for _o in range(PPTR[{fn.off(key.pre_rows(p))} + j], "
               f"PPTR[{fn.off(key.pre_rows(p))} + j + 1]):")
    fn.emit(4, f"q = PORD[{fn.off(key.index(p))} + _o]")
    fn.emit(4, f"i = POST[{fn.off(key.index(p))} + q]")
    if not p.delay:
        depth = refractory_guard(fn, p, 4, "t + dt")
        cg._edge_statements(fn, depth, p, p.on_pre, p.pre, p.post, "j", "i", "q",
                            lowered.stream(p))
        return
    names, loads = cg._edge_names(fn, p, p.pre, p.post, "j", "i", "q")
    printer = KernelPrinter(names, lowered.stream(p))
    D, NP = fn.off(key.delay(p)), fn.off(key.size(p.post))
    for s in p.on_pre:
        expr = cg.resolve_edge(s.expr, p.pre.model, p.post.model)
        cg._emit_loads(fn, 4, loads, [expr])
        fn.emit(4, f"DB[{D} + ((k + {p.delay}) % {p.delay + 1}) * {NP} + i] += "
                   f"{printer.doprint(expr)}")


def delay_arrivals(fn, lowered, p):
    """Delayed on_pre increments arriving at step k are added before integration."""
    g = p.post
    D, NP = fn.off(key.delay(p)), fn.off(key.size(g))
    var = p.on_pre[0].target.split(".", 1)[1]
    arr = "S" if var in g.model.states else "P"
    off = fn.off(state_or_param_key(g, var))
    fn.emit(1, f"for i in range({NP}):")
    fn.emit(2, f"_slot = {D} + (k % {p.delay + 1}) * {NP} + i")
    depth = refractory_guard(fn, p, 2, "t")
    fn.emit(depth, f"{arr}[{off} + i] += DB[_slot]")
    fn.emit(2, "DB[_slot] = 0.0")


def edge_event(fn, lowered, p, ev, statements):
    names, loads = cg._edge_names(fn, p, p.pre, p.post, "j", "i", "q")
    fn.emit(2, f"for q in range({fn.off(key.synapses(p))}):")
    fn.emit(3, f"j = PRE[{fn.off(key.index(p))} + q]")
    fn.emit(3, f"i = POST[{fn.off(key.index(p))} + q]")
    emit_due(fn, 3, ev.at, ev.every, names, loads)
    fn.emit(3, "if due:")
    cg._edge_statements(fn, 4, p, statements, p.pre, p.post, "j", "i", "q", lowered.stream(p))


def rule_loop(fn, lowered, p, statements, depth=1, signals=()):
    """The statements once per synapse, learning post unit as `i`."""
    statements, extra = _hoist_unit_functions(fn, lowered, p, statements, depth)
    fn.emit(depth, f"for q in range({fn.off(key.synapses(p))}):")
    fn.emit(depth + 1, f"j = PRE[{fn.off(key.index(p))} + q]")
    fn.emit(depth + 1, f"i = LPOST[{fn.off(key.index(p))} + q]")
    cg._edge_statements(fn, depth + 1, p, statements, p.pre, p.lpost, "j", "i", "q",
                        lowered.stream(p), signals, extra)


def _hoist_unit_functions(fn, lowered, p, statements, depth):
    """Functions (tanh, exp, ...) of one side's variables only are computed once per unit
    into a buffer, not once per synapse: a rule reading post.r = tanh(I) on 500 synapses of
    10 units evaluates 10 tanh, not 500."""
    exprs = [cg.resolve_edge(st.expr, p.pre.model, p.lpost.model) for st in statements]
    found = {}
    for e in exprs:
        for f in e.atoms(sp.Function):
            names = {s.name for s in f.free_symbols}
            for side, grp, unit in (("pre__", p.pre, "j"), ("post__", p.lpost, "i")):
                # A random draw is one per synapse: never hoisted.
                if names and all(n.startswith(side) for n in names) and \
                        not isinstance(f, RandomFunction):
                    found.setdefault(f, (side, grp, unit))
    if not found:
        return statements, {}
    subs, extra = {}, {}
    for n, (f, (side, grp, unit)) in enumerate(sorted(found.items(), key=lambda x: str(x[0]))):
        buf = f"_hf_{p.name}_{n}"
        names, loads = cg._edge_names(fn, p, p.pre, p.lpost, "j", "i", "q")
        fn.emit(depth, f"{buf} = np.empty({fn.off(key.size(grp))})")
        fn.emit(depth, f"for {unit} in range({fn.off(key.size(grp))}):")
        cg._emit_loads(fn, depth + 1, loads, [f])
        fn.emit(depth + 1, f"{buf}[{unit}] = {KernelPrinter(names, lowered.stream(p)).doprint(f)}")
        sym = sp.Symbol(f"{buf}[{unit}]", real=True)
        subs[f], extra[sym.name] = sym, sym.name
    out = [type(st)(st.target, st.op, e.xreplace(subs), st.line)
           for st, e in zip(statements, exprs)]
    return out, extra
