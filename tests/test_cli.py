"""The command line: list, show, and one-line errors for bad input."""
import pytest

from circuitdsl.cli import main


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
