"""Integrators: one symbolic definition per method, registered by name, shared by every consumer.

An integrator turns a model's right-hand sides {x: f_x(states, params, inputs, t)} into one
step of a discrete update (`Update`): an ordered list of `Stage`s of assignments whose targets
are `Value` symbols (stage derivatives such as RK4's k0..k3, intermediate states, the new
state of each variable). Two consumers read the same object:

- the simulation kernel prints the stages in order (`statements._emit_scheme`);
- the gradient path substitutes them into one closed form per state (`Update.closed_form`,
  used by `bptt_source.discrete_update`), which sympy differentiates.

Expressions are written with unevaluated sums and products (`_add`, `_mul`, `_div`) in the
order the kernel evaluates them, so the printed arithmetic is exactly the one the kernel has
always done (e.g. RK4's `dt/6*(...)` is a division, not a product with 1/6 rounded first);
`closed_form` evaluates them for sympy.

To add an integrator, write one function below decorated with
`@INTEGRATORS.register(name, order=...)` (it gets an `Rhs` and returns an `Update`) and test
it in tests/compiler/test_integrators.py; see docs/integrators.md.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from circuitdsl.errors import ValidationError


class Value(sp.Symbol):
    """A quantity an integrator computes (a stage derivative, an intermediate state, the new
    state). A class of its own, so it never equals a model symbol of the same name (in
    `xreplace`, in a printer's name map); it prints as its name, the kernel's local variable."""

    def _pythoncode(self, printer):   # the print hook of sympy's Python printers
        return self.name


def _add(*terms):
    return sp.Add(*terms, evaluate=False)


def _mul(*factors):
    return sp.Mul(*factors, evaluate=False)


def _div(a, b):
    """a / b printed and computed as one division."""
    return sp.Mul(a, sp.Pow(b, -1, evaluate=False), evaluate=False)


def _evaluated(expr):
    """expr with its unevaluated sums and products evaluated, for sympy to work on."""
    if not expr.args:
        return expr
    return expr.func(*[_evaluated(a) for a in expr.args])


@dataclass(frozen=True)
class Stage:
    """Assignments computed together: each target gets its expression with the symbols of `at`
    replaced (the right-hand sides read at a stage point: states -> intermediate values,
    t -> t + c*dt). The expressions read model symbols and earlier stages' values, never a
    target of their own stage. With a `cse_prefix` the kernel computes their common
    subexpressions once (named with that prefix); without, each is printed as written."""
    assignments: tuple            # ((Value, expression), ...)
    at: tuple = ()                # ((model Symbol, expression), ...)
    cse_prefix: str | None = None

    def __post_init__(self):
        own = {target for target, _ in self.assignments}
        for target, expr in self.assignments:
            if expr.free_symbols & own:
                read = ", ".join(sorted(s.name for s in expr.free_symbols & own))
                raise ValueError(f"integrator stage: '{target}' reads {read}, computed in the "
                                 "same stage")


@dataclass(frozen=True)
class Update:
    """One step: the stages in order, then {state: the Value holding its new value}."""
    stages: tuple
    new: dict

    def closed_form(self):
        """{state: its value after the step as one expression of the model's symbols}."""
        env = {}
        for stage in self.stages:
            at = {s: _evaluated(v).xreplace(env) for s, v in stage.at}
            subs = {**env, **at}   # simultaneous: a substituted value is not substituted again
            for target, expr in stage.assignments:
                env[target] = _evaluated(expr).xreplace(subs)
        return {x: _evaluated(v).xreplace(env) for x, v in self.new.items()}


class Rhs:
    """What an integrator is given: the right-hand sides, their symbols, and helpers."""

    def __init__(self, odes):
        self.odes = dict(odes)                    # state -> sympy expression
        self.states = list(self.odes)
        self.x = {x: sp.Symbol(x, real=True) for x in self.states}
        self.t, self.dt = sp.Symbol("t", real=True), sp.Symbol("dt", real=True)

    def values(self, label):
        """{state: Value named label_state}, e.g. k0_V."""
        return {x: Value(f"{label}_{x}", real=True) for x in self.states}

    def evaluate(self, label, at=None, cse_prefix="_c"):
        """The right-hand sides read at a point ({symbol: value}, e.g. states -> intermediate
        values, t -> t + dt/2): (Stage, {state: Value named label_state})."""
        k = self.values(label)
        stage = Stage(tuple((k[x], self.odes[x]) for x in self.states),
                      tuple((at or {}).items()), cse_prefix)
        return stage, k

    def assign(self, label, exprs):
        """Values label_state = exprs[state], each printed as written: (Stage, {state: Value})."""
        v = self.values(label)
        return Stage(tuple((v[x], exprs[x]) for x in self.states)), v


@dataclass(frozen=True)
class Integrator:
    name: str
    order: int          # order of accuracy of one step (global error ~ dt**order)
    build: object       # Rhs -> Update
    doc: str

    def update(self, odes):
        """The Update for {state: right-hand side}."""
        if not odes:
            return Update((), {})
        return self.build(Rhs(odes))


class Registry:
    """Integrators by name. `INTEGRATORS` below holds the built-ins."""

    def __init__(self):
        self._by_name = {}

    def register(self, name, order):
        """Decorator: register `build(rhs) -> Update` as integrator `name`."""
        def add(build):
            if name in self._by_name:
                raise ValueError(f"integrator '{name}' is already registered")
            self._by_name[name] = Integrator(name, order, build, (build.__doc__ or "").strip())
            return build
        return add

    def names(self):
        return tuple(sorted(self._by_name))

    def __contains__(self, name):
        return name in self._by_name

    def __iter__(self):
        return iter(self.names())

    def get(self, name, owner):
        """The integrator called `name`; `owner` (e.g. "model 'LIF'") names who asked."""
        if name not in self._by_name:
            raise ValidationError(f"{owner}: unknown integrator {name!r}; registered "
                                  f"integrators: {', '.join(self.names())}")
        return self._by_name[name]


INTEGRATORS = Registry()

# Below: the built-in integrators. Each is its whole definition; the kernel prints it and the
# gradient path differentiates it.


@INTEGRATORS.register("euler", order=1)
def euler(rhs):
    """Forward Euler: x + dt*f(x, t). First order; one evaluation of the right-hand sides."""
    k0_stage, k0 = rhs.evaluate("k0")
    step, new = rhs.assign("n", {x: _add(rhs.x[x], _mul(rhs.dt, k0[x])) for x in rhs.states})
    return Update((k0_stage, step), new)


def _explicit_stage(rhs, s, c, base):
    """The point y = x + c*dt*k_base, t + c*dt of stage s, and the right-hand sides there."""
    cdt = rhs.dt if c == 1 else _mul(c, rhs.dt)
    y_stage, y = rhs.assign(f"y{s}", {x: _add(rhs.x[x], _mul(cdt, base[x])) for x in rhs.states})
    at = {rhs.x[x]: y[x] for x in rhs.states}
    at[rhs.t] = _add(rhs.t, cdt)
    k_stage, k = rhs.evaluate(f"k{s}", at, cse_prefix=f"_r{s}_")
    return [y_stage, k_stage], k


@INTEGRATORS.register("heun", order=2)
def heun(rhs):
    """Heun's method (explicit trapezoid): k0 = f(x, t), k1 = f(x + dt*k0, t + dt),
    x + dt/2*(k0 + k1). Second order; two evaluations of the right-hand sides."""
    k0_stage, k0 = rhs.evaluate("k0", cse_prefix="_r0_")
    stages, k1 = _explicit_stage(rhs, 1, 1, k0)
    step, new = rhs.assign("n", {x: _add(rhs.x[x], _mul(_div(rhs.dt, 2), _add(k0[x], k1[x])))
                                 for x in rhs.states})
    return Update((k0_stage, *stages, step), new)


@INTEGRATORS.register("rk4", order=4)
def rk4(rhs):
    """Classical Runge-Kutta: k0 = f(x, t), k1 = f(x + dt/2*k0, t + dt/2),
    k2 = f(x + dt/2*k1, t + dt/2), k3 = f(x + dt*k2, t + dt), x + dt/6*(k0 + 2k1 + 2k2 + k3).
    Fourth order; four evaluations of the right-hand sides."""
    half = sp.Rational(1, 2)
    k0_stage, k0 = rhs.evaluate("k0", cse_prefix="_r0_")
    stages, ks = [k0_stage], [k0]
    for s, c in ((1, half), (2, half), (3, 1)):
        more, k = _explicit_stage(rhs, s, c, ks[-1])
        stages += more
        ks.append(k)
    k0, k1, k2, k3 = ks
    step, new = rhs.assign("n", {x: _add(rhs.x[x], _mul(_div(rhs.dt, 6), _add(
        k0[x], _mul(2, k1[x]), _mul(2, k2[x]), k3[x]))) for x in rhs.states})
    return Update((*stages, step), new)


#: |A| below which exponential Euler takes the Euler step (at A = 0 the closed form is 0/0)
EXP_EULER_SMALL_A = 1e-12


def exponential_step(x, A, B, dt, E=None):
    """x' = A x + B over dt with A, B held: x_inf + (x - x_inf)*exp(A dt), x_inf = -B/A, and
    for |A| < 1e-12 the Euler step x + dt*(A x + B), its limit to first order in A dt. One
    Piecewise, so the kernel and the gradient path take the same branch at A = 0 (the kernel
    evaluates only the branch taken, so -B/A is never computed there) and sympy
    differentiates each branch (finite at A = 0). x - x_inf is written x + B/A: the same
    floating-point value, negation being exact. `E`, if given, is a Value holding
    exp(A*dt) (computed once per kernel call where A depends on constant parameters only)."""
    x_inf = _mul(-1, _div(B, A))
    decay = _mul(_add(x, _div(B, A)), sp.exp(_mul(A, dt)) if E is None else E)
    return sp.Piecewise((_add(x, _mul(dt, _add(_mul(A, x), B))), sp.Abs(A) < EXP_EULER_SMALL_A),
                        (_add(x_inf, decay), True))


@INTEGRATORS.register("exponential_euler", order=1)
def exponential_euler(rhs):
    """Exponential Euler: for x' = A x + B with A, B free of x, the exact step with A, B held
    over dt (`exponential_step`); Euler for a state whose equation is not linear in it. First
    order in general, exact for linear equations with constant coefficients."""
    coeffs, decays, new = [], [], {}
    for x in rhs.states:
        sym, f = rhs.x[x], rhs.odes[x]
        a = sp.diff(f, sym)
        if a != 0 and sym not in a.free_symbols:
            A, B = Value(f"_A_{x}", real=True), Value(f"_B_{x}", real=True)
            E = Value(f"_E_{x}", real=True)       # exp(A dt), a value of its own so that a
            coeffs += [(A, a), (B, f.xreplace({sym: 0}))]     # constant A's is computed once
            decays.append((E, sp.exp(_mul(A, rhs.dt))))
            new[x] = exponential_step(sym, A, B, rhs.dt, E)
        else:
            k = Value(f"k0_{x}", real=True)
            coeffs.append((k, f))
            new[x] = _add(sym, _mul(rhs.dt, k))
    step, values = rhs.assign("n", new)
    stages = (Stage(tuple(coeffs), (), "_c"),) + ((Stage(tuple(decays)),) if decays else ()) + \
        (step,)
    return Update(stages, values)
