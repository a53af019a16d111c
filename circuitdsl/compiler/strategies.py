"""Per-projection strategies: how a projection's current and its per-step rule are emitted.

Each kind has a priority list; the first strategy whose `applies` says yes is used. `plan`
records the choice per projection before any code is emitted, so `Simulator.plan()` can report
it and tests can assert on it without compiling or reading generated source.

currents:  dense BLAS (every pre unit for a contiguous range of post rows, current w * f(pre))
           -> presynaptic hoisting (costly factors of the pre unit alone, once per pre unit)
           -> plain CSR loop
rules:     separable traces (compiler/separable.py) -> gated rows (compiler/gating.py)
           -> plain per-synapse loop
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from circuitdsl.compiler import statements as cg
from circuitdsl.compiler import gating, separable
from circuitdsl.compiler.edge_code import rule_loop
from circuitdsl.compiler.layout import key
from circuitdsl.compiler.printer import KernelPrinter

_W = sp.Symbol("w", real=True)


def _current_expr(p):
    return cg.resolve_edge(p.current.expr, p.pre.model, p.post.model)


def _costly_pre_factors(expr):
    factors = sp.Mul.make_args(expr)
    pre_only = [f for f in factors if f.free_symbols and
                all(s.name.startswith("pre__") for s in f.free_symbols)]
    return [f for f in pre_only if not f.is_Symbol]


def _target(p):
    return p.current.target.split(".", 1)[1]


# ---- currents ---------------------------------------------------------------------------

class DenseCurrent:
    """One BLAS matrix-vector product over the dense rows."""
    name = "dense BLAS"

    @staticmethod
    def applies(p):
        if not p.dense_rows:
            return False
        rest = sp.simplify(_current_expr(p) / _W)
        return _W not in rest.free_symbols and all(s.name.startswith("pre__")
                                                   for s in rest.free_symbols)

    @staticmethod
    def emit(fn, lowered, p):
        expr = _current_expr(p)
        names, loads = cg._edge_names(fn, p, p.pre, p.post, "j", "i", "q")
        rest = sp.simplify(expr / _W)
        N_pre, N_post = fn.off(key.size(p.pre)), fn.off(key.dense_count(p))
        row0 = fn.off(key.dense_first(p))
        fn.emit(1, f"_v = np.empty({N_pre})")
        fn.emit(1, f"for j in range({N_pre}):")
        for s in sorted(rest.free_symbols, key=lambda s: s.name):
            fn.emit(2, loads[s.name])
        fn.emit(2, f"_v[j] = {KernelPrinter(names, lowered.stream(p)).doprint(rest)}")
        off = fn.off(key.field(p, "w"))
        fn.emit(1, f"_out = np.dot(F[{off}:{off} + {N_post} * {N_pre}].reshape(({N_post}, "
                   f"{N_pre})), _v)")
        fn.emit(1, f"for i in range({N_post}):")
        fn.emit(2, f"I[{fn.off(key.input(p.post, _target(p)))} + {row0} + i] += _out[i]")


class PlainCurrent:
    """A CSR loop over each post unit's synapses."""
    name = "plain loop"

    @staticmethod
    def applies(p):
        return True

    @staticmethod
    def emit(fn, lowered, p, expr=None, names=None):
        if expr is None:
            expr = _current_expr(p)
            names, _ = cg._edge_names(fn, p, p.pre, p.post, "j", "i", "q")
        _, loads = cg._edge_names(fn, p, p.pre, p.post, "j", "i", "q")
        post_syms = {s for s in expr.free_symbols if s.name.startswith("post__")}
        fn.emit(1, f"for i in range({fn.off(key.size(p.post))}):")
        for s in sorted(post_syms, key=lambda s: s.name):
            fn.emit(2, loads[s.name])
        fn.emit(2, "acc = 0.0")
        fn.emit(2, f"for q in range(PTR[{fn.off(key.rows(p))} + i], "
                   f"PTR[{fn.off(key.rows(p))} + i + 1]):")
        fn.emit(3, f"j = PRE[{fn.off(key.index(p))} + q]")
        for s in sorted(expr.free_symbols - post_syms, key=lambda s: s.name):
            if s.name in loads:
                fn.emit(3, loads[s.name])
        fn.emit(3, f"acc += {KernelPrinter(names, lowered.stream(p)).doprint(expr)}")
        fn.emit(2, f"I[{fn.off(key.input(p.post, _target(p)))} + i] += acc")


