"""Assembles the generated module: input functions, the trial kernel, trial-end rules."""
from __future__ import annotations

import sympy as sp

from circuitdsl.compiler import codegen as cg
from circuitdsl.compiler import gating, separable
from circuitdsl.compiler.printer import KernelPrinter
from circuitdsl.equations import RandomFunction

ARGS = ("k0, n_steps, dt, S, P, I, F, PRE, POST, LPOST, PTR, PPTR, PORD, SPK, DB, RNG, L, "
        "EXT, EXTIDX, ext_every, RECS, RECP, REC, rec_every, SPIKES, STATUS")
INPUT_ARGS = "k, t, dt, S, P, I, F, PRE, PTR, L, RNG"


def _stream(lowered, obj):
    n_groups = len(lowered.groups)
    return str(obj.index if hasattr(obj, "model") else n_groups + obj.index)


def _inputs_fn(lowered, g):
    layout = lowered.layout
    fn = cg.Fn(f"inputs_{g.name}({INPUT_ARGS})", layout)
    m = g.model
    for inp in m.inputs:
        off = fn.off(f"I_{g.name}_{inp}")
        fn.emit(1, f"for i in range({fn.off(f'N_{g.name}')}):")
        fn.emit(2, f"I[{off} + i] = 0.0")
    for p in lowered.projections:
        if p.post is not g or p.current is None or p.synapse.feedback:
            continue
        _current(fn, lowered, p)
    return fn


def _feedback_fn(lowered, g):
    """Feedback currents into g: summed after the dynamics, before the per-step rules."""
    fn = cg.Fn(f"feedback_{g.name}({INPUT_ARGS})", lowered.layout)
    mine = [p for p in lowered.projections if p.post is g and p.synapse.feedback]
    for target in sorted({p.current.target.split(".", 1)[1] for p in mine}):
        fn.emit(1, f"for i in range({fn.off(f'N_{g.name}')}):")
        fn.emit(2, f"I[{fn.off(f'I_{g.name}_{target}')} + i] = 0.0")
    for p in mine:
        _current(fn, lowered, p)
    return fn


def _current(fn, lowered, p):
    """Add projection p's current into its target input."""
    g = p.post
    st = p.current
    expr = cg.resolve_edge(st.expr, p.pre.model, p.post.model)
    names, loads = cg._edge_names(fn, p, p.pre, p.post, "j", "i", "q")
    if getattr(p, "dense_rows", None) and _dense_current(fn, lowered, p, expr, names, loads, st):
        return
    expr = _hoist_presynaptic(fn, lowered, p, expr, names)
    post_syms = {s for s in expr.free_symbols if s.name.startswith("post__")}
    fn.emit(1, f"for i in range({fn.off(f'N_{g.name}')}):")
    for s in sorted(post_syms, key=lambda s: s.name):
        fn.emit(2, loads[s.name])
    fn.emit(2, "acc = 0.0")
    fn.emit(2, f"for q in range(PTR[{fn.off(f'R_{p.name}')} + i], "
               f"PTR[{fn.off(f'R_{p.name}')} + i + 1]):")
    fn.emit(3, f"j = PRE[{fn.off(f'X_{p.name}')} + q]")
    for s in sorted(expr.free_symbols - post_syms, key=lambda s: s.name):
        if s.name in loads:
            fn.emit(3, loads[s.name])
    fn.emit(3, f"acc += {KernelPrinter(names, _stream(lowered, p)).doprint(expr)}")
    target = st.target.split(".", 1)[1]
    fn.emit(2, f"I[{fn.off(f'I_{g.name}_{target}')} + i] += acc")


