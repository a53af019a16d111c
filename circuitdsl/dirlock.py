"""A lock on an output directory, so two runs or sweeps never write into one directory at once.

    with DirLock(out, what="run"):
        ...   # write out/trace.csv, out/run.json, ...

One lock file per directory (`DIR/.circuitdsl.lock`) whatever holds it, so a run and a sweep
pointed at the same directory exclude each other too. The lock is an advisory `flock`, so the
operating system releases it when the holder exits or is killed: a stale lock file never
blocks anyone, and nothing has to clean it up. The file says who holds it ("sweep <host>
<pid>"), which the refusal repeats.

On a platform without `fcntl` (not POSIX) there is no lock: entering succeeds and writes
nothing, as the sweep's lock always did there.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path

from circuitdsl.errors import RunError

LOCK_NAME = ".circuitdsl.lock"


class DirLock:
    """Context manager holding an exclusive lock on `directory` (created if missing, also
    where there is no lock).

    what: what holds the lock ("run", "sweep", ...), written into the lock file and named in
    the refusal another holder gets. Entering raises RunError when another process (or
    another DirLock in this process) holds the directory."""

    def __init__(self, directory, what="sweep"):
        self.directory = Path(directory)
        self.path = self.directory / LOCK_NAME
        self.what = str(what)
        self.fh = None

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()

    def acquire(self):
        if self.fh is not None:
            raise RunError(f"the lock on '{self.directory}' is already held by this object")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise RunError(f"'{self.directory}' is not a directory (a file is in the way)") \
                from None
        except OSError as err:
            raise RunError(f"cannot create '{self.directory}': {err.strerror or err}") from None
        try:
            import fcntl
        except ImportError:   # not POSIX: no lock (the directory is still created)
            return self
        try:
            # "a+" and not "w": opening must not erase the holder's line before we know
            # whether we get the lock (the refusal quotes that line).
            fh = open(self.path, "a+")
        except OSError as err:
            raise RunError(f"cannot lock '{self.directory}': {err.strerror or err}") from None
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _holder(fh)
            fh.close()
            raise RunError(f"'{self.directory}' is in use: another {holder} holds it; wait "
                           "for it to end or use another directory") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{self.what} {socket.gethostname()} {os.getpid()}\n")
        fh.flush()
        self.fh = fh
        return self

    def release(self):
        if self.fh is not None:
            self.fh.close()   # closing the file releases the flock
            self.fh = None

    @property
    def held(self):
        return self.fh is not None


def _holder(fh):
    """'sweep (pid 123 on host h)' from a lock file's line; 'run or sweep' if unreadable."""
    try:
        fh.seek(0)
        parts = fh.read().split()
    except OSError:
        parts = []
    if len(parts) == 3:
        what, host, pid = parts
        return f"{what} (pid {pid} on {host})"
    return "run or sweep"
