"""The `circuitdsl` command line: list, show, run, plot, sweep and train circuits.

A circuit is a shipped name (`circuitdsl list`) or a Python file that defines
`build(**params) -> Circuit` (docs/writing-a-circuit.md). A circuit module may declare
command-line options of its own (`OPTIONS`, see runs.declared_options); they are added to
`run` and `show` for that circuit only, so this file has no flag of any particular circuit.

Errors: a CircuitDSLError (bad input: a circuit, option, parameter or file) is printed as its
message, on its own lines (an equation error's caret then still points at its symbol), exit
status 2; argparse reports a malformed command line the same way. Any other exception is a
bug: its traceback is printed with one line saying so, exit status 1.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
import traceback
from pathlib import Path

import circuitdsl
from circuitdsl.errors import CircuitDSLError, RunError

RUN_EXAMPLES = """\
examples:
  circuitdsl run category-learning --trials 40 --seed 1 --out results/cl1
  circuitdsl run --resume results/cl1 --trials 400      # continue it (only --trials may change)
  circuitdsl run category-learning --set modulated.K=0.05 --set "VAC->AC.density=0.2"
  circuitdsl run my_circuit.py --duration 500 --record E.spikes,E.V --out results/mine
  circuitdsl run dnms-reservoir --help                   # also lists that circuit's options

A run directory holds run.json, trace.csv, checkpoint.npz and the circuit's figures. An
existing run is never replaced unless you pass --overwrite. Names with '->' need quotes in
the shell. Every parameter --set may name: `circuitdsl show NAME --params`.
"""


def _value(text):
    """A --set value: int, float, true/false/none, else the text itself."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"none": None, "true": True, "false": False}.get(text.lower(), text)


def _params(items, flag="--set"):
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise RunError(f"{flag} expects NAME.PARAM=VALUE, got '{item}'")
        key = key.strip()
        if key in out and out[key] != _value(value):
            raise RunError(f"{flag} {key} is given twice ({out[key]!r} and {value!r})")
        out[key] = _value(value)
    return out


def _circuit_params(args, options):
    """--set values, the circuit's own options and --stimuli as build() parameters, and how
    each was given ({parameter: flag}, for messages)."""
    params, flags = _params(getattr(args, "set", None)), {}
    for opt in options:
        value = getattr(args, f"opt_{opt['name']}", None)
        if value is None:
            continue
        if opt["name"] in params and params[opt["name"]] != value:
            raise RunError(f"{opt['flag']} {value} and --set {opt['name']}="
                           f"{params[opt['name']]} disagree; give one")
        params[opt["name"]] = value
        flags[opt["name"]] = opt["flag"]
    stimuli = getattr(args, "stimuli", None)
    if stimuli:
        path = Path(stimuli).expanduser()
        if path.is_dir():
            raise RunError(f"--stimuli '{stimuli}' is a directory; give a CSV file "
                           "(header pixel_1,...,pixel_N,category; one image a row)")
        if not path.is_file():
            raise RunError(f"--stimuli '{stimuli}' does not exist")
        params["stimuli"] = str(path.resolve())
        flags["stimuli"] = "--stimuli"
    return params, flags


# ---- commands ---------------------------------------------------------------------------------

def cmd_list(args):
    from circuitdsl.runs import load_circuit_module, shipped_circuits
    for name in sorted(shipped_circuits()):
        module = load_circuit_module(name)      # the one loader of circuits by name
        print(f"{name:24s} {getattr(module, 'DESCRIPTION', '')}")


def cmd_show(args, options=()):
    from circuitdsl.runs import build_circuit, load_circuit_module
    if args.params:
        return show_params(args.circuit, load_circuit_module(args.circuit), options)
    params, flags = _circuit_params(args, options)
    circuit = build_circuit(args.circuit, params, flags)
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


