"""circuitdsl.sweep.watchdog and .worker: a worker ends when its sweep is gone, a failed run is
a result (not an exception), a run started again replaces what its stopped attempt left, and
the one-thread environment is restored. Small Python child processes, and one tiny circuit
run in this process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from circuitdsl.sweep import THREAD_ENV, plan, run_task
from circuitdsl.sweep.planning import describe_run
from circuitdsl.sweep.state import run_state
from circuitdsl.sweep.watchdog import Watchdog, process_alive
from circuitdsl.sweep.worker import ThreadEnv, one_line


def test_one_line_joins_lines_and_names_the_type():
    assert one_line(ValueError("a\n  b\n\n")) == "ValueError: a | b"
    assert one_line(KeyError()) == "KeyError"


def test_thread_env_sets_and_restores(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    with ThreadEnv():
        assert all(os.environ[k] == v for k, v in THREAD_ENV.items())
    assert os.environ["OMP_NUM_THREADS"] == "7" and "MKL_NUM_THREADS" not in os.environ


def test_a_run_that_cannot_start_is_a_failed_result(tmp_path, monkeypatch):
    for k in THREAD_ENV:                  # run_task sets them for its process
        monkeypatch.setenv(k, os.environ.get(k, "1"))
    result = run_task(dict(circuit=str(tmp_path / "missing.py"), seed=0, params={},
                           out=str(tmp_path / "r"), trials=1, resume=False))
    assert result["status"] == "failed" and result["metrics"] == {}
    assert "no circuit file" in result["error"] and "missing.py" in result["error"]


def test_a_run_started_again_replaces_what_its_stopped_attempt_left(tmp_path, monkeypatch):
    """A run whose worker was stopped after it wrote its files (its pool broke around it) is
    run again from its start; run_one must not refuse it as 'already holds a run'."""
    for k in THREAD_ENV:
        monkeypatch.setenv(k, os.environ.get(k, "1"))
    tiny = str(Path(__file__).parents[1] / "data" / "tiny_learner.py")
    run = dict(plan([5])[0], dir=tmp_path / "run-0000-seed5")
    first = run_task(describe_run(run, tiny, {}, 2, resume=False))
    assert first["status"] == "done", first["error"]
    (run["dir"] / "checkpoint.npz").unlink()     # finished, 2 trials, no checkpoint to resume
    assert run_state(run["dir"], 5, tiny, {}, 3)[0] == "fresh"
    again = run_task(describe_run(run, tiny, {}, 3, resume=False))
    assert again["status"] == "done", again["error"]
    assert json.loads((run["dir"] / "run.json").read_text())["n_trials_done"] == 3


def test_process_alive_tells_a_live_process_from_a_dead_one():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    assert process_alive(proc.pid)
    proc.kill()
    time.sleep(0.2)
    assert not process_alive(proc.pid)     # killed but not reaped: a zombie counts as gone
    proc.wait()


def test_watchdog_ends_its_process_when_the_watched_one_dies_and_starts_once():
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    code = textwrap.dedent(f"""
        import time
        from circuitdsl.sweep.watchdog import Watchdog
        first = Watchdog.of_process({owner.pid}, period=0.02).start()
        second = Watchdog.of_process({owner.pid}, period=0.02).start()
        print(first, second, Watchdog.running(), flush=True)
        time.sleep(20)
        print("not stopped", flush=True)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().split() == ["True", "False", "True"]
        assert child.poll() is None
        owner.kill()
        owner.wait()
        t0 = time.time()
        assert child.wait(timeout=5) == Watchdog.EXIT_CODE
        assert time.time() - t0 < 2
        assert child.stdout.read() == ""
    finally:
        for p in (owner, child):
            if p.poll() is None:
                p.kill()
                p.wait()


def test_no_watchdog_in_this_process():
    assert not Watchdog.running()   # only workers start one: it would end the test session
