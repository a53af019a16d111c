"""The integrator registry (circuitdsl/compiler/integrators.py): each integrator's symbolic
form against the exact one-step formula, exponential Euler at A = 0, the printed kernel lines
against the closed form the gradient path differentiates, names and errors (all without
compiling Numba); then, compiled, the simulator and the BPTT forward for every integrator."""
import math
from types import SimpleNamespace

import numpy as np
import pytest
import sympy as sp

from circuitdsl.block import Population
from circuitdsl.circuit import Circuit
from circuitdsl.compiler import statements as cg
from circuitdsl.compiler.backward import GradientProgram
from circuitdsl.compiler.integrators import (INTEGRATORS, Registry, Stage, Update, Value,
                                             exponential_euler)
from circuitdsl.compiler.lower import lower
from circuitdsl.compiler.printer import GradientPrinter, KernelPrinter, print_cse
from circuitdsl.errors import ValidationError
from circuitdsl.model import Model, Synapse
from circuitdsl.simulator import Simulator

x, a, b, dt, g = (sp.Symbol(n, real=True) for n in ("x", "a", "b", "dt", "g"))
LINEAR = {"x": a * x + b}


def step(name, odes=LINEAR):
    return INTEGRATORS.get(name, "test").update(odes).closed_form()


def exact_linear_step():
    return -b / a + (x + b / a) * sp.exp(a * dt)


# ---- symbolic forms ------------------------------------------------------------------------

def test_explicit_methods_are_the_taylor_polynomial_of_their_order():
    # For x' = a x + b an explicit Runge-Kutta method of order p with p stages (p <= 4) gives
    # x + sum_{j=1..p} dt^j a^(j-1) (a x + b) / j!, the exact step's Taylor polynomial.
    f = a * x + b
    for name, p in (("euler", 1), ("heun", 2), ("rk4", 4)):
        taylor = x + sum(dt**j * a**(j - 1) * f / sp.factorial(j) for j in range(1, p + 1))
        assert sp.expand(step(name)["x"] - taylor) == 0, name
        assert INTEGRATORS.get(name, "test").order == p


@pytest.mark.parametrize("name", INTEGRATORS.names())
def test_every_integrator_has_the_order_it_declares(name):
    # numbers for a, b, x so the exact step's series is quick; dt stays a symbol
    vals = {a: sp.Rational(-7, 10), b: sp.Rational(3, 10), x: sp.Rational(6, 5)}
    p = INTEGRATORS.get(name, "test").order
    err = (step(name)["x"] - exact_linear_step()).xreplace(vals)
    series = sp.series(err, dt, 0, p + 1).removeO()
    assert sp.simplify(series) == 0, (name, series)


def test_exponential_euler_is_exact_for_linear_equations():
    new = step("exponential_euler")["x"]
    assert isinstance(new, sp.Piecewise)
    exact_branch = new.args[1].expr
    assert sp.simplify(exact_branch - exact_linear_step()) == 0
    assert new.args[0].cond == (sp.Abs(a) < 1e-12)


def test_exponential_euler_at_a_zero_is_euler_and_its_derivative_is_finite():
    odes = {"x": -g * x + b}                # dx/dt = -g x + I with g = 0
    new = step("exponential_euler", odes)["x"]
    at_zero = new.subs(g, 0)
    assert sp.expand(at_zero - (x + dt * b)) == 0
    for sym in (g, x, b):
        d = sp.diff(new, sym).subs(g, 0)
        assert d.is_finite and not d.has(sp.zoo, sp.nan), (sym, d)
    assert sp.expand(sp.diff(new, g).subs(g, 0) + dt * x) == 0    # d/dg of x + dt(-g x + b)
    f = sp.lambdify((g, x, b, dt), new, "math")     # a ternary: only the branch taken
    assert f(0.0, 0.3, 0.5, 0.1) == 0.3 + 0.1 * 0.5                # the kernel's Euler branch
    assert math.isclose(f(2.0, 0.3, 0.5, 0.1), 0.25 + 0.05 * math.exp(-0.2), rel_tol=1e-15)


def test_exponential_euler_falls_back_to_euler_for_nonlinear_states():
    new = step("exponential_euler", {"x": -x**3 + b})["x"]
    assert sp.expand(new - (x + dt * (-x**3 + b))) == 0


def test_states_are_integrated_together():
    # x' = y, y' = -x: RK4's stages read both states (a rotation by dt, to fourth order)
    y = sp.Symbol("y", real=True)
    new = step("rk4", {"x": y, "y": -x})
    vals = {x: 1.0, y: 0.0, dt: 0.1}
    assert abs(float(new["x"].subs(vals)) - math.cos(0.1)) < 1e-7
    assert abs(float(new["y"].subs(vals)) + math.sin(0.1)) < 1e-7
    assert abs(float(step("euler", {"x": y, "y": -x})["y"].subs(vals)) + 0.1) < 1e-15


