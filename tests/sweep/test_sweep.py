"""Sweeps: many runs over seeds and a grid, on local processes or Dask, resumable.

All sweeps here run tests/data/tiny_learner.py (eight noisy rate units, a trial-end learning
rule, a few ms per trial), so the file takes well under two minutes on two cores.
"""
import csv
import glob
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from circuitdsl.cli import main
from circuitdsl.experiment import read_trace
from circuitdsl.runs import run_one
from circuitdsl.sweep import SweepError, derive_seeds, sweep

TINY = str(Path(__file__).parents[1] / "data" / "tiny_learner.py")
TRIALS = 6


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def without(rows, *columns):
    return [{k: v for k, v in r.items() if k not in columns} for r in rows]


def exit_status(argv):
    """main()'s exit status, whether it returns it or raises SystemExit with it."""
    try:
        return main(argv)
    except SystemExit as stop:
        return stop.code


def finished(out):
    """Run directories whose run.json says they finished."""
    done = []
    for f in glob.glob(str(Path(out) / "run-*" / "run.json")):
        try:
            if "finished" in json.loads(Path(f).read_text()):
                done.append(Path(f).parent)
        except ValueError:   # being written right now
            pass
    return done


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "local"
    rows = sweep(TINY, seeds=4, workers=2, out=out, trials=TRIALS, root_seed=7, progress=False)
    return out, rows


def test_seeds_come_from_one_seed_sequence():
    expected = [int(c.generate_state(1)[0] % 2**31)
                for c in np.random.SeedSequence(7).spawn(4)]
    assert derive_seeds(4, 7) == expected
    assert derive_seeds(6, 7)[:4] == expected          # more seeds only add runs
    assert len(set(derive_seeds(20, 0))) == 20
    assert all(0 <= s < 2**31 for s in derive_seeds(20, 0))


def test_sweep_on_two_processes_matches_sequential_runs(local_sweep, tmp_path):
    out, rows = local_sweep
    seeds = derive_seeds(4, 7)
    assert [r["seed"] for r in rows] == seeds
    assert [r["status"] for r in rows] == ["done"] * 4
    assert [r["run"] for r in rows] == [f"run-{k:04d}-seed{s}" for k, s in enumerate(seeds)]
    for r in rows:
        ref = run_one(TINY, r["seed"], {}, tmp_path / f"seq{r['seed']}", trials=TRIALS,
                      progress=False)
        mine = read_trace(out / r["run"] / "trace.csv")
        theirs = read_trace(tmp_path / f"seq{r['seed']}" / "trace.csv")
        assert len(mine) == TRIALS
        assert without(mine, "seconds") == without(theirs, "seconds")
        meta = json.loads((out / r["run"] / "run.json").read_text())
        assert meta["seed"] == r["seed"] and meta["n_trials_done"] == TRIALS
        assert meta["metrics"] == ref["metrics"]
        assert r["final_error"] == ref["metrics"]["final_error"]
    # summary.csv: one row per run, the seed, every metric, wall seconds, status and error
    summary = read_csv(out / "summary.csv")
    assert list(summary[0]) == ["run", "seed", "final_error", "mean_error", "seconds", "status",
                                "error"]
    assert [int(s["seed"]) for s in summary] == seeds
    assert [float(s["mean_error"]) for s in summary] == [r["mean_error"] for r in rows]
    assert all(float(s["seconds"]) > 0 and s["error"] == "" for s in summary)
    assert (out / "summary.png").stat().st_size > 5000
    desc = json.loads((out / "sweep.json").read_text())
    assert desc["seeds"] == seeds and desc["root_seed"] == 7 and desc["trials"] == TRIALS


def test_rerun_skips_finished_runs_and_refuses_a_different_sweep(local_sweep):
    out, rows = local_sweep
    stamps = {f: os.stat(f).st_mtime_ns for f in glob.glob(str(out / "run-*" / "*"))}
    again = sweep(TINY, seeds=4, workers=2, out=out, trials=TRIALS, root_seed=7,
                  progress=False)
    assert without(again, "seconds") == without(rows, "seconds")
    assert stamps == {f: os.stat(f).st_mtime_ns for f in glob.glob(str(out / "run-*" / "*"))}
    with pytest.raises(SweepError, match="holds a different run"):
        sweep(TINY, seeds=4, workers=2, out=out, trials=TRIALS, root_seed=7, progress=False,
              params={"eta": 0.2})
    with pytest.raises(SweepError, match="already holds 6 trials, more than the 3"):
        sweep(TINY, seeds=4, workers=2, out=out, trials=3, root_seed=7, progress=False)