def _dense_current(fn, lowered, p, expr, names, loads, st):
    """A dense projection (every pre unit for rows DR0..DR0+DRN of the post group) whose
    current is w * f(pre): one BLAS matrix-vector product."""
    w = sp.Symbol("w", real=True)
    rest = sp.simplify(expr / w)
    if w in rest.free_symbols or any(not s.name.startswith("pre__") for s in rest.free_symbols):
        return False
    N_pre, N_post = fn.off(f"N_{p.pre.name}"), fn.off(f"DRN_{p.name}")
    row0 = fn.off(f"DR0_{p.name}")
    fn.emit(1, f"_v = np.empty({N_pre})")
    fn.emit(1, f"for j in range({N_pre}):")
    for s in sorted(rest.free_symbols, key=lambda s: s.name):
        fn.emit(2, loads[s.name])
    fn.emit(2, f"_v[j] = {KernelPrinter(names, _stream(lowered, p)).doprint(rest)}")
    off = fn.off(f"F_{p.name}_w")
    fn.emit(1, f"_out = np.dot(F[{off}:{off} + {N_post} * {N_pre}].reshape(({N_post}, {N_pre})), _v)")
    target = st.target.split(".", 1)[1]
    fn.emit(1, f"for i in range({N_post}):")
    fn.emit(2, f"I[{fn.off(f'I_{p.post.name}_{target}')} + {row0} + i] += _out[i]")
    return True


def _hoist_presynaptic(fn, lowered, p, expr, names):
    """Factors of a current that depend only on the presynaptic unit and cost more than a load
    (e.g. tanh(pre.x)) are computed once per presynaptic unit, not once per synapse."""
    factors = sp.Mul.make_args(expr)
    pre_only = [f for f in factors if f.free_symbols and
                all(s.name.startswith("pre__") for s in f.free_symbols)]
    costly = [f for f in pre_only if not f.is_Symbol]
    if not costly:
        return expr
    factor = sp.Mul(*costly)
    _, loads = cg._edge_names(fn, p, p.pre, p.post, "j", "i", "q")
    buf = f"_pre_{p.name}"
    fn.emit(1, f"{buf} = np.empty({fn.off(f'N_{p.pre.name}')})")
    fn.emit(1, f"for j in range({fn.off(f'N_{p.pre.name}')}):")
    for s in sorted(factor.free_symbols, key=lambda s: s.name):
        fn.emit(2, loads[s.name])
    fn.emit(2, f"{buf}[j] = {KernelPrinter(names, _stream(lowered, p)).doprint(factor)}")
    hoisted = sp.Symbol(f"{buf}[j]", real=True)
    names[hoisted.name] = hoisted.name
    return sp.Mul(*[f for f in factors if f not in costly]) * hoisted


def _event_timing(fn, depth, at, every, names, loads):
    """Emit `due` for an event whose times are numbers or per-unit parameter names."""
    def value(v):
        if isinstance(v, str):
            fn.emit(depth, loads[v])
            return names[v]
        return repr(float(v))
    # Times beyond ~1e18 steps (e.g. t_block = inf or 1e300: "never") must not overflow.
    at_value = value(at)
    every_value = value(every) if every is not None else None
    fn.emit(depth, f"_fa = {at_value} / dt")
    fn.emit(depth, "due = False")
    fn.emit(depth, "if _fa < 1e18:")
    fn.emit(depth + 1, "_ka = int(round(_fa))")
    if every is None:
        fn.emit(depth + 1, "due = k == _ka")
    else:
        fn.emit(depth + 1, f"_fe = {every_value} / dt")
        fn.emit(depth + 1, "if _fe < 1e18:")
        fn.emit(depth + 2, "_ke = max(1, int(round(_fe)))")
        fn.emit(depth + 2, "due = k >= _ka and (k - _ka) % _ke == 0")


def _group_event(fn, lowered, g, ev, statements):
    m = g.model
    reads_inputs = any(s.name in m.inputs for st in statements
                       for s in m.expand(st.expr).free_symbols)
    names, loads = cg._group_names(fn, g)
    fn.emit(2, "refreshed = False")
    fn.emit(2, f"for i in range({fn.off(f'N_{g.name}')}):")
    _event_timing(fn, 3, ev.at, ev.every, names, {k: v for k, v in loads.items()})
    fn.emit(3, "if due:")
    if reads_inputs:
        fn.emit(4, "if not refreshed:")
        fn.emit(5, f"inputs_{g.name}(k, t, dt, S, P, I, F, PRE, PTR, L, RNG)")
        fn.emit(5, "refreshed = True")
    expanded = [type(st)(st.target, st.op, m.expand(st.expr), st.line) for st in statements]
    cg._emit_statements(fn, 4, g, expanded, names, loads, _stream(lowered, g))


