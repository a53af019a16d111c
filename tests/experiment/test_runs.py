"""The run directory (circuitdsl.runs): one writer at a time, nothing overwritten by accident,
a resume that continues the same run, and plain runs (circuits without a runner) that trial,
learn, record and draw. Tiny circuits only: tests/data/tiny_learner.py and the docs' example.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from circuitdsl.cli import main
from circuitdsl.dirlock import LOCK_NAME
from circuitdsl.errors import RunError
from circuitdsl.experiment import read_trace
from circuitdsl.runs import run_one

TINY = str(Path(__file__).parents[1] / "data" / "tiny_learner.py")
EXAMPLE = str(Path(__file__).parents[2] / "docs" / "examples" / "my_circuit.py")


def _strip(rows):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def test_a_second_run_into_a_running_runs_directory_is_refused(tmp_path, capsys):
    """Two processes at once on one --out: the second is refused in one line and the first
    writes its trace alone (before the lock the two interleaved their rows)."""
    out = tmp_path / "both"
    n = 3000
    first = subprocess.Popen([sys.executable, "-m", "circuitdsl.cli", "run", TINY, "--trials",
                              str(n), "--out", str(out), "--quiet"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        lock = out / LOCK_NAME
        while not (lock.exists() and f" {first.pid}" in lock.read_text()):
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first run never took the lock"
            time.sleep(0.05)
        assert main(["run", TINY, "--trials", "5", "--seed", "1", "--out", str(out),
                     "--quiet"]) == 2
        err = capsys.readouterr().err.strip()
        assert f"'{out}' is in use: another run (pid {first.pid} " in err and "\n" not in err
        assert first.poll() is None, "the first run ended before the second was tried"
    finally:
        stdout, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    rows = read_trace(out / "trace.csv")
    assert [int(r["trial"]) for r in rows] == list(range(1, n + 1))
    meta = json.loads((out / "run.json").read_text())
    assert (meta["seed"], meta["n_trials_done"]) == (0, n)


def test_an_existing_run_is_refused_and_overwrite_replaces_it(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["run", TINY, "--trials", "3", "--out", str(out), "--quiet"]) == 0
    before = (out / "trace.csv").read_text()
    capsys.readouterr()
    assert main(["run", TINY, "--trials", "4", "--seed", "2", "--out", str(out),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "already holds a run" in err and f"--resume {out}" in err and "--overwrite" in err
    assert (out / "trace.csv").read_text() == before       # nothing was touched
    (out / "notes.txt").write_text("mine")                  # a user's file in the directory
    assert main(["run", TINY, "--trials", "4", "--seed", "2", "--out", str(out), "--quiet",
                 "--overwrite"]) == 0
    meta = json.loads((out / "run.json").read_text())
    assert (meta["seed"], meta["n_trials_done"]) == (2, 4)
    assert len(read_trace(out / "trace.csv")) == 4 and (out / "trace.csv").read_text() != before
    assert (out / "notes.txt").read_text() == "mine"       # overwrite removes only run files


def test_a_run_killed_while_starting_is_not_an_existing_run(tmp_path):
    """run.json without a checkpoint or a finish: nothing to keep, so a new run starts (a
    sweep re-running such a run must not be refused)."""
    out = tmp_path / "r"
    out.mkdir()
    (out / "run.json").write_text(json.dumps({"circuit_source": TINY, "seed": 0, "trials": 3}))
    meta = run_one(TINY, 0, {}, out, trials=2, progress=False)
    assert meta["n_trials_done"] == 2


@pytest.mark.parametrize("extra, named", [
    (["--seed", "1"], "--seed 1 differs from the run's 0"),
    (["--dt", "0.5"], "--dt 0.5 differs from the run's 1.0"),
    (["--set", "eta=0.1"], "--set eta=0.1 differs from the run's '(not set)'"),
    (["--set", "gain=2"], "--set gain=2 differs"),
    (["--trials", "2"], "--trials 2 is fewer than the 3 trials"),
    (["--overwrite"], "use either --resume DIR"),
])
def test_resume_refuses_every_option_that_differs_from_run_json(tmp_path, capsys, extra, named):
    out = tmp_path / "r"
    assert main(["run", TINY, "--trials", "3", "--out", str(out), "--quiet"]) == 0
    before = (out / "trace.csv").read_text()
    capsys.readouterr()
    assert main(["run", "--resume", str(out), "--quiet"] + extra) == 2
    err = capsys.readouterr().err.strip()
    assert named in err and "\n" not in err
    assert (out / "trace.csv").read_text() == before


def test_resume_may_extend_trials_and_equals_an_uninterrupted_run(tmp_path):
    assert main(["run", TINY, "--trials", "5", "--seed", "3", "--out", str(tmp_path / "a"),
                 "--quiet"]) == 0
    assert main(["run", TINY, "--trials", "2", "--seed", "3", "--set", "eta=0.05", "--out",
                 str(tmp_path / "b"), "--quiet"]) == 0
    # options equal to run.json's are not a difference
    assert main(["run", "--resume", str(tmp_path / "b"), "--trials", "5", "--seed", "3",
                 "--set", "eta=0.05", "--quiet"]) == 0
    a, b = (read_trace(tmp_path / d / "trace.csv") for d in "ab")
    assert _strip(a) == _strip(b) and len(a) == 5


def test_run_directory_paths_are_checked(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["run", TINY, "--out", str(blocker)]) == 2
    assert f"--out '{blocker}' is a file, not a directory" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["run", "--resume", str(tmp_path / "empty")]) == 2
    assert "cannot resume" in capsys.readouterr().err
    with pytest.raises(RunError, match="no checkpoint.npz"):
        out = tmp_path / "nockpt"
        out.mkdir()
        (out / "run.json").write_text(json.dumps(dict(circuit_source=TINY, seed=0, trials=3,
                                                      set={}, dt=1.0)))
        run_one(None, None, {}, out, resume=True, progress=False)


def test_plain_run_trials_apply_learning_record_and_draw(tmp_path, capsys):
    """The docs' example: B gets no drive and fires only once the growth rule (trial-end,
    with meta['signals']) has raised the A -> B weights; --record writes the last trial."""
    out = tmp_path / "ex"
    assert main(["run", EXAMPLE, "--trials", "5", "--record", "A.spikes,B.spikes,B.V",
                 "--out", str(out)]) == 0
    cap = capsys.readouterr()
    assert "my-circuit: simulated 5 trials of 200.0 ms" in cap.out
    rows = read_trace(out / "trace.csv")
    b = [int(r["spikes.B"]) for r in rows]
    assert b[:2] == [0, 0] and b[-1] > 0 and b == sorted(b)   # learning, trial by trial
    assert len({r["spikes.A"] for r in rows}) == 1              # A is driven, not learning
    meta = json.loads((out / "run.json").read_text())
    assert meta["learning"] == "applied after each trial (growth)"
    rec = np.load(out / "record.npz")
    assert rec["B.V"].shape == (2000, 5) and rec["t"].shape == (2000,)
    assert len(rec["B.spikes.time"]) == b[-1] and rec["A.spikes.unit"].max() == 4
    assert (out / "record.png").stat().st_size > 10000
    assert sorted(meta["outputs"]) == ["checkpoint.npz", "record.npz", "record.png",
                                       "run.json", "trace.csv"]


def test_plain_run_says_when_it_cannot_apply_a_rule(tmp_path, capsys):
    f = tmp_path / "c.py"
    f.write_text(Path(EXAMPLE).read_text().replace(', signals={"reward": 1.0}', ""))
    out = tmp_path / "r"
    assert main(["run", str(f), "--trials", "3", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "note: trial-end learning not applied: rule 'growth' on edge A -> B needs the " \
           "trial-level signal(s) reward" in err
    assert [int(r["spikes.B"]) for r in read_trace(out / "trace.csv")] == [0, 0, 0]
    assert json.loads((out / "run.json").read_text())["learning"].startswith("not applied")


def test_first_run_says_it_is_compiling(tmp_path, capsys, monkeypatch):
    """On an empty kernel cache a line comes before the long silence; on a warm one not."""
    from circuitdsl.compiler import cache as cache_mod
    monkeypatch.setenv("CIRCUITDSL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cache_mod, "_default", {})
    args = ["run", EXAMPLE, "--trials", "1", "--set", "N=3"]
    assert main(args + ["--out", str(tmp_path / "a")]) == 0
    assert "compiling kernels for my-circuit (cached afterwards)..." in capsys.readouterr().err
    monkeypatch.setattr(cache_mod, "_default", {})      # a new process, the same disk cache
    assert main(args + ["--out", str(tmp_path / "b")]) == 0
    assert "compiling" not in capsys.readouterr().err


def test_the_docs_page_shows_the_example_that_runs_here():
    """docs/writing-a-circuit.md includes docs/examples/my_circuit.py verbatim (the file the
    test above runs), and the page's meta table names every key runs.py reads."""
    page = (Path(__file__).parents[2] / "docs" / "writing-a-circuit.md").read_text()
    block = page.split("```python\n", 1)[1].split("```", 1)[0]
    assert block == Path(EXAMPLE).read_text()
    import circuitdsl.runs as runs
    src = Path(runs.__file__).read_text()
    import re
    read = set(re.findall(r"circuit\.meta(?:\.get\(|\[)\"(\w+)\"", src))
    documented = set(re.findall(r"^\| `(\w+)` \|", page, flags=re.M))
    assert {"runner", "signals", "duration", "dt", "default_trials"} <= read   # found them
    assert read <= documented, read - documented