# ---- the printed kernel lines against the closed form ----------------------------------------

MIXED = Model("Mixed", """
dx/dt = -g*x + I_ext + t/10
dy/dt = x - y**3
""", states=dict(x=0.5, y=0.2), params=dict(g=1.0, I_ext=0.5))


def kernel_lines(model, name):
    fn = SimpleNamespace(body=[])
    fn.emit = lambda depth, line: fn.body.append(line)
    names = {"t": "t", "dt": "dt"}
    names.update({s: f"s_{s}" for s in model.states})
    names.update({q: f"p_{q}" for q in model.params})
    group = SimpleNamespace(model=model, integrator=name)
    return fn.body, cg._emit_scheme(fn, 0, group, names, "0")


@pytest.mark.parametrize("name", INTEGRATORS.names())
def test_kernel_lines_compute_the_closed_form_the_gradient_path_uses(name):
    lines, new = kernel_lines(MIXED, name)
    assert [s for s, _ in new] == ["x", "y"]
    closed = INTEGRATORS.get(name, "test").update(
        {s: MIXED.expand(e) for s, e in MIXED.ode.items()}).closed_form()
    syms = [sp.Symbol(n, real=True) for n in ("x", "y", "g", "I_ext", "t", "dt")]
    for gval in (0.0, 1e-13, 0.7):            # A = 0, |A| < 1e-12 and a plain decay
        vals = dict(s_x=0.4, s_y=-0.3, p_g=gval, p_I_ext=0.5, t=1.5, dt=0.1)
        # exp/log/tanh as the module header binds them (math.exp, or _exp from the header)
        env = dict(vals, math=math, _exp=math.exp, _log=math.log, _tanh=math.tanh)
        exec("\n".join(lines), env)
        for s, local in new:
            want = sp.lambdify(syms, closed[s], "math")(0.4, -0.3, gval, 0.5, 1.5, 0.1)
            assert math.isfinite(env[local])
            assert math.isclose(env[local], want, rel_tol=1e-14, abs_tol=1e-15), (s, gval)


def test_kernel_prints_the_old_order_of_operations():
    # rk4's last line divides dt by 6 (not a product with a rounded 1/6); exp Euler's branch
    lines, _ = kernel_lines(MIXED, "rk4")
    assert "n_x = s_x + (dt/6)*(k0_x + 2*k1_x + 2*k2_x + k3_x)" in lines
    assert "y1_x = s_x + ((1/2)*dt)*k0_x" in lines and "y3_x = s_x + dt*k2_x" in lines
    lines, _ = kernel_lines(MIXED, "exponential_euler")
    lines = [ln.replace("math.exp(", "_exp(") for ln in lines]   # either spelling of exp
    # exp(A dt) is a value of its own (computed once per call where A is constant)
    assert "_E_x = _exp(_A_x*dt)" in lines
    assert ("n_x = ((s_x + dt*(_A_x*s_x + _B_x)) if (abs(_A_x) < 1e-12) else "
            "(-_B_x/_A_x + (s_x + _B_x/_A_x)*_E_x))") in lines
    assert "n_y = s_y + dt*k0_y" in lines


# ---- names, errors and the registry -----------------------------------------------------------

def test_unknown_integrator_names_the_model_and_the_registered_ones():
    with pytest.raises(ValidationError) as err:
        Model("Leaky", "dx/dt = -x", states=dict(x=1.0), integrator="rk5")
    msg = str(err.value)
    assert msg == ("model 'Leaky': unknown integrator 'rk5'; registered integrators: "
                   + ", ".join(INTEGRATORS.names()))
    assert {"euler", "exponential_euler", "heun", "rk4"} <= set(INTEGRATORS.names())
    with pytest.raises(ValidationError, match="model 'Mixed': unknown integrator 'bogus'"):
        kernel_lines(MIXED, "bogus")


def test_a_model_names_its_integrator_and_a_population_overrides_it():
    m = Model("Pref", "dx/dt = -x", states=dict(x=1.0), integrator="heun")
    assert m.integrator == "heun"
    assert Model("Plain", "dx/dt = -x", states=dict(x=1.0)).integrator is None
    c = Circuit("pref")
    c.add(Population("a", m, 2), Population("b", m, 3, integrator="rk4"))
    groups = lower(c.build(0), 0.1, "euler", 0).groups
    assert sorted((grp.integrator, grp.N) for grp in groups) == [("heun", 2), ("rk4", 3)]


