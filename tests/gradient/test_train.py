"""Gradient training: derived gradients against finite differences, the forward pass against
the simulator, optimisers, errors, and a short training run whose loss must fall."""
import numpy as np
import pytest

from circuitdsl.block import Population
from circuitdsl.blocks.neurons import RATE, RATE_MODELS, LIFNeurons, RatePopulation
from circuitdsl.blocks.rnn import InputPopulation, LeakyRateLayer, kaiming_normal, uniform_init
from circuitdsl.circuit import Circuit
from circuitdsl.compiler.backward import GradientError, GradientProgram
from circuitdsl.train import SGD, Adam, clip_by_global_norm, cross_entropy, train


def random_circuit():
    """Inputs -> tanh (alpha 1/3) -> relu -> linear readout, with dense and sparse edges,
    self and feedback (lagged) edges, biases everywhere."""
    c = Circuit("gradcheck")
    normal = lambda s: (lambda rng, n: s * rng.standard_normal(n))  # noqa: E731
    c.add(InputPopulation("obs", 3),
          RatePopulation("a", 4, "tanh", tau=3.0, I_ext=0.0),
          LeakyRateLayer("b", 5, "relu", tau=1.0, bias=uniform_init(0.5)),
          LeakyRateLayer("out", 3, "linear", tau=1.0, bias=uniform_init(0.5)))
    c.connect("obs", "a", weight=normal(0.8))
    c.connect("a", "a", weight=normal(0.9), density=0.5)
    c.connect("a", "b", weight=normal(1.0), density=0.6)
    c.connect("b", "b", weight=normal(0.4), self_connections=True)
    c.connect("b", "a", weight=normal(0.3))
    c.connect("b", "out", weight=normal(0.7))
    c.connect("a", "out", weight=normal(0.7), density=0.7)
    c.connect("obs", "b", weight=normal(0.8), density=0.5)   # sparse from the data
    return c


TRAINABLE = ["obs -> a", "a -> a", "a -> b", "b -> b", "b -> a", "b -> out", "a -> out",
             "obs -> b", "a.I_ext", "a.tau", "b.I_ext", "out.I_ext"]


def finite_difference_check(prog, X, labels, h=1e-5):
    def loss():
        return cross_entropy(prog.forward(X), labels)[0]
    _, dY, _ = cross_entropy(prog.forward(X), labels)
    grads = prog.backward(dY)
    errors = {}
    for prm, g in zip(prog.parameters, grads):
        fd = np.zeros(prm.value.size)
        flat, mask = prm.value.reshape(-1), prm.mask.reshape(-1)
        for q in np.flatnonzero(mask):
            old = flat[q]
            flat[q] = old + h
            up = loss()
            flat[q] = old - h
            down = loss()
            flat[q] = old
            fd[q] = (up - down) / (2 * h)
        errors[prm.name] = np.linalg.norm(g.reshape(-1) - fd) / np.linalg.norm(fd)
    return errors


@pytest.mark.parametrize("method, lag", [("euler", "feedforward"),
                                         ("exponential_euler", "all")])
def test_gradients_match_central_finite_differences(method, lag):
    c = random_circuit()
    c["a"].params["I_ext"] = np.array([0.3, -0.2, 0.1, 0.05])
    prog = GradientProgram(c, 1.0, inputs=["obs"], readout="out", trainable=TRAINABLE,
                           seed=3, method=method, lag=lag)
    names = {p.name for p in prog.parameters}
    assert {"obs -> a", "b -> out", "a.I_ext", "a.tau", "out.I_ext"} <= names
    rng = np.random.default_rng(7)
    X = rng.normal(size=(9, 4, 3))
    labels = rng.integers(0, 3, size=(9, 4))
    errors = finite_difference_check(prog, X, labels)
    assert len(errors) == len(prog.parameters) >= 10
    for name, err in errors.items():
        assert err <= 1e-6, (name, err)


