"""circuitdsl.dirlock: one writer per output directory (no Numba, no circuit)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import pytest

from circuitdsl.dirlock import LOCK_NAME, DirLock
from circuitdsl.errors import CircuitDSLError, RunError

fcntl = pytest.importorskip("fcntl")   # the lock is POSIX-only by design


def test_second_holder_is_refused_with_the_directory_and_the_holder(tmp_path):
    with DirLock(tmp_path, what="sweep"):
        with pytest.raises(RunError) as info:
            with DirLock(tmp_path, what="run"):
                pass
    text = str(info.value)
    assert str(tmp_path) in text
    assert f"another sweep (pid {os.getpid()} on {socket.gethostname()}) holds it" in text
    assert isinstance(info.value, CircuitDSLError) and isinstance(info.value, ValueError)


def test_lock_is_free_again_after_release_and_records_its_holder(tmp_path):
    with DirLock(tmp_path, what="run") as lock:
        assert lock.held
        assert (tmp_path / LOCK_NAME).read_text() == \
            f"run {socket.gethostname()} {os.getpid()}\n"
    assert not lock.held
    with DirLock(tmp_path, what="sweep"):   # no error: the first one let go
        assert (tmp_path / LOCK_NAME).read_text().startswith("sweep ")


def test_refused_holder_does_not_erase_the_holders_line(tmp_path):
    with DirLock(tmp_path, what="sweep"):
        before = (tmp_path / LOCK_NAME).read_text()
        with pytest.raises(RunError):
            DirLock(tmp_path, what="run").acquire()
        assert (tmp_path / LOCK_NAME).read_text() == before


def test_missing_directory_is_created_and_a_file_in_the_way_is_refused(tmp_path):
    target = tmp_path / "a" / "b"
    with DirLock(target):
        assert target.is_dir()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RunError, match="is not a directory"):
        with DirLock(blocker):
            pass


def test_lock_held_by_another_process_is_released_when_it_is_killed(tmp_path):
    code = textwrap.dedent(f"""
        import sys, time
        from circuitdsl.dirlock import DirLock
        lock = DirLock({str(tmp_path)!r}, what="sweep").acquire()
        print("held", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(RunError, match=f"another sweep \\(pid {proc.pid} on "):
            DirLock(tmp_path, what="run").acquire()
    finally:
        proc.kill()
        proc.wait()
    with DirLock(tmp_path, what="run"):   # the OS released the dead holder's lock
        pass
