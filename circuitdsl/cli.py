"""The `circuitdsl` command line: list, show, run and plot circuits.

A circuit is a shipped name (`circuitdsl list`) or a Python file that defines
`build(**params) -> Circuit`. Bad input exits with status 2 and a one-line message.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from pathlib import Path


import circuitdsl


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


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


def cmd_list(args):
    from circuitdsl.runs import shipped_circuits
    for name, mod in sorted(shipped_circuits().items()):
        module = importlib.import_module(f"circuitdsl.circuits.{mod}")
        print(f"{name:24s} {getattr(module, 'DESCRIPTION', '')}")


def cmd_show(args):
    from circuitdsl.runs import build_circuit
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


def cmd_run(args):
    from circuitdsl.runs import run_one
    params = {}
    if not args.resume:
        if not args.circuit:
            raise CLIError("run needs a circuit name or file (or --resume DIR)")
        params = _params(args.set)
        for option in ("variant", "protocol", "hebbian_rate", "epochs", "iterations"):
            if getattr(args, option) is not None:
                params[option] = getattr(args, option)
        if args.stimuli:
            if not Path(args.stimuli).is_file():
                raise CLIError(f"stimulus file '{args.stimuli}' does not exist")
            params["stimuli"] = str(Path(args.stimuli).resolve())
    out = Path(args.resume or args.out or f"results/{Path(args.circuit).stem}-seed{args.seed}")
    meta = run_one(args.circuit, args.seed, params, out, trials=args.trials, dt=args.dt,
                   resume=bool(args.resume), progress=not args.quiet, duration=args.duration)
    done = meta.get("n_trials_done")
    what = f"{done} trials, " if done is not None else ""
    print(f"{meta['circuit']}: {what}{meta['summary']}; results in {out}")


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


def cmd_sweep(args):
    from circuitdsl.sweep import parse_grid, sweep
    if args.scheduler and args.dask_local:
        raise CLIError("use either --scheduler ADDRESS or --dask-local, not both")
    if args.seeds < 1:
        raise CLIError(f"--seeds must be >= 1, got {args.seeds}")
    grid, params = parse_grid(args.grid, cast=_value), _params(args.set)
    try:
        rows = sweep(args.circuit, seeds=args.seeds, grid=grid, params=params,
                     workers=args.workers, scheduler=args.scheduler, out=args.out,
                     trials=args.trials, root_seed=args.root_seed, progress=not args.quiet,
                     dask_local=args.dask_local)
    except KeyboardInterrupt:
        print(f"circuitdsl: interrupted; finished runs are kept in {args.out}; run the same "
              "command again to finish the sweep", file=sys.stderr)
        raise SystemExit(130) from None
    failed = [r for r in rows if r["status"] == "failed"]
    print(f"{len(rows) - len(failed)} of {len(rows)} runs done; summary in "
          f"{Path(args.out) / 'summary.csv'}")
    if failed:
        print(f"circuitdsl: {len(failed)} run(s) failed (see the error column of summary.csv; "
              "run the same command again to retry them)", file=sys.stderr)
        raise SystemExit(1)


def cmd_train(args):
    from circuitdsl.training_run import train_run
    out = Path(args.out or f"results/{Path(args.circuit).stem}-seed{args.seed}")
    try:
        meta = train_run(args.circuit, args.seed, out, params=_params(args.set),
                         steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                         progress=not args.quiet)
    except KeyboardInterrupt:
        print(f"circuitdsl: interrupted; trace.csv and weights.npz so far are in {out}",
              file=sys.stderr)
        raise SystemExit(130) from None
    print(f"{meta['circuit']}: {meta['steps_done']} steps, {meta['summary']}; results in {out}")


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
    r.add_argument("--hebbian-rate", type=float,
                   help="two-pathway-reaching: the slow Hebbian rate eta_v (0: supervised only)")
    r.add_argument("--epochs", type=int, help="lttb-trajectory: training epochs")
    r.add_argument("--iterations", type=int, help="lttb-trajectory: iterations per epoch")
    r.add_argument("--set", action="append", metavar="NAME.PARAM=VALUE")
    r.add_argument("--resume", metavar="DIR", help="continue an interrupted run")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(fn=cmd_run)
    pl = sub.add_parser("plot", help="redraw a run's figures")
    pl.add_argument("dir")
    pl.set_defaults(fn=cmd_plot)
    sw = sub.add_parser("sweep", help="many runs: seeds x a parameter grid, in parallel")
    sw.add_argument("circuit", help="a ready circuit name or a .py file")
    sw.add_argument("--seeds", type=int, default=1, help="runs per grid point (default 1)")
    sw.add_argument("--root-seed", type=int, default=0,
                    help="seed the run seeds are derived from (default 0)")
    sw.add_argument("--grid", action="append", metavar="NAME.PARAM=V1,V2,...",
                    help="a swept parameter (repeat for a Cartesian product)")
    sw.add_argument("--set", action="append", metavar="NAME.PARAM=VALUE",
                    help="a fixed parameter of every run")
    sw.add_argument("--trials", type=int)
    sw.add_argument("--workers", type=int,
                    help="local worker processes (default: the number of cores)")
    sw.add_argument("--out", required=True, help="sweep directory")
    sw.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                    help="run on an existing Dask cluster")
    sw.add_argument("--dask-local", action="store_true",
                    help="run on a Dask LocalCluster of --workers processes")
    sw.add_argument("--quiet", action="store_true", help="no progress bar")
    sw.set_defaults(fn=cmd_sweep)
    tr = sub.add_parser("train", help="train a circuit by gradient descent (BPTT)")
    tr.add_argument("circuit", help="a ready circuit name or a .py file")
    tr.add_argument("--steps", type=int, help="training steps (default: the circuit's)")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--out", help="run directory (default results/NAME-seedS)")
    tr.add_argument("--batch-size", type=int)
    tr.add_argument("--lr", type=float, help="learning rate (default: the circuit's)")
    tr.add_argument("--set", action="append", metavar="PARAM=VALUE")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")
    tr.set_defaults(fn=cmd_train)
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
