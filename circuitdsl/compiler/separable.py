"""Separable per-step traces: e += f(pre) * g(post) accumulated by matrix products.

A per-step rule statement `e = e + F` whose increment F factors (after sympy expands powers of
products, so (a*b)**3 counts) into a presynaptic factor f, a postsynaptic factor g and a factor
of time only, costs N_pre + N_post evaluations per step instead of one per synapse: the kernel
stores f and g for up to CHUNK steps, then adds sum_t g_i(t) f_j(t) to every synapse's trace
at once (one GEMM for a dense projection, one short dot product per synapse otherwise).
"""
from __future__ import annotations

import sympy as sp

from circuitdsl.compiler import statements as cg
from circuitdsl.compiler.printer import KernelPrinter

CHUNK = 1024
SHORT = 64      # flushes of fewer stored steps use loops, not BLAS
_TIME = {"t", "dt"}


def _side(sym):
    if sym.name.startswith("pre__"):
        return "pre"
    if sym.name.startswith("post__"):
        return "post"
    return "time" if sym.name in _TIME else "other"


def split(statement, traces, pre_model, post_model, held=frozenset()):
    """The statement's increment as terms, or None if it is not a separable accumulation.

    Each addend of the increment is a product term ("product", trace, f_pre, g_post) or a
    held term ("held", trace, c, h): c a function of synapse fields that no per-step
    statement changes (e.g. -w in a Hebbian rule with decay), h a function of time, so its
    sum over the steps is c times the sum of h."""
    if statement.target not in traces:
        return None
    expr = cg.resolve_edge(statement.expr, pre_model, post_model)
    e = sp.Symbol(statement.target, real=True)
    inc = expr if statement.op == "+=" else (expr - e) if statement.op == "=" else None
    if inc is None or e in inc.free_symbols:
        return None
    terms = []
    for addend in sp.Add.make_args(inc):
        addend = sp.expand_power_base(sp.powsimp(addend, force=True), force=True)
        pre, post, const, time = [], [], [], []
        for factor in sp.Mul.make_args(addend):
            names = {s.name for s in factor.free_symbols}
            if names and names <= set(held):
                const.append(factor)
                continue
            sides = {_side(s) for s in factor.free_symbols}
            if "other" in sides or {"pre", "post"} <= sides:
                return None
            (pre if "pre" in sides else post if "post" in sides else time).append(factor)
        if const and (pre or post):
            return None
        if const or not (pre or post):
            terms.append(("held", statement.target, sp.Mul(*const), sp.Mul(*time)))
        else:
            terms.append(("product", statement.target, sp.Mul(*pre), sp.Mul(*post, *time)))
    return terms


def plan(p):
    """Separable terms for all of a projection's per-step statements, or None."""
    if not p.rule_step:
        return None
    targets = {s.target for s in p.rule_step}
    held = frozenset(f for f in p.fields if f not in targets)
    out = [split(s, p.rule.traces, p.pre.model, p.lpost.model, held) for s in p.rule_step]
    if any(x is None for x in out) or len(targets) != len(out):
        return None
    terms = [t for x in out for t in x]
    return terms if any(t[0] == "product" for t in terms) else None


def emit_setup(fn, p, terms):
    # Buffers no longer than the run: a short trial (10 steps) must not zero 1024 columns.
    for k, (kind, *_rest) in enumerate(terms):
        if kind == "held":
            fn.emit(1, f"_HS_{p.name}_{k} = 0.0")
            continue
        fn.emit(1, f"_HA_{p.name}_{k} = np.zeros(({fn.off(f'N_{p.pre.name}')}, _chunk))")
        fn.emit(1, f"_HB_{p.name}_{k} = np.zeros(({fn.off(f'N_{p.lpost.name}')}, _chunk))")


def emit_record(fn, lowered, p, terms, stream):
    """Per step: store f(pre) and g(post) in column `_sep_row` of the buffers (held terms:
    add h(t) to their running sum)."""
    for k, (kind, _, f, g) in enumerate(terms):
        names, loads = cg._edge_names(fn, p, p.pre, p.lpost, "j", "i", "q")
        if kind == "held":
            fn.emit(1, f"_HS_{p.name}_{k} += {KernelPrinter(names, stream).doprint(g)}")
            continue
        for side, factor, grp, unit, buf in (("pre", f, p.pre, "j", "HA"),
                                             ("post", g, p.lpost, "i", "HB")):
            fn.emit(1, f"for {unit} in range({fn.off(f'N_{grp.name}')}):")
            cg._emit_loads(fn, 2, loads, [factor])
            value = KernelPrinter(names, stream).doprint(factor)
            fn.emit(2, f"_{buf}_{p.name}_{k}[{unit}, _sep_row] = {value}")


def emit_flush(fn, p, terms, depth):
    """Add the stored steps to the traces and clear the buffers."""
    for k, (kind, trace, c, _) in enumerate(terms):
        ha, hb = f"_HA_{p.name}_{k}", f"_HB_{p.name}_{k}"
        off = fn.off(f"F_{p.name}_{trace}")
        M = fn.off(f"M_{p.name}")
        if kind == "held":
            names, loads = cg._edge_names(fn, p, p.pre, p.lpost, "j", "i", "q")
            fn.emit(depth, f"for q in range({M}):")
            cg._emit_loads(fn, depth + 1, loads, [c])
            fn.emit(depth + 1, f"F[{off} + q] += ({KernelPrinter(names).doprint(c)}) * "
                               f"_HS_{p.name}_{k}")
            fn.emit(depth, f"_HS_{p.name}_{k} = 0.0")
            continue
        X = fn.off(f"X_{p.name}")
        # A few stored steps (a 10-step trial): plain loops; BLAS calls would cost more than
        # the sums. Long chunks keep the matrix products.
        fn.emit(depth, f"if _sep_row < {SHORT}:")
        fn.emit(depth + 1, f"for q in range({M}):")
        fn.emit(depth + 2, f"_ja = PRE[{X} + q]")
        fn.emit(depth + 2, f"_ib = LPOST[{X} + q]")
        fn.emit(depth + 2, "_acc = 0.0")
        fn.emit(depth + 2, "for _r in range(_sep_row):")
        fn.emit(depth + 3, f"_acc += {hb}[_ib, _r] * {ha}[_ja, _r]")
        fn.emit(depth + 2, f"F[{off} + q] += _acc")
        fn.emit(depth, "else:")
        if p.full and p.lpost is p.post:
            fn.emit(depth + 1, f"_E = np.dot({hb}, {ha}.T).ravel()")
            fn.emit(depth + 1, f"for q in range({M}):")
            fn.emit(depth + 2, f"F[{off} + q] += _E[q]")
        else:
            fn.emit(depth + 1, f"for q in range({M}):")
            fn.emit(depth + 2, f"F[{off} + q] += np.dot({hb}[LPOST[{X} + q]], "
                               f"{ha}[PRE[{X} + q]])")
        fn.emit(depth, f"{ha}[:, :] = 0.0")
        fn.emit(depth, f"{hb}[:, :] = 0.0")