def test_an_integrator_is_one_registered_function():
    reg = Registry()

    @reg.register("midpoint", order=2)
    def midpoint(rhs):
        """Explicit midpoint: x + dt*f(x + dt/2*f(x))."""
        k0_stage, k0 = rhs.evaluate("k0")
        half = {rhs.x[s]: rhs.x[s] + rhs.dt / 2 * k0[s] for s in rhs.states}
        k1_stage, k1 = rhs.evaluate("k1", half, cse_prefix="_m1_")
        new_stage, new = rhs.assign("n", {s: rhs.x[s] + rhs.dt * k1[s] for s in rhs.states})
        return Update((k0_stage, k1_stage, new_stage), new)

    assert reg.names() == ("midpoint",) and "midpoint" not in INTEGRATORS
    new = reg.get("midpoint", "test").update(LINEAR).closed_form()["x"]
    assert sp.expand(new - (x + dt * (a * x + b) + dt**2 / 2 * a * (a * x + b))) == 0
    assert reg.get("midpoint", "test").doc.startswith("Explicit midpoint")
    with pytest.raises(ValueError, match="integrator 'midpoint' is already registered"):
        reg.register("midpoint", order=2)(midpoint)
    with pytest.raises(ValidationError, match="registered integrators: midpoint$"):
        reg.get("rk4", "model 'M'")
    with pytest.raises(ValueError, match="integrator 'exponential_euler' is already registered"):
        INTEGRATORS.register("exponential_euler", order=1)(exponential_euler)


def test_a_stage_cannot_read_its_own_values():
    k = Value("k0_x", real=True)
    with pytest.raises(ValueError, match="'k1_x' reads k0_x, computed in the same stage"):
        Stage(((k, x), (Value("k1_x", real=True), 2 * k)))
    assert Value("x", real=True) != x        # never confused with the model's symbol


# ---- compiled ---------------------------------------------------------------------------------

def test_gradient_printer_divides_where_numba_negative_powers_raise():
    # The BPTT kernels compute exponential Euler's other branch (1/A**2) before choosing it
    p = sp.Symbol("p", real=True)
    names = {"p": "p_p"}
    assert KernelPrinter(names).doprint(p**-2) == "p_p**(-2)"
    assert GradientPrinter(names).doprint(p**-2) == "1/p_p**2"
    assert GradientPrinter(names).doprint(3 * p**-3 + p**-1) == "1/p_p + 3/p_p**3"
    lines, outs = print_cse([p**-2 + sp.exp(p), 2 * p**-2], names, printer_class=GradientPrinter)
    assert lines == ["_c0 = 1/p_p**2"]
    assert [o.replace("math.exp(", "_exp(") for o in outs] == ["_c0 + _exp(p_p)", "2*_c0"]
    from numba import njit
    power = njit(error_model="numpy")(lambda v: v**(-3))
    division = njit(error_model="numpy")(lambda v: 1/v**3)
    for v in (0.37, 1.7, 3e-5, -123.4):
        assert power(v) == division(v)          # the same value, bit for bit
    assert division(0.0) == math.inf
    with pytest.raises(ZeroDivisionError):
        power(0.0)


@pytest.mark.parametrize("name", INTEGRATORS.names())
def test_simulator_and_bptt_forward_agree_for_every_integrator(name):
    model = Model("Decay", """
    dx/dt = -g*x + I_ext + I
    dy/dt = x - y**3
    r = tanh(x)
    """, states=dict(x=0.5, y=0.2), params=dict(g=1.0, I_ext=0.5), inputs=("I",))
    c = Circuit("agree")
    # unit 0 has g = 0: A = 0 for exponential Euler
    rate = Synapse("rate", current="I += w*pre.r")
    c.add(Population("a", model, 3, params=dict(g=[0.0, 0.5, 2.0]),
                     init=dict(x=[0.5, -0.4, 0.9]), synapse=rate))
    c.connect("a", "a", weight=lambda rng, n: rng.normal(size=n))
    T, h = 6, 0.1
    rec = Simulator(c, dt=h, seed=4, method=name).run(T * h, record=["a.x", "a.y"])
    prog = GradientProgram(c, h, inputs=[], readout=("a", "x"), trainable=["a.g", "a -> a"],
                           seed=4, method=name, lag="all")
    Y = prog.forward(np.zeros((T, 1, 0)))
    assert rec["a.x"].shape == (T, 3) and np.isfinite(Y).all()
    assert np.abs(rec["a.x"][-1] - rec["a.x"][0]).min() > 1e-3     # the states did move
    np.testing.assert_allclose(Y[:, 0], rec["a.x"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(prog.states("a", "y")[:, 0], rec["a.y"], rtol=0, atol=1e-12)
    grads = prog.backward(np.ones_like(Y))
    names = [p.name for p in prog.parameters]
    dg = grads[names.index("a.g")]
    assert all(np.isfinite(gr).all() for gr in grads)
    assert dg.shape == (3,) and abs(dg[0]) > 1e-6                 # finite and alive at g = 0
