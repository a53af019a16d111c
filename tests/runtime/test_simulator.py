"""Integrators, the compiled kernel against references, seeds, caching, blow-ups."""
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from circuitdsl.block import Population
from circuitdsl.blocks.neurons import HH_EXCI, LIFNeurons, RatePopulation, HHNeuronExci
from circuitdsl.circuit import Circuit
from circuitdsl.compiler.cache import KernelCache
from circuitdsl.errors import ValidationError
from circuitdsl.model import Model
from circuitdsl.simulator import SimulationError, Simulator

LEAK = Model("Leak", "dx/dt = -x/tau + I_ext", states=dict(x=1.0), params=dict(tau=10.0, I_ext=0.5))


def leak_error(method, dt):
    c = Circuit("leak")
    c.add(Population("L", LEAK, 1))
    sim = Simulator(c, dt=dt, method=method)
    rec = sim.run(20.0, record=["L.x"])
    exact = 5.0 + (1.0 - 5.0) * np.exp(-rec.t / 10.0)
    return np.max(np.abs(rec["L.x"][:, 0] - exact))


def test_exponential_euler_is_exact_for_linear_equation():
    assert leak_error("exponential_euler", 0.5) < 1e-12


def test_euler_first_order_and_rk4_fourth_order():
    e1, e2 = leak_error("euler", 0.2), leak_error("euler", 0.1)
    assert 1.9 < e1 / e2 < 2.1
    r1, r2 = leak_error("rk4", 0.2), leak_error("rk4", 0.1)
    assert 15.0 < r1 / r2 < 17.0
    assert r2 < 1e-7


def test_hh_exci_fires_12_hz_at_04():
    c = Circuit("hh")
    c.add(HHNeuronExci("E", 1, I_bg=0.4))
    rec = Simulator(c, dt=0.01).run(1000.0, record=["E.spikes_cumulative"])
    rate = rec.spike_counts("E")[0]  # spikes in 1 s = Hz
    assert abs(rate - 12) <= 0.5
    assert abs(rec["E.spikes_cumulative"][-1, 0] - 12.06) < 0.3   # one spike integrates to ~1


def test_hh_voltage_matches_solve_ivp():
    """The same equations through scipy (rtol 1e-8): the same spikes (first within 0.1 ms,
    inter-spike intervals within 1 %) over 100 ms of repetitive firing at dt = 0.005 ms, and V within 0.15 mV until 1 ms before the first spike
    (exponential Euler is first order, so spike times drift slowly)."""
    c = Circuit("hh")
    c.add(HHNeuronExci("E", 1, I_bg=1.0))
    sim = Simulator(c, dt=0.005)
    rec = sim.run(100.0, record=["E.V"])
    m = HH_EXCI
    names = list(m.states)
    import sympy as sp
    syms = [sp.Symbol(n, real=True) for n in names]
    p = dict(m.params, I_bg=1.0)
    exprs = [m.expand(m.ode[n]).subs({sp.Symbol(k, real=True): v for k, v in p.items()})
             .subs({sp.Symbol(i, real=True): 0 for i in m.inputs}) for n in names]
    f = sp.lambdify(syms, exprs, "numpy")
    sol = solve_ivp(lambda t, y: f(*y), (0, 100.0), [m.states[n] for n in names], rtol=1e-8,
                    atol=1e-8, t_eval=rec.t, method="LSODA")
    ours, ref = rec["E.V"][:, 0], sol.y[0]
    up = lambda v: rec.t[1:][(v[:-1] <= 0) & (v[1:] > 0)]
    assert len(up(ours)) == len(up(ref)) >= 4
    assert abs(up(ours)[0] - up(ref)[0]) < 0.1
    assert np.max(np.abs(np.diff(up(ours)) / np.diff(up(ref)) - 1)) < 0.01   # ISIs within 1 %
    before = rec.t < up(ref)[0] - 1.0
    assert np.max(np.abs(ours[before] - ref[before])) < 0.15


def numpy_rate_reference(W, x0, I_ext, tau, dt, n):
    x = x0.copy()
    out = []
    for _ in range(n):
        r = np.tanh(x)
        x = x + dt * (-x + W @ r + I_ext) / tau
        out.append(x.copy())
    return np.array(out)


