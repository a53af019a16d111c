"""Equation text -> sympy, with errors that point at the character at fault.

One small grammar serves models, synapses, events and learning rules:

    dX/dt = expr          a differential equation for state X
    f(a, b) = expr        a helper function usable in later lines
    name = expr           a derived quantity (in a model) or an assignment (in a statement block)
    name += expr          an accumulating assignment (statement blocks only)

`pre.X` and `post.X` name variables of the two ends of a synapse.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

import sympy as sp

from circuitdsl.errors import ValidationError

# Names every expression may use, mapped to sympy objects.
_sigmoid = sp.Lambda(sp.Symbol("_u"), 1 / (1 + sp.exp(-sp.Symbol("_u"))))


def _where(cond, a, b):
    return sp.Piecewise((a, cond), (b, True))


def _heaviside(x):
    # Θ(0) = 0: a spike needs the threshold to be strictly exceeded.
    return sp.Piecewise((1, x > 0), (0, True))


def _clip(x, lo, hi):
    return sp.Min(sp.Max(x, lo), hi)


class RandomFunction(sp.Function):
    """Marker base for functions that draw from the kernel's random streams."""


class rand(RandomFunction):  # noqa: N801 - the user's spelling
    nargs = 0


class randn(RandomFunction):  # noqa: N801
    nargs = 0


class poisson(RandomFunction):  # noqa: N801
    nargs = 1


class uniform(RandomFunction):  # noqa: N801
    nargs = 2


BUILTINS = {
    "exp": (sp.exp, 1), "log": (sp.log, 1), "sqrt": (sp.sqrt, 1), "tanh": (sp.tanh, 1),
    "sin": (sp.sin, 1), "cos": (sp.cos, 1), "abs": (sp.Abs, 1), "sigmoid": (_sigmoid, 1),
    "min": (sp.Min, 2), "max": (sp.Max, 2), "where": (_where, 3), "heaviside": (_heaviside, 1),
    "clip": (_clip, 3), "rand": (rand, 0), "randn": (randn, 0), "poisson": (poisson, 1),
    "uniform": (uniform, 2),
}
CONSTANTS = {"pi": sp.pi, "eps": sp.Float(2.220446049250313e-16)}


class EquationError(ValidationError):
    """A fault in equation text; the message shows the line and a caret under the fault."""

    def __init__(self, owner, line_no, line, col, width, message):
        self.owner, self.line_no, self.line, self.col = owner, line_no, line, col
        self.reason = message
        caret = " " * col + "^" * max(1, width)
        where = f"{owner}, line {line_no}" if line_no else owner
        super().__init__(f"{where}: {message}\n    {line}\n    {caret}")


@dataclass
class Line:
    """One parsed line of equation text."""
    kind: str           # 'ode', 'function', 'assign', 'augassign'
    target: str         # state, function, derived or assigned name ('pre.X' allowed in statements)
    args: tuple         # function argument names
    expr_text: str
    line_no: int
    text: str           # the whole original line, for error messages
    expr_col: int       # column where expr_text starts in `text`
    op: str = "="


_ODE = re.compile(r"^d\s*([A-Za-z_]\w*)\s*/\s*dt$")
_FUNC = re.compile(r"^([A-Za-z_]\w*)\s*\(\s*([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)?\s*\)$")
_NAME = re.compile(r"^((?:pre\.|post\.)?[A-Za-z_]\w*)$")


def _split_assignment(text):
    """Index and operator of the assignment in `text`, ignoring ==, <=, >= and !=."""
    depth = 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "=" and depth == 0:
            prev = text[i - 1] if i else ""
            nxt = text[i + 1] if i + 1 < len(text) else ""
            if nxt == "=" or prev in "=<>!":
                continue
            if prev in "+-*":
                return i - 1, prev + "="
            return i, "="
    return None, None