def show_params(name, module, options):
    """Every parameter `--set` may name, with its default and what it means."""
    from circuitdsl.runs import build_circuit, declared_parameters, describe_parameter
    params = declared_parameters(module)
    if params is None:
        used = build_circuit(name, {}).meta.get("params")
        if not isinstance(used, dict):
            print(f"{name} has build(**params) and declares no parameters (no PARAMS dict, "
                  "no circuit.meta['params'])")
            return
        params = used
    by_option = {o["name"]: o["flag"] for o in options}
    print(f"parameters of {name} (set with --set NAME=VALUE; quote names with '->' in the "
          "shell):")
    width = max([len(k) for k in params] + [4])
    for key, default in params.items():
        flag = f"  [{by_option[key]}]" if key in by_option else ""
        print(f"  {key:{width}s}  {default!r:>10}  {describe_parameter(key, module)}{flag}")
    if options:
        print("options (shorthands for --set):")
        for o in options:
            choices = f" (one of {', '.join(map(str, o['choices']))})" if o.get("choices") else ""
            print(f"  {o['flag']} {o['type'].__name__.upper()}  {o['help']}{choices} "
                  f"(default: {o['default']!r})")


def cmd_run(args, options=()):
    from circuitdsl.runs import run_one
    if not args.resume and not args.circuit:
        raise RunError("run needs a circuit name or file (or --resume DIR)")
    params, flags = _circuit_params(args, options)
    if args.resume and args.out and Path(args.out).resolve() != Path(args.resume).resolve():
        raise RunError(f"--out {args.out} and --resume {args.resume} differ: a resume writes "
                       "into the directory it continues")
    seed = args.seed if args.seed is not None or args.resume else 0
    stem = Path(args.circuit).stem if args.circuit else "run"
    out = Path(args.resume or args.out or f"results/{stem}-seed{seed}")
    meta = run_one(args.circuit, seed, params, out, trials=args.trials, dt=args.dt,
                   resume=bool(args.resume), progress=not args.quiet, duration=args.duration,
                   overwrite=args.overwrite, record=args.record, flags=flags)
    done = meta.get("n_trials_done")
    what = f"{done} trials, " if done is not None and "duration" not in meta else ""
    print(f"{meta['circuit']}: {what}{meta['summary']}; results in {out}")


def cmd_plot(args):
    """Redraw a finished run's figures with its circuit's own `meta["redraw"](out, meta)`."""
    from circuitdsl.runs import build_circuit
    out = Path(args.dir)
    if not (out / "run.json").exists():
        raise RunError(f"'{out}' is not a run directory (no run.json)")
    try:
        meta = json.loads((out / "run.json").read_text())
        source, params = meta["circuit_source"], meta.get("set") or {}
    except (ValueError, KeyError, TypeError) as err:
        raise RunError(f"'{out / 'run.json'}' cannot be read as a run's metadata: "
                       f"{type(err).__name__}: {err}") from None
    redraw = build_circuit(source, params).meta.get("redraw")
    if redraw is None:
        raise RunError(f"'{out}': {meta.get('circuit', source)} has no figures to redraw (no "
                       "circuit.meta['redraw']); its figures are written when the run "
                       "finishes")
    if "finished" not in meta:
        raise RunError(f"'{out}': the run has not finished (continue it with "
                       f"`circuitdsl run --resume {out}`); plot redraws a finished run")
    redraw(out, meta)
    print(f"figures written to {out}")


def cmd_sweep(args):
    from circuitdsl.sweep import parse_grid, sweep
    if args.scheduler and args.dask_local:
        raise RunError("use either --scheduler ADDRESS or --dask-local, not both")
    if args.seeds < 1:
        raise RunError(f"--seeds must be >= 1, got {args.seeds}")
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
                         progress=not args.quiet, overwrite=args.overwrite)
    except KeyboardInterrupt:
        print(f"circuitdsl: interrupted; trace.csv and weights.npz so far are in {out}",
              file=sys.stderr)
        raise SystemExit(130) from None
    print(f"{meta['circuit']}: {meta['steps_done']} steps, {meta['summary']}; results in {out}")


# ---- the parser -------------------------------------------------------------------------------