def _edge_event(fn, lowered, p, ev, statements):
    names, loads = cg._edge_names(fn, p, p.pre, p.post, "j", "i", "q")
    fn.emit(2, f"for q in range({fn.off(f'M_{p.name}')}):")
    fn.emit(3, f"j = PRE[{fn.off(f'X_{p.name}')} + q]")
    fn.emit(3, f"i = POST[{fn.off(f'X_{p.name}')} + q]")
    _event_timing(fn, 3, ev.at, ev.every, names, loads)
    fn.emit(3, "if due:")
    cg._edge_statements(fn, 4, p, statements, p.pre, p.post, "j", "i", "q", _stream(lowered, p))


def _on_step(fn, lowered, g):
    """A group's on_step statements, at the start of the step (they cannot read inputs)."""
    m = g.model
    if not m.on_step:
        return
    names, loads = cg._group_names(fn, g)
    fn.emit(1, f"for i in range({fn.off(f'N_{g.name}')}):")
    expanded = [type(st)(st.target, st.op, m.expand(st.expr), st.line) for st in m.on_step]
    cg._emit_statements(fn, 2, g, expanded, names, loads, _stream(lowered, g))


def _update(fn, lowered, g):
    """A group's `update` statements: after integration, before spikes; they may read inputs
    (a discrete-time map). Their results join the finiteness check."""
    m = g.model
    if not getattr(m, "update", None):
        return
    names, loads = cg._group_names(fn, g)
    fn.emit(1, f"for i in range({fn.off(f'N_{g.name}')}):")
    expanded = [type(st)(st.target, st.op, m.expand(st.expr), st.line) for st in m.update]
    cg._emit_statements(fn, 2, g, expanded, names, loads, _stream(lowered, g))
    fn.emit(2, "chk += " + " + ".join(names[x] for x in dict.fromkeys(st.target
                                                                       for st in m.update)))


def _integrate(fn, lowered, g):
    m = g.model
    if not m.ode:
        return
    names, loads = cg._group_names(fn, g)
    stream = _stream(lowered, g)
    spike = m.spike
    held = {s.target for s in getattr(m, "spike_reset", [])} if spike is not None else set()
    fn.emit(1, f"for i in range({fn.off(f'N_{g.name}')}):")
    exprs = [m.expand(e) for e in m.ode.values()] + [sp.Symbol(x, real=True) for x in m.ode]
    cg._emit_loads(fn, 2, loads, exprs)
    refr = spike is not None and spike.refractory not in (0, 0.0, None)
    if refr:
        r = spike.refractory
        if isinstance(r, str):
            fn.emit(2, loads[r])
            r = names[r]
        fn.emit(2, f"refr = t < SPK[{fn.off(f'K_{g.name}')} + {fn.off(f'N_{g.name}')} + i] + {r}")
    updates = cg._emit_scheme(fn, 2, g, names, stream)
    for x, new in updates:
        if refr and x in held:
            fn.emit(2, "if not refr:")
            fn.emit(3, cg._store(fn, g, x, new))
        else:
            fn.emit(2, cg._store(fn, g, x, new))
    fn.emit(2, "chk += " + " + ".join(new for _, new in updates))


def _spikes(fn, lowered, g):
    m = g.model
    names, loads = cg._group_names(fn, g)
    N, K = fn.off(f"N_{g.name}"), fn.off(f"K_{g.name}")
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
    fn.emit(2, f"fire = {trig}")
    fn.emit(2, f"SPK[{K} + 2 * {N} + i] = 1.0 if cond else 0.0")
    fn.emit(2, "if fire:")
    fn.emit(3, f"SPK[{K} + i] = 1.0")
    fn.emit(3, f"SPK[{K} + {N} + i] = t + dt")
    fn.emit(3, "if STATUS[3] < SPIKES.shape[0]:")
    fn.emit(4, "SPIKES[STATUS[3], 0] = k + 1")
    fn.emit(4, f"SPIKES[STATUS[3], 1] = {g.index}")
    fn.emit(4, "SPIKES[STATUS[3], 2] = i")
    fn.emit(3, "STATUS[3] += 1")
    if m.spike_reset:
        expanded = [type(st)(st.target, st.op, m.expand(st.expr), st.line) for st in m.spike_reset]
        cg._emit_statements(fn, 3, g, expanded, names, loads, _stream(lowered, g))
    fn.emit(2, "else:")
    fn.emit(3, f"SPK[{K} + i] = 0.0")


