"""circuitdsl.sweep.driver: what sweep() refuses before it starts a worker or writes a file."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from circuitdsl.dirlock import DirLock
from circuitdsl.errors import RunError
from circuitdsl.sweep import SweepError, sweep

TINY = str(Path(__file__).parents[1] / "data" / "tiny_learner.py")


def test_a_directory_held_by_another_run_is_refused_and_left_alone(tmp_path):
    pytest.importorskip("fcntl")
    out = tmp_path / "s"
    with DirLock(out, what="run"):
        with pytest.raises(RunError) as info:
            sweep(TINY, seeds=2, out=out, trials=1, progress=False)
    assert f"'{out}' is in use: another run (pid {os.getpid()} on " in str(info.value)
    assert sorted(p.name for p in out.iterdir()) == [".circuitdsl.lock"]   # nothing written


def test_unknown_grid_parameter_is_refused_before_the_directory_exists(tmp_path):
    with pytest.raises(SweepError, match="unknown grid parameter 'gian'"):
        sweep(TINY, seeds=2, grid={"gain": [1.0], "gian": [1, 2]}, out=tmp_path / "s",
              progress=False)
    assert not (tmp_path / "s").exists()


def test_out_onto_a_file_is_a_run_error(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(RunError, match="is not a directory"):
        sweep(TINY, seeds=1, out=tmp_path / "f", trials=1, progress=False)
