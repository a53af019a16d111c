"""What a sweep will run, decided before anything starts: seeds, the grid, the circuit, and the
list of runs with their directory names.

Everything here is checked in the sweep's own process, so a bad option is one error before any
worker starts or any file is written, not one failed run per grid point.
"""
from __future__ import annotations

import difflib
import hashlib
import inspect
import itertools
import json
import re
from pathlib import Path

from circuitdsl.errors import RunError
from circuitdsl.sweep.summary import RESERVED


class SweepError(RunError):
    """A sweep that cannot start (bad seeds, grid, workers, or a run directory in the way)."""


def derive_seeds(n, root_seed=0):
    """`n` run seeds (0 <= seed < 2**31) from one root seed, via SeedSequence.spawn."""
    import numpy as np   # lazy: a spawned worker imports this package before THREAD_ENV holds
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise SweepError(f"--seeds must be a positive number of runs, got {n!r}")
    children = np.random.SeedSequence(int(root_seed)).spawn(int(n))
    return [int(c.generate_state(1)[0] % 2**31) for c in children]


def seed_list(seeds, root_seed):
    """An explicit list of seeds (checked) or `seeds` seeds derived from `root_seed`."""
    if isinstance(seeds, (list, tuple)):
        out = []
        for s in seeds:
            if isinstance(s, bool) or not isinstance(s, int) and not hasattr(s, "__index__"):
                raise SweepError(f"seeds must be integers, got {s!r}")
            if int(s) < 0:
                raise SweepError(f"seeds must be >= 0, got {int(s)}")
            out.append(int(s))
        if not out:
            raise SweepError("seeds is an empty list")
        if len(set(out)) != len(out):
            raise SweepError(f"seeds has duplicates: {out}")
        return out
    return derive_seeds(seeds, root_seed)


def tag(point):
    """Directory-safe text for one grid point, e.g. 'eta=0.1_VAC-_AC.weight=3'."""
    if not point:
        return ""
    text = "_".join(f"{k}={v}" for k, v in point.items())
    text = re.sub(r"[^A-Za-z0-9._=+-]", "_", text)
    if len(text) > 80:
        digest = hashlib.sha1(text.encode()).hexdigest()[:8]
        text = f"{text[:70]}-{digest}"
    return text


def plan(seeds, grid=None):
    """The runs of a sweep in order (seed-major): dicts with k, name, seed and point."""
    grid = dict(grid or {})
    keys = list(grid)
    points = [dict(zip(keys, values)) for values in itertools.product(*grid.values())]
    total = len(points) * len(seeds)
    width = max(4, len(str(total - 1)))
    runs = []
    for seed in seeds:
        for point in points:
            k = len(runs)
            middle = f"-{tag(point)}" if point else ""
            name = f"run-{k:0{width}d}{middle}-seed{seed}"
            runs.append(dict(k=k, name=name, seed=seed, point=point))
    return runs


def parse_grid(items, cast=str):
    """--grid NAME.PARAM=V1,V2,... items (repeatable) -> {name: [cast(value), ...]}."""
    out = {}
    for item in items or []:
        key, sep, values = item.partition("=")
        parts = values.split(",")
        if not sep or not key.strip() or not values or any(not v.strip() for v in parts):
            raise SweepError(f"--grid expects NAME.PARAM=V1,V2,... (comma-separated values), "
                             f"got '{item}'")
        if key in out:
            raise SweepError(f"--grid '{key}' is given twice")
        out[key] = [cast(v.strip()) for v in parts]
    return out


def check_grid(grid, params):
    """The grid as {name: [values]}, refusing empty, repeated or reserved names and values."""
    grid = dict(grid or {})
    for key, values in grid.items():
        if not isinstance(key, str) or not key:
            raise SweepError(f"grid parameter names must be non-empty strings, got {key!r}")
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise SweepError(f"grid '{key}' needs a list of values, got {values!r}")
        values = list(values)
        if not values:
            raise SweepError(f"grid '{key}' has no values")
        if len({json.dumps(v, default=str) for v in values}) != len(values):
            raise SweepError(f"grid '{key}' repeats a value: {values}")
        if key in params:
            raise SweepError(f"'{key}' is both fixed (--set) and swept (--grid)")
        if key in RESERVED:
            raise SweepError(f"'{key}' cannot be a grid parameter name (a summary column)")
        grid[key] = values
    return grid


def check_circuit(circuit):
    """A file circuit becomes an absolute path (workers may start elsewhere); a name must be a
    shipped circuit. Fails before any worker starts."""
    text = str(circuit)
    if text.endswith(".py"):
        path = Path(text).expanduser()
        if not path.is_file():
            raise SweepError(f"no circuit file '{circuit}'")
        return str(path.resolve())
    from circuitdsl.runs import shipped_circuits
    shipped = shipped_circuits()
    if text not in shipped:
        raise SweepError(f"unknown circuit '{circuit}'; ready circuits: "
                         f"{', '.join(sorted(shipped))} (or pass a .py file)")
    return text


def known_parameters(module):
    """The parameter names a circuit module's build(**params) takes, or None if it cannot be
    told without building: a module-level PARAMS dict (the convention of every shipped
    circuit, see circuit.resolve_params), else the named arguments of build() unless it
    also takes **params."""
    params = getattr(module, "PARAMS", None)
    if isinstance(params, dict):
        return list(params)
    try:
        signature = inspect.signature(module.build)
    except (TypeError, ValueError):
        return None
    kinds = [p.kind for p in signature.parameters.values()]
    if inspect.Parameter.VAR_KEYWORD in kinds:
        return None
    return [p.name for p in signature.parameters.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def check_parameters(source, grid, params, label=None):
    """Refuse a grid or --set name the circuit does not have, before any run starts (each run
    would otherwise build the circuit and fail with the same error). `source` is what
    check_circuit returned; the circuit module is loaded (not built) here."""
    names = [(key, "grid") for key in grid] + [(key, "--set") for key in params]
    if not names:
        return
    from circuitdsl.runs import load_circuit_module
    known = known_parameters(load_circuit_module(source))
    if known is None:       # build(**params) without PARAMS: only a build can tell
        return
    label = label or (Path(source).name if str(source).endswith(".py") else source)
    for key, where in names:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise SweepError(f"unknown {where} parameter '{key}': {label} has no such "
                             f"parameter{hint}; its parameters: "
                             f"{', '.join(known) if known else '(none)'}")


def describe_run(run, source, run_params, trials, resume):
    """The description of one run sent to a worker: plain data (it is pickled), the
    arguments of runs.run_one.

    A run not resumed is started over with overwrite=True: state.run_state has already
    checked that whatever its directory holds is this same run (circuit, seed, parameters)
    and not done, e.g. a run whose worker was stopped (its pool broke, or the sweep was killed
    before the run's first checkpoint), now run again from its start."""
    return dict(circuit=source, seed=run["seed"], params=run_params, out=str(run["dir"]),
                trials=trials, resume=resume, overwrite=not resume)