def test_kernel_matches_numpy_reference():
    rng = np.random.default_rng(3)
    N = 12
    W = rng.normal(0, 1.5 / np.sqrt(N), (N, N)) * (rng.random((N, N)) < 0.5)
    x0 = rng.uniform(-0.5, 0.5, N)
    I_ext = rng.normal(size=N)
    c = Circuit("rate")
    c.add(Population("R", RatePopulation("x", N).model, N, synapse=RatePopulation("x", 1).synapse,
                     init=dict(x=x0), params=dict(I_ext=I_ext, tau=7.0)))
    c.connect("R", "R", weight=W)
    sim = Simulator(c, dt=0.5, method="euler")
    rec = sim.run(100.0, record=["R.x"])
    ref = numpy_rate_reference(W, x0, I_ext, 7.0, 0.5, 200)
    assert np.max(np.abs(rec["R.x"] - ref)) < 1e-12


def test_density_mask_statistics_and_seeds():
    c = Circuit("d")
    c.add(RatePopulation("A", 200), RatePopulation("B", 150))
    c.connect("A", "B", density=0.1)
    n = [len(c.build(seed).synapse_sets[0].pre_idx) for seed in range(3)]
    expected, sd = 0.1 * 200 * 150, np.sqrt(200 * 150 * 0.1 * 0.9)
    assert all(abs(k - expected) < 3 * sd for k in n)
    a, b = c.build(7).synapse_sets[0], c.build(7).synapse_sets[0]
    assert np.array_equal(a.pre_idx, b.pre_idx) and np.array_equal(a.post_idx, b.post_idx)
    assert not np.array_equal(c.build(8).synapse_sets[0].pre_idx, a.pre_idx)


def test_indegree_rule_fixes_in_degree():
    c = Circuit("d")
    c.add(RatePopulation("A", 50), RatePopulation("B", 20))
    c.connect("A", "B", density=0.2, connection_rule="indegree")
    s = c.build(1).synapse_sets[0]
    assert np.all(np.bincount(s.post_idx, minlength=20) == 10)


def noisy_lif_circuit():
    from circuitdsl.model import Model as M
    noisy = M("NoisyLIF", "dV/dt = (-(V - E_L) + I)/tau_m", states=dict(V=-70.0),
              params=dict(E_L=-70.0, tau_m=10.0, sigma=3.0), inputs=("I",),
              on_step="V = V + sigma*sqrt(dt)*randn()")
    c = Circuit("n")
    c.add(Population("N", noisy, 5))
    return c


def test_same_seed_same_run_other_seed_differs():
    runs = [Simulator(noisy_lif_circuit(), dt=0.1, seed=s).run(50.0, record=["N.V"])["N.V"]
            for s in (4, 4, 5)]
    assert np.array_equal(runs[0], runs[1])
    assert not np.allclose(runs[0], runs[2])


def test_building_twice_compiles_once(tmp_path):
    cache = KernelCache(tmp_path)
    Simulator(noisy_lif_circuit(), cache=cache)
    Simulator(noisy_lif_circuit(), cache=cache, seed=3)
    assert cache.compiled == 1 and cache.written == 1
    fresh = KernelCache(tmp_path)            # another process: the file is reused
    Simulator(noisy_lif_circuit(), cache=fresh)
    assert fresh.written == 0


def test_lif_spikes_reset_refractory_and_delay():
    c = Circuit("lif")
    c.add(LIFNeurons("A", 1, I_ext=25.0, t_ref=2.0), LIFNeurons("B", 1))
    c.connect("A", "B", weight=5.0, delay=30)
    sim = Simulator(c, dt=0.1)
    rec = sim.run(100.0, record=["B.V"])
    ta = rec.spike_times("A")[0]
    isi = np.diff(ta)
    # tau ln(R I / (R I - (V_th - E_L))) + t_ref = 10 ln(25/5) + 2
    assert np.allclose(isi, 10 * np.log(25 / 5) + 2.0, atol=0.11)
    jump = np.flatnonzero(np.diff(rec["B.V"][:, 0]) > 4.0)
    assert np.isclose(rec.t[jump[0] + 1] - ta[0], 3.0, atol=0.11)  # 30 steps of 0.1 ms


