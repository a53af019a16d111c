"""What of a sweep is already done: the state of each planned run, read from its directory.

A run is 'done' (skip it), 'resume' (continue from its checkpoint) or 'fresh' (start, or start
again). Only files decide, so a sweep killed at any point and started again picks up where it
was; a directory holding a different run is refused rather than overwritten.
"""
from __future__ import annotations

import csv
import json

from circuitdsl.sweep.planning import SweepError


def normalise(params):
    """Parameters as run.json stores them (JSON round trip), for comparing with it."""
    return json.loads(json.dumps(params, default=str))


def read_meta(path):
    """A run.json, or None when it is missing or cut short by a kill while being written
    (the run is then run again)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def run_state(run_dir, seed, circuit, params, trials):
    """('done', run.json), ('resume', run.json) or ('fresh', None) for one planned run."""
    meta = read_meta(run_dir / "run.json")
    if meta is None:
        return "fresh", None
    same = (meta.get("seed") == seed and meta.get("circuit_source") == circuit and
            ("set" not in meta or meta["set"] == normalise(params)))
    if not same:
        raise SweepError(f"'{run_dir}' holds a different run (circuit "
                         f"{meta.get('circuit_source')}, seed {meta.get('seed')}, parameters "
                         f"{meta.get('set')}); use another --out for a different sweep")
    if "trials" not in meta:           # a plain simulation writes run.json once, at its end
        return "done", meta
    wanted = trials if trials is not None else meta.get("trials")
    done = meta.get("n_trials_done")
    if done is not None and wanted is not None and done > wanted:
        raise SweepError(f"'{run_dir}' already holds {done} trials, more than the {wanted} "
                         "asked for; use another --out")
    if "finished" in meta and done == wanted:
        return "done", meta
    if (run_dir / "checkpoint.npz").exists():
        return "resume", meta
    return "fresh", None


def old_seconds(summary_path):
    """{run name: seconds} from an earlier summary.csv (a skipped run keeps its wall time)."""
    try:
        with open(summary_path, newline="") as fh:
            return {r["run"]: r.get("seconds", "") for r in csv.DictReader(fh)}
    except (OSError, KeyError, csv.Error):
        return {}


def number(text):
    """A float, or '' (an empty summary cell) when `text` is not a number."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return ""