def test_only_the_named_edges_and_units_get_gradients():
    # h1 and h2 share a model, so h1 -> out and h2 -> out are one projection: half trained
    c = Circuit("shared")
    c.add(InputPopulation("obs", 2), LeakyRateLayer("h1", 3, "relu", bias=0.5),
          LeakyRateLayer("h2", 4, "relu", bias=0.5), LeakyRateLayer("out", 2, "linear"))
    for src, dst in (("obs", "h1"), ("obs", "h2"), ("h1", "out"), ("h2", "out")):
        c.connect(src, dst, weight=lambda rng, n: rng.normal(size=n))
    prog = GradientProgram(c, 1.0, inputs=["obs"], readout="out",
                           trainable=["h1 -> out", "h2.I_ext"], seed=0)
    assert [p.name for p in prog.parameters] == ["h1 -> out", "h2.I_ext"]
    X = np.random.default_rng(0).normal(size=(5, 2, 2))
    _, dY, _ = cross_entropy(prog.forward(X), np.ones((5, 2), dtype=int))
    gw, gb = prog.backward(dY)
    mask = prog.parameters[0].mask
    assert mask.sum() == 6 and mask.size == 14
    assert np.all(gw[mask == 0] == 0) and np.count_nonzero(gw[mask == 1]) >= 3
    assert gb.shape == (7,) and np.all(gb[:3] == 0) and np.count_nonzero(gb[3:]) >= 2
    before = prog.export()
    assert before["h1 -> out"].shape == (2, 3) and before["h2 -> out"].shape == (2, 4)