def split_lines(owner, text, allow_statements=False):
    """Parse equation text into Line records (no name checks yet)."""
    lines = []
    for line_no, raw in enumerate(text.splitlines(), start=1):
        body = raw.split("#", 1)[0].rstrip()
        if not body.strip():
            continue
        pos, op = _split_assignment(body)
        if pos is None:
            raise EquationError(owner, line_no, raw, len(body) - len(body.lstrip()),
                                len(body.strip()), "expected 'name = expression' or 'dX/dt = expression'")
        lhs = body[:pos].strip()
        expr_start = pos + len(op)
        expr_text = body[expr_start:]
        expr_col = expr_start + len(expr_text) - len(expr_text.lstrip())
        expr_text = expr_text.strip()
        lhs_col = len(body) - len(body.lstrip())
        if not expr_text:
            raise EquationError(owner, line_no, raw, expr_start, 1, "missing expression after '='")
        if op != "=" and not allow_statements:
            raise EquationError(owner, line_no, raw, pos, len(op),
                                f"'{op}' is only allowed in statements (events, rules)")
        if m := _ODE.match(lhs):
            if op != "=":
                raise EquationError(owner, line_no, raw, pos, len(op), "a derivative is set with '='")
            lines.append(Line("ode", m.group(1), (), expr_text, line_no, raw, expr_col))
        elif m := _FUNC.match(lhs):
            args = tuple(a.strip() for a in (m.group(2) or "").split(",") if a.strip())
            lines.append(Line("function", m.group(1), args, expr_text, line_no, raw, expr_col))
        elif _NAME.match(lhs):
            kind = "assign" if op == "=" else "augassign"
            lines.append(Line(kind, lhs, (), expr_text, line_no, raw, expr_col, op))
        else:
            raise EquationError(owner, line_no, raw, lhs_col, len(lhs),
                                f"cannot assign to '{lhs}'")
    return lines


@dataclass
class Namespace:
    """The names an expression may use, and the sympy objects they stand for."""
    symbols: dict = field(default_factory=dict)     # name -> sympy Symbol
    functions: dict = field(default_factory=dict)   # name -> (callable, arity)
    prefixes: dict = field(default_factory=dict)    # 'pre'/'post' -> {var: Symbol}

    def copy(self):
        return Namespace(dict(self.symbols), dict(self.functions),
                         {k: dict(v) for k, v in self.prefixes.items()})


def _fault(owner, line, node, message):
    col = line.expr_col + node.col_offset
    width = (node.end_col_offset or node.col_offset + 1) - node.col_offset
    return EquationError(owner, line.line_no, line.text, col, width, message)


def _close_matches(name, candidates):
    import difflib
    near = [c for c in candidates if c.lower() == name.lower()] or \
        difflib.get_close_matches(name, list(candidates), n=1)
    return f" (did you mean '{near[0]}'?)" if near else ""