def _run_arguments(r):
    r.add_argument("circuit", nargs="?",
                   help="a ready circuit (`circuitdsl list`) or a .py file defining build()")
    r.add_argument("--trials", type=int, metavar="N",
                   help="trials to run (default: the circuit's, e.g. 400 for "
                        "category-learning; 1 for a circuit without trials); with --resume, "
                        "the new total")
    r.add_argument("--seed", type=int, metavar="S",
                   help="random seed, >= 0 (default 0); the same seed gives the same trace")
    r.add_argument("--out", metavar="DIR",
                   help="run directory (default results/NAME-seedS); must not hold a run "
                        "unless --overwrite")
    r.add_argument("--overwrite", action="store_true",
                   help="replace the run already in --out (its files are removed first)")
    r.add_argument("--resume", metavar="DIR",
                   help="continue the interrupted or finished run in DIR; other options must "
                        "match its run.json, except --trials (e.g. --resume results/cl1 "
                        "--trials 800)")
    r.add_argument("--dt", type=float, metavar="MS",
                   help="time step in ms, > 0 (default: the circuit's, e.g. 0.05)")
    r.add_argument("--duration", type=float, metavar="MS",
                   help="ms per trial of a circuit without trials (default 1000); refused "
                        "for circuits with trials")
    r.add_argument("--record", metavar="VAR,...",
                   help="circuits without trials: record these (e.g. E.V,E.spikes) in the "
                        "last trial into record.npz and draw record.png (BLOCK.spikes: a "
                        "raster; default: none)")
    r.add_argument("--stimuli", metavar="CSV",
                   help="images with a category column, for circuits with a stimulus "
                        "(default: the circuit's generated set)")
    r.add_argument("--set", action="append", metavar="NAME.PARAM=VALUE",
                   help="a circuit parameter (repeatable; default: the circuit's values), e.g. "
                        "--set modulated.K=0.05; list them with `circuitdsl show NAME "
                        "--params`")
    r.add_argument("--quiet", action="store_true", help="no progress bar or notes")


def _add_options(p, name, options):
    if not options:
        return
    g = p.add_argument_group(f"options of {name} (shorthands for --set NAME=VALUE)")
    for opt in options:
        choices = opt.get("choices")
        g.add_argument(opt["flag"], dest=f"opt_{opt['name']}", type=opt["type"],
                       choices=list(choices) if choices else None, default=None,
                       metavar=opt["type"].__name__.upper() if not choices else None,
                       help=f"{opt['help']} (default: {opt['default']!r})")


