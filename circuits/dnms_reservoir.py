"""dnms-reservoir: a chaotic reservoir learns delayed non-match-to-sample from a scalar reward.

Miconi (2017), eLife 6:e20899: node-perturbation-like Hebbian learning with a supralinear
eligibility trace and a per-trial-type reward baseline. Two configurations:

- `original` (default): dense N = 200, J ~ 1.5 N(0,1)/sqrt(N) with self-connections,
  output unit 0, units 1 and 10 clamped at x = +1 and 11 at -1, eta = 0.1, baseline from 0.
- `sparse`: the ANNarchy notebook's configuration: density 0.1 without self-connections,
  J ~ N(0, g^2/(pN)), bias units 0, 1, 2 at x = +1, +1, -1, output unit 100, eta = 0.5,
  baseline from 1 (R = -1), each trial type with its own baseline (the notebook's
  AB/BA bookkeeping bug fixed).
In both, learning starts on the 102nd trial, as in Miconi's code (0-based trial index > 100),
and the running mean x_bar of the Reservoir block is carried over between trials.

Criterion (Miconi's figure script): more than 95 of 100 consecutive trials with error < 1,
reported as the 0-based index of the window's last trial (the first window considered ends
at index 100); a run that never reaches it counts as its number of trials (10 000 in the
paper) in a median.
"""
from __future__ import annotations

import numpy as np

from circuitdsl.blocks.reservoir import Reservoir
from circuitdsl.circuit import Circuit, resolve_params
from circuitdsl.environments import DNMSTask
from circuitdsl.errors import RunError
from circuitdsl.learning import MiconiRule

DESCRIPTION = "chaotic reservoir learning delayed non-match-to-sample by reward (Miconi 2017)"

VARIANTS = {
    "original": dict(N=200, density=None, g=1.5, self_connections=True, output=0,
                     clamped={1: 1.0, 10: 1.0, 11: -1.0}, eta=0.1, baseline=0.0),
    "sparse": dict(N=200, density=0.1, g=1.5, self_connections=False, output=100,
                   clamped={0: 1.0, 1: 1.0, 2: -1.0}, eta=0.5, baseline=1.0),
}
#: learn_after: the weights change on trials whose 0-based index is > learn_after (Miconi:
#: `numtrial > 100`, so the first change is on the 102nd trial).
PARAMS = {"variant": "original", "learn_after": 100, "dt": 1.0, "max_dw": 3e-4}

# Command-line options of this circuit (`circuitdsl run dnms-reservoir --help`); each is a
# shorthand for --set NAME=VALUE.
OPTIONS = [dict(name="variant", type=str, choices=tuple(VARIANTS), default="original",
                help="configuration: original (Miconi 2017, dense) or sparse (the ANNarchy "
                     "notebook's)")]

# What `circuitdsl show dnms-reservoir --params` says each parameter means.
PARAM_HELP = {
    "variant": "configuration: original (Miconi 2017, dense) or sparse (the ANNarchy notebook's)",
    "learn_after": "no weight change until the trial's 0-based index exceeds this",
    "dt": "time step in ms (the task's timings are in steps)",
    "max_dw": "largest weight change per synapse per trial (the rule's clip)",
}

#: Miconi's criterion: more than CRITERION_NEED of CRITERION_WINDOW consecutive trials with
#: error < 1.
CRITERION_WINDOW, CRITERION_NEED = 100, 95
CRITERION_TEXT = ("more than 95 of 100 consecutive trials with error < 1, reported as the "
                  "0-based index of the window's last trial")


def trials_to_criterion(errors, window=CRITERION_WINDOW, need=CRITERION_NEED):
    """Miconi's criterion (dnms/ploterr_single.py): the first 0-based trial index i >= window
    such that more than `need` of trials i-window+1 .. i have error < 1; None if never (the
    paper counts such a run as its length, 10 000, in the median). Like the original, the
    window ending at index window-1 is not considered (its sum is zeroed there); learning
    has not started by then, so this never matters in practice."""
    ok = (np.asarray(errors, dtype=float) < 1.0).astype(int)
    if len(ok) <= window:
        return None
    counts = np.convolve(ok, np.ones(window, dtype=int), mode="valid")   # counts[s]: s..s+window-1
    hit = np.flatnonzero(counts[1:] > need)
    return int(hit[0] + window) if len(hit) else None


def trials_to_criterion_at_least(errors, window=CRITERION_WINDOW, need=CRITERION_NEED):
    """The circuit's former criterion, for comparison with older write-ups: at least `need` of
    `window` consecutive trials with error < 1, reported as the 1-based number of the window's
    last trial; None if never."""
    ok = (np.asarray(errors, dtype=float) < 1.0).astype(int)
    if len(ok) < window:
        return None
    hit = np.flatnonzero(np.convolve(ok, np.ones(window, dtype=int), mode="valid") >= need)
    return int(hit[0] + window) if len(hit) else None


