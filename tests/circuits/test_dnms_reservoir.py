"""Miconi's reservoir: the compiled trials against plain NumPy in the original's order, the
carried running mean, the learning onset, the criterion, and learning."""
import numpy as np
import pytest

from circuitdsl.circuits import dnms_reservoir
from circuitdsl.compiler.rng import rng_rand, rng_uniform
from circuitdsl.environments import DNMSTask


def numpy_trial(J, mask, ext, clamp, clamp_value, p, R, stream, x_bar, dt=1.0, T=1000):
    """The reference equations, step by step, in the order of Miconi's dnms/net.cpp, drawing
    perturbations from the same stream in the kernel's order: the t = 0 start (unclamped
    units), then per step and unit rand() and, if it fires, uniform(-A, A). The running mean
    `x_bar` comes in from the previous trial and goes out with the result: after each
    integration step dx = x - x_bar is taken first, then x_bar <- 0.05 x_bar + 0.95 x."""
    N = len(clamp)
    x = np.array([clamp_value[i] if clamp[i] else rng_uniform(R, stream, -p["x0"], p["x0"])
                  for i in range(N)])
    x_bar, e, xs = x_bar.copy(), np.zeros((N, N)), []
    for k in range(T):
        t = k * dt
        r_prev = np.tanh(x)
        I = J @ r_prev
        xi = np.zeros(N)
        for i in range(N):
            if rng_rand(R, stream) < p["f"] * dt and t > p["t_noise"]:
                xi[i] = rng_uniform(R, stream, -p["A"], p["A"])
        x = x + dt * (1 - clamp) * (-x + I + ext[k] + xi) / p["tau"]
        dx = x - x_bar
        x_bar = 0.05 * x_bar + 0.95 * x
        if t > 2.5:
            e += np.outer(dx ** 3, r_prev ** 3)
        xs.append(x.copy())
    return np.array(xs), e * mask, x_bar


def _dense(sim, values):
    s = sim.network.synapse_sets[0]
    N = sim.network.populations["R"].N
    M = np.zeros((N, N))
    M[s.post_idx, s.pre_idx] = values
    return M


def _trace(sim):
    """The eligibility trace as a dense (post, pre) matrix."""
    s = sim.network.synapse_sets[0]
    N = sim.network.populations["R"].N
    proj = sim.projections()[0]
    e = np.zeros((N, N))
    e[s.post_idx[proj.order_origin[1]], s.pre_idx[proj.order_origin[1]]] = sim.field(proj, "e")
    return e


@pytest.mark.parametrize("variant", ["original", "sparse"])
def test_two_trials_and_updates_match_numpy(variant):
    """Two consecutive trials (AB then BA), each followed by a weight update, against the
    reference loop; the second starts from the first's running mean x_bar (carried over the
    reset), so the carried state is checked step by step too."""
    runner = dnms_reservoir.DNMSRunner(dnms_reservoir.build(variant=variant), seed=3)
    sim = runner.sim
    s = sim.network.synapse_sets[0]
    N = sim.network.populations["R"].N
    J = _dense(sim, s.weight)
    mask = _dense(sim, np.ones(len(s.weight))).astype(bool)
    p = {k: float(sim.get("R", k)[0]) for k in ("x0", "f", "t_noise", "A", "tau")}
    clamp, value = sim.get("R", "clamp"), sim.get("R", "clamp_value")
    R = sim.arrays["RNG"].copy()
    x_bar = np.zeros(N)
    eta = dnms_reservoir.VARIANTS[variant]["eta"]
    for type_index, (E, Ebar) in ((1, (0.8, 0.6)), (2, (0.5, 0.9))):
        xs_ref, e_ref, x_bar = numpy_trial(J, mask, runner.ext[type_index], clamp, value, p, R,
                                           0, x_bar)
        sim.reset()
        rec = sim.run(1000.0, record=["R.x"], inputs={"R.I_in": runner.ext[type_index]})
        assert np.max(np.abs(rec["R.x"] - xs_ref)) < 1e-10
        assert np.max(np.abs(sim.get("R", "x_bar") - x_bar)) < 1e-10
        assert np.array_equal(sim.arrays["RNG"], R)          # the same number of draws
        e = _trace(sim)
        assert np.allclose(e, e_ref, rtol=1e-9, atol=1e-9 * np.abs(e_ref).max())
        sim.apply_learning({"E": E, "Ebar": Ebar})
        w_ref = J + np.clip(-eta * Ebar * e_ref * (E - Ebar), -3e-4, 3e-4) * mask
        w = _dense(sim, sim.synapse_weights()[0])
        assert np.allclose(w, w_ref, rtol=1e-9, atol=1e-15)
        assert np.count_nonzero(w != J) > 0.5 * mask.sum()
        J = w