def _refractory_guard(fn, p, depth, now):
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
        fn.emit(depth, f"_refr = P[{fn.off(f'P_{p.post.name}_{r}')} + i]")
        r = "_refr"
    last = f"SPK[{fn.off(f'K_{p.post.name}')} + {fn.off(f'N_{p.post.name}')} + i]"
    fn.emit(depth, f"if {now} >= {last} + {r}:")
    return depth + 1


def _on_pre(fn, lowered, p):
    g = p.pre
    K, N = fn.off(f"K_{g.name}"), fn.off(f"N_{g.name}")
    fn.emit(1, f"for j in range({N}):")
    fn.emit(2, f"if SPK[{K} + j] == 1.0:")
    fn.emit(3, f"for _o in range(PPTR[{fn.off(f'Q_{p.name}')} + j], "
               f"PPTR[{fn.off(f'Q_{p.name}')} + j + 1]):")
    fn.emit(4, f"q = PORD[{fn.off(f'X_{p.name}')} + _o]")
    fn.emit(4, f"i = POST[{fn.off(f'X_{p.name}')} + q]")
    if not p.delay:
        depth = _refractory_guard(fn, p, 4, "t + dt")
        cg._edge_statements(fn, depth, p, p.on_pre, p.pre, p.post, "j", "i", "q",
                            _stream(lowered, p))
        return
    names, loads = cg._edge_names(fn, p, p.pre, p.post, "j", "i", "q")
    printer = KernelPrinter(names, _stream(lowered, p))
    D, NP = fn.off(f"D_{p.name}"), fn.off(f"N_{p.post.name}")
    for s in p.on_pre:
        expr = cg.resolve_edge(s.expr, p.pre.model, p.post.model)
        cg._emit_loads(fn, 4, loads, [expr])
        fn.emit(4, f"DB[{D} + ((k + {p.delay}) % {p.delay + 1}) * {NP} + i] += "
                   f"{printer.doprint(expr)}")


def _delay_arrivals(fn, lowered, p):
    """Delayed on_pre increments arriving at step k are added before integration."""
    g = p.post
    D, NP = fn.off(f"D_{p.name}"), fn.off(f"N_{g.name}")
    var = p.on_pre[0].target.split(".", 1)[1]
    arr = "S" if var in g.model.states else "P"
    off = fn.off(f"{arr}_{g.name}_{var}")
    fn.emit(1, f"for i in range({NP}):")
    fn.emit(2, f"_slot = {D} + (k % {p.delay + 1}) * {NP} + i")
    depth = _refractory_guard(fn, p, 2, "t")
    fn.emit(depth, f"{arr}[{off} + i] += DB[_slot]")
    fn.emit(2, "DB[_slot] = 0.0")


def _rule_loop(fn, lowered, p, statements, depth=1, signals=()):
    statements, extra = _hoist_unit_functions(fn, lowered, p, statements, depth)
    fn.emit(depth, f"for q in range({fn.off(f'M_{p.name}')}):")
    fn.emit(depth + 1, f"j = PRE[{fn.off(f'X_{p.name}')} + q]")
    fn.emit(depth + 1, f"i = LPOST[{fn.off(f'X_{p.name}')} + q]")
    cg._edge_statements(fn, depth + 1, p, statements, p.pre, p.lpost, "j", "i", "q",
                        _stream(lowered, p), signals, extra)




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
        fn.emit(depth, f"{buf} = np.empty({fn.off(f'N_{grp.name}')})")
        fn.emit(depth, f"for {unit} in range({fn.off(f'N_{grp.name}')}):")
        cg._emit_loads(fn, depth + 1, loads, [f])
        fn.emit(depth + 1, f"{buf}[{unit}] = {KernelPrinter(names, _stream(lowered, p)).doprint(f)}")
        sym = sp.Symbol(f"{buf}[{unit}]", real=True)
        subs[f], extra[sym.name] = sym, sym.name
    out = [type(st)(st.target, st.op, e.xreplace(subs), st.line)
           for st, e in zip(statements, exprs)]
    return out, extra


