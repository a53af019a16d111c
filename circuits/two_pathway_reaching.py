"""two-pathway-reaching: a fast supervised and a slow Hebbian pathway learn to reach.

Murray & Escola (2020), Nat Commun 11:6441, Fig. 6. A cue and the arm's position reach a
motor-cortex representation x and a thalamic one y through fixed random projections; the
striatum z = tanh(W x + V y) drives the readout g = U z + noise, a velocity that moves a point
mass; the new position feeds back into x and y on the next step (all inside the kernel).

- W (cortico-striatal) and U (readout) learn by the supervised rule from e = v* - g, the error
  reaching the striatum through U^T (a feedback edge that starts as U^T and learns like U);
- V (thalamo-striatal) learns by Hebbian growth with decay, eta_v (-V + z y^T);
increments are summed over the trial's 10 steps and applied at its end.

Protocols (reference seed-models.md B.3): `sequential` trains target 0 for 10 blocks, then
targets 1, 2, 3 for one block each; `interleaved` draws targets at random. A block is 4000
trials; then `test_trials` per target are run with learning off and the noise on. eta_w
defaults to 1e-3 for sequential supervised-only runs (hebbian_rate = 0), else 1e-4, as in the
published comparison.
"""
from __future__ import annotations

import numpy as np

from circuitdsl.blocks.layers import (ERROR_FEEDBACK, Cue, LinearReadout, RandomProjection,
                                      RateLayer, normal)
from circuitdsl.blocks.plants import PointMass2D
from circuitdsl.circuit import Circuit, TransposeOf, resolve_params, stable_rng
from circuitdsl.environments import ReachingTask
from circuitdsl.learning import BackpropTanh, DeltaRule, HebbianDecay

DESCRIPTION = "fast supervised + slow Hebbian pathways learn sequential reaching (Murray & Escola 2020)"

PARAMS = {"protocol": "sequential", "hebbian_rate": 1e-6, "eta_w": None, "block": 4000,
          "test_trials": 1000, "noise": 0.03, "n_cortex": 50, "n_thalamus": 50,
          "n_striatum": 10, "n_targets": 8, "dt": 1.0}

# Command-line options of this circuit (`circuitdsl run two-pathway-reaching --help`); each
# is a shorthand for --set NAME=VALUE.
OPTIONS = [dict(name="protocol", type=str, choices=ReachingTask.PROTOCOLS, default="sequential",
                help="training schedule of the targets"),
           dict(name="hebbian_rate", type=float, default=1e-6,
                help="the slow Hebbian rate eta_v of Th -> STR (0: supervised only)")]

# What `circuitdsl show two-pathway-reaching --params` says each parameter means.
PARAM_HELP = {
    "protocol": "training schedule: sequential (target 0 for 10 blocks, then 1, 2, 3) or "
                "interleaved (targets drawn at random)",
    "hebbian_rate": "the slow Hebbian rate eta_v of Th -> STR (0: supervised only; "
                    "interleaved: 0 unless given)",
    "eta_w": "supervised learning rate of M1 -> STR and STR -> GPi (None: 1e-3 for "
             "sequential supervised-only runs, else 1e-4)",
    "block": "training trials per block",
    "test_trials": "test trials per target after training (learning off, noise on)",
    "noise": "standard deviation of the readout noise",
    "n_cortex": "units of the motor-cortex layer M1",
    "n_thalamus": "units of the thalamic layer Th",
    "n_striatum": "units of the striatum STR",
    "n_targets": "reach targets the cue can name",
    "dt": "time step in ms",
}


def eta_w_for(protocol, hebbian_rate):
    """The published learning rate of the supervised pathway for a condition."""
    return 1e-3 if protocol == "sequential" and hebbian_rate == 0 else 1e-4


def build(**params):
    p = resolve_params("two-pathway-reaching", PARAMS, params)
    if p["protocol"] not in ReachingTask.PROTOCOLS:
        raise ValueError(f"two-pathway-reaching: protocol must be one of "
                         f"{', '.join(ReachingTask.PROTOCOLS)}, got {p['protocol']!r}")
    if p["hebbian_rate"] < 0:
        raise ValueError(f"two-pathway-reaching: hebbian_rate must be >= 0, "
                         f"got {p['hebbian_rate']!r}")
    if p["protocol"] == "interleaved" and "hebbian_rate" not in params:
        p["hebbian_rate"] = 0.0     # the interleaved control has no Hebbian pathway
    if p["eta_w"] is None:
        p["eta_w"] = eta_w_for(p["protocol"], p["hebbian_rate"])
    nm, nh, nz = p["n_cortex"], p["n_thalamus"], p["n_striatum"]
    c = Circuit(f"two-pathway-reaching[{p['protocol']}]")
    c.add(Cue("cue", p["n_targets"]))
    c.add(PointMass2D("arm"))
    c.add(RandomProjection("M1", nm))
    c.add(RandomProjection("Th", nh))
    c.add(RateLayer("STR", nz, "tanh"))
    c.add(LinearReadout("GPi", 2, noise=p["noise"]))
    for src in ("cue", "arm"):
        for dst in ("M1", "Th"):
            c.connect(src, dst, weight=normal(1.0))
    c.connect("M1", "STR", weight=normal(1 / np.sqrt(nm)), learning_rule=BackpropTanh(p["eta_w"]))
    c.connect("Th", "STR", weight=normal(1 / np.sqrt(nh)),
              learning_rule=HebbianDecay(p["hebbian_rate"]) if p["hebbian_rate"] > 0 else None)
    c.connect("STR", "GPi", weight=normal(1 / np.sqrt(nz)), learning_rule=DeltaRule(p["eta_w"]))
    c.connect("GPi", "STR", weight=TransposeOf("STR", "GPi"), synapse=ERROR_FEEDBACK,
              learning_rule=DeltaRule(p["eta_w"], feedback=True))
    c.connect("GPi", "arm", weight=np.eye(2))
    n_train = (10 + 3) * p["block"]
    c.meta.update(kind="reaching", params=p, dt=1.0, runner=ReachingRunner,
                  default_trials=n_train + 4 * p["test_trials"])
    return c


