"""Test session set-up: the suite compiles into its own kernel cache, never the user's.

CIRCUITDSL_CACHE, when set, is kept (so a developer or CI can reuse a warm cache between
runs on purpose); otherwise the session gets a fresh temporary directory, removed at the end.
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
    if _OWN is not None:
        shutil.rmtree(_OWN, ignore_errors=True)