def _events(lowered):
    items = []
    for g in lowered.groups:
        for ev, statements in zip(g.model.events, g.model.event_statements):
            items.append((ev.order, 0, g.index, "group", g, ev, statements))
    for p in lowered.projections:
        for ev, statements in p.events:
            items.append((ev.order, 1, p.index, "edge", p, ev, statements))
    return sorted(items, key=lambda it: it[:3])


def generate(lowered):
    """The complete module source for a lowered circuit."""
    cg.bind_programs(lowered)
    layout = lowered.layout
    parts = [cg.HEADER]
    feedback = sorted({p.post.index for p in lowered.projections
                       if p.current is not None and p.synapse.feedback})
    for g in lowered.groups:
        parts.append(_inputs_fn(lowered, g).source())
        if g.index in feedback:
            parts.append(_feedback_fn(lowered, g).source())
    fn = cg.Fn(f"trial({ARGS})", layout)
    plans = {p.index: separable.plan(p) for p in lowered.projections}
    if any(plans.values()):
        fn.emit(1, f"_chunk = min({separable.CHUNK}, max(1, n_steps))")
    for p in lowered.projections:
        if plans[p.index]:
            separable.emit_setup(fn, p, plans[p.index])
        else:
            gating.emit_setup(fn, p)
    if any(plans.values()):
        fn.emit(1, "_sep_row = 0")
    fn.emit(1, "for k in range(k0, k0 + n_steps):")
    fn.emit(2, "t = k * dt")
    events = _events(lowered)
    if events:
        for order, _, _, kind, obj, ev, statements in events:
            (_group_event if kind == "group" else _edge_event)(fn, lowered, obj, ev, statements)
    body_start = len(fn.body)
    for g in lowered.groups:
        _on_step(fn, lowered, g)
    for g in lowered.groups:
        if g.model.inputs:
            fn.emit(1, f"inputs_{g.name}(k, t, dt, S, P, I, F, PRE, PTR, L, RNG)")
    fn.emit(1, "if EXT.shape[0] > 0:")
    fn.emit(2, "_row = min((k - k0) // ext_every, EXT.shape[0] - 1)")
    fn.emit(2, "for c in range(EXTIDX.shape[0]):")
    fn.emit(3, "I[EXTIDX[c]] += EXT[_row, c]")
    for p in lowered.projections:
        if p.delay and p.on_pre:
            _delay_arrivals(fn, lowered, p)
    fn.emit(1, "chk = 0.0")
    for g in lowered.groups:
        _integrate(fn, lowered, g)
    for g in lowered.groups:
        _update(fn, lowered, g)
    for g in lowered.groups:
        if g.model.spike is not None:
            _spikes(fn, lowered, g)
    for p in lowered.projections:
        if p.on_pre and p.pre.model.spike is not None:
            _on_pre(fn, lowered, p)
    for g in lowered.groups:
        if g.index in feedback:
            fn.emit(1, f"feedback_{g.name}(k, t, dt, S, P, I, F, PRE, PTR, L, RNG)")
    for p in lowered.projections:
        if plans[p.index]:
            separable.emit_record(fn, lowered, p, plans[p.index], _stream(lowered, p))
        elif p.rule_step and not gating.emit(fn, p, _stream(lowered, p)):
            _rule_loop(fn, lowered, p, p.rule_step)
    if any(plans.values()):
        fn.emit(1, "_sep_row += 1")
        fn.emit(1, "if _sep_row == _chunk:")
        for p in lowered.projections:
            if plans[p.index]:
                separable.emit_flush(fn, p, plans[p.index], 2)
        fn.emit(2, "_sep_row = 0")
    fn.emit(1, "if not math.isfinite(chk):")
    fn.emit(2, "STATUS[0] = 1")
    fn.emit(2, "STATUS[2] = k")
    fn.emit(2, "return")
    fn.emit(1, "if (k + 1 - k0) % rec_every == 0:")
    fn.emit(2, "_r = (k + 1 - k0) // rec_every - 1")
    fn.emit(2, "if _r < REC.shape[0]:")
    fn.emit(3, "for c in range(RECS.shape[0]):")
    fn.emit(4, "REC[_r, c] = S[RECS[c]]")
    fn.emit(3, "for c in range(RECP.shape[0]):")
    fn.emit(4, "REC[_r, RECS.shape[0] + c] = P[RECP[c]]")
    # Everything after the event block runs once per step, inside the k loop.
    fn.body[body_start:] = ["    " + ln for ln in fn.body[body_start:]]
    if any(plans.values()):   # traces still in the buffers at the end of the chunk
        fn.emit(1, "if _sep_row > 0:")
        for p in lowered.projections:
            if plans[p.index]:
                separable.emit_flush(fn, p, plans[p.index], 2)
    parts.append(fn.source())
    for p in lowered.projections:
        if p.rule_end:
            signals = tuple(p.rule.signals)
            lf = cg.Fn(f"learn_{p.name}(t, dt, S, P, I, F, PRE, POST, LPOST, RNG, L, SIG)", layout)
            _rule_loop(lf, lowered, p, p.rule_end, signals=signals)
            parts.append(lf.source())
    parts.append(_trials_fn(lowered))
    reset = cg.Fn("reset_traces(F, L)", layout)
    for p in lowered.projections:
        if p.rule is not None and p.rule.traces:
            for name, init in p.rule.traces.items():
                reset.emit(1, f"for q in range({reset.off(f'M_{p.name}')}):")
                reset.emit(2, f"F[{reset.off(f'F_{p.name}_{name}')} + q] = {float(init)!r}")
    parts.append(reset.source())
    return "\n\n".join(parts)