class HoistedCurrent:
    """Factors of the current that depend only on the presynaptic unit and cost more than a
    load (e.g. tanh(pre.x)) computed once per presynaptic unit, then the CSR loop."""
    name = "presynaptic hoisting"

    @staticmethod
    def applies(p):
        return bool(_costly_pre_factors(_current_expr(p)))

    @staticmethod
    def emit(fn, lowered, p):
        expr = _current_expr(p)
        names, loads = cg._edge_names(fn, p, p.pre, p.post, "j", "i", "q")
        costly = _costly_pre_factors(expr)
        factor = sp.Mul(*costly)
        buf = f"_pre_{p.name}"
        fn.emit(1, f"{buf} = np.empty({fn.off(key.size(p.pre))})")
        fn.emit(1, f"for j in range({fn.off(key.size(p.pre))}):")
        for s in sorted(factor.free_symbols, key=lambda s: s.name):
            fn.emit(2, loads[s.name])
        fn.emit(2, f"{buf}[j] = {KernelPrinter(names, lowered.stream(p)).doprint(factor)}")
        hoisted = sp.Symbol(f"{buf}[j]", real=True)
        names[hoisted.name] = hoisted.name
        rest = sp.Mul(*[f for f in sp.Mul.make_args(expr) if f not in costly]) * hoisted
        PlainCurrent.emit(fn, lowered, p, rest, names)


CURRENTS = (DenseCurrent, HoistedCurrent, PlainCurrent)


# ---- per-step rules -----------------------------------------------------------------------

class SeparableRule:
    """Traces that are sums of f(pre) g(post) products: per-step factors buffered, summed as
    matrix products once per chunk of steps."""
    name = "separable traces"

    @staticmethod
    def applies(p):
        return bool(separable.plan(p))

    @staticmethod
    def setup(fn, lowered, p):
        separable.emit_setup(fn, p, separable.plan(p))

    @staticmethod
    def emit(fn, lowered, p):
        separable.emit_record(fn, lowered, p, separable.plan(p), lowered.stream(p))

    @staticmethod
    def flush(fn, p, depth):
        separable.emit_flush(fn, p, separable.plan(p), depth)


class GatedRule:
    """Rows whose postsynaptic factor is 0 this step are skipped."""
    name = "gated rows"

    @staticmethod
    def applies(p):
        return gating.plan(p) is not None

    @staticmethod
    def setup(fn, lowered, p):
        gating.emit_setup(fn, p)

    @staticmethod
    def emit(fn, lowered, p):
        gating.emit(fn, p, lowered.stream(p))


class PlainRule:
    """Every synapse, every step."""
    name = "plain loop"

    @staticmethod
    def applies(p):
        return True

    @staticmethod
    def setup(fn, lowered, p):
        pass

    @staticmethod
    def emit(fn, lowered, p):
        rule_loop(fn, lowered, p, p.rule_step)


RULES = (SeparableRule, GatedRule, PlainRule)


@dataclass(frozen=True)
class Choice:
    """What a projection's code will be: a current strategy and a per-step rule strategy
    (None where it has no current, or no per-step rule)."""
    current: object
    rule: object


def _first(strategies, p):
    return next(s for s in strategies if s.applies(p))


def plan(lowered):
    """{projection index: Choice}, decided before any code is emitted."""
    out = {}
    for p in lowered.projections:
        current = _first(CURRENTS, p) if p.current is not None else None
        rule = _first(RULES, p) if p.rule_step else None
        out[p.index] = Choice(current, rule)
    return out


def describe(lowered, choices):
    """One row per projection: its edges, and the strategies chosen (for Simulator.plan)."""
    return [dict(projection=p.name, edges=p.label,
                 current=choices[p.index].current.name if choices[p.index].current else None,
                 rule=choices[p.index].rule.name if choices[p.index].rule else None)
            for p in lowered.projections]
