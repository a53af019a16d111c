"""Two-pathway reaching (Murray & Escola 2020): blocks, feedback currents, the compiled trial
block, and step equivalence with a plain NumPy implementation of the reference equations."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from circuitdsl.blocks.layers import ERROR_FEEDBACK, Cue, LinearReadout, RateLayer, normal
from circuitdsl.blocks.plants import PointMass2D
from circuitdsl.circuit import Circuit, CircuitError, TransposeOf
from circuitdsl.circuits.two_pathway_reaching import ReachingRunner, build
from circuitdsl.environments import ReachingTask
from circuitdsl.equations import EquationError
from circuitdsl.model import Model, Synapse
from circuitdsl.simulator import Simulator

ROOT = Path(__file__).resolve().parents[2]


def _numpy_reference():
    spec = importlib.util.spec_from_file_location("reaching_numpy",
                                                  ROOT / "bench/peers/reaching_numpy.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.ReachingNumpy


def _weights(sim):
    m = sim.weight_matrix
    return dict(Wc_m=m("cue", "M1"), Ws_m=m("arm", "M1"), Wc_h=m("cue", "Th"),
                Ws_h=m("arm", "Th"), W=m("M1", "STR"), V=m("Th", "STR"), U=m("STR", "GPi"))


@pytest.mark.parametrize("hebbian_rate", [1e-6, 0.0])
def test_one_trial_with_learning_matches_numpy(hebbian_rate):
    c = build(protocol="sequential", hebbian_rate=hebbian_rate, eta_w=1e-3)
    runner = ReachingRunner(c, seed=3)
    sim = runner.sim
    ref = _numpy_reference()(weights=_weights(sim), eta_w=1e-3, eta_v=hebbian_rate)
    if not hebbian_rate:
        assert sim.projections() and not sim.projections(rule="HebbianDecay")
    for cue in (1, 3):
        sim.set("cue", "value", runner.cues[cue])
        sim.reset()
        rec = sim.run(10, record=["arm.s", "GPi.xi"],
                      inputs={"GPi.target": runner.vstar[cue]})
        loss = float(np.sum(sim.get("GPi", "loss"))) / 10
        sim.apply_learning()
        ref_loss, path = ref.trial(cue, xi=rec["GPi.xi"])
        assert np.abs(rec["GPi.xi"]).max() > 0.005          # the noise is on
        np.testing.assert_allclose(rec["arm.s"], path, rtol=0, atol=1e-12)
        assert loss == pytest.approx(ref_loss, rel=1e-12)
        after = _weights(sim)
        for name in ("W", "V", "U"):
            np.testing.assert_allclose(after[name], ref.w[name], rtol=0, atol=1e-12)
    # the learned weights moved, and the error path stayed the transpose of U
    before = _weights(ReachingRunner(c, seed=3).sim)
    for name in ("W", "U") + (("V",) if hebbian_rate else ()):
        assert np.abs(_weights(sim)[name] - before[name]).max() > 1e-6
    np.testing.assert_array_equal(sim.weight_matrix("GPi", "STR"), sim.weight_matrix("STR", "GPi").T)


def test_trial_block_equals_trial_by_trial():
    c = build(protocol="interleaved", block=20, test_trials=5)
    a, b = ReachingRunner(c, seed=1), ReachingRunner(c, seed=1)
    loop = []
    for k in range(1, 301):
        target, phase = a.target_of(k)
        loss, _ = a.reach(target)
        if phase == "train":
            a.sim.apply_learning()
        loop.append(loss)
    b.n_trials = 300
    block = [b.trial(k) for k in range(1, 301)]
    np.testing.assert_array_equal(a.sim.arrays["F"], b.sim.arrays["F"])
    np.testing.assert_allclose([float(r["loss"]) for r in block], loop, rtol=1e-9)
    assert [r["phase"] for r in block].count("test") == 300 - 13 * 20


def test_learning_reduces_loss_on_the_trained_target():
    c = build(protocol="sequential", hebbian_rate=1e-6, block=150, test_trials=50)
    runner = ReachingRunner(c, seed=2)
    runner.n_trials = 13 * 150 + 200
    rows = [runner.trial(k) for k in range(1, runner.n_trials + 1)]
    first = np.mean([float(r["loss"]) for r in rows[:50]])
    late = np.mean([float(r["loss"]) for r in rows[1400:1500]])   # still target 0
    assert late < first / 5
    metrics = runner.metrics(rows)
    assert set(metrics) == {f"test_loss_{k}" for k in range(4)}


def test_task_geometry_and_profile():
    task = ReachingTask()
    np.testing.assert_allclose(task.targets[:4], [[1, 0], [np.sqrt(.5), np.sqrt(.5)], [0, 1],
                                                  [-np.sqrt(.5), np.sqrt(.5)]], atol=1e-15)
    v = task.desired_velocity(2)
    assert v.shape == (10, 2)
    # the minimum-jerk profile sums to (almost) the whole displacement
    assert v[:, 1].sum() == pytest.approx(0.99999, abs=1e-3)
    assert task.loss(v, 2) == 0.0
    seq = task.schedule("sequential", 100, np.random.default_rng(0))
    assert len(seq) == 1300 and (seq[:1000] == 0).all() and list(seq[1000::100]) == [1, 2, 3]
    inter = task.schedule("interleaved", 100, np.random.default_rng(0))
    assert len(inter) == 1300 and set(np.unique(inter)) == {0, 1, 2, 3}
    with pytest.raises(ValueError, match="protocol must be one of interleaved, sequential"):
        task.schedule("blocked", 100, np.random.default_rng(0))


def test_eta_w_follows_the_published_conditions():
    assert build(protocol="sequential", hebbian_rate=0.0).meta["params"]["eta_w"] == 1e-3
    assert build(protocol="sequential", hebbian_rate=1e-6).meta["params"]["eta_w"] == 1e-4
    p = build(protocol="interleaved").meta["params"]
    assert (p["eta_w"], p["hebbian_rate"]) == (1e-4, 0.0)
    with pytest.raises(ValueError, match="protocol must be one of"):
        build(protocol="blocked")
    with pytest.raises(ValueError, match="hebbian_rate must be >= 0"):
        build(hebbian_rate=-1.0)


def test_feedback_input_cannot_drive_dynamics():
    with pytest.raises(EquationError, match="'I_fb' is a feedback input"):
        Model("Bad", "r = tanh(I + I_fb)", inputs=("I",), feedback_inputs=("I_fb",))


def test_feedback_synapse_must_target_a_feedback_input():
    c = Circuit("c")
    c.add(RateLayer("A", 3))
    c.add(LinearReadout("B", 2))
    c.connect("A", "B")
    c.connect("B", "A", synapse=Synapse("wrong", current="I += w*pre.e", feedback=True))
    with pytest.raises(ValueError, match="'I' is not a feedback input of model"):
        Simulator(c, dt=1.0, method="euler")
    c2 = Circuit("c2")
    c2.add(RateLayer("A", 3))
    c2.add(LinearReadout("B", 2))
    c2.connect("B", "A", synapse=Synapse("plain", current="I_fb += w*pre.e"))
    with pytest.raises(ValueError, match="must be made with Synapse\\(..., feedback=True\\)"):
        Simulator(c2, dt=1.0, method="euler")


def test_transpose_of_names_the_reverse_edge():
    c = Circuit("c")
    c.add(RateLayer("A", 3))
    c.add(LinearReadout("B", 2))
    with pytest.raises(CircuitError, match="TransposeOf must name the reverse edge B -> A"):
        c.connect("A", "B", weight=TransposeOf("A", "B"))
    c.connect("B", "A", weight=TransposeOf("A", "B"), synapse=ERROR_FEEDBACK)
    with pytest.raises(CircuitError, match="no edge A -> B"):
        c.build(0)


def test_algebraic_loop_is_refused():
    c = Circuit("loop")
    c.add(RateLayer("A", 2))
    c.add(RateLayer("B", 2, "relu"))
    c.connect("A", "B", weight=normal(1.0))
    c.connect("B", "A", weight=normal(1.0))
    with pytest.raises(ValueError, match="edges A -> B, B -> A form an algebraic loop"):
        Simulator(c, dt=1.0, method="euler")


def test_closed_loop_point_mass_integrates_this_steps_velocity():
    """Readout -> arm -> layer -> readout: the arm moves by the readout of the same step."""
    c = Circuit("loop")
    c.add(Cue("cue", 1))
    c.add(RateLayer("L", 1, "linear"))
    c.add(LinearReadout("R", 2))
    c.add(PointMass2D("arm", start=(0.5, 0.0)))
    c.connect("cue", "L", weight=1.0)
    c.connect("arm", "L", weight=np.array([[1.0, 0.0]]))
    c.connect("L", "R", weight=np.array([[1.0], [0.0]]))
    c.connect("R", "arm", weight=np.eye(2))
    sim = Simulator(c, dt=1.0, method="euler")
    sim.set("cue", "value", [0.1])
    rec = sim.run(3, record=["arm.s"])
    # v_t = 0.1 + s_t; s_{t+1} = s_t + v_t = 2 s_t + 0.1 from s_0 = 0.5
    np.testing.assert_allclose(rec["arm.s"][:, 0], [1.1, 2.3, 4.7], rtol=1e-14)
    np.testing.assert_array_equal(rec["arm.s"][:, 1], 0.0)


def test_run_trials_rejects_bad_tables():
    c = build(block=10, test_trials=2)
    sim = ReachingRunner(c, seed=0).sim
    with pytest.raises(ValueError, match="need shape \\(cases, 10 steps, units\\)"):
        sim.run_trials(10, [0, 1], inputs={"GPi.target": np.zeros((2, 9, 2))})
    with pytest.raises(ValueError, match="'cue.value': need one row of 8 values per case"):
        sim.run_trials(10, [0, 3], params={"cue.value": np.zeros((2, 8))})
    with pytest.raises(ValueError, match="'GPi.noise' is not a state"):
        sim.run_trials(10, [0], collect=["GPi.noise"])


def test_cli_outputs_and_resume(tmp_path):
    from circuitdsl.cli import main
    from circuitdsl.runs import run_one
    params = dict(protocol="sequential", hebbian_rate=1e-6, block=50, test_trials=20)
    sets = ["--set", "block=50", "--set", "test_trials=20"]
    out = tmp_path / "full"
    main(["run", "two-pathway-reaching", "--protocol", "sequential", "--hebbian-rate", "1e-6",
          "--seed", "4", "--out", str(out), "--quiet", *sets])
    for f in ("trace.csv", "test_loss.csv", "training_loss.png", "trajectories.png", "run.json"):
        assert (out / f).stat().st_size > 0, f
    trace = (out / "trace.csv").read_text().splitlines()
    assert trace[0] == "trial,target,loss,phase" and len(trace) == 1 + 13 * 50 + 80
    assert trace[-1].endswith(",test") and trace[1].endswith(",train")
    test_loss = (out / "test_loss.csv").read_text().splitlines()
    assert test_loss[0] == "target,loss" and [r.split(",")[0] for r in test_loss[1:]] == \
        ["0", "1", "2", "3"]
    # interrupted after 400 trials (a checkpoint), then resumed: the same trace
    part = tmp_path / "part"
    run_one("two-pathway-reaching", 4, params, part, trials=400, progress=False)
    run_one("two-pathway-reaching", 4, params, part, trials=730, resume=True, progress=False)
    assert (part / "trace.csv").read_text() == (out / "trace.csv").read_text()


@pytest.mark.slow
def test_fig6_reproduction_21_networks():
    """The published comparison (seed-models.md B.6), 21 networks per condition, batch 0.
    About 4 minutes on 2 cores; `python bench/reaching_seeds.py` prints the same table."""
    from concurrent.futures import ProcessPoolExecutor

    conds = {"interleaved": dict(protocol="interleaved", hebbian_rate=0.0),
             "sl": dict(protocol="sequential", hebbian_rate=0.0),
             "hebbian": dict(protocol="sequential", hebbian_rate=1e-6)}
    with ProcessPoolExecutor(2) as pool:
        res = {c: np.asarray(list(pool.map(_losses, [(p, s) for s in range(21)])))
               for c, p in conds.items()}
    med = {c: np.median(v, axis=0) for c, v in res.items()}
    assert 0.0018 <= np.median(res["interleaved"]) <= 0.003
    assert 0.0025 <= med["hebbian"][3] <= 0.004
    for k, ref in enumerate([0.0074, 0.0137, 0.0167]):
        assert ref / 2 <= med["hebbian"][k] <= ref * 2
    assert 0.0018 * 0.7 <= med["sl"][3] <= 0.0018 * 1.3
    assert med["sl"][0] >= 3 * med["hebbian"][0]
    assert res["sl"][:, 0].mean() > res["hebbian"][:, 0].mean()


def _losses(args):
    from circuitdsl.circuits.two_pathway_reaching import network_test_losses
    params, seed = args
    return network_test_losses(seed, **params)


def test_hebbian_decay_trace_is_kept_by_the_separable_path():
    """-w + z y: the product part by matrix products, the -w part as w times the step count."""
    from circuitdsl.compiler import separable
    sim = ReachingRunner(build(block=10, test_trials=2), seed=0).sim
    rules = {p.rule.name: p for p in sim.projections() if p.rule is not None}
    terms = separable.plan(rules["HebbianDecay"])
    assert sorted(t[0] for t in terms) == ["held", "product"]
    held = [t for t in terms if t[0] == "held"][0]
    assert str(held[2] * held[3]) == "-w"
    chosen = {r["projection"]: r["rule"] for r in sim.plan()}
    assert chosen[rules["HebbianDecay"].name] == "separable traces"