TRIALS_ARGS = ("n_steps, dt, S, P, I, F, PRE, POST, LPOST, PTR, PPTR, PORD, SPK, DB, RNG, L, "
               "S0, SPK0, CASE, LEARN, PIDX, PVAL, EXTV, EXTIDX, COLIDX, OUT, SIG, SPIKES, "
               "STATUS")


def _trials_fn(lowered):
    """Many short trials in one call: per trial, reset the state, set the case's parameters,
    run the trial kernel with the case's inputs, collect end states and (if flagged) apply the
    trial-end rules. Saves the per-call cost that dominates trials of a few steps."""
    fn = cg.Fn(f"trials({TRIALS_ARGS})", lowered.layout)
    fn.emit(1, "RECS = np.zeros(0, dtype=np.int64)")
    fn.emit(1, "REC = np.zeros((0, 0))")
    fn.emit(1, "for n in range(CASE.shape[0]):")
    fn.emit(2, "c = CASE[n]")
    fn.emit(2, "for m in range(PIDX.shape[0]):")
    fn.emit(3, "P[PIDX[m]] = PVAL[c, m]")
    # States a model declares carried keep their value from trial to trial (as reset() does).
    carried = [(f"S_{g.name}_{x}", f"N_{g.name}") for g in lowered.groups for x in g.model.carried]
    for c, (start, size) in enumerate(carried):
        fn.emit(2, f"_keep{c} = S[{fn.off(start)}:{start} + {fn.off(size)}].copy()")
    fn.emit(2, "S[:] = S0")
    for c, (start, size) in enumerate(carried):
        fn.emit(2, f"S[{start}:{start} + {size}] = _keep{c}")
    fn.emit(2, "SPK[:] = SPK0")
    fn.emit(2, "DB[:] = 0.0")
    fn.emit(2, "reset_traces(F, L)")
    fn.emit(2, "STATUS[3] = 0")
    fn.emit(2, "trial(0, n_steps, dt, S, P, I, F, PRE, POST, LPOST, PTR, PPTR, PORD, SPK, DB, "
               "RNG, L, EXTV[c], EXTIDX, 1, RECS, RECS, REC, 1, SPIKES, STATUS)")
    fn.emit(2, "if STATUS[0] != 0:")
    fn.emit(3, "STATUS[1] = n")
    fn.emit(3, "return")
    fn.emit(2, "for m in range(COLIDX.shape[0]):")
    fn.emit(3, "OUT[n, m] = S[COLIDX[m]]")
    learners = [p for p in lowered.projections if p.rule_end]
    if learners:
        fn.emit(2, "if LEARN[n]:")
        for p in learners:
            fn.emit(3, f"learn_{p.name}(n_steps * dt, dt, S, P, I, F, PRE, POST, LPOST, RNG, L, "
                       "SIG)")
    return fn.source()