class _Converter(ast.NodeVisitor):
    """Walks a Python expression AST and builds the sympy expression, checking every name."""

    def __init__(self, owner, line, ns):
        self.owner, self.line, self.ns = owner, line, ns

    def fail(self, node, message):
        raise _fault(self.owner, self.line, node, message)

    def convert(self, node):
        method = getattr(self, "conv_" + type(node).__name__, None)
        if method is None:
            self.fail(node, f"'{ast.unparse(node)}' is not allowed in an equation")
        return method(node)

    def conv_Expression(self, node):
        return self.convert(node.body)

    def conv_Constant(self, node):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            self.fail(node, f"only numbers are allowed as constants, not {node.value!r}")
        return sp.Integer(node.value) if isinstance(node.value, int) else sp.Float(node.value)

    def conv_Name(self, node):
        name = node.id
        if name in self.ns.symbols:
            return self.ns.symbols[name]
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in self.ns.functions or name in BUILTINS:
            self.fail(node, f"'{name}' is a function; call it with arguments")
        if name in self.ns.prefixes:
            self.fail(node, f"'{name}' needs a variable, e.g. '{name}.V'")
        self.fail(node, f"unknown name '{name}'" + _close_matches(name, self.ns.symbols))

    def conv_Attribute(self, node):
        if not isinstance(node.value, ast.Name) or node.value.id not in self.ns.prefixes:
            allowed = " or ".join(f"'{p}.'" for p in self.ns.prefixes) or "nothing here"
            self.fail(node, f"only {allowed} may prefix a variable")
        variables = self.ns.prefixes[node.value.id]
        if node.attr not in variables:
            self.fail(node, f"'{node.value.id}' has no variable '{node.attr}'"
                      + _close_matches(node.attr, variables))
        return variables[node.attr]

    def conv_BinOp(self, node):
        a, b = self.convert(node.left), self.convert(node.right)
        ops = {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b,
               ast.Div: lambda: a / b, ast.Pow: lambda: a ** b}
        if type(node.op) not in ops:
            self.fail(node, f"operator in '{ast.unparse(node)}' is not supported")
        return ops[type(node.op)]()

    def conv_UnaryOp(self, node):
        v = self.convert(node.operand)
        if isinstance(node.op, ast.USub):
            return -v
        if isinstance(node.op, ast.UAdd):
            return v
        self.fail(node, "only unary + and - are supported")

    def conv_Compare(self, node):
        if len(node.ops) != 1:
            self.fail(node, "chain comparisons are not supported; use two")
        a, b = self.convert(node.left), self.convert(node.comparators[0])
        table = {ast.Lt: sp.StrictLessThan, ast.LtE: sp.LessThan, ast.Gt: sp.StrictGreaterThan,
                 ast.GtE: sp.GreaterThan, ast.Eq: sp.Eq, ast.NotEq: sp.Ne}
        return table[type(node.ops[0])](a, b)

    def conv_BoolOp(self, node):
        vals = [self.convert(v) for v in node.values]
        return sp.And(*vals) if isinstance(node.op, ast.And) else sp.Or(*vals)

    def conv_Call(self, node):
        if not isinstance(node.func, ast.Name):
            self.fail(node.func, "only named functions can be called")
        name = node.func.id
        if node.keywords:
            self.fail(node, f"'{name}' takes positional arguments only")
        if name in self.ns.functions:
            fn, arity = self.ns.functions[name]
        elif name in BUILTINS:
            fn, arity = BUILTINS[name]
        else:
            self.fail(node.func, f"unknown function '{name}'"
                      + _close_matches(name, list(self.ns.functions) + list(BUILTINS)))
        if len(node.args) != arity:
            self.fail(node, f"'{name}' takes {arity} argument{'s' * (arity != 1)}, "
                      f"got {len(node.args)}")
        args = [self.convert(a) for a in node.args]
        return fn(*args)


def parse_expression(owner, line, ns):
    """Convert one Line's expression to sympy using namespace `ns`."""
    try:
        tree = ast.parse(line.expr_text, mode="eval")
    except SyntaxError as err:
        col = max(0, (err.offset or 1) - 1)
        raise EquationError(owner, line.line_no, line.text, line.expr_col + col, 1,
                            f"syntax error: {err.msg}") from None
    return _Converter(owner, line, ns).convert(tree)


def parse_statements(owner, text, ns, assignable):
    """(Line, sympy expression) for each assignment in statement text, targets checked."""
    out = []
    for line in split_lines(owner, text or "", allow_statements=True):
        if line.kind not in ("assign", "augassign"):
            raise EquationError(owner, line.line_no, line.text, 0, len(line.text.strip()),
                                "only assignments are allowed here")
        parse_statement_target(owner, line, ns, assignable)
        out.append((line, parse_expression(owner, line, ns)))
    return out


def parse_statement_target(owner, line, ns, assignable):
    """Check the left side of a statement against the names that may be assigned."""
    target = line.target
    if target not in assignable:
        col = len(line.text) - len(line.text.lstrip())
        known = ", ".join(sorted(assignable)) or "nothing"
        raise EquationError(owner, line.line_no, line.text, col, len(target),
                            f"cannot assign to '{target}' here (assignable: {known})")
    return target
