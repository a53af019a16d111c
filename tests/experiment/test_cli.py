"""The command line: list, show, run --help, declared options, and errors: a bad input exits
with status 2 and a message naming what is wrong (BAD_INPUTS, printed as docs/cli-errors.md by
bench/cli_bad_inputs.py); anything else is a bug and prints its traceback."""
from pathlib import Path

import numpy as np
import pytest

from circuitdsl.cli import main
from circuitdsl.runs import run_one


def test_list_and_show(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "category-learning" in out and "hebbian-cortex" in out
    assert main(["show", "category-learning"]) == 0
    out = capsys.readouterr().out
    assert "76 units" in out and "70 plastic" in out
    assert "AC -> STR1" in out and "25 plastic" in out


@pytest.mark.parametrize("argv, message", [
    (["run", "nope"], "unknown circuit 'nope'"),
    (["run", "missing.py"], "no circuit file 'missing.py'"),
    (["run", "category-learning", "--set", "bogus"], "--set expects NAME.PARAM=VALUE"),
    (["run", "category-learning", "--set", "x.y=1"], "has no parameter x.y"),
    (["run", "category-learning", "--stimuli", "/no/such.csv"], "does not exist"),
    (["run", "category-learning", "--trials", "0"], "--trials must be >= 1"),
    (["plot", "/tmp"], "is not a run directory"),
    (["run", "--resume", "/tmp/definitely-not-a-run"], "cannot resume"),
])
def test_bad_input_is_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


def test_file_without_build(tmp_path, capsys):
    f = tmp_path / "c.py"
    f.write_text("x = 1\n")
    assert main(["run", str(f)]) == 2
    assert "does not define build" in capsys.readouterr().err


def test_run_a_user_circuit_file_for_a_duration(tmp_path, capsys):
    import json
    f = tmp_path / "lif.py"
    f.write_text("from circuitdsl.circuit import Circuit\n"
                 "from circuitdsl.blocks import LIFNeurons\n"
                 "def build(drive=25.0):\n"
                 "    c = Circuit('lif-file')\n"
                 "    c.add(LIFNeurons('A', 3, I_ext=drive))\n"
                 "    return c\n")
    out = tmp_path / "run"
    assert main(["run", str(f), "--duration", "100", "--dt", "0.1", "--out", str(out),
                 "--set", "drive=25"]) == 0
    meta = json.loads((out / "run.json").read_text())
    # ISI = 10 ln(25/5) + 2 ms = 18.1 ms: 5 spikes in 100 ms for each of the 3 neurons
    assert meta["spike_counts"]["A"] == [5, 5, 5]
    assert "simulated 100.0 ms" in capsys.readouterr().out
    assert main(["run", str(f), "--set", "nodrive=1"]) == 2


def test_run_points_training_circuits_to_train():
    from circuitdsl.runs import RunError, run_one

    with pytest.raises(RunError, match="use `circuitdsl train working-memory-rnn`"):
        run_one("working-memory-rnn", 0, {}, "/nonexistent/never-written")


# ---- bad inputs: every one is refused with a message naming what is wrong ----------------------

TINY = str(Path(__file__).parents[1] / "data" / "tiny_learner.py")

FILES = {
    "nobuild.py": "x = 1\n",
    "syntax.py": "def build(:\n",
    "caret.py": ("from circuitdsl.model import Model\n"
                 "BAD = Model('Bad', 'dx/dt = -x + foo', states=dict(x=0.0))\n"
                 "def build():\n    pass\n"),
    "notcircuit.py": "def build():\n    return 3\n",
    "lif.py": ("from circuitdsl.circuit import Circuit\n"
               "from circuitdsl.blocks import LIFNeurons\n"
               "def build(drive=25.0):\n"
               "    c = Circuit('lif-file')\n"
               "    c.add(LIFNeurons('A', 3, I_ext=drive))\n"
               "    return c\n"),
    "kw.py": ("from circuitdsl.circuit import Circuit\n"
              "from circuitdsl.blocks import LIFNeurons\n"
              "def build(**params):\n"
              "    c = Circuit('kw')\n"
              "    c.add(LIFNeurons('A', 3, I_ext=params.get('drive', 25.0)))\n"
              "    return c\n"),
    "blow.py": ("from circuitdsl.block import Population\n"
                "from circuitdsl.circuit import Circuit\n"
                "from circuitdsl.model import Model\n"
                "GROW = Model('Grow', 'dx/dt = x/tau', states=dict(x=1.0), params=dict(tau=0.01))\n"
                "def build():\n"
                "    c = Circuit('blow-up')\n"
                "    c.add(Population('G', GROW, 2))\n"
                "    return c\n"),
    "nostim.py": ("from circuitdsl.circuit import Circuit\n"
                  "from circuitdsl.blocks import LIFNeurons\n"
                  "def build():\n"
                  "    c = Circuit('nostim')\n"
                  "    c.add(LIFNeurons('A', 3))\n"
                  "    c.meta.update(kind='classification')\n"
                  "    return c\n"),
    "wrongstim.py": ("from circuitdsl.circuit import Circuit\n"
                     "from circuitdsl.blocks import LIFNeurons\n"
                     "def build():\n"
                     "    c = Circuit('wrongstim')\n"
                     "    c.add(LIFNeurons('A', 3))\n"
                     "    c.meta.update(kind='classification', stimulus='images')\n"
                     "    return c\n"),
    "bug.py": "def build():\n    return {}['x']\n",
    "afile": "not a directory\n",
}


def make_inputs(d):
    """The files the bad inputs refer to, in directory `d`."""
    d = Path(d)
    for name, text in FILES.items():
        (d / name).write_text(text)
    (d / "dir.py").mkdir()
    (d / "empty").mkdir()
    rng = np.random.default_rng(0)
    header = ",".join(f"pixel_{i + 1}" for i in range(20))
    (d / "three.csv").write_text(header + ",category\n" + "".join(
        ",".join(f"{v:.3f}" for v in rng.random(20)) + f",{k % 3 + 1}\n" for k in range(30)))
    (d / "nocat.csv").write_text(header + "\n" + ",".join(["0.5"] * 20) + "\n")
    (d / "narrow.csv").write_text("pixel_1,pixel_2,category\n0.1,0.2,1\n0.3,0.4,2\n")
    run_one(TINY, 0, {}, d / "existing", trials=2, progress=False)
    (d / "dnmsrun").mkdir()     # a run.json is all a refused resume reads
    (d / "dnmsrun" / "run.json").write_text(
        '{"circuit_source": "dnms-reservoir", "seed": 0, "trials": 5, "dt": 1.0, '
        '"set": {"variant": "original"}}')


# (command line with {d} for the inputs' directory, a part of the message). Every one exits
# with status 2 and no traceback. bench/cli_bad_inputs.py prints them as docs/cli-errors.md.
BAD_INPUTS = [
    # the circuit
    (["run", "nope"], "unknown circuit 'nope'; ready circuits: category-learning"),
    (["run", "missing.py"], "no circuit file 'missing.py'"),
    (["run", "{d}/dir.py"], "circuit file '{d}/dir.py' is a directory"),
    (["run", "{d}/nobuild.py"], "does not define build(**params) -> Circuit"),
    (["run", "{d}/syntax.py"], "syntax.py: SyntaxError"),
    (["run", "{d}/caret.py"], "Bad, line 1: unknown name 'foo'"),
    (["run", "{d}/notcircuit.py"], "build() returned int, not a Circuit"),
    (["run"], "run needs a circuit name or file (or --resume DIR)"),
    (["run", "working-memory-rnn"], "use `circuitdsl train working-memory-rnn`"),
    (["run", "{d}/nostim.py"], "meta['stimulus'] (the name of its ImageStimulus block) is "
                              "not set"),
    (["run", "{d}/wrongstim.py"], "meta['stimulus'] names block 'images', which it does not "
                                 "have"),
    (["run", "{d}/blow.py"], "state 'x' of block 'G' (unit 0) became inf at t = "),
    # --set
    (["run", "category-learning", "--set", "bogus"], "--set expects NAME.PARAM=VALUE, got "
                                                      "'bogus'"),
    (["run", "category-learning", "--set", "=3"], "--set expects NAME.PARAM=VALUE"),
    (["run", "category-learning", "--set", "x.y=1"], "--set x.y: category-learning has no "
                                                      "parameter x.y"),
    (["run", "category-learning", "--set", "modulated.K=abc"],
     "--set modulated.K=abc: modulated.K is a number (default 0.06)"),
    (["run", "category-learning", "--set", "modulated.K=1", "--set", "modulated.K=2"],
     "--set modulated.K is given twice"),
    (["run", "category-learning", "--set", "t_block=abc"], "t_block is a number"),
    (["run", "category-learning", "--set", "stimuli_seed=1.5"], "stimuli_seed is an integer"),
    (["run", "category-learning", "--set", "VAC.density=-0.5"],
     "block 'VAC': density must be in (0, 1], got -0.5"),
    (["run", "category-learning", "--set", "VAC.density=7"],
     "block 'VAC': density must be in (0, 1], got 7.0"),
    (["run", "category-learning", "--set", "AC.density=0"], "block 'AC': density must be in"),
    (["run", "category-learning", "--set", "VAC->AC.density=0"],
     "edge VAC -> AC: density must be in (0, 1], got 0.0"),
    (["run", "category-learning", "--set", "VAC->AC.density=1.5"],
     "edge VAC -> AC: density must be in (0, 1], got 1.5"),
    (["run", TINY, "--set", "N=0"], "with --set N=0: block 'R': N must be a positive integer, got 0"),
    (["run", TINY, "--set", "activation=relu"], "tiny_learner.py with --set activation=relu"),
    (["run", "{d}/lif.py", "--set", "bogus.thing=1"], "--set bogus.thing: {d}/lif.py has no "
                                                       "parameter bogus.thing"),
    (["run", "{d}/lif.py", "--set", "drive=abc"], "--set drive=abc: drive is a number"),
    (["run", "{d}/kw.py", "--set", "bogus.thing=1"], "kw.py has build(**params) but does not "
                                                      "say which parameters it takes"),
    # --stimuli
    (["run", "category-learning", "--stimuli", "/no/such.csv"], "--stimuli '/no/such.csv' "
                                                                 "does not exist"),
    (["run", "category-learning", "--stimuli", "{d}"], "--stimuli '{d}' is a directory"),
    (["run", "category-learning", "--stimuli", "{d}/three.csv"],
     "categories 1, 2, 3, but circuit 'category-learning' chooses between 2 actions"),
    (["run", "category-learning", "--stimuli", "{d}/nocat.csv"],
     "header must have exactly one 'category' column"),
    (["run", "category-learning", "--stimuli", "{d}/narrow.csv"],
     "file has 2 pixel columns but the cortex expects n_pixels=20"),
    (["run", TINY, "--stimuli", "{d}/three.csv"], f"--stimuli: {TINY} has no parameter "
                                                  "stimuli"),
    # numbers
    (["run", TINY, "--trials", "0"], "--trials must be >= 1, got 0"),
    (["run", TINY, "--trials", "-3"], "--trials must be >= 1, got -3"),
    (["run", TINY, "--trials", "abc"], "argument --trials: invalid int value: 'abc'"),
    (["run", TINY, "--trials", "1.5"], "argument --trials: invalid int value: '1.5'"),
    (["run", TINY, "--seed", "-1"], "--seed must be >= 0, got -1"),
    (["run", TINY, "--seed", "abc"], "argument --seed: invalid int value: 'abc'"),
    (["run", TINY, "--dt", "0"], "--dt must be > 0, got 0.0"),
    (["run", TINY, "--dt", "-0.1"], "--dt must be > 0, got -0.1"),
    (["run", TINY, "--dt", "nan"], "--dt must be finite, got nan"),
    (["run", TINY, "--dt", "inf"], "--dt must be finite, got inf"),
    (["run", "{d}/lif.py", "--duration", "0"], "--duration must be > 0, got 0.0"),
    (["run", "{d}/lif.py", "--duration", "-5"], "--duration must be > 0, got -5.0"),
    (["run", TINY, "--duration", "10"], "--duration applies to circuits without trials"),
    (["run", "lttb-trajectory", "--dt", "0.5"], "use --set dt=0.5, not --dt"),
    # --record
    (["run", TINY, "--record", "R.x"], "--record applies to circuits without trials"),
    (["run", "{d}/lif.py", "--record", "A.W"], "--record A.W: block 'A' (model 'LIF') has no "
                                               "state or parameter 'W'"),
    (["run", "{d}/lif.py", "--record", "X.V"], "--record X.V: no block 'X'"),
    (["run", "{d}/lif.py", "--record", "B.spikes"], "--record B.spikes: 'B' is not a spiking "
                                                    "population; spiking: A"),
    (["run", "{d}/lif.py", "--record", "V"], "--record expects BLOCK.VARIABLE entries"),
    # --out and --resume
    (["run", TINY, "--out", "{d}/afile"], "--out '{d}/afile' is a file, not a directory"),
    (["run", TINY, "--out", "{d}/existing"], "already holds a run"),
    (["run", "--resume", "{d}/empty"], "cannot resume: {d}/empty/run.json does not exist"),
    (["run", "--resume", "{d}/afile"], "--resume '{d}/afile' is a file, not a directory"),
    (["run", "--resume", "{d}/existing", "--seed", "5"], "--seed 5 differs from the run's 0"),
    (["run", "--resume", "{d}/existing", "--dt", "0.5"], "--dt 0.5 differs from the run's 1.0"),
    (["run", "--resume", "{d}/existing", "--set", "eta=0.2"], "--set eta=0.2 differs"),
    (["run", "--resume", "{d}/existing", "--trials", "1"], "--trials 1 is fewer than the 2 "
                                                          "trials"),
    (["run", "--resume", "{d}/existing", "--overwrite"], "use either --resume DIR"),
    (["run", "--resume", "{d}/existing", "--out", "{d}/other"], "--out {d}/other and --resume "
                                                               "{d}/existing differ"),
    (["run", "--resume", "{d}/existing", "category-learning"], "the circuit category-learning "
                                                               "differs"),
    # a circuit's own options
    (["run", "dnms-reservoir", "--variant", "dense"], "argument --variant: invalid choice: "
                                                      "'dense'"),
    (["run", "dnms-reservoir", "--protocol", "head"], "--protocol: not an option of "
                                                      "`circuitdsl run` for dnms-reservoir; "
                                                      "dnms-reservoir's own options: --variant"),
    (["run", "--resume", "{d}/dnmsrun", "--variant", "sparse"], "--variant sparse differs "
                                                                "from the run's 'original'"),
    (["run", "--variant", "sparse", "dnms-reservoir", "--trials", "0"], "--trials must be >= 1"),
    (["run", "category-learning", "--variant", "sparse"], "category-learning declares no "
                                                          "options of its own"),
    (["run", "two-pathway-reaching", "--hebbian-rate", "abc"], "argument --hebbian-rate: "
                                                               "invalid float value: 'abc'"),
    (["run", "two-pathway-reaching", "--hebbian-rate", "-1"], "hebbian_rate must be >= 0"),
    (["run", "lttb-trajectory", "--epochs", "0"], "epochs must be >= 1"),
    (["run", "lttb-trajectory", "--protocol", "newest"], "argument --protocol: invalid "
                                                         "choice: 'newest'"),
    # the other commands
    (["show", "nope"], "unknown circuit 'nope'"),
    (["show", "category-learning", "--set", "x.y=1"], "has no parameter x.y"),
    (["show", "category-learning", "--bogus"], "--bogus: not an option of `circuitdsl show`"),
    (["plot", "{d}/empty"], "is not a run directory (no run.json)"),
    (["plot", "{d}/existing"], "tiny-learner has no figures to redraw"),
    (["sweep", TINY, "--out", "{d}/s", "--seeds", "0"], "--seeds must be >= 1, got 0"),
    (["sweep", TINY, "--out", "{d}/s", "--grid", "bogus=1,2"], "unknown grid parameter "
                                                               "'bogus'"),
    (["sweep", TINY, "--out", "{d}/afile"], "is not a directory (a file is in the way)"),
    (["train", "working-memory-rnn", "--steps", "0", "--out", "{d}/t"], "--steps must be >= 1"),
    (["train", "category-learning", "--out", "{d}/t"], "has no training set-up"),
    ([], "the following arguments are required: command"),
    (["bogus"], "argument command: invalid choice: 'bogus'"),
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    make_inputs(d)
    return d


def _fill(items, d):
    return [str(x).replace("{d}", str(d)) for x in items]


@pytest.mark.parametrize("argv, message", BAD_INPUTS, ids=[" ".join(a) or "(nothing)"
                                                          for a, _ in BAD_INPUTS])
def test_every_bad_input_is_refused_naming_it(argv, message, inputs, tmp_path, monkeypatch,
                                              capsys):
    monkeypatch.chdir(tmp_path)            # default run directories land here
    assert main(_fill(argv, inputs)) == 2
    err = capsys.readouterr().err
    assert message.replace("{d}", str(inputs)) in err and "Traceback" not in err
    if not any("blow.py" in a for a in argv):     # (that one is a run that started, and stopped)
        assert not (tmp_path / "results").exists()   # a refused run writes nothing


def test_an_equation_error_keeps_its_caret_under_the_symbol(inputs, capsys):
    assert main(["run", f"{inputs}/caret.py"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("circuitdsl: error: ") and "unknown name 'foo'" in lines[0]
    text, caret = lines[1], lines[2]
    assert text.strip() == "dx/dt = -x + foo"
    assert text[caret.index("^"):caret.index("^") + caret.count("^")] == "foo"


def test_a_bug_prints_a_traceback_and_says_where_it_was_raised(inputs, capsys, monkeypatch):
    assert main(["run", f"{inputs}/bug.py"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "KeyError: 'x'" in err
    assert f"raised in {inputs}/bug.py, line 2, which is not part of circuitdsl" in err

    import circuitdsl.runs as runs

    # an engine bug (a KeyError raised inside circuitdsl) is not reported as a user error
    monkeypatch.setattr(runs, "_record_list", {}.__getitem__)
    assert main(["run", TINY]) == 1
    err = capsys.readouterr().err
    assert "KeyError: None" in err and "this is a bug in circuitdsl" in err
    assert "circuitdsl: error:" not in err


def test_a_closed_pipe_is_not_an_error():
    """`circuitdsl list | head -1`: the reader has gone; exit quietly."""
    import os
    import subprocess
    import sys
    r, w = os.pipe()
    os.close(r)
    try:
        proc = subprocess.run([sys.executable, "-m", "circuitdsl.cli", "list"], stdout=w,
                              stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(w)
    assert (proc.returncode, proc.stderr) == (0, "")


def test_circuits_declare_their_own_options(capsys, tmp_path):
    import circuitdsl.cli as cli
    src = Path(cli.__file__).read_text()
    for flag in ("--variant", "--protocol", "--hebbian-rate", "--epochs", "--iterations"):
        assert f'"{flag}"' not in src          # no per-circuit flag in cli.py
    assert main(["run", "dnms-reservoir", "--help"]) == 0
    out = capsys.readouterr().out
    assert "options of dnms-reservoir" in out and "--variant {original,sparse}" in out
    assert "(default: 'original')" in out and "examples:" in out
    assert main(["run", "lttb-trajectory", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--epochs INT" in out and "--iterations INT" in out and "--protocol" in out
    assert main(["run", "two-pathway-reaching", "--help"]) == 0
    assert "--hebbian-rate FLOAT" in capsys.readouterr().out
    # the spelling maps to the build() parameter (in run.json's 'set', like --set)
    from circuitdsl.runs import build_circuit
    assert build_circuit("dnms-reservoir", {"variant": "sparse"}).name == \
        "dnms-reservoir[sparse]"


def test_run_help_describes_every_option_with_a_default():
    import argparse
    import circuitdsl.cli as cli
    p = cli.parser()
    run = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction)).choices["run"]
    for action in run._actions:
        if action.option_strings and action.dest not in ("help", "quiet", "overwrite"):
            assert "default" in (action.help or "") or action.dest == "resume", action.dest
            assert action.help, action.dest


def test_show_params_lists_every_parameter_with_default_and_meaning(capsys):
    assert main(["show", "category-learning", "--params"]) == 0
    out = capsys.readouterr().out
    from circuitdsl.circuits.category_learning import PARAMS
    for key, default in PARAMS.items():
        line = next(l for l in out.splitlines() if l.split() and l.split()[0] == key)
        assert repr(default) in line and len(line.split()) > 2, line
    assert "initial weight of the plastic VAC -> AC edge" in out and "quote names with '->'" in out
    from circuitdsl.runs import describe_parameter   # without PARAM_HELP: what the name says
    assert describe_parameter("VAC->AC.weight") == "weight of the edge VAC -> AC"
    assert describe_parameter("hebbian.K") == "K of hebbian"
    assert main(["show", "dnms-reservoir", "--params"]) == 0
    out = capsys.readouterr().out
    assert "--variant STR" in out and "(one of original, sparse)" in out


@pytest.mark.parametrize("name", ["category-learning", "hebbian-cortex", "dnms-reservoir",
                                  "two-pathway-reaching", "lttb-trajectory",
                                  "working-memory-rnn"])
def test_every_parameter_of_a_shipped_circuit_has_a_meaning(name, capsys):
    from circuitdsl.runs import load_circuit_module
    module = load_circuit_module(name)
    assert set(module.PARAMS) == set(module.PARAM_HELP)
    assert main(["show", name, "--params"]) == 0
    out = capsys.readouterr().out
    for key, text in module.PARAM_HELP.items():
        assert text in out, key


def test_plot_redraws_a_finished_runs_figures_with_its_circuits_redraw(tmp_path, capsys):
    import os
    out = tmp_path / "hc"
    assert main(["run", "hebbian-cortex", "--trials", "1", "--out", str(out), "--quiet"]) == 0
    figure = out / "adjacency_after.png"
    os.utime(figure, ns=(0, 0))
    assert main(["plot", str(out)]) == 0
    assert f"figures written to {out}" in capsys.readouterr().out
    assert figure.stat().st_mtime_ns > 0 and figure.stat().st_size > 10000
