"""One run as a pure call: (circuit name or file, parameters, seed, trials) -> a run directory.

`run_one` is what `circuitdsl run` does and what a sweep does for each of its runs, so a
sweep's run with seed S gives the same files as `circuitdsl run ... --seed S`.

A run directory is written by one process at a time (a DirLock), is never overwritten by
accident (an existing run is refused unless `overwrite=True`), and a resume continues the run
that is there: any option that differs from its run.json is refused, except a larger
`trials`. Every user error is raised here, at its source, as a RunError (or the
ValidationError of the part that found it) that names the option, parameter or file.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import math
import os
import pkgutil
import platform
import sys
import time
from pathlib import Path

import numpy as np

import circuitdsl
from circuitdsl.dirlock import DirLock
from circuitdsl.errors import CircuitDSLError, RunError

__all__ = ["RunError", "shipped_circuits", "load_circuit_module", "declared_options",
           "declared_parameters", "build_circuit", "run_one", "write_json"]

# Files a run writes whatever its runner; the runner's own outputs are listed in run.json
# ("outputs") when it finishes, so `overwrite` removes exactly what an earlier run wrote.
RUN_FILES = ("run.json", "trace.csv", "checkpoint.npz", "record.npz", "record.png")


def shipped_circuits():
    """Ready circuit names (as on the command line) -> module names."""
    import circuitdsl.circuits as pkg
    return {m.name.replace("_", "-"): m.name for m in pkgutil.iter_modules(pkg.__path__)
            if not m.name.startswith("_")}


def source_of(name):
    """How run.json names a circuit: a shipped name as is, a file as an absolute path (so a
    resume from another working directory, or a sweep's worker, finds the same file)."""
    text = str(name)
    if text.endswith(".py"):
        return str(Path(text).expanduser().resolve())
    return text


def load_circuit_module(name):
    """A shipped circuit's module by name, or a user's circuit file."""
    if str(name).endswith(".py"):
        path = Path(name).expanduser()
        if path.is_dir():
            raise RunError(f"circuit file '{name}' is a directory")
        if not path.is_file():
            raise RunError(f"no circuit file '{name}'")
        spec = importlib.util.spec_from_file_location(f"circuit_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except CircuitDSLError as err:   # e.g. an equation error in a model the file defines
            raise _in_context(err, f"{name}: {err}") from None
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


# ---- what a circuit declares ----------------------------------------------------------------

def declared_options(module):
    """The command-line options a circuit module declares in `OPTIONS`, normalised.

    Each entry: name (the build() parameter; the flag is --name with '_' -> '-'), type
    (str, int or float), default, help, and optionally choices. A circuit's options are
    shorthands for `--set name=value` with a type and a help line; cli.py has no option of
    its own for any particular circuit."""
    out = []
    for entry in getattr(module, "OPTIONS", ()) or ():
        opt = dict(entry)
        if "name" not in opt:
            raise RunError(f"{module.__name__}: an OPTIONS entry has no 'name': {entry!r}")
        opt.setdefault("type", str)
        opt.setdefault("default", None)
        opt.setdefault("help", "")
        opt["flag"] = "--" + opt["name"].replace("_", "-")
        out.append(opt)
    return out


def declared_parameters(module):
    """{name: default} of everything `--set` may name, or None when the module does not say
    (a build(**params) without a PARAMS table)."""
    if isinstance(getattr(module, "PARAMS", None), dict):
        return dict(module.PARAMS)
    sig = inspect.signature(module.build)
    named = {k: (None if p.default is inspect.Parameter.empty else p.default)
             for k, p in sig.parameters.items()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    if any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values()):
        return named or None
    return named


def describe_parameter(name, module=None):
    """What a parameter means: the circuit's own PARAM_HELP line, else what its name says
    (`BLOCK.param`, `SRC->DST.weight`, `rule.param`)."""
    helps = getattr(module, "PARAM_HELP", None) or {}
    if name in helps:
        return helps[name]
    for opt in declared_options(module) if module is not None else ():
        if opt["name"] == name and opt["help"]:
            return opt["help"]
    head, dot, tail = name.rpartition(".")
    if not dot:
        return "a parameter of the circuit's build()"
    if "->" in head:
        return f"{tail} of the edge {head.replace('->', ' -> ')}"
    return f"{tail} of {head}"


def _coerce(name, value, default, flag):
    """`value` (parsed from the command line) in the type of the parameter's default, or a
    RunError naming the option: a string where a number is expected must not reach a
    float() deep inside a block as 'could not convert string to float'."""
    if default is None or value is None:
        return value
    given = f"{flag}={value}" if flag.startswith("--set ") else f"{flag} {value}"
    if isinstance(default, bool):
        if isinstance(value, bool) or value in (0, 1):
            return bool(value)
        raise RunError(f"{given}: {name} is true or false (default {default!r})")
    if isinstance(default, (int, np.integer)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                (isinstance(value, float) and not value.is_integer()):
            raise RunError(f"{given}: {name} is an integer (default {default!r})")
        return int(value)
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RunError(f"{given}: {name} is a number (default {default!r})")
        return float(value)
    if isinstance(default, str):
        return value if isinstance(value, str) else str(value)
    return value


def _in_context(err, text):
    """`err` with a longer message, of its own kind where its class allows (context comes
    first, so an equation error's caret lines below keep their alignment)."""
    try:
        return type(err)(text)
    except Exception:   # a class with its own constructor arguments
        return RunError(text)


def _flag(key, flags):
    return (flags or {}).get(key, f"--set {key}")


def _given(key, value, flags):
    """How the user wrote a parameter: `--set key=value` or `--option value`."""
    flag = _flag(key, flags)
    return f"{flag}={value}" if flag.startswith("--set ") else f"{flag} {value}"


def build_circuit(name, params, flags=None):
    """Build circuit `name` with `params`; every parameter must be one build() takes.

    flags: {parameter: how the user gave it} (e.g. {"variant": "--variant"}), for messages;
    a parameter not in it was given as `--set NAME=VALUE`."""
    from circuitdsl.circuit import Circuit
    module = load_circuit_module(name)
    declared = declared_parameters(module)
    params = dict(params)
    if declared is not None:
        unknown = sorted(set(params) - set(declared))
        if unknown:
            raise RunError(f"{_flag(unknown[0], flags)}: {name} has no parameter "
                           f"{', '.join(unknown)}; parameters: {', '.join(declared) or 'none'} "
                           f"(see `circuitdsl show {name} --params`)")
        params = {k: _coerce(k, v, declared[k], _flag(k, flags)) for k, v in params.items()}
    given = ", ".join(_given(k, v, flags) for k, v in params.items())
    try:
        circuit = module.build(**params)
    except CircuitDSLError as err:
        if not given:
            raise
        raise _in_context(err, f"{name} with {given}: {err}") from None
    except (TypeError, ValueError, KeyError) as err:
        # A circuit's build() refusing a value it was given is the user's error; with no
        # parameters given it is the circuit's own bug and keeps its traceback.
        if not given:
            raise
        text = err.args[0] if isinstance(err, KeyError) and err.args else err
        raise RunError(f"{name} with {given}: {text}") from None
    if not isinstance(circuit, Circuit):
        raise RunError(f"{name}: build() returned {type(circuit).__name__}, not a Circuit")
    if declared is None and params:
        # build(**params) without a PARAMS table: only circuit.meta["params"] can say which
        # names it used; a name it did not use would otherwise be ignored without a word.
        used = circuit.meta.get("params")
        if not isinstance(used, dict):
            raise RunError(f"{_flag(next(iter(params)), flags)}: {name} has build(**params) but "
                           "does not say which parameters it takes; give the file a PARAMS "
                           "dict (name -> default) or set circuit.meta['params']")
        unknown = sorted(set(params) - set(used))
        if unknown:
            raise RunError(f"{_flag(unknown[0], flags)}: {name} has no parameter "
                           f"{', '.join(unknown)}; parameters: {', '.join(used) or 'none'}")
    return circuit


def write_json(path, data):
    """Write run metadata atomically: a run killed mid-write keeps the previous file."""
    path = Path(path)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


def _normalise(value):
    return json.loads(json.dumps(value, default=str))


def runner_factory(circuit):
    """The circuit's trial runner factory (circuit.meta["runner"]), or None for a plain
    simulation. A circuit that says it runs classification trials must name its stimulus
    block; that is checked here, before any runner reads it."""
    if circuit.meta.get("kind") == "classification":
        stim = circuit.meta.get("stimulus")
        if not stim:
            raise RunError(f"circuit '{circuit.name}': meta['kind'] is 'classification' but "
                           "meta['stimulus'] (the name of its ImageStimulus block) is not set")
        if stim not in {b.name for b in circuit.blocks}:
            raise RunError(f"circuit '{circuit.name}': meta['stimulus'] names block '{stim}', "
                           f"which it does not have; blocks: "
                           f"{', '.join(b.name for b in circuit.blocks)}")
    factory = circuit.meta.get("runner")
    if factory is not None and not callable(factory):
        raise RunError(f"circuit '{circuit.name}': meta['runner'] must be callable "
                       "(circuit, seed, dt) -> runner, got {type(factory).__name__}")
    return factory


# ---- checking the options of a run ------------------------------------------------------------

def _check_number(flag, value, integer=False, minimum=None, positive=False):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise RunError(f"{flag} must be a number, got {value!r}")
    if integer and not float(value).is_integer():
        raise RunError(f"{flag} must be an integer, got {value!r}")
    if not math.isfinite(value):
        raise RunError(f"{flag} must be finite, got {value!r}")
    if positive and not value > 0:
        raise RunError(f"{flag} must be > 0, got {value!r}")
    if minimum is not None and value < minimum:
        raise RunError(f"{flag} must be >= {minimum}, got {value!r}")
    return int(value) if integer else float(value)


def _read_run(out):
    path = out / "run.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise RunError(f"'{path}' cannot be read ({err}); it is not a run's metadata") from None


def _check_resume(out, meta, name, seed, params, dt, duration, record, trials, flags):
    """Refuse every option that differs from the run being resumed, naming it."""
    def refuse(flag, given, stored):
        raise RunError(f"--resume {out}: {given} differs from the run's {stored!r} "
                       "(run.json); a resume continues the same run, so only --trials may "
                       "change; drop the option, or start a new run with another --out")
    if name is not None and source_of(name) != meta.get("circuit_source"):
        refuse("the circuit", f"the circuit {source_of(name)}", meta.get("circuit_source"))
    if seed is not None and seed != meta.get("seed"):
        refuse("--seed", f"--seed {seed}", meta.get("seed"))
    if dt is not None and dt != meta.get("dt"):
        refuse("--dt", f"--dt {dt}", meta.get("dt"))
    if duration is not None and duration != meta.get("duration"):
        refuse("--duration", f"--duration {duration}", meta.get("duration"))
    if record is not None and list(record) != list(meta.get("record") or []):
        refuse("--record", f"--record {','.join(record)}", ",".join(meta.get("record") or []))
    stored = meta.get("set") or {}
    for key, value in params.items():
        if key not in stored or _normalise(value) != stored[key]:
            refuse(_flag(key, flags), _given(key, value, flags), stored.get(key, "(not set)"))
    done = meta.get("n_trials_done")
    if trials is not None and done is not None and trials < done:
        raise RunError(f"--resume {out}: --trials {trials} is fewer than the {done} trials "
                       "this run has already done")


def _clear(out, meta):
    """Remove what an earlier run wrote into `out` (and nothing else a user keeps there)."""
    names = set(RUN_FILES) | set((meta or {}).get("outputs") or [])
    for name in names:
        path = out / name
        if path.is_file() and path.parent == out:
            path.unlink()


def _check_directory(out, resume, overwrite):
    """run.json of `out` (or None) after refusing what this run must not do there."""
    old = _read_run(out)
    if not resume:
        if _holds_a_run(out, old) and not overwrite:
            done = old.get("n_trials_done")
            what = f", {done} trials done" if done is not None else ""
            raise RunError(f"--out '{out}' already holds a run ({old.get('circuit_source')}, "
                           f"seed {old.get('seed')}{what}); continue it with "
                           f"`circuitdsl run --resume {out}`, replace it with --overwrite, "
                           "or choose another --out")
    elif not (out / "checkpoint.npz").exists():
        raise RunError(f"cannot resume '{out}': no checkpoint.npz (the run was stopped "
                       "before its first trial ended)")
    return old


def _holds_a_run(out, meta):
    """A run.json with a checkpoint or a finish: a run someone may want. A run.json alone is a
    run killed while it was starting (before its first checkpoint), nothing to keep."""
    return meta is not None and ("finished" in meta or (out / "checkpoint.npz").exists())


def _compiling_note(name, cache_before, progress):
    """One line before a first run's silence: Numba compiles the kernels just generated on
    their first call, which takes seconds to a minute; afterwards they come from the cache."""
    from circuitdsl.compiler.cache import get_cache
    if progress and get_cache().written > cache_before:
        print(f"compiling kernels for {name} (cached afterwards)...", file=sys.stderr,
              flush=True)


def run_one(name, seed, params, out, trials=None, dt=None, resume=False, progress=True,
            duration=None, overwrite=False, record=None, flags=None):
    """Run (or resume) one circuit into `out`; returns its run.json content.

    On resume, `name`, `seed`, `dt`, `duration`, `record` and `params` may be None/empty
    (taken from run.json) or must equal what run.json holds; `trials` may extend the run.
    flags: {parameter: the option the user gave it with}, for messages (see build_circuit)."""
    from circuitdsl.compiler.cache import get_cache
    from circuitdsl.experiment import run_trials
    out = Path(out)
    where = "--resume" if resume else "--out"
    if out.exists() and not out.is_dir():
        raise RunError(f"{where} '{out}' is a file, not a directory")
    if resume and overwrite:
        raise RunError("use either --resume DIR (continue the run there) or --overwrite "
                       "(replace it), not both")
    seed = _check_number("--seed", seed, integer=True, minimum=0)
    dt = _check_number("--dt", dt, positive=True)
    duration = _check_number("--duration", duration, positive=True)
    trials = _check_number("--trials", trials, integer=True, minimum=1)
    record = _record_list(record)
    params = dict(params or {})
    meta = None
    if resume:
        meta = _read_run(out)
        if meta is None:
            raise RunError(f"cannot resume: {out / 'run.json'} does not exist "
                           f"('{out}' is not a run directory)")
        _check_resume(out, meta, name, seed, params, dt, duration, record, trials, flags)
        if "trials" not in meta:
            raise RunError(f"cannot resume '{out}': it holds a run written before runs "
                           "could be resumed (no trials in run.json)")
        name, seed, params = meta["circuit_source"], meta["seed"], meta.get("set") or {}
        dt, duration, record = meta.get("dt"), meta.get("duration"), meta.get("record")
    elif name is None:
        raise RunError("run needs a circuit name or file (or --resume DIR)")
    seed = 0 if seed is None else seed
    circuit = build_circuit(name, params, flags)
    if circuit.meta.get("kind") == "training":
        raise RunError(f"{name} is trained by gradient descent: use `circuitdsl train {name}`")
    if "stimuli" in params and not circuit.meta.get("stimulus"):
        raise RunError(f"{_flag('stimuli', flags)}: {name} has no stimulus block "
                       "(circuit.meta['stimulus']) to read images into")
    dt = dt if dt is not None else float(circuit.meta.get("dt", 0.05))
    factory = runner_factory(circuit)
    if factory is None:
        duration = duration if duration is not None else float(circuit.meta.get("duration",
                                                                                1000.0))
        default_trials = 1
    else:
        if duration is not None:
            raise RunError(f"--duration applies to circuits without trials; {name} runs "
                           f"trials (of its own length): use --trials")
        if record:
            raise RunError(f"--record applies to circuits without trials; {name} writes its "
                           "own figures")
        default_trials = circuit.meta.get("default_trials", 100)
    if trials is None:
        trials = (meta or {}).get("trials") or default_trials
    if out.is_dir():
        # Refuse early (before the runner is built and its kernels compiled) a directory in
        # use or holding a run; the same check is made again under the lock below.
        with DirLock(out, what="run"):
            _check_directory(out, resume, overwrite)
    # The runner is built before anything is written: an option it refuses (a --record
    # name, a stimulus set it cannot answer) leaves no directory behind.
    t0 = time.perf_counter()
    written = get_cache().written
    if factory is None:
        runner = PlainRunner(circuit, seed, dt, duration, record,
                             before_first_call=lambda: _compiling_note(circuit.name, written,
                                                                       progress))
    else:
        runner = factory(circuit, seed, dt)
        _check_categories(circuit, runner, params, flags)
        _compiling_note(circuit.name, written, progress)
    with DirLock(out, what="run"):
        # Under the lock: a run started at the same moment into `out` is refused, and the
        # decision "is there a run here" cannot be raced.
        old = _check_directory(out, resume, overwrite)
        if not resume:
            _clear(out, old)
        if meta is None:
            meta = dict(circuit=circuit.name, circuit_source=source_of(name),
                        version=circuitdsl.__version__, seed=seed, trials=trials, dt=dt,
                        set=_normalise(params), params=circuit.meta.get("params", {}),
                        python=platform.python_version(), numpy=np.__version__,
                        machine=platform.machine(), started=time.strftime("%Y-%m-%d %H:%M:%S"))
            if factory is None:
                meta.update(duration=duration, record=list(record or []),
                            learning=runner.learning)
            stim = circuit.meta.get("stimulus")
            if stim:
                images = circuit[stim].images
                meta.update(stimuli=images.source, stimuli_sha256=images.sha256)
            write_json(out / "run.json", meta)
        if resume:
            # Said at once, so that a resume killed in turn is resumed to the new total and a
            # sweep does not take the directory for finished.
            meta["trials"] = trials
            meta.pop("finished", None)
            write_json(out / "run.json", meta)
        if factory is None and progress and runner.learning.startswith("not applied"):
            print(f"circuitdsl: note: trial-end learning {runner.learning}", file=sys.stderr)
        rows = run_trials(runner, trials, out, resume=resume, progress=progress)
        summary = runner.finish(out, rows, meta) if hasattr(runner, "finish") else ""
        metrics = runner.metrics(rows) if hasattr(runner, "metrics") else {}
        meta.update(finished=time.strftime("%Y-%m-%d %H:%M:%S"), n_trials_done=len(rows),
                    seconds_this_session=round(time.perf_counter() - t0, 3), summary=summary,
                    metrics=metrics,
                    outputs=sorted(p.name for p in out.iterdir()
                                   if p.is_file() and not p.name.startswith(".")))
        write_json(out / "run.json", meta)
    return meta


def _check_categories(circuit, runner, params, flags):
    """A stimulus set with more categories than the circuit has actions can never be
    answered right: refuse it rather than report a low accuracy."""
    stim = circuit.meta.get("stimulus")
    actions = getattr(getattr(runner, "agent", None), "actions", None)
    if not stim or not actions:
        return
    cats = sorted({int(c) for c in circuit[stim].images.categories})
    if cats and cats[-1] > len(actions):
        source = params.get("stimuli") or circuit[stim].images.source
        raise RunError(f"{_flag('stimuli', flags)} {source}: categories "
                       f"{', '.join(map(str, cats))}, but circuit '{circuit.name}' chooses "
                       f"between {len(actions)} actions ({', '.join(actions)})")


# ---- a circuit without a runner of its own ----------------------------------------------------

def _record_list(record):
    if record is None:
        return None
    items = record.split(",") if isinstance(record, str) else list(record)
    items = [str(i).strip() for i in items if str(i).strip()]
    for item in items:
        if "." not in item.strip("."):
            raise RunError(f"--record expects BLOCK.VARIABLE entries (BLOCK.spikes for a "
                           f"raster), got '{item}'")
    return items


class PlainRunner:
    """A circuit without a runner: each trial runs `duration` ms from the initial state (the
    weights carry over); trial-end learning rules are applied after each trial when the
    signals they need are given in circuit.meta['signals'], else they are not, and run.json
    ('learning') and a note say so. Rules that run every step always run. The last trial's
    `record` variables are written to record.npz and drawn in record.png."""

    def __init__(self, circuit, seed, dt, duration, record=None, before_first_call=None):
        from circuitdsl.simulator import Simulator
        self.circuit, self.duration = circuit, float(duration)
        self.sim = Simulator(circuit, dt=dt, seed=seed)
        if before_first_call is not None:   # the kernel compiles on its first call
            before_first_call()
        self.record = list(record or [])
        self.spiking = [path for path, (g, pop, off) in self.sim._pop_index.items()
                        if g.model.spike is not None]
        self.columns = ("trial", *[f"spikes.{p}" for p in self.spiking], "seconds")
        self.signals = dict(circuit.meta.get("signals") or {})
        self.learning, self.apply = self._learning_plan()
        self._traces, self._rasters = self._check_record()
        self.n_trials = None
        self.counts = {}

    def _learning_plan(self):
        rules = [(c.label, c.learning_rule) for c in self.circuit.connections
                 if c.learning_rule is not None and c.learning_rule.on_trial_end.strip()]
        if not rules:
            return "none (no trial-end rule)", False
        missing = [(label, rule.name, [s for s in rule.signals if s not in self.signals])
                   for label, rule in rules]
        missing = [m for m in missing if m[2]]
        if missing:
            label, rule, sig = missing[0]
            return (f"not applied: rule '{rule}' on edge {label} needs the trial-level "
                    f"signal(s) {', '.join(sig)}; give them in circuit.meta['signals'] "
                    "(e.g. {'feedback': 1.0}) or write a runner (docs/writing-a-circuit.md)",
                    False)
        return f"applied after each trial ({', '.join(r.name for _, r in rules)})", True

    def _check_record(self):
        traces, rasters = [], []
        for item in self.record:
            path, _, var = item.rpartition(".")
            if var == "spikes":
                if path not in self.spiking:
                    raise RunError(f"--record {item}: '{path}' is not a spiking population; "
                                   f"spiking: {', '.join(self.spiking) or 'none'}")
                rasters.append(path)
                continue
            try:
                self.sim.run(0.0, record=[item])   # zero steps: only checks the name
            except (KeyError, ValueError) as err:
                text = err.args[0] if err.args else err
                raise RunError(f"--record {item}: {text}") from None
            traces.append(item)
        return traces, rasters

    def start(self):
        pass

    def trial(self, k):
        self.sim.reset()
        last = k == self.n_trials
        rec = self.sim.run(self.duration, record=self._traces if last else ())
        row = dict(trial=k)
        self.counts = {}
        for p in self.spiking:
            counts = rec.spike_counts(p)
            self.counts[p] = counts.tolist()
            row[f"spikes.{p}"] = int(counts.sum())
        if self.apply:
            self.sim.apply_learning(self.signals)
        if last and self.record:
            self._save_record(rec)
        return row

    def _save_record(self, rec):
        data = {"t": rec.t}
        for item in self._traces:
            data[item] = rec[item]
        for p in self._rasters:
            units, times = rec.spikes.get(p, (np.zeros(0, int), np.zeros(0)))
            data[f"{p}.spikes.unit"], data[f"{p}.spikes.time"] = units, times
        self._record = data

    def state(self):
        # Every mutable array (weights, random streams, and the states a model carries
        # across trials), so a resumed plain run continues exactly.
        return self.sim.state()

    def restore(self, state):
        self.sim.restore(state)

    def metrics(self, rows):
        return {f"spikes.{p}": int(rows[-1][f"spikes.{p}"]) for p in self.spiking} if rows \
            else {}

    def finish(self, out, rows, meta):
        meta["spike_counts"] = self.counts
        meta["learning"] = self.learning
        if self.record and getattr(self, "_record", None) is not None:
            np.savez(Path(out) / "record.npz", **self._record)
            draw_record(self._record, self._traces, self._rasters, Path(out) / "record.png",
                        f"{self.circuit.name}: trial {len(rows)}", self.duration)
        n = len(rows)
        return (f"simulated {self.duration} ms" if n == 1 else
                f"simulated {n} trials of {self.duration} ms")


def draw_record(data, traces, rasters, path, title, t_end):
    """One panel per recorded entry: a raster for BLOCK.spikes, traces otherwise."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
    panels = [("raster", p) for p in rasters] + [("trace", v) for v in traces]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2.2 * len(panels) + 0.6),
                             sharex=True, squeeze=False)
    for ax, (kind, what) in zip(axes[:, 0], panels):
        if kind == "raster":
            units, times = data[f"{what}.spikes.unit"], data[f"{what}.spikes.time"]
            ax.plot(times, units, "|", color="k", ms=6)
            ax.set_ylabel(f"{what}\nunit")
            ax.set_title(f"{what}: {len(times)} spikes", fontsize=9, loc="left")
            if len(units):
                ax.set_ylim(-0.5, int(units.max()) + 0.5)
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))   # units are whole
        else:
            y = np.asarray(data[what])
            shown = min(y.shape[1], 20)   # beyond ~20 lines a trace plot is unreadable
            ax.plot(data["t"], y[:, :shown], lw=0.8)
            ax.set_ylabel(what)
            note = f" (first {shown} of {y.shape[1]} units)" if shown < y.shape[1] else ""
            ax.set_title(f"{what}{note}", fontsize=9, loc="left")
        ax.set_xlim(0, t_end)
    axes[-1, 0].set_xlabel("time in the trial (ms)")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
