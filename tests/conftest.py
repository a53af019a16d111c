"""Test session set-up: the suite compiles into its own kernel cache, never the user's.

CIRCUITDSL_CACHE, when set, is kept (so a developer or CI can reuse a warm cache between
runs on purpose); otherwise the session gets a fresh temporary directory, removed at the end.
Under pytest-xdist (`-n 2`, the default in pyproject.toml) the controlling process makes the
directory before it starts the workers, which inherit it: every worker shares one cache, so a
kernel two workers need is compiled once (writes are atomic, tests/runtime/test_simulator.py).
"""
from __future__ import annotations

import os
import shutil
import tempfile

_OWN = None
if not os.environ.get("CIRCUITDSL_CACHE"):
    _OWN = tempfile.mkdtemp(prefix="circuitdsl-test-cache-")
    os.environ["CIRCUITDSL_CACHE"] = _OWN


def pytest_sessionfinish(session, exitstatus):
    # only the process that made the directory removes it (a worker's session ends earlier)
    if _OWN is not None and not os.environ.get("PYTEST_XDIST_WORKER"):
        shutil.rmtree(_OWN, ignore_errors=True)