def parser(circuit=None, options=()):
    """The argument parser; `options` (declared by `circuit`) are added to run and show."""
    p = argparse.ArgumentParser(prog="circuitdsl", description=circuitdsl.__doc__)
    p.add_argument("--version", action="version", version=f"circuitdsl {circuitdsl.__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="ready circuits, one line each").set_defaults(fn=cmd_list)
    s = sub.add_parser("show", help="blocks, edges, unit and weight counts; --params: every "
                                    "parameter")
    s.add_argument("circuit", help="a ready circuit name or a .py file")
    s.add_argument("--params", action="store_true",
                   help="list every parameter --set may name, with its default and meaning")
    s.add_argument("--seed", type=int, default=0, help="seed the weights are drawn with "
                                                       "(default 0)")
    s.add_argument("--set", action="append", metavar="NAME.PARAM=VALUE")
    _add_options(s, circuit, options)
    s.set_defaults(fn=cmd_show, takes_options=True)
    r = sub.add_parser("run", help="run a circuit (its trials, or a plain simulation)",
                       description="Run a circuit into a run directory (trace.csv, run.json, "
                                   "checkpoint.npz, figures).",
                       epilog=RUN_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    _run_arguments(r)
    _add_options(r, circuit, options)
    r.set_defaults(fn=cmd_run, takes_options=True)
    pl = sub.add_parser("plot", help="redraw a classification run's figures")
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
    tr.add_argument("--overwrite", action="store_true",
                    help="replace a training run already in --out (default: refuse)")
    tr.set_defaults(fn=cmd_train)
    return p


def _circuit_named(argv):
    """The circuit a `run` or `show` command line names (or the one its --resume DIR ran),
    found before the real parse so that its declared options can be added to the parser.

    The circuit is the first word that is not an option or an option's value; an option this
    function does not know yet (a circuit's own, such as --variant) takes a value, as every
    declared option does."""
    if not argv or argv[0] not in ("run", "show"):
        return None
    pre = argparse.ArgumentParser(add_help=False)
    _run_arguments(pre)
    flags = {s for a in pre._actions if a.nargs == 0 for s in a.option_strings}
    flags |= {"-h", "--help", "--params"}
    circuit, resume, words = None, None, iter(argv[1:])
    for word in words:
        if word == "--":
            circuit = next(words, None)
            break
        if word.startswith("-") and len(word) > 1:
            if word in flags or "=" in word:
                if word.startswith("--resume="):
                    resume = word.partition("=")[2]
                continue
            value = next(words, None)          # the option's value
            if word == "--resume":
                resume = value
            continue
        circuit = word
        break
    if circuit:
        return circuit
    if argv[0] == "run" and resume:
        try:
            return json.loads((Path(resume) / "run.json").read_text())["circuit_source"]
        except (OSError, ValueError, KeyError, TypeError):
            return None   # run_one says why DIR cannot be resumed
    return None


def _parse(argv):
    from circuitdsl.runs import declared_options, load_circuit_module
    name = _circuit_named(argv)
    options = declared_options(load_circuit_module(name)) if name else []
    args, extra = parser(name, options).parse_known_args(argv)
    if extra:
        where = f" for {name}" if name and getattr(args, "takes_options", False) else ""
        known = ", ".join(o["flag"] for o in options)
        hint = (f"; {name}'s own options: {known}" if known else
                f"; {name} declares no options of its own" if where else "")
        raise RunError(f"{extra[0]}: not an option of `circuitdsl {argv[0]}`{where}{hint} "
                       f"(see `circuitdsl {argv[0]} {name or ''} --help`)".replace("  ", " "))
    return args, options


def _close_progress_bars():
    """A run stopped by an error leaves its progress bar open, mid-line; close it so the
    message starts on a line of its own."""
    try:
        from tqdm import tqdm
        for bar in list(getattr(tqdm, "_instances", ())):
            bar.close()
    except Exception:   # noqa: BLE001 - cosmetic only; never hide the error being printed
        pass


def _print_error(err):
    """The message on its own lines: the first after 'circuitdsl: error:', the rest as they
    are (an equation error's caret is aligned with the line above it)."""
    _close_progress_bars()
    text = str(err).rstrip() or type(err).__name__
    first, *rest = text.splitlines()
    print(f"circuitdsl: error: {first}", file=sys.stderr)
    for line in rest:
        print(line, file=sys.stderr)


def _package_dirs():
    # where the package's code lives (the engine, the blocks, the circuits), found without
    # importing the block library or the circuits
    names = ("circuitdsl", "circuitdsl.blocks", "circuitdsl.circuits")
    return [Path(p).resolve() for name in names
            for p in importlib.util.find_spec(name).submodule_search_locations]


def _report_bug(err):
    """A traceback, and whose code raised it: circuitdsl's (a bug to report) or a user's
    circuit file (its own traceback is what its author needs)."""
    traceback.print_exception(type(err), err, err.__traceback__)
    frames = traceback.extract_tb(err.__traceback__)
    libraries = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix)}
    mine = _package_dirs()
    for frame in reversed(frames):
        path = Path(frame.filename).resolve()
        if any(path.is_relative_to(d) for d in mine):
            break
        if not any(path.is_relative_to(d) for d in libraries):
            print(f"circuitdsl: the error above was raised in {frame.filename}, line "
                  f"{frame.lineno}, which is not part of circuitdsl: if that is your circuit "
                  "file, fix it there", file=sys.stderr)
            return
    print("circuitdsl: this is a bug in circuitdsl, not a problem with your input; please "
          "report it to the circuitdsl maintainers (issue tracker of the repository you got "
          "circuitdsl from) with the command line and the traceback above", file=sys.stderr)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args, options = _parse(argv)
        if getattr(args, "takes_options", False):
            args.fn(args, options)
        else:
            args.fn(args)
        sys.stdout.flush()   # a closed pipe shows here, inside the handler, not at exit
    except KeyboardInterrupt:
        print("circuitdsl: interrupted; finished trials are saved (continue with --resume DIR)",
              file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `circuitdsl list | head -1`: the reader has gone, which is not an error. Point stdout
        # at /dev/null so that the interpreter's final flush does not complain either.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return 0
    except SystemExit as stop:   # argparse (its message is printed), --help, cmd_sweep
        code = stop.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    except CircuitDSLError as err:
        _print_error(err)
        return 2
    except Exception as err:   # noqa: BLE001 - anything else is a bug: say so, with its traceback
        _report_bug(err)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