def test_dask_local_cluster_gives_the_same_summary(local_sweep, tmp_path):
    pytest.importorskip("distributed")
    out, rows = local_sweep
    dask_rows = sweep(TINY, seeds=4, workers=2, out=tmp_path / "dask", trials=TRIALS,
                      root_seed=7, progress=False, dask_local=True)
    assert without(dask_rows, "seconds") == without(rows, "seconds")
    local = read_csv(out / "summary.csv")
    remote = read_csv(tmp_path / "dask" / "summary.csv")
    assert len(remote) == 4
    assert without(remote, "seconds") == without(local, "seconds")
    for r in rows:
        assert read_trace(tmp_path / "dask" / r["run"] / "trace.csv")[-1]["rate"] == \
            read_trace(out / r["run"] / "trace.csv")[-1]["rate"]


def test_an_existing_dask_scheduler_runs_the_same_runs(local_sweep, tmp_path):
    distributed = pytest.importorskip("distributed")
    out, rows = local_sweep
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        remote = sweep(TINY, seeds=[r["seed"] for r in rows[:2]], workers=1,
                       out=tmp_path / "remote", trials=TRIALS, progress=False,
                       scheduler=cluster.scheduler_address)
    assert without(remote, "seconds") == without(rows[:2], "seconds")


def test_missing_dask_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(SweepError, match=r'pip install "circuitdsl\[dask\]"'):
        sweep(TINY, seeds=2, out=tmp_path / "s", dask_local=True, progress=False)
    assert not (tmp_path / "s").exists()


