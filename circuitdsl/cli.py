"""The `circuitdsl` command line: list, show, run and plot circuits.

A circuit is a shipped name (`circuitdsl list`) or a Python file that defines
`build(**params) -> Circuit`. Bad input exits with status 2 and a one-line message.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import pkgutil
import platform
import sys
import time
from pathlib import Path

import numpy as np

import circuitdsl


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def _shipped():
    import circuitdsl.circuits as pkg
    return {m.name.replace("_", "-"): m.name for m in pkgutil.iter_modules(pkg.__path__)
            if not m.name.startswith("_")}


def load_circuit_module(name):
    """A shipped circuit's module by name, or a user's circuit file."""
    if name.endswith(".py"):
        path = Path(name)
        if not path.is_file():
            raise CLIError(f"no circuit file '{name}'")
        spec = importlib.util.spec_from_file_location(f"circuit_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as err:  # a user's file: report it, do not crash
            raise CLIError(f"{name}: {type(err).__name__}: {err}") from None
        if not callable(getattr(module, "build", None)):
            raise CLIError(f"{name} does not define build(**params) -> Circuit")
        return module
    shipped = _shipped()
    if name not in shipped:
        raise CLIError(f"unknown circuit '{name}'; ready circuits: {', '.join(sorted(shipped))} "
                       "(or pass a .py file)")
    return importlib.import_module(f"circuitdsl.circuits.{shipped[name]}")


def _value(text):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"none": None, "true": True, "false": False}.get(text.lower(), text)


def _params(items):
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CLIError(f"--set expects NAME.PARAM=VALUE, got '{item}'")
        out[key] = _value(value)
    return out


def build_circuit(name, params):
    from circuitdsl.circuit import Circuit
    module = load_circuit_module(name)
    circuit = module.build(**params)
    if not isinstance(circuit, Circuit):
        raise CLIError(f"{name}: build() returned {type(circuit).__name__}, not a Circuit")
    return circuit


def cmd_list(args):
    for name, mod in sorted(_shipped().items()):
        module = importlib.import_module(f"circuitdsl.circuits.{mod}")
        print(f"{name:24s} {getattr(module, 'DESCRIPTION', '')}")


def cmd_show(args):
    circuit = build_circuit(args.circuit, _params(args.set))
    net = circuit.build(args.seed)
    print(f"circuit {circuit.name}: {len(circuit.blocks)} blocks, {net.n_units} units, "
          f"{sum(len(s.weight) for s in net.synapse_sets)} synapses, {net.n_plastic} plastic")
    print("blocks:")
    for b in circuit.blocks:
        n = sum(p.N for _, p in b.populations())
        print(f"  {b.name:10s} {type(b).__name__:18s} {n:4d} units")
    print("edges:")
    for conn in circuit.connections:
        sets = [s for s in net.synapse_sets if s.connection is conn]
        n = sum(len(s.weight) for s in sets)
        plastic = sum(len(s.weight) for s in sets if s.rule is not None)
        rule = conn.learning_rule.name if conn.learning_rule else "-"
        print(f"  {conn.label:16s} {n:4d} synapses  {plastic:3d} plastic  rule: {rule}")


def _runner_factory(circuit):
    from circuitdsl.experiment import classification_runner
    factory = circuit.meta.get("runner")
    if factory is None and circuit.meta.get("kind") == "classification":
        factory = classification_runner
    return factory


def cmd_run(args):
    from circuitdsl.experiment import run_trials
    if args.resume:
        out = Path(args.resume)
        meta_path = out / "run.json"
        if not meta_path.exists():
            raise CLIError(f"cannot resume: {meta_path} does not exist")
        meta = json.loads(meta_path.read_text())
        name, seed, params = meta["circuit_source"], meta["seed"], meta["set"]
    else:
        if not args.circuit:
            raise CLIError("run needs a circuit name or file (or --resume DIR)")
        name, seed, params = args.circuit, args.seed, _params(args.set)
        for option in ("variant", "protocol"):
            if getattr(args, option):
                params[option] = getattr(args, option)
        if args.stimuli:
            if not Path(args.stimuli).is_file():
                raise CLIError(f"stimulus file '{args.stimuli}' does not exist")
            params["stimuli"] = str(Path(args.stimuli).resolve())
        out = Path(args.out or f"results/{Path(name).stem}-seed{seed}")
        meta = None
    circuit = build_circuit(name, params)
    dt = args.dt or (meta or {}).get("dt") or circuit.meta.get("dt", 0.05)
    if dt <= 0:
        raise CLIError(f"--dt must be > 0, got {dt}")
    factory = _runner_factory(circuit)
    if factory is None:
        out.mkdir(parents=True, exist_ok=True)
        return _run_plain(circuit, name, seed, dt, args, out)
    trials = args.trials if args.trials is not None else \
        (meta or {}).get("trials") or circuit.meta.get("default_trials", 100)
    if trials < 1:
        raise CLIError(f"--trials must be >= 1, got {trials}")
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    runner = factory(circuit, seed, dt)
    if meta is None:
        meta = dict(circuit=circuit.name, circuit_source=name, version=circuitdsl.__version__,
                    seed=seed, trials=trials, dt=dt, set=params,
                    params=circuit.meta.get("params", {}),
                    python=platform.python_version(), numpy=np.__version__,
                    machine=platform.machine(), started=time.strftime("%Y-%m-%d %H:%M:%S"))
        stim = circuit.meta.get("stimulus")
        if stim:
            images = circuit[stim].images
            meta.update(stimuli=images.source, stimuli_sha256=images.sha256)
        (out / "run.json").write_text(json.dumps(meta, indent=2, default=str))
    meta["trials"] = trials
    rows = run_trials(runner, trials, out, resume=bool(args.resume), progress=not args.quiet)
    summary = runner.finish(out, rows, meta) if hasattr(runner, "finish") else ""
    meta.update(finished=time.strftime("%Y-%m-%d %H:%M:%S"),
                seconds_this_session=round(time.perf_counter() - t0, 3), summary=summary)
    (out / "run.json").write_text(json.dumps(meta, indent=2, default=str))
    print(f"{circuit.name}: {len(rows)} trials, {summary}; results in {out}")


def _run_plain(circuit, name, seed, dt, args, out):
    from circuitdsl.simulator import Simulator
    sim = Simulator(circuit, dt=dt, seed=seed)
    duration = args.duration or 1000.0
    rec = sim.run(duration)
    counts = {p: rec.spike_counts(p).tolist() for p in rec.spikes}
    (out / "run.json").write_text(json.dumps(dict(circuit=circuit.name, circuit_source=name,
                                                  seed=seed, dt=dt, duration=duration,
                                                  spike_counts=counts), indent=2))
    print(f"{circuit.name}: simulated {duration} ms; results in {out}")


def cmd_plot(args):
    from circuitdsl.experiment import draw_classification
    out = Path(args.dir)
    if not (out / "run.json").exists():
        raise CLIError(f"'{out}' is not a run directory (no run.json)")
    meta = json.loads((out / "run.json").read_text())
    if not (out / "weights_before.npz").exists():
        raise CLIError(f"'{out}': plot redraws classification runs; this run's figures are "
                       "written when it finishes")
    draw_classification(out, meta)
    print(f"figures written to {out}")


def parser():
    p = argparse.ArgumentParser(prog="circuitdsl", description=circuitdsl.__doc__)
    p.add_argument("--version", action="version", version=f"circuitdsl {circuitdsl.__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="ready circuits, one line each").set_defaults(fn=cmd_list)
    s = sub.add_parser("show", help="blocks, edges, unit and weight counts")
    s.add_argument("circuit")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--set", action="append", metavar="NAME.PARAM=VALUE")
    s.set_defaults(fn=cmd_show)
    r = sub.add_parser("run", help="run a circuit (an experiment if it has one)")
    r.add_argument("circuit", nargs="?")
    r.add_argument("--trials", type=int)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--out", help="run directory (default results/NAME-seedS)")
    r.add_argument("--dt", type=float, help="time step in ms (default: the circuit's)")
    r.add_argument("--duration", type=float, help="ms to simulate (circuits without trials)")
    r.add_argument("--stimuli", help="CSV of images with a category column")
    r.add_argument("--variant", help="circuit variant (e.g. dnms-reservoir: original, sparse)")
    r.add_argument("--protocol", help="circuit protocol, for circuits that have several")
    r.add_argument("--set", action="append", metavar="NAME.PARAM=VALUE")
    r.add_argument("--resume", metavar="DIR", help="continue an interrupted run")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(fn=cmd_run)
    pl = sub.add_parser("plot", help="redraw a run's figures")
    pl.add_argument("dir")
    pl.set_defaults(fn=cmd_plot)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        args.fn(args)
    except KeyboardInterrupt:
        print("circuitdsl: interrupted; finished trials are saved (continue with --resume DIR)",
              file=sys.stderr)
        return 130
    except (CLIError, ValueError, KeyError, FileNotFoundError, OSError) as err:
        msg = str(err).strip().splitlines()
        text = " | ".join(line.strip() for line in msg) if msg else type(err).__name__
        print(f"circuitdsl: error: {text}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
