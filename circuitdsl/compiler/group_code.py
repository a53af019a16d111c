"""Code for groups: the input-summing functions, events, on_step and update statements,
integration (through the integrator registry, statements._emit_scheme) and spikes."""
from __future__ import annotations

import sympy as sp

from circuitdsl.compiler import statements as cg
from circuitdsl.compiler import interface as kif
from circuitdsl.compiler.layout import key
from circuitdsl.compiler.printer import KernelPrinter
from circuitdsl.compiler.timing import emit_due
from circuitdsl.compiler.interface import Status


def inputs_call(g):
    return kif.call(f"inputs_{g.name}", kif.INPUTS)


def feedback_call(g):
    return kif.call(f"feedback_{g.name}", kif.INPUTS)


def inputs_fn(lowered, g, choices):
    """Zero g's inputs, then add every (non-feedback) projection's current into them."""
    fn = cg.Fn(kif.signature(f"inputs_{g.name}", kif.INPUTS), lowered.layout)
    for inp in g.model.inputs:
        off = fn.off(key.input(g, inp))
        fn.emit(1, f"for i in range({fn.off(key.size(g))}):")
        fn.emit(2, f"I[{off} + i] = 0.0")
    for p in lowered.projections:
        if p.post is not g or p.current is None or p.synapse.feedback:
            continue
        choices[p.index].current.emit(fn, lowered, p)
    return fn


def feedback_fn(lowered, g, choices):
    """Feedback currents into g: summed after the dynamics, before the per-step rules."""
    fn = cg.Fn(kif.signature(f"feedback_{g.name}", kif.INPUTS), lowered.layout)
    mine = [p for p in lowered.projections if p.post is g and p.synapse.feedback]
    for target in sorted({p.current.target.split(".", 1)[1] for p in mine}):
        fn.emit(1, f"for i in range({fn.off(key.size(g))}):")
        fn.emit(2, f"I[{fn.off(key.input(g, target))} + i] = 0.0")
    for p in mine:
        choices[p.index].current.emit(fn, lowered, p)
    return fn


def has_feedback(lowered, g):
    return any(p.post is g and p.current is not None and p.synapse.feedback
               for p in lowered.projections)


def nonfinite_flag(values, n=None):
    """`_bad |= ...`: set when any value is NaN or Inf (x - x is 0 exactly for every finite
    x). An OR of booleans, unlike a floating-point sum, lets LLVM vectorise the unit loop.
    With `n` (the group's size, when the loop also runs over padding units) only units
    i < n count: padding units keep their build-time parameters and are nobody's concern."""
    flag = " | ".join(f"({v} - {v} != 0.0)" for v in values)
    return f"_bad |= (i < {n}) & ({flag})" if n else f"_bad |= {flag}"


def constant_params(lowered, g):
    """Parameters of group g that no statement of the kernel assigns (events, on_step,
    update, spike resets, and edges' on_pre, delayed arrivals and events): constant during
    one kernel call, so values computed from them alone can be computed once per call."""
    m = g.model
    assigned = {st.target for st in m.on_step} | {st.target for st in m.update} | \
        {st.target for st in m.spike_reset} | \
        {st.target for sts in m.event_statements for st in sts}
    for p in lowered.projections:
        statements = list(p.on_pre) + [st for _, sts in p.events for st in sts]
        for side, grp in (("post.", p.post), ("pre.", p.pre)):
            if grp is g:
                assigned |= {st.target[len(side):] for st in statements
                             if st.target.startswith(side)}
    return set(m.params) - assigned


def _draws(exprs):
    from circuitdsl.equations import RandomFunction
    return any(e.atoms(RandomFunction) for e in exprs)


def _expanded(m, statements):
    return [type(st)(st.target, st.op, m.expand(st.expr), st.line) for st in statements]


def group_event(fn, lowered, g, ev, statements):
    m = g.model
    reads_inputs = any(s.name in m.inputs for st in statements
                       for s in m.expand(st.expr).free_symbols)
    names, loads = cg._group_names(fn, g)
    fn.emit(2, "refreshed = False")
    fn.emit(2, f"for i in range({fn.off(key.size(g))}):")
    emit_due(fn, 3, ev.at, ev.every, names, {k: v for k, v in loads.items()})
    fn.emit(3, "if due:")
    if reads_inputs:
        fn.emit(4, "if not refreshed:")
        fn.emit(5, inputs_call(g))
        fn.emit(5, "refreshed = True")
    cg._emit_statements(fn, 4, g, _expanded(m, statements), names, loads, lowered.stream(g))


