"""A worker that dies with its sweep: no orphan goes on writing into a run directory that a
re-started sweep resumes.

A watchdog is a daemon thread that polls "is my sweep still there?" every `period` seconds
and ends the process (os._exit) as soon as the answer is no. At most one runs per process;
whether one runs is read from the process's threads (by name), not kept in a variable, so
there is no module-level state to keep in step.
"""
from __future__ import annotations

import functools
import os
import threading
import time


def parent_is(pid):
    """True while this process's parent is `pid` (a pool worker whose sweep was killed is
    re-parented, to init or a subreaper)."""
    return os.getppid() == pid


def process_alive(pid):
    """True while process `pid` exists and is not a zombie (killed but not yet reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True   # no /proc (not Linux): existing is all we can tell


class Watchdog:
    """Exit this process with EXIT_CODE when `alive()` turns false."""

    THREAD_NAME = "circuitdsl-sweep-watchdog"
    EXIT_CODE = 3

    def __init__(self, alive, period=0.1):
        self.alive = alive
        self.period = period

    @classmethod
    def of_parent(cls, pid, period=0.1):
        """Watch a process-pool worker's parent, the sweep."""
        return cls(functools.partial(parent_is, pid), period)

    @classmethod
    def of_process(cls, pid, period=0.1):
        """Watch a process that is not our parent (the sweep behind a Dask LocalCluster)."""
        return cls(functools.partial(process_alive, pid), period)

    @classmethod
    def running(cls):
        """Whether this process already has a watchdog."""
        return any(t.name == cls.THREAD_NAME and t.is_alive() for t in threading.enumerate())

    def start(self):
        """Start watching unless a watchdog already runs here; returns whether this one
        started."""
        if self.running():
            return False
        threading.Thread(target=self._loop, name=self.THREAD_NAME, daemon=True).start()
        return True

    def _loop(self):
        while self.alive():
            time.sleep(self.period)
        os._exit(self.EXIT_CODE)