class ReachingRunner:
    """Training trials on the protocol's schedule, then test trials with learning off."""

    columns = ("trial", "target", "loss", "phase")
    checkpoint_every = 1000

    def __init__(self, circuit, seed, dt=1.0):
        from circuitdsl.simulator import Simulator
        p = circuit.meta["params"]
        self.circuit, self.p = circuit, p
        self.sim = Simulator(circuit, dt=1.0, seed=seed, method="euler")
        self.task = ReachingTask(n_targets=p["n_targets"])
        rng = stable_rng(seed, "task", "reaching schedule")
        self.train = self.task.schedule(p["protocol"], p["block"], rng)
        self.test = self.task.test_schedule(p["test_trials"])
        self.vstar = [self.task.desired_velocity(k) for k in range(self.task.n_targets)]
        self.cues = [circuit["cue"].one_hot(k) for k in range(self.task.n_targets)]
        self.weights_before = self.sim.state(("F",))["F"]
        self._rows = {}

    def target_of(self, k):
        """(target, phase) of 1-based trial k."""
        if k <= len(self.train):
            return int(self.train[k - 1]), "train"
        return int(self.test[(k - len(self.train) - 1) % len(self.test)]), "test"

    def reach(self, target, record=()):
        """One 10-step reach toward `target` (no learning); returns (loss, recording)."""
        sim = self.sim
        sim.set("cue", "value", self.cues[target])
        sim.reset()
        rec = sim.run(self.task.t_max, record=record, inputs={"GPi.target": self.vstar[target]})
        return float(np.sum(sim.get("GPi", "loss"))) / self.task.t_max, rec

    def start(self):
        pass

    def trial(self, k):
        """Row of trial k; trials run in compiled blocks that end at checkpoints, so a
        checkpoint after trial k always holds the state after exactly k trials."""
        if k not in self._rows:
            last = min(k + self.checkpoint_every - 1 - (k - 1) % self.checkpoint_every,
                       getattr(self, "n_trials", None) or 10**12,
                       len(self.train) + len(self.test))
            self._run_block(k, max(k, last))
        return self._rows.pop(k)

    def _run_block(self, first, last):
        ks = range(first, last + 1)
        targets, phases = zip(*(self.target_of(k) for k in ks))
        n_cases = self.task.n_targets
        out = self.sim.run_trials(
            self.task.t_max, np.asarray(targets),
            params={"cue.value": np.asarray(self.cues)},
            inputs={"GPi.target": np.asarray(self.vstar)[:n_cases]},
            learn=np.asarray([ph == "train" for ph in phases]), collect=["GPi.loss"])
        loss = out["GPi.loss"].sum(axis=1) / self.task.t_max
        self._rows = {k: dict(trial=k, target=t, loss=f"{v:.10g}", phase=ph)
                      for k, t, v, ph in zip(ks, targets, loss, phases)}

    def state(self):
        return self.sim.state(("F", "RNG"))     # weights and the random streams

    def restore(self, state):
        self.sim.restore(state)

    def postfix(self, rows):
        return {"loss": f"{np.mean([float(r['loss']) for r in rows[-200:]]):.4f}"}

    def metrics(self, rows):
        """Mean test loss per target (the published score)."""
        test = [r for r in rows if r["phase"] == "test"]
        return {f"test_loss_{k}": round(float(np.mean([float(r["loss"]) for r in test
                                                        if int(r["target"]) == k])), 6)
                for k in sorted({int(r["target"]) for r in test})}

    def trajectories(self, weights):
        """Arm positions (targets, t_max + 1, 2) with `weights`; the runner's state is kept."""
        saved = self.state()
        self.sim.restore({"F": weights})
        out = []
        for k in range(self.task.used):
            _, rec = self.reach(k, record=["arm.s"])
            out.append(np.vstack([self.task.start, rec["arm.s"]]))
        self.restore(saved)
        return np.asarray(out)

    def finish(self, out, rows, meta):
        from circuitdsl.circuits._reaching_figures import reaching_figures
        metrics = self.metrics(rows)
        with open(out / "test_loss.csv", "w") as fh:
            fh.write("target,loss\n")
            for key, v in metrics.items():
                fh.write(f"{key.rsplit('_', 1)[1]},{v:.10g}\n")
        before = self.trajectories(self.weights_before)
        after = self.trajectories(self.sim.state(("F",))["F"])
        reaching_figures(out, rows, self.p["block"], before, after, self.task)
        return "test loss per target " + " ".join(f"{v:.4f}" for v in metrics.values())


def network_test_losses(seed, **params):
    """Train one network on the whole protocol and return its mean test loss per target
    (no files; what the 21-network reproduction runs for each seed)."""
    runner = ReachingRunner(build(**params), seed)
    runner.n_trials = len(runner.train) + len(runner.test)
    rows = [runner.trial(k) for k in range(1, runner.n_trials + 1)]
    m = runner.metrics(rows)
    return [m[f"test_loss_{k}"] for k in range(runner.task.used)]