def test_killed_sweep_resumes_without_redoing_finished_runs(tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "circuitdsl.cli", "sweep", TINY, "--seeds", "4",
           "--workers", "2", "--trials", "700", "--out", str(out), "--root-seed", "3",
           "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    while not finished(out) and time.time() - t0 < 90 and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)       # the sweep only: its workers must notice and stop
    proc.wait()
    time.sleep(0.5)   # orphaned workers stop within 0.1 s: after that nothing changes
    done_before = finished(out)
    assert 1 <= len(done_before) < 4, "the sweep should be killed midway"
    stamps = {d: (json.loads((d / "run.json").read_text())["finished"],
                  (d / "run.json").stat().st_mtime_ns, (d / "trace.csv").stat().st_mtime_ns)
              for d in done_before}
    interrupted = [d for d in out.glob("run-*") if d not in done_before and
                   (d / "checkpoint.npz").exists()]
    rows_before = {d: len(read_trace(d / "trace.csv")) for d in interrupted}
    time.sleep(0.5)
    assert rows_before == {d: len(read_trace(d / "trace.csv")) for d in interrupted}
    assert set(finished(out)) == set(done_before)

    result = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "4 of 4 runs done" in result.stdout
    for d, stamp in stamps.items():            # finished runs were not redone
        assert stamp == (json.loads((d / "run.json").read_text())["finished"],
                         (d / "run.json").stat().st_mtime_ns,
                         (d / "trace.csv").stat().st_mtime_ns)
    summary = read_csv(out / "summary.csv")
    assert [s["status"] for s in summary] == ["done"] * 4
    assert [int(s["seed"]) for s in summary] == derive_seeds(4, 3)
    # a resumed run wrote the same trace as one run without interruption
    partial = [d for d in interrupted if 0 < rows_before[d] < 700]
    if partial:
        d = partial[0]
        seed = int(d.name.rsplit("seed", 1)[1])
        ref = run_one(TINY, seed, {}, tmp_path / "ref", trials=700, progress=False)
        assert without(read_trace(d / "trace.csv"), "seconds") == \
            without(read_trace(tmp_path / "ref" / "trace.csv"), "seconds")
        assert json.loads((d / "run.json").read_text())["metrics"] == ref["metrics"]


def test_failed_runs_are_recorded_and_the_others_finish(tmp_path, capsys):
    out = tmp_path / "blowup"
    rows = sweep(TINY, seeds=[1, 2], grid={"gain": [1.0, 1e9]}, workers=2, out=out,
                 trials=3, params={"activation": "linear"}, progress=False)
    assert [(r["gain"], r["seed"], r["status"]) for r in rows] == [
        (1.0, 1, "done"), (1e9, 1, "failed"), (1.0, 2, "done"), (1e9, 2, "failed")]
    summary = read_csv(out / "summary.csv")
    assert list(summary[0]) == ["run", "gain", "seed", "final_error", "mean_error", "seconds",
                                "status", "error"]
    for s in summary:
        if s["gain"] == "1.0":
            assert s["status"] == "done" and s["error"] == "" and float(s["final_error"]) >= 0
        else:
            assert s["status"] == "failed" and s["final_error"] == ""
            assert s["error"].startswith("SimulationError: state 'x' of block 'R'")
            assert "became nan" in s["error"] and "\n" not in s["error"]

    # through the CLI: an invalid value (N=0) fails its runs; exit status 1; re-running
    # skips the finished runs and retries the failed ones
    out = tmp_path / "invalid"
    argv = ["sweep", TINY, "--seeds", "2", "--grid", "N=4,0", "--trials", "2", "--workers",
            "2", "--out", str(out), "--quiet"]
    assert exit_status(argv) == 1
    captured = capsys.readouterr()
    assert "2 of 4 runs done" in captured.out and "2 run(s) failed" in captured.err
    summary = read_csv(out / "summary.csv")
    assert [(s["N"], s["status"]) for s in summary] == [("4", "done"), ("0", "failed")] * 2
    assert all("N must be a positive integer, got 0" in s["error"]
               for s in summary if s["status"] == "failed")
    ok = [out / s["run"] / "run.json" for s in summary if s["status"] == "done"]
    stamps = [f.stat().st_mtime_ns for f in ok]
    assert exit_status(argv) == 1
    assert [f.stat().st_mtime_ns for f in ok] == stamps
    assert [s["status"] for s in read_csv(out / "summary.csv")] == ["done", "failed"] * 2


def test_a_run_that_kills_its_worker_fails_alone(tmp_path):
    rows = sweep(TINY, seeds=[1, 2], grid={"crash": [0, 1]}, workers=2, out=tmp_path / "c",
                 trials=2, progress=False)
    assert [(r["crash"], r["status"]) for r in rows] == [(0, "done"), (1, "failed")] * 2
    assert all(r["error"].startswith("the worker process died during this run")
               for r in rows if r["status"] == "failed")
    assert [len(read_trace(tmp_path / "c" / r["run"] / "trace.csv")) for r in rows
            if r["status"] == "done"] == [2, 2]


@pytest.mark.parametrize("extra, message", [
    (["--grid", "gain"], "--grid expects NAME.PARAM=V1,V2,..."),
    (["--grid", "gain="], "--grid expects NAME.PARAM=V1,V2,..."),
    (["--grid", "gain=1,,2"], "--grid expects NAME.PARAM=V1,V2,..."),
    (["--grid", "=1,2"], "--grid expects NAME.PARAM=V1,V2,..."),
    (["--grid", "gain=1,2", "--grid", "gain=3"], "--grid 'gain' is given twice"),
    (["--grid", "gain=1,1"], "grid 'gain' repeats a value"),
    (["--scheduler", "tcp://127.0.0.1:8786", "--dask-local"],
     "use either --scheduler ADDRESS or --dask-local, not both"),
    (["--seeds", "0"], "--seeds must be >= 1, got 0"),
    (["--workers", "0"], "--workers must be >= 1, got 0"),
    (["--trials", "0"], "--trials must be >= 1, got 0"),
    (["--set", "gain=2", "--grid", "gain=1,2"], "'gain' is both fixed (--set) and swept"),
    # checked against the circuit's parameters before any run starts (issue 14, item 7)
    (["--grid", "gian=1,2"], "tiny_learner.py has no such parameter (did you mean 'gain'?); "
                             "its parameters: gain, eta, target, activation, N, crash"),
    (["--grid", "gian=1,2"], "unknown grid parameter 'gian': "),
    (["--set", "bogus.thing=1"], "unknown --set parameter 'bogus.thing'"),
])
def test_bad_sweep_options_are_one_line_errors(extra, message, tmp_path, capsys):
    assert main(["sweep", TINY, "--out", str(tmp_path / "s")] + extra) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("circuitdsl: error: ") and message in err
    assert "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "s").exists()


def test_unknown_circuit_is_a_one_line_error(tmp_path, capsys):
    assert main(["sweep", "nope", "--out", str(tmp_path / "s")]) == 2
    assert "unknown circuit 'nope'" in capsys.readouterr().err
    assert main(["sweep", "missing.py", "--out", str(tmp_path / "s")]) == 2
    assert "no circuit file 'missing.py'" in capsys.readouterr().err
