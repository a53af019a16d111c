"""Generated kernels on disk, named by the hash of their source and the toolchain versions.

A module is written once (atomically, so two processes compiling at once never see half a
file) and imported from its path; Numba's own cache (`cache=True`) then keeps the machine code
beside it, so a warm start skips compilation. Within one process, modules are memoised, and
`compiled` counts the modules this cache had to generate or import.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import numba
import numpy as np


def default_cache_dir():
    env = os.environ.get("CIRCUITDSL_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "circuitdsl"


class KernelCache:
    """Maps generated source to an imported module, through files in `directory`."""

    def __init__(self, directory=None):
        self.directory = Path(directory) if directory else default_cache_dir()
        self._modules = {}
        self.compiled = 0      # modules generated or imported by this cache object
        self.written = 0       # module files written to disk (0 on a warm disk cache)

    @staticmethod
    def key(source):
        tag = f"{sys.version_info[:3]}|numpy {np.__version__}|numba {numba.__version__}\n"
        return hashlib.sha256((tag + source).encode()).hexdigest()[:24]

    def load(self, source):
        key = self.key(source)
        if key in self._modules:
            return self._modules[key]
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"k_{key}.py"
        if not path.exists():
            fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            with os.fdopen(fd, "w") as fh:
                fh.write(source)
            os.replace(tmp, path)
            self.written += 1
        spec = importlib.util.spec_from_file_location(f"circuitdsl_kernel_{key}", path)
        module = importlib.util.module_from_spec(spec)
        # Numba's disk cache re-imports the module by name when it loads compiled code.
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        self._modules[key] = module
        self.compiled += 1
        return module


_default = {}


def get_cache(directory=None):
    """The process's cache object for a directory (one per directory, so memoisation works)."""
    d = str(Path(directory) if directory else default_cache_dir())
    if d not in _default:
        _default[d] = KernelCache(d)
    return _default[d]
