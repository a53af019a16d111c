"""One run as a pure call: (circuit name or file, parameters, seed, trials) -> a run directory.

`run_one` is what `circuitdsl run` does and what a sweep does for each of its runs, so a
sweep's run with seed S gives the same files as `circuitdsl run ... --seed S`.
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import os
import pkgutil
import platform
import time
from pathlib import Path

import numpy as np

import circuitdsl


class RunError(ValueError):
    """A run that cannot start (unknown circuit, bad file, bad option value)."""


def shipped_circuits():
    """Ready circuit names (as on the command line) -> module names."""
    import circuitdsl.circuits as pkg
    return {m.name.replace("_", "-"): m.name for m in pkgutil.iter_modules(pkg.__path__)
            if not m.name.startswith("_")}


def load_circuit_module(name):
    """A shipped circuit's module by name, or a user's circuit file."""
    if str(name).endswith(".py"):
        path = Path(name)
        if not path.is_file():
            raise RunError(f"no circuit file '{name}'")
        spec = importlib.util.spec_from_file_location(f"circuit_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as err:  # a user's file: report it, do not crash
            raise RunError(f"{name}: {type(err).__name__}: {err}") from None
        if not callable(getattr(module, "build", None)):
            raise RunError(f"{name} does not define build(**params) -> Circuit")
        return module
    shipped = shipped_circuits()
    if name not in shipped:
        raise RunError(f"unknown circuit '{name}'; ready circuits: {', '.join(sorted(shipped))} "
                       "(or pass a .py file)")
    return importlib.import_module(f"circuitdsl.circuits.{shipped[name]}")


def build_circuit(name, params):
    from circuitdsl.circuit import Circuit
    module = load_circuit_module(name)
    try:
        circuit = module.build(**params)
    except TypeError as err:   # e.g. --set with a name build() does not take
        if "argument" not in str(err):
            raise
        raise RunError(f"{name}: {err}") from None
    if not isinstance(circuit, Circuit):
        raise RunError(f"{name}: build() returned {type(circuit).__name__}, not a Circuit")
    return circuit


def write_json(path, data):
    """Write run metadata atomically: a run killed mid-write keeps the previous file."""
    path = Path(path)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


def runner_factory(circuit):
    """The circuit's trial runner factory, or None for a plain simulation."""
    from circuitdsl.experiment import classification_runner
    factory = circuit.meta.get("runner")
    if factory is None and circuit.meta.get("kind") == "classification":
        factory = classification_runner
    return factory


def run_one(name, seed, params, out, trials=None, dt=None, resume=False, progress=True,
            duration=None):
    """Run (or resume) one circuit into `out`; returns its run.json content."""
    from circuitdsl.experiment import run_trials
    out = Path(out)
    meta = None
    if resume:
        meta_path = out / "run.json"
        if not meta_path.exists():
            raise RunError(f"cannot resume: {meta_path} does not exist")
        meta = json.loads(meta_path.read_text())
        name, seed, params = meta["circuit_source"], meta["seed"], meta["set"]
    circuit = build_circuit(name, dict(params))
    if circuit.meta.get("kind") == "training":
        raise RunError(f"{name} is trained by gradient descent: use `circuitdsl train {name}`")
    dt = dt or (meta or {}).get("dt") or circuit.meta.get("dt", 0.05)
    if dt <= 0:
        raise RunError(f"--dt must be > 0, got {dt}")
    out.mkdir(parents=True, exist_ok=True)
    factory = runner_factory(circuit)
    if factory is None:
        return _run_plain(circuit, name, seed, dt, duration or 1000.0, out, params)
    trials = trials if trials is not None else \
        (meta or {}).get("trials") or circuit.meta.get("default_trials", 100)
    if trials < 1:
        raise RunError(f"--trials must be >= 1, got {trials}")
    t0 = time.perf_counter()
    runner = factory(circuit, seed, dt)
    if meta is None:
        meta = dict(circuit=circuit.name, circuit_source=str(name),
                    version=circuitdsl.__version__, seed=seed, trials=trials, dt=dt,
                    set=dict(params), params=circuit.meta.get("params", {}),
                    python=platform.python_version(), numpy=np.__version__,
                    machine=platform.machine(), started=time.strftime("%Y-%m-%d %H:%M:%S"))
        stim = circuit.meta.get("stimulus")
        if stim:
            images = circuit[stim].images
            meta.update(stimuli=images.source, stimuli_sha256=images.sha256)
        write_json(out / "run.json", meta)
    meta["trials"] = trials
    rows = run_trials(runner, trials, out, resume=resume, progress=progress)
    summary = runner.finish(out, rows, meta) if hasattr(runner, "finish") else ""
    metrics = runner.metrics(rows) if hasattr(runner, "metrics") else {}
    meta.update(finished=time.strftime("%Y-%m-%d %H:%M:%S"), n_trials_done=len(rows),
                seconds_this_session=round(time.perf_counter() - t0, 3), summary=summary,
                metrics=metrics)
    write_json(out / "run.json", meta)
    return meta


def _run_plain(circuit, name, seed, dt, duration, out, params=None):
    from circuitdsl.simulator import Simulator
    t0 = time.perf_counter()
    sim = Simulator(circuit, dt=dt, seed=seed)
    rec = sim.run(duration)
    counts = {p: rec.spike_counts(p).tolist() for p in rec.spikes}
    meta = dict(circuit=circuit.name, circuit_source=str(name), version=circuitdsl.__version__,
                seed=seed, dt=dt, duration=duration, set=dict(params or {}),
                spike_counts=counts, summary=f"simulated {duration} ms", metrics={},
                seconds_this_session=round(time.perf_counter() - t0, 3),
                finished=time.strftime("%Y-%m-%d %H:%M:%S"))
    write_json(out / "run.json", meta)
    return meta
