"""Miconi's reservoir: the compiled trial against plain NumPy, and learning in the default suite."""
import numpy as np
import pytest

from circuitdsl.circuits import dnms_reservoir
from circuitdsl.compiler.rng import rng_rand, rng_uniform
from circuitdsl.environments import DNMSTask


def numpy_trial(J, mask, ext, clamp, clamp_value, p, R, stream, dt=1.0, T=1000):
    """The reference equations, step by step, drawing perturbations from the same stream in
    the kernel's order: the t = 0 start (unclamped units), then per step and unit rand()
    and, if it fires, uniform(-A, A)."""
    N = len(clamp)
    x = np.array([clamp_value[i] if clamp[i] else rng_uniform(R, stream, -p["x0"], p["x0"])
                  for i in range(N)])
    x_mean, e, xs = np.zeros(N), np.zeros((N, N)), []
    for k in range(T):
        t = k * dt
        I = J @ np.tanh(x)
        x_mean = 0.05 * x_mean + 0.95 * x
        r_prev = np.tanh(x)
        xi = np.zeros(N)
        for i in range(N):
            if rng_rand(R, stream) < p["f"] * dt and t > p["t_noise"]:
                xi[i] = rng_uniform(R, stream, -p["A"], p["A"])
        x = x + dt * (1 - clamp) * (-x + I + ext[k] + xi) / p["tau"]
        if t > 2.5:
            e += np.outer((x - x_mean) ** 3, r_prev ** 3)
        xs.append(x.copy())
    return np.array(xs), e * mask


@pytest.mark.parametrize("variant", ["original", "sparse"])
def test_one_trial_and_update_match_numpy(variant):
    runner = dnms_reservoir.DNMSRunner(dnms_reservoir.build(variant=variant), seed=3)
    sim = runner.sim
    s = sim.network.synapse_sets[0]
    N = sim.network.populations["R"].N
    J = np.zeros((N, N))
    J[s.post_idx, s.pre_idx] = s.weight
    mask = np.zeros((N, N), bool)
    mask[s.post_idx, s.pre_idx] = True
    p = {k: float(sim.get("R", k)[0]) for k in ("x0", "f", "t_noise", "A", "tau")}
    clamp, value = sim.get("R", "clamp"), sim.get("R", "clamp_value")
    R = sim.arrays["RNG"].copy()
    xs_ref, e_ref = numpy_trial(J, mask, runner.ext[1], clamp, value, p, R, 0)
    sim.reset()
    rec = sim.run(1000.0, record=["R.x"], inputs={"R.I_in": runner.ext[1]})
    assert np.max(np.abs(rec["R.x"] - xs_ref)) < 1e-10
    assert np.array_equal(sim.arrays["RNG"], R)          # the same number of draws
    proj = sim.lowered.projections[0]
    off, M = sim.lowered.layout[f"F_{proj.name}_e"], len(proj.order_origin[0])
    e = np.zeros((N, N))
    e[s.post_idx[proj.order_origin[1]], s.pre_idx[proj.order_origin[1]]] = \
        sim.arrays["F"][off:off + M]
    assert np.allclose(e, e_ref, rtol=1e-9, atol=1e-9 * np.abs(e_ref).max())
    E, Ebar = 0.8, 0.6
    sim.apply_learning({"E": E, "Ebar": Ebar})
    eta = dnms_reservoir.VARIANTS[variant]["eta"]
    w_ref = J + np.clip(-eta * Ebar * e_ref * (E - Ebar), -3e-4, 3e-4) * mask
    w = np.zeros((N, N))
    w[s.post_idx, s.pre_idx] = sim.synapse_weights()[0]
    assert np.allclose(w, w_ref, rtol=1e-9, atol=1e-15)
    assert np.count_nonzero(w != J) > 0.5 * mask.sum()


def test_task_inputs_and_error():
    task = DNMSTask()
    u = task.inputs(1)                                   # AB
    assert u.shape == (1000, 3)
    assert u[1:201, 1].sum() == 200 and u[400:600, 2].sum() == 200 and u.sum() == 400
    assert task.target_of(0) == -0.98 and task.target_of(2) == 0.98
    out = np.full(1000, 0.5)
    assert task.error(1, out) == pytest.approx(0.48)
    assert [task.trial_type(k) for k in (1, 2, 3, 4, 5)] == [0, 1, 2, 3, 0]


@pytest.mark.parametrize("seed", [1, 2])
def test_error_falls_within_1500_trials(seed):
    """Original protocol: the median error of trials 1001-1500 is below 0.85 x that of trials
    1-500 (learning starts after trial 100)."""
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