def test_forward_with_lag_all_is_the_simulation_kernel():
    from circuitdsl.simulator import Simulator
    c = Circuit("rec")
    x0 = np.array([0.5, -1.0, 0.2, 0.9])
    c.add(Population("a", RATE_MODELS["tanh"], 4, params=dict(tau=2.0, I_ext=0.1),
                     init=dict(x=x0), synapse=RATE))
    c.connect("a", "a", weight=lambda rng, n: rng.normal(size=n), density=0.7)
    sim = Simulator(c, dt=0.5, seed=4, method="euler")
    rec = sim.run(20 * 0.5, record=["a.x"])
    prog = GradientProgram(c, 0.5, inputs=[], readout=("a", "x"), trainable=["a -> a"],
                           seed=4, lag="all")
    Y = prog.forward(np.zeros((20, 3, 0)))
    np.testing.assert_allclose(Y[:, 1], rec["a.x"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(prog.states("a", "r")[:, 2], np.tanh(rec["a.x"]), atol=1e-12)


def test_errors_name_the_block_edge_or_parameter():
    c = Circuit("bad")
    c.add(InputPopulation("obs", 2), LIFNeurons("lif", 3), LeakyRateLayer("out", 2, "linear"))
    c.connect("obs", "out")
    with pytest.raises(GradientError, match="block 'lif'.*spikes"):
        GradientProgram(c, 1.0, ["obs"], "out", ["obs -> out"])
    c2 = random_circuit()
    with pytest.raises(GradientError, match="no edge 'obs -> out'; edges: obs -> a"):
        GradientProgram(c2, 1.0, ["obs"], "out", ["obs -> out"])
    with pytest.raises(GradientError, match="block 'b'.*has no parameter 'gain'"):
        GradientProgram(c2, 1.0, ["obs"], "out", ["b.gain"])
    with pytest.raises(GradientError, match="no population 'hidden'"):
        GradientProgram(c2, 1.0, ["obs"], "hidden", ["obs -> a"])
    prog = GradientProgram(c2, 1.0, ["obs"], "out", ["obs -> a"])
    with pytest.raises(GradientError, match=r"shape \(T, B, 3\)"):
        prog.forward(np.zeros((4, 2, 2)))


def test_optimisers_and_clipping():
    target = np.array([1.0, -2.0, 3.0])
    for opt_cls, lr, steps in ((Adam, 0.1, 500), (SGD, 0.1, 200)):
        x = np.zeros(3)
        opt = opt_cls([x], lr=lr)
        for _ in range(steps):
            opt.step([2 * (x - target)])
        np.testing.assert_allclose(x, target, atol=1e-3)
    # Adam's first step moves every coordinate by lr, whatever the gradient's scale
    x = np.zeros(2)
    Adam([x], lr=0.01).step([np.array([1e-3, -50.0])])
    np.testing.assert_allclose(x, [-0.01, 0.01], rtol=1e-4)
    g = [np.array([3.0, 0.0]), np.array([[4.0]])]
    assert clip_by_global_norm(g, 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose(g[0], [0.6, 0.0])
    np.testing.assert_allclose(g[1], [[0.8]])


def test_cross_entropy_value_gradient_and_accuracy():
    logits = np.array([[[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]], [[0.0, 5.0, 0.0], [0.0, 0.0, 1.0]]])
    labels = np.array([[0, 0], [1, 1]])
    loss, grad, acc = cross_entropy(logits, labels)
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    expected = -np.mean(np.log([p[0, 0, 0], p[0, 1, 0], p[1, 0, 1], p[1, 1, 1]]))
    assert loss == pytest.approx(expected)
    assert acc == 0.5                      # two decision points (label > 0), one right
    onehot = np.eye(3)[labels]
    np.testing.assert_allclose(grad, (p - onehot) / 4)


def test_training_smoke_loss_falls():
    from circuitdsl.circuits import working_memory_rnn
    c = working_memory_rnn.build(hidden=32)
    res = train(c, c.meta["training"]["task"](), steps=150, seed=1, progress=False)
    loss = np.array([l for _, l, _ in res.history])
    assert len(loss) == 150 and np.all(np.isfinite(loss))
    assert loss[:10].mean() > 0.5                 # chance: about ln 3 on fixation-heavy data
    assert loss[-20:].mean() < 0.3 * loss[:10].mean()
    w = res.program.export()
    assert w["rnn -> rnn"].shape == (32, 32) and w["obs -> rnn"].shape == (32, 2)
    assert w["rnn.I_ext"].shape == (32,)


def test_initialisers():
    rng = np.random.default_rng(0)
    w = kaiming_normal(64)(rng, 200_000)
    assert np.abs(w).max() <= 2 * np.sqrt(1 / 64) / 0.87962566103423978 + 1e-12
    assert w.var() == pytest.approx(1 / 64, rel=0.02)
    b = uniform_init(0.125)(rng, 100_000)
    assert b.min() >= -0.125 and b.max() <= 0.125 and b.var() == pytest.approx(0.125**2 / 3,
                                                                                rel=0.02)


def test_cli_train_writes_the_run_files(tmp_path, capsys):
    from circuitdsl.cli import main
    out = tmp_path / "wm"
    assert main(["train", "working-memory-rnn", "--steps", "40", "--seed", "2", "--out",
                 str(out), "--set", "hidden=16", "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir() if p.name != ".circuitdsl.lock") == [
        "learning_curve.png", "pca.png", "run.json", "trace.csv", "weights.npz"]
    rows = (out / "trace.csv").read_text().splitlines()
    assert rows[0] == "step,loss,accuracy" and len(rows) == 41 and rows[40].startswith("40,")
    w = np.load(out / "weights.npz")
    assert w["rnn -> rnn"].shape == (16, 16) and w["rnn -> out"].shape == (3, 16)
    assert "40 steps" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--steps", "0"], "--steps must be >= 1, got 0"),
    (["--lr", "-1"], "--lr must be > 0"),
    (["--set", "hiden=3"], "working-memory-rnn has no parameter hiden"),
])
def test_cli_train_bad_input_is_one_line_and_status_2(tmp_path, capsys, argv, message):
    from circuitdsl.cli import main
    assert main(["train", "working-memory-rnn", "--out", str(tmp_path / "x")] + argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("circuitdsl: error:") and message in err and "\n" not in err


def test_cli_train_needs_a_training_setup(tmp_path, capsys):
    from circuitdsl.cli import main
    assert main(["train", "dnms-reservoir", "--out", str(tmp_path / "x")]) == 2
    assert "has no training set-up" in capsys.readouterr().err


def test_interrupt_keeps_trace_and_weights(tmp_path, monkeypatch):
    import json

    import circuitdsl.training_run as tr
    real_train = tr.train

    def interrupted(*args, on_step, **kwargs):
        def stop_at_25(step, loss, acc):
            on_step(step, loss, acc)
            if step == 25:
                raise KeyboardInterrupt
        return real_train(*args, on_step=stop_at_25, **kwargs)
    monkeypatch.setattr(tr, "train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tr.train_run("working-memory-rnn", 0, tmp_path, params=dict(hidden=8), steps=100,
                     progress=False)
    assert len((tmp_path / "trace.csv").read_text().splitlines()) == 26
    assert np.load(tmp_path / "weights.npz")["obs -> rnn"].shape == (8, 2)
    meta = json.loads((tmp_path / "run.json").read_text())
    assert meta["status"] == "interrupted" and meta["steps_done"] == 25


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_working_memory_rnn_reproduces_the_tutorial(seed):
    """§D.3: decision accuracy (mean of 100 steps) >= 0.85 by step 500, >= 0.90 by 1000,
    0.90-0.95 at 2000 (reference 0.927); final cross-entropy about 0.005-0.01."""
    from circuitdsl.circuits import working_memory_rnn
    c = working_memory_rnn.build()
    res = train(c, c.meta["training"]["task"](), steps=2000, seed=seed, progress=False)
    smooth = res.smoothed()
    assert smooth[499][2] >= 0.85
    assert smooth[999][2] >= 0.90
    assert 0.90 <= smooth[1999][2] <= 0.95
    assert 0.004 <= smooth[1999][1] <= 0.011


def test_update_statements_are_differentiated_too():
    """A discrete-time map written as `update` statements (after integration) is part of the
    step the backward pass differentiates."""
    from circuitdsl.model import Model
    disc = Model("Disc", "r = tanh(x)\ndy/dt = -y/tau", states=dict(x=0.0, y=0.1),
                 params=dict(a=0.6, b=0.1, tau=2.0), inputs=("I",),
                 update="x = a*x + I + b + y\ny += 0.5*r")
    c = Circuit("disc")
    c.add(InputPopulation("obs", 2), Population("d", disc, 4, synapse=RATE),
          LeakyRateLayer("out", 3, "linear", bias=0.2))
    for src, dst in (("obs", "d"), ("d", "d"), ("d", "out")):
        c.connect(src, dst, weight=lambda rng, n: 0.7 * rng.normal(size=n),
                  self_connections=True)
    prog = GradientProgram(c, 1.0, ["obs"], "out", ["obs -> d", "d -> d", "d -> out", "d.a",
                                                    "d.b", "d.tau"], seed=2)
    rng = np.random.default_rng(1)
    errors = finite_difference_check(prog, rng.normal(size=(8, 3, 2)),
                                     rng.integers(0, 3, size=(8, 3)))
    assert len(errors) == 6 and max(errors.values()) <= 1e-6, errors


def test_instantaneous_layers_and_random_dynamics_are_refused():
    from circuitdsl.blocks.layers import RateLayer as InstantLayer
    c = Circuit("instant")
    c.add(InputPopulation("obs", 2), InstantLayer("h", 3, "tanh"),
          LeakyRateLayer("out", 2, "linear"))
    c.connect("obs", "h")
    c.connect("h", "out")
    with pytest.raises(GradientError, match="edge h -> out: its current reads input 'I'"):
        GradientProgram(c, 1.0, ["obs"], "out", ["obs -> h"])
    from circuitdsl.model import Model
    noisy = Model("Noisy", "dx/dt = -x + I + randn()", states=dict(x=0.0), inputs=("I",))
    c2 = Circuit("noisy")
    c2.add(InputPopulation("obs", 1), Population("n", noisy, 2, synapse=RATE))
    c2.connect("obs", "n")
    with pytest.raises(GradientError, match="block 'n'.*draws random numbers"):
        GradientProgram(c2, 1.0, ["obs"], ("n", "x"), ["obs -> n"])


def test_train_refuses_a_run_already_in_out_and_overwrites_on_request(tmp_path):
    """`circuitdsl train` keeps an existing run (refused before anything compiles) unless
    --overwrite; a locked directory is refused too."""
    import json
    from circuitdsl.cli import main
    from circuitdsl.dirlock import DirLock
    from circuitdsl.errors import RunError
    from circuitdsl.training_run import train_run
    out = tmp_path / "wm"
    out.mkdir()
    (out / "run.json").write_text(json.dumps(dict(circuit_source="working-memory-rnn", seed=3,
                                                  status="finished")))
    (out / "notes.txt").write_text("mine")
    with pytest.raises(RunError, match=r"already holds a run \(working-memory-rnn, seed 3, "
                                       r"finished\); replace it with --overwrite"):
        train_run("working-memory-rnn", 0, out, steps=1)
    assert main(["train", "working-memory-rnn", "--out", str(out), "--steps", "1",
                 "--quiet"]) == 2
    with DirLock(tmp_path / "busy", what="training run"):
        with pytest.raises(RunError, match="busy. is in use"):
            train_run("working-memory-rnn", 0, tmp_path / "busy", steps=1)
    meta = train_run("working-memory-rnn", 0, out, steps=2, batch_size=2, progress=False,
                     overwrite=True)
    assert meta["steps_done"] == 2 and (out / "notes.txt").read_text() == "mine"
    assert json.loads((out / "run.json").read_text())["status"] == "finished"
