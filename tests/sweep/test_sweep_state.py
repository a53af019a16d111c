"""circuitdsl.sweep.state and .summary: what a sweep directory says is done, and the
summary.csv it writes. Run directories are written by hand here: no kernel, no worker."""
from __future__ import annotations

import csv
import json

import pytest

from circuitdsl.sweep import SweepError, headline_metric, write_summary
from circuitdsl.sweep.state import number, old_seconds, read_meta, run_state

SOURCE = "/abs/tiny.py"


def write_meta(run_dir, **meta):
    run_dir.mkdir(parents=True, exist_ok=True)
    base = dict(seed=3, circuit_source=SOURCE, set={"eta": 0.1})
    (run_dir / "run.json").write_text(json.dumps({**base, **meta}))


def state(run_dir, trials=6, params=None):
    return run_state(run_dir, 3, SOURCE, {"eta": 0.1} if params is None else params,
                     trials)[0]


def test_nothing_yet_or_a_cut_short_run_json_is_fresh(tmp_path):
    assert state(tmp_path / "none") == "fresh"
    (tmp_path / "cut").mkdir()
    (tmp_path / "cut" / "run.json").write_text('{"seed": 3, "circ')   # killed mid-write
    assert read_meta(tmp_path / "cut" / "run.json") is None
    assert state(tmp_path / "cut") == "fresh"


def test_finished_runs_are_done_and_unfinished_ones_resume_from_a_checkpoint(tmp_path):
    write_meta(tmp_path / "a", trials=6, n_trials_done=6, finished="2026-01-01")
    assert state(tmp_path / "a") == "done"
    assert state(tmp_path / "a", trials=None) == "done"      # None: the run's own number
    assert state(tmp_path / "a", trials=9) == "fresh"        # more trials, no checkpoint
    (tmp_path / "a" / "checkpoint.npz").write_bytes(b"")
    assert state(tmp_path / "a", trials=9) == "resume"       # more trials continue it
    write_meta(tmp_path / "b", trials=6, n_trials_done=2)
    assert state(tmp_path / "b") == "fresh"                  # interrupted before a checkpoint
    (tmp_path / "b" / "checkpoint.npz").write_bytes(b"")
    assert state(tmp_path / "b") == "resume"
    write_meta(tmp_path / "plain", metrics={})               # plain simulation: no trials
    assert state(tmp_path / "plain") == "done"


def test_a_different_run_or_too_many_trials_is_refused(tmp_path):
    write_meta(tmp_path / "a", trials=6, n_trials_done=6, finished="x")
    with pytest.raises(SweepError) as info:
        state(tmp_path / "a", params={"eta": 0.2})
    assert str(info.value) == (f"'{tmp_path / 'a'}' holds a different run (circuit {SOURCE}, "
                               "seed 3, parameters {'eta': 0.1}); use another --out for a "
                               "different sweep")
    with pytest.raises(SweepError, match="holds a different run"):
        run_state(tmp_path / "a", 4, SOURCE, {"eta": 0.1}, 6)
    with pytest.raises(SweepError, match="already holds 6 trials, more than the 3 asked for"):
        state(tmp_path / "a", trials=3)


def test_parameters_are_compared_as_run_json_stores_them(tmp_path):
    write_meta(tmp_path / "a", set={"t": [1, 2]}, trials=6, n_trials_done=6, finished="x")
    assert state(tmp_path / "a", params={"t": (1, 2)}) == "done"   # a tuple is a JSON list


def test_old_seconds_and_number(tmp_path):
    assert old_seconds(tmp_path / "missing.csv") == {}
    (tmp_path / "s.csv").write_text("run,seed,seconds,status,error\nr0,1,2.5,done,\n")
    assert old_seconds(tmp_path / "s.csv") == {"r0": "2.5"}
    assert number("2.5") == 2.5 and number("") == "" and number(None) == ""


def row(k, status="done", **metrics):
    return dict(run=f"run-{k}", eta=0.1 * k, seed=k, _k=k, seconds=1.0, status=status,
                error="" if status == "done" else "boom", _metrics=metrics)


def test_summary_csv_columns_order_and_reserved_metric_names(tmp_path):
    rows = [row(1, acc=0.5, seed=9, hist=[1, 2]), row(0, acc=float("nan")),
            row(2, status="failed")]
    write_summary(tmp_path / "summary.csv", rows, ["eta"])
    with open(tmp_path / "summary.csv", newline="") as fh:
        table = list(csv.reader(fh))
    assert table[0] == ["run", "eta", "seed", "acc", "metric_seed", "hist", "seconds",
                        "status", "error"]
    assert table[1:] == [["run-0", "0.0", "0", "nan", "", "", "1.0", "done", ""],
                         ["run-1", "0.1", "1", "0.5", "9", "[1, 2]", "1.0", "done", ""],
                         ["run-2", "0.2", "2", "", "", "", "1.0", "failed", "boom"]]
    assert not (tmp_path / "summary.csv.tmp").exists()


def test_headline_metric_is_the_first_with_a_finite_number_in_a_finished_run():
    assert headline_metric([row(0, a=float("nan"), b=2.0), row(1, a=None, b=1.0)]) == "b"
    assert headline_metric([row(0, status="failed", a=1.0)]) is None
    assert headline_metric([row(0, a=True)]) is None            # a bool is not a number