def test_blow_up_names_block_variable_time():
    bad = Model("Explode", "dx/dt = x*x", states=dict(x=1.0))
    c = Circuit("b")
    c.add(Population("X", bad, 2))
    with pytest.raises(SimulationError, match=r"state 'x' of block 'X' \(unit 0\) became (inf|nan) "
                                              r"at t = "):
        Simulator(c, dt=0.1, method="euler").run(100.0)


def test_external_input_and_unknown_input():
    c = Circuit("e")
    c.add(RatePopulation("R", 2, activation="linear", tau=1.0))
    sim = Simulator(c, dt=0.01, method="exponential_euler")
    rec = sim.run(20.0, record=["R.x"], inputs={"R.I": [1.0, -2.0]})
    assert np.allclose(rec["R.x"][-1], [1.0, -2.0], atol=1e-6)
    with pytest.raises(ValidationError, match="has no input 'J'"):
        sim.run(1.0, inputs={"R.J": 1.0})


def test_event_far_in_the_future_never_fires():
    """t_block = 1e300 (an Agent without latches) must not overflow into 'every step'."""
    c = Circuit("w")
    c.add(HHNeuronExci("E", 1, I_bg=1.0, t_block=1e300))
    rec = Simulator(c, dt=0.05).run(100.0, record=["E.spikes_window", "E.spikes_cumulative"])
    assert rec["E.spikes_cumulative"][-1, 0] > 2.0
    assert np.array_equal(rec["E.spikes_window"], rec["E.spikes_cumulative"])
    c2 = Circuit("w2")
    c2.add(HHNeuronExci("E", 1, I_bg=1.0, t_block=30.0))
    rec2 = Simulator(c2, dt=0.05).run(100.0, record=["E.spikes_window", "E.spikes_cumulative"])
    assert rec2["E.spikes_window"][-1, 0] < rec2["E.spikes_cumulative"][-1, 0] - 1.0


def test_two_processes_compiling_at_once_share_the_cache(tmp_path):
    """Two fresh processes build the same circuit into one empty cache directory at the same
    time: both run, give identical results, and leave one module file."""
    import os
    import subprocess
    import sys
    code = ("import numpy as np, sys\n"
            "from circuitdsl.blocks.neurons import HHNeuronExci\n"
            "from circuitdsl.circuit import Circuit\n"
            "from circuitdsl.simulator import Simulator\n"
            "c = Circuit('race'); c.add(HHNeuronExci('E', 2, I_bg=[0.5, 1.0]))\n"
            "rec = Simulator(c, dt=0.05).run(200.0, record=['E.V'])\n"
            "print(repr(float(rec['E.V'].sum())))\n")
    env = dict(os.environ, CIRCUITDSL_CACHE=str(tmp_path))
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-500:] for o in outs]
    assert outs[0][0] == outs[1][0] and float(outs[0][0]) < 0
    assert len(list(tmp_path.glob("k_*.py"))) == 1
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("delay", [0, 5])
def test_spike_input_does_not_move_a_refractory_membrane(delay):
    """B spikes at 16.1 ms and is refractory for 20 ms; A's spike reaching B in that window
    leaves B's V at its reset value (-70 mV) until the refractory period ends."""
    c = Circuit("refr")
    c.add(LIFNeurons("A", 1, I_ext=25.0, t_ref=2.0), LIFNeurons("B", 1, I_ext=25.0, t_ref=20.0))
    c.connect("A", "B", weight=5.0, delay=delay)
    rec = Simulator(c, dt=0.1).run(60.0, record=["B.V"])
    tb = rec.spike_times("B")[0][0]
    ta = rec.spike_times("A")[0]
    arrivals = ta + delay * 0.1
    assert np.any((arrivals > tb) & (arrivals < tb + 20.0))     # an input arrives in the window
    window = (rec.t > tb + 0.05) & (rec.t < tb + 20.0 - 0.05)
    assert np.all(rec["B.V"][window, 0] == -70.0)