def build(**params):
    p = resolve_params("dnms-reservoir", PARAMS, params)
    if p["variant"] not in VARIANTS:
        raise ValueError(f"dnms-reservoir: variant must be one of {', '.join(VARIANTS)}, "
                         f"got {p['variant']!r}")
    v = VARIANTS[p["variant"]]
    N, g = v["N"], v["g"]
    scale = g / np.sqrt(N if v["density"] is None else v["density"] * N)
    c = Circuit(f"dnms-reservoir[{p['variant']}]")
    c.add(Reservoir("R", N, clamped=v["clamped"], n_inputs=3, no_input=(v["output"],)))
    c.connect("R", "R", weight=lambda rng, n: scale * rng.normal(size=n), density=v["density"],
              self_connections=v["self_connections"],
              learning_rule=MiconiRule(eta=v["eta"], max_dw=p["max_dw"]))
    c.meta.update(kind="dnms", params=p, output=v["output"], baseline=v["baseline"],
                  learn_after=p["learn_after"], dt=p["dt"], default_trials=1000,
                  runner=DNMSRunner)
    return c


class DNMSRunner:
    """Trial loop: inputs per trial type, error over the response window, learning on trials
    whose 0-based index exceeds `learn_after` with the type's running baseline (updated after
    the weight change)."""

    columns = ("trial", "type", "error", "reward", "seconds")

    def __init__(self, circuit, seed, dt=1.0):
        from circuitdsl.simulator import Simulator
        self.circuit = circuit
        self.sim = Simulator(circuit, dt=dt, seed=seed, method="euler")
        res = circuit["R"]
        self.task = DNMSTask(n_steps=int(round(1000.0 / dt)))
        W_in = res.input_weights(seed)
        self.ext = [self.task.inputs(k) @ W_in.T for k in range(4)]
        self.out_unit = circuit.meta["output"]
        self.learn_after = circuit.meta["learn_after"]
        self.baseline = np.full(4, float(circuit.meta["baseline"]))
        self.weights_before = self.sim.state(("F",))["F"]

    def output(self, type_index):
        """The output unit's rate over one trial (no learning applied)."""
        self.sim.reset()
        rec = self.sim.run(self.task.n_steps * self.sim.dt, record=["R.x"],
                           inputs={"R.I_in": self.ext[type_index]})
        return np.tanh(rec["R.x"][:, self.out_unit])

    def start(self):
        pass

    def trial(self, k):
        ti = self.task.trial_type(k)
        error = self.task.error(ti, self.output(ti))
        if k - 1 > self.learn_after:          # k is 1-based; Miconi's rule is 0-based
            self.sim.apply_learning({"E": error, "Ebar": self.baseline[ti]})
        self.baseline[ti] = 0.75 * self.baseline[ti] + 0.25 * error
        return dict(trial=k, type=DNMSTask.TYPES[ti], error=f"{error:.10g}",
                    reward=f"{-error:.10g}")

    def state(self):
        # S holds the carried running mean x_bar, which a resumed run must continue from.
        return dict(self.sim.state(("P", "F", "RNG", "S")), baseline=self.baseline.copy())

    def restore(self, state):
        if "S" not in state:
            raise RunError("dnms-reservoir: this checkpoint has no state array S (it predates "
                           "the carried running mean x_bar); start the run again")
        self.sim.restore({k: v for k, v in state.items() if k != "baseline"})
        self.baseline = np.asarray(state["baseline"], dtype=float).copy()

    def postfix(self, rows):
        recent = {}
        for r in rows[-40:]:
            recent.setdefault(r["type"], []).append(float(r["error"]))
        return {t: f"{np.mean(v):.2f}" for t, v in sorted(recent.items())}

    def metrics(self, rows):
        """Headline numbers: trials to criterion (Miconi's definition, and the former one
        beside it) and the median error of the last 1000 trials."""
        err = np.asarray([float(r["error"]) for r in rows])
        return dict(criterion=trials_to_criterion(err), criterion_definition=CRITERION_TEXT,
                    criterion_at_least_95_1_based=trials_to_criterion_at_least(err),
                    median_error_last_1000=round(float(np.median(err[-1000:])), 4))

    def outputs_without_perturbation(self, weights):
        """Output traces of the four trial types with `weights` and no perturbations; the
        runner's state (weights, random streams, parameters) is left as it was."""
        saved = self.state()
        a = self.sim.arrays
        a["F"][:] = weights
        self.sim.set("R", "f", 0.0)
        traces = [self.output(k) for k in range(4)]
        self.restore(saved)
        return traces

    def finish(self, out, rows, meta):
        from circuitdsl.circuits._dnms_figures import dnms_figures
        before = self.outputs_without_perturbation(self.weights_before)
        after = self.outputs_without_perturbation(self.sim.state(("F",))["F"])
        dnms_figures(out, rows, before, after, self.task)
        m = self.metrics(rows)
        last = [float(r["error"]) for r in rows[-400:]]
        reached = ("not reached" if m["criterion"] is None
                   else f"reached at trial index {m['criterion']}")
        former = m["criterion_at_least_95_1_based"]
        return (f"criterion ({CRITERION_TEXT}) {reached} "
                f"[former criterion, >= 95 of 100, 1-based: {former}]; "
                f"median error over the last {len(last)} trials {np.median(last):.3f}")
