"""Printing sympy expressions as Numba-friendly Python, with the symbol names of a context."""
from __future__ import annotations

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from circuitdsl.equations import RandomFunction


class KernelPrinter(PythonCodePrinter):
    """Prints symbols through a name map; random functions draw from stream `stream`.
    order="none" prints sums and products in the order of their arguments (an integrator's
    unevaluated expressions, compiler/integrators.py, keep the kernel's order of operations)."""

    def __init__(self, names, stream="0", order=None):
        super().__init__({"fully_qualified_modules": True, "order": order})
        self.names, self.stream = names, stream

    def _print_Symbol(self, expr):
        try:
            return self.names[expr.name]
        except KeyError:
            raise KeyError(f"no value for '{expr.name}' in this context") from None

    def _print_Float(self, expr):
        return repr(float(expr))

    def _print_Function(self, expr):
        if isinstance(expr, RandomFunction):
            args = ", ".join(self._print(a) for a in expr.args)
            sep = ", " if args else ""
            return f"rng_{type(expr).__name__}(RNG, {self.stream}{sep}{args})"
        return super()._print_Function(expr)

    # exp, log and tanh are printed as _exp, _log, _tanh: the module header binds them to
    # libm's or to the vectorisable versions of compiler/fastmath.py (statements.header).
    def _print_exp(self, expr):
        return f"_exp({self._print(expr.args[0])})"

    def _print_log(self, expr):
        if len(expr.args) != 1:
            return super()._print_log(expr)
        return f"_log({self._print(expr.args[0])})"

    def _print_tanh(self, expr):
        return f"_tanh({self._print(expr.args[0])})"

    def _print_Min(self, expr):
        args = [self._print(a) for a in expr.args]
        out = args[0]
        for a in args[1:]:
            out = f"min({out}, {a})"
        return out

    def _print_Max(self, expr):
        args = [self._print(a) for a in expr.args]
        out = args[0]
        for a in args[1:]:
            out = f"max({out}, {a})"
        return out

    # Both sides are always evaluated (no short-circuit), so the number of random draws in a
    # condition never depends on the order sympy puts its arguments in.
    def _print_And(self, expr):
        return "(" + " & ".join(f"({self._print(a)})" for a in expr.args) + ")"

    def _print_Or(self, expr):
        return "(" + " | ".join(f"({self._print(a)})" for a in expr.args) + ")"

    def _print_BooleanTrue(self, expr):
        return "True"

    def _print_BooleanFalse(self, expr):
        return "False"


class GradientPrinter(KernelPrinter):
    """KernelPrinter for the gradient kernels (error_model='numpy'), where x**(-n) is printed
    1/x**n. Numba inverts x**(-n) in a helper compiled with Python's error model, so it raises
    at x = 0 where the kernel's own divisions give inf; and common subexpressions of a
    Piecewise are computed before the branch is chosen (exponential Euler's 1/A**2 at A = 0,
    compiler/integrators.py). The value is the same: both multiply out x**n the same way and
    then divide 1.0 by it."""

    def _print_Pow(self, expr, rational=False):
        if expr.exp.is_Integer and expr.exp < -1:
            return f"1/{self._print(sp.Pow(expr.base, -expr.exp))}"
        return super()._print_Pow(expr, rational=rational)


def _split_exp(e):
    """exp(c + u) -> exp(c) * exp(u) for a numeric c, so exponentials that differ only by a
    constant (HH rate functions: exp(-V/10 - 3.4), exp(-V/10 - 1.4)) share one exp()."""
    const, rest = e.args[0].as_coeff_Add()
    if const == 0 or rest == 0:
        return e
    return sp.Float(float(sp.exp(const))) * sp.exp(rest)


def print_cse(exprs, names, stream="0", prefix="_c", printer_class=KernelPrinter):
    """Common subexpressions of `exprs` as assignment lines, then the printed results."""
    has_random = any(e.atoms(RandomFunction) for e in exprs)
    if has_random or not exprs:
        # Random draws must not be merged or reordered.
        printer = printer_class(names, stream)
        return [], [printer.doprint(e) for e in exprs]
    exprs = [e.replace(lambda x: isinstance(x, sp.exp), _split_exp) for e in exprs]
    symbols = sp.numbered_symbols(prefix)
    repl, reduced = sp.cse(exprs, symbols=symbols, order="none")
    local = dict(names)
    lines = []
    for sym, sub in repl:
        local[sym.name] = sym.name
        lines.append(f"{sym.name} = {printer_class(local, stream).doprint(sub)}")
    printer = printer_class(local, stream)
    return lines, [printer.doprint(e) for e in reduced]