def test_running_mean_is_carried_over_reset():
    """x_bar keeps its value across reset() (the next trial's start state never enters it);
    reset(carried=False) restores it to 0; the other states go back to their initial values."""
    runner = dnms_reservoir.DNMSRunner(dnms_reservoir.build(), seed=5)
    sim = runner.sim
    assert np.all(sim.get("R", "x_bar") == 0.0)
    sim.run(300.0, inputs={"R.I_in": runner.ext[0]})
    before = sim.get("R", "x_bar")
    assert np.mean(np.abs(before)) > 0.05
    sim.reset()
    assert np.array_equal(sim.get("R", "x_bar"), before)
    assert np.all(sim.get("R", "x") == 0.0) and np.all(sim.get("R", "x_mean") == 0.0)
    sim.run(1.0, inputs={"R.I_in": runner.ext[0]})   # step 0: x_bar folds in x after step 0
    x1 = sim.get("R", "x")
    assert np.allclose(sim.get("R", "x_bar"), 0.05 * before + 0.95 * x1, rtol=0, atol=1e-15)
    assert np.array_equal(sim.get("R", "x_mean"), before)
    sim.reset(carried=False)
    assert np.all(sim.get("R", "x_bar") == 0.0)


def test_learning_starts_on_the_102nd_trial():
    """Miconi's `numtrial > 100` (0-based): the weights are untouched by the first 101 trials
    (1-based 1..101) and change after the 102nd."""
    runner = dnms_reservoir.DNMSRunner(dnms_reservoir.build(variant="sparse"), seed=2)
    w0 = runner.sim.synapse_weights()[0].copy()
    for k in range(1, 102):
        runner.trial(k)
    assert np.array_equal(runner.sim.synapse_weights()[0], w0)
    runner.trial(102)
    assert np.count_nonzero(runner.sim.synapse_weights()[0] != w0) > 0.5 * len(w0)


def test_criterion_follows_miconi():
    """More than 95 of 100 (so 96), reported as the 0-based index of the window's last trial;
    the first window considered ends at index 100."""
    err = np.full(400, 2.0)
    err[150:246] = 0.5                        # 96 good trials, indices 150..245
    assert dnms_reservoir.trials_to_criterion(err) == 245
    # the former criterion: 95 good (indices 150..244) are enough, counted 1-based
    assert dnms_reservoir.trials_to_criterion_at_least(err) == 245
    err[150] = 2.0                            # only 95 in any window: not reached
    assert dnms_reservoir.trials_to_criterion(err) is None
    assert dnms_reservoir.trials_to_criterion(np.zeros(100)) is None
    assert dnms_reservoir.trials_to_criterion(np.zeros(101)) == 100


def test_task_inputs_and_error():
    task = DNMSTask()
    u = task.inputs(1)                                   # AB
    assert u.shape == (1000, 3)
    assert u[1:201, 1].sum() == 200 and u[400:600, 2].sum() == 200 and u.sum() == 400
    assert task.target_of(0) == -0.98 and task.target_of(2) == 0.98
    out = np.full(1000, 0.5)
    assert task.error(1, out) == pytest.approx(0.48)
    assert [task.trial_type(k) for k in (1, 2, 3, 4, 5)] == [0, 1, 2, 3, 0]


def test_error_falls_within_500_trials():
    """Original protocol, seed 3 (a fast learner): the median error of trials 401-500 is below
    0.7 x that of trials 1-100, before learning starts (measured: 0.47; 0.90 with learning
    switched off, learn_after=10**6). Slower seeds fall no more than that by trial 500 (seeds
    1 and 2: 0.81 and 0.91), hence one fixed seed here and the 1500-trial tests below."""
    from circuitdsl.experiment import run_trials
    runner = dnms_reservoir.DNMSRunner(dnms_reservoir.build(), seed=3)
    err = np.array([float(r["error"]) for r in run_trials(runner, 500, progress=False)])
    assert np.median(err[400:]) < 0.7 * np.median(err[:100])


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_error_falls_within_1500_trials(seed):
    """Original protocol: the median error of trials 1001-1500 is below 0.85 x that of trials
    1-500 (learning starts on the 102nd trial). Slow (about 20 s each): `pytest -m slow`."""
    from circuitdsl.experiment import run_trials
    runner = dnms_reservoir.DNMSRunner(dnms_reservoir.build(), seed=seed)
    err = np.array([float(r["error"]) for r in run_trials(runner, 1500, progress=False)])
    assert np.median(err[1000:]) < 0.85 * np.median(err[:500])


def test_cli_run_and_resume(tmp_path):
    from circuitdsl.cli import main
    from circuitdsl.experiment import read_trace
    assert main(["run", "dnms-reservoir", "--variant", "sparse", "--trials", "6", "--seed", "4",
                 "--out", str(tmp_path / "a"), "--quiet"]) == 0
    assert main(["run", "dnms-reservoir", "--variant", "sparse", "--trials", "3", "--seed", "4",
                 "--out", str(tmp_path / "b"), "--quiet"]) == 0
    assert main(["run", "--resume", str(tmp_path / "b"), "--trials", "6", "--quiet"]) == 0
    a, b = (read_trace(tmp_path / d / "trace.csv") for d in ("a", "b"))
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]
    assert strip(a) == strip(b) and [r["type"] for r in a] == ["AA", "AB", "BA", "BB", "AA", "AB"]
    for f in ("learning_curve.png", "outputs.png", "run.json"):
        assert (tmp_path / "a" / f).stat().st_size > 0
    assert main(["run", "dnms-reservoir", "--variant", "dense", "--trials", "1"]) == 2