def test_a_resumed_plain_run_equals_an_uninterrupted_one(tmp_path):
    args = ["run", EXAMPLE, "--quiet", "--set", "N=3"]
    assert main(args + ["--trials", "5", "--out", str(tmp_path / "a")]) == 0
    assert main(args + ["--trials", "2", "--out", str(tmp_path / "b")]) == 0
    assert main(["run", "--resume", str(tmp_path / "b"), "--trials", "5", "--quiet"]) == 0
    a, b = (read_trace(tmp_path / d / "trace.csv") for d in "ab")
    assert _strip(a) == _strip(b) and int(a[-1]["spikes.B"]) > 0   # learned across the resume


def test_a_resume_records_its_new_total_at_once(tmp_path, monkeypatch):
    """A resume to more trials that is itself killed is resumed to that total."""
    import circuitdsl.experiment as experiment
    out = tmp_path / "r"
    assert main(["run", TINY, "--trials", "2", "--out", str(out), "--quiet"]) == 0
    real = experiment.run_trials

    def killed(runner, n, out_dir, resume=False, progress=True):
        meta = json.loads((Path(out_dir) / "run.json").read_text())
        assert meta["trials"] == 5 and "finished" not in meta   # on disk before any trial
        raise KeyboardInterrupt
    monkeypatch.setattr(experiment, "run_trials", killed)
    assert main(["run", "--resume", str(out), "--trials", "5", "--quiet"]) == 130
    monkeypatch.setattr(experiment, "run_trials", real)
    assert main(["run", "--resume", str(out), "--quiet"]) == 0
    assert len(read_trace(out / "trace.csv")) == 5