def on_step(fn, lowered, g):
    """A group's on_step statements, at the start of the step (they cannot read inputs)."""
    m = g.model
    if not m.on_step:
        return
    names, loads = cg._group_names(fn, g)
    fn.emit(1, f"for i in range({fn.off(key.size(g))}):")
    cg._emit_statements(fn, 2, g, _expanded(m, m.on_step), names, loads, lowered.stream(g))


def update(fn, lowered, g):
    """A group's `update` statements: after integration, before spikes; they may read inputs
    (a discrete-time map). Their results join the finiteness check."""
    m = g.model
    if not m.update:
        return
    names, loads = cg._group_names(fn, g)
    n = key.size(g) if _draws(m.expand(st.expr) for st in m.update) else key.padded(g)
    fn.emit(1, f"for i in range({fn.off(n)}):")    # whole vectors where it can (integrate)
    cg._emit_statements(fn, 2, g, _expanded(m, m.update), names, loads, lowered.stream(g))
    fn.emit(2, nonfinite_flag((names[x] for x in dict.fromkeys(st.target for st in m.update)),
                              fn.off(key.size(g)) if n == key.padded(g) else None))


def integrate(fn, lowered, g):
    m = g.model
    if not m.ode:
        return
    names, loads = cg._group_names(fn, g)
    spike = m.spike
    held = {s.target for s in m.spike_reset} if spike is not None else set()
    refr = spike is not None and spike.refractory not in (0, 0.0, None)
    # Whole vectors (layout.VECTOR), except where a unit's loop reads per-unit data that is
    # not padded (a refractory group's spike times) or draws random numbers (the padding must
    # not consume draws).
    n = key.size(g) if refr or _draws(m.expand(e) for e in m.ode.values()) else key.padded(g)
    fn.emit(1, f"for i in range({fn.off(n)}):")
    exprs = [m.expand(e) for e in m.ode.values()] + [sp.Symbol(x, real=True) for x in m.ode]
    cg._emit_loads(fn, 2, loads, exprs)
    if refr:
        r = spike.refractory
        if isinstance(r, str):
            fn.emit(2, loads[r])
            r = names[r]
        fn.emit(2, f"refr = t < SPK[{fn.off(key.spikes(g))} + {fn.off(key.size(g))} + i] + {r}")
    updates = cg._emit_scheme(fn, 2, g, names, lowered.stream(g),
                              constant=constant_params(lowered, g) | {"dt"}, loads=loads)
    for x, new in updates:
        if refr and x in held:
            fn.emit(2, "if not refr:")
            fn.emit(3, cg._store(fn, g, x, new))
        else:
            fn.emit(2, cg._store(fn, g, x, new))
    fn.emit(2, nonfinite_flag((new for _, new in updates),
                              fn.off(key.size(g)) if n == key.padded(g) else None))


def spikes(fn, lowered, g):
    m = g.model
    names, loads = cg._group_names(fn, g)
    N, K = fn.off(key.size(g)), fn.off(key.spikes(g))
    cond = m.expand(m.spike_condition)
    fn.emit(1, f"for i in range({N}):")
    cg._emit_loads(fn, 2, loads, [cond])
    fn.emit(2, f"cond = {KernelPrinter(names).doprint(cond)}")
    level = bool(m.spike_reset)   # with a reset: level-triggered; without: rising edge
    trig = "cond" if level else f"cond and SPK[{K} + 2 * {N} + i] == 0.0"
    r = m.spike.refractory
    if r not in (0, 0.0, None):
        if isinstance(r, str):
            fn.emit(2, loads[r])
            r = names[r]
        trig += f" and t + dt >= SPK[{K} + {N} + i] + {r}"
    n_spk = f"STATUS[{Status.SPIKES}]"
    fn.emit(2, f"fire = {trig}")
    fn.emit(2, f"SPK[{K} + 2 * {N} + i] = 1.0 if cond else 0.0")
    fn.emit(2, "if fire:")
    fn.emit(3, f"SPK[{K} + i] = 1.0")
    fn.emit(3, f"SPK[{K} + {N} + i] = t + dt")
    fn.emit(3, f"if {n_spk} < SPIKES.shape[0]:")
    fn.emit(4, f"SPIKES[{n_spk}, 0] = k + 1")
    fn.emit(4, f"SPIKES[{n_spk}, 1] = {g.index}")
    fn.emit(4, f"SPIKES[{n_spk}, 2] = i")
    fn.emit(3, f"{n_spk} += 1")
    if m.spike_reset:
        cg._emit_statements(fn, 3, g, _expanded(m, m.spike_reset), names, loads,
                            lowered.stream(g))
    fn.emit(2, "else:")
    fn.emit(3, f"SPK[{K} + i] = 0.0")
