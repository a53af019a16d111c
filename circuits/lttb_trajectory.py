"""lttb-trajectory: spiking dendritic bursts learn a 3-D trajectory (Learning Through Target Bursts).

Capone, Lupo, Muratore, Paolucci (2022), arXiv:2201.11717, CC BY 4.0. Built from the model
text in reference §A (not from the authors' code), with the original's two quirks kept: the
proximal apical compartment is not integrated over time, and the online rules read values one
step old. 400 excitatory and 100 inhibitory two-compartment burst neurons (BurstNeurons) get a
5-unit one-hot clock on the soma, the teacher (j_targ y*, excitatory rows only) on the distal
apical compartment, and each other's filtered spikes on the proximal apical compartment (J,
learned by LTTBRecurrentRule); a linear readout of filtered bursts learns y* online
(LTTBReadoutRule). One runner trial is one training iteration (998 steps with the teacher on
and learning); every `test_every` iterations a test trial (teacher off, no learning) measures
the outer variance var(y* - Y) over steps 1..997. Protocols:

- `head` (the authors' current notebook): σ_targ = 10, readout from B_filt_total, sign
  constraints ("pin": E->E in [0, 100] with a zero diagonal, I->E in [-100, 0], no apical
  recurrent edges into I), η and η_out × 0.99 after every epoch.
- `original` (the stored run): σ_targ = 20, readout from B_filt_rec, no constraints (all four
  E/I edges, self-connections included), constant rates.
"""
from __future__ import annotations

import numpy as np

from circuitdsl.blocks.clock import Clock, target_trajectory
from circuitdsl.blocks.dendritic import BurstNeurons, BurstReadout, readout_synapse
from circuitdsl.circuit import Circuit, resolve_params, stable_rng
from circuitdsl.learning import LTTBReadoutRule, LTTBRecurrentRule

DESCRIPTION = ("two-compartment burst neurons learn a 3-D trajectory from target bursts "
               "(LTTB, Capone et al. 2022)")

PROTOCOLS = {
    "head": dict(sigma_targ=10.0, readout="B_filt_total", pin=True, decay=0.99),
    "original": dict(sigma_targ=20.0, readout="B_filt_rec", pin=False, decay=1.0),
}
PARAMS = {"protocol": "head", "epochs": 5, "iterations": 50, "test_every": 5, "dt": 1.0,
          "Ne": 400, "Ni": 100, "n_steps": 1000, "eta": 10.0, "eta_out": 0.01,
          "eta_bias": 0.0, "sigma_in": 12.0, "sigma_out": 0.1}

# Command-line options of this circuit (`circuitdsl run lttb-trajectory --help`); each is a
# shorthand for --set NAME=VALUE.
OPTIONS = [dict(name="protocol", type=str, choices=tuple(PROTOCOLS), default="head",
                help="head (this repository's configuration) or original (the paper code's)"),
           dict(name="epochs", type=int, default=5, help="training epochs"),
           dict(name="iterations", type=int, default=50, help="iterations per epoch")]

# What `circuitdsl show lttb-trajectory --params` says each parameter means.
PARAM_HELP = {
    "protocol": "head (the authors' current notebook) or original (the stored run)",
    "epochs": "training epochs (trials = epochs x iterations)",
    "iterations": "training iterations (trials) per epoch",
    "test_every": "a test trial (teacher off, no learning) every this many iterations",
    "dt": "time step in ms (a circuit parameter: --dt is refused)",
    "Ne": "excitatory burst neurons",
    "Ni": "inhibitory burst neurons",
    "n_steps": "steps per trial (the clock's period and the target's length)",
    "eta": "learning rate of the recurrent rule (LTTBRecurrentRule)",
    "eta_out": "learning rate of the readout rule (LTTBReadoutRule)",
    "eta_bias": "learning rate of the readout's bias",
    "sigma_in": "standard deviation of the clock -> E and clock -> I weights",
    "sigma_out": "standard deviation of the initial readout weights",
}


def build(**params):
    p = resolve_params("lttb-trajectory", PARAMS, params)
    if p["protocol"] not in PROTOCOLS:
        raise ValueError(f"lttb-trajectory: protocol must be one of {', '.join(PROTOCOLS)}, "
                         f"got {p['protocol']!r}")
    for key in ("epochs", "iterations", "test_every"):
        if int(p[key]) < 1:
            raise ValueError(f"lttb-trajectory: {key} must be >= 1, got {p[key]!r}")
    v = PROTOCOLS[p["protocol"]]
    Ne, Ni, dt = int(p["Ne"]), int(p["Ni"]), float(p["dt"])
    c = Circuit(f"lttb-trajectory[{p['protocol']}]")
    c.add(Clock("clock", 5, int(p["n_steps"]), dt, lead=1))
    # uid tells a unit from the others across E and I (no autapses under "pin"); w_lo, w_hi
    # bound a unit's outgoing recurrent weights by its type (used only by the pinned rule).
    c.add(BurstNeurons("E", Ne, dt=dt, uid=np.arange(Ne), w_lo=0.0, w_hi=100.0),
          BurstNeurons("I", Ni, dt=dt, uid=Ne + np.arange(Ni), w_lo=-100.0, w_hi=0.0))
    c.add(BurstReadout("RO", 3, eta_bias=p["eta_bias"]))
    s_in, s_out = float(p["sigma_in"]), float(p["sigma_out"])
    for pop in ("E", "I"):
        c.connect("clock", pop, weight=lambda rng, n: s_in * rng.normal(size=n))
    if v["pin"]:
        rule = LTTBRecurrentRule(eta=p["eta"], pin=True)
        c.connect("E", "E", weight=0.0, self_connections=True, learning_rule=rule)
        c.connect("I", "E", weight=0.0, learning_rule=rule)
    else:
        rule = LTTBRecurrentRule(eta=p["eta"])
        for pre, post in (("E", "E"), ("I", "E"), ("E", "I"), ("I", "I")):
            c.connect(pre, post, weight=0.0, self_connections=True, learning_rule=rule)
    readout = readout_synapse(v["readout"])
    for pop in ("E", "I"):
        c.connect(pop, "RO", weight=lambda rng, n: s_out * rng.normal(size=n), synapse=readout,
                  learning_rule=LTTBReadoutRule(p["eta_out"], v["readout"]))
    c.meta.update(kind="lttb", params=p, protocol=v, dt=dt,
                  default_trials=int(p["epochs"]) * int(p["iterations"]), runner=LTTBRunner)
    return c


def teacher(circuit, seed):
    """(target y* of shape (n_steps, 3), j_targ of shape (N, 3)) drawn from the run's seed."""
    p, v = circuit.meta["params"], circuit.meta["protocol"]
    Ne, N = int(p["Ne"]), int(p["Ne"]) + int(p["Ni"])
    y = target_trajectory(stable_rng(seed, "lttb-trajectory", "target"), 3, int(p["n_steps"]),
                          float(p["dt"]))
    j_targ = stable_rng(seed, "lttb-trajectory", "j_targ").normal(0.0, v["sigma_targ"], (N, 3))
    j_targ[Ne:] = 0.0                    # inhibitory units get no teacher
    return y, j_targ


class LTTBRunner:
    """One trial = one training iteration; a test trial every `test_every` iterations."""

    columns = ("iteration", "outer_variance", "inner_error", "seconds")

    def __init__(self, circuit, seed, dt=None):
        from circuitdsl.simulator import Simulator
        self.circuit = circuit
        p = circuit.meta["params"]
        self.p, self.v = p, circuit.meta["protocol"]
        self.dt = float(p["dt"])
        if dt is not None and abs(float(dt) - self.dt) > 1e-12:
            from circuitdsl.errors import RunError   # an option error: one line on the CLI
            raise RunError(f"lttb-trajectory: the time step is a circuit parameter (its "
                             f"clock, traces and rates are built for it): use --set dt={dt}, "
                             f"not --dt (got --dt {dt}, circuit dt {self.dt})")
        # No unit has a spike condition (spikes are states), so no spike buffer is needed.
        self.sim = Simulator(circuit, dt=self.dt, seed=seed, method="euler", max_spikes=1)
        self.n_run = int(p["n_steps"]) - 2           # LTTB steps n = 1 .. n_steps - 2
        self.Ne = int(p["Ne"])
        self.target, self.j_targ = teacher(circuit, seed)
        ystar = self.target[1:self.n_run + 1]        # y*(n) at kernel step k = n - 1
        self.train_inputs = {"E.I_d": ystar @ self.j_targ[:self.Ne].T, "RO.target": ystar}
        self.test_inputs = {"RO.target": ystar}
        self.last_inner = None

    # ---- one trial -------------------------------------------------------------------------
    def run_trial(self, train, record=()):
        """Reset the units (weights, bias and rates stay) and run one trial."""
        self.sim.reset()
        for pop in ("E", "I", "RO"):
            self.sim.set(pop, "learn", 1.0 if train else 0.0)
        return self.sim.run(self.n_run * self.dt, record=list(record),
                            inputs=self.train_inputs if train else self.test_inputs)

    def inner_error(self, rec):
        """var(B_filt_rec - B_filt) over the N x n_steps array (indices 0 and 1 are 0)."""
        d = np.hstack([rec[f"{x}.B_filt_rec"] - rec[f"{x}.B_filt"] for x in ("E", "I")])
        full = np.zeros((int(self.p["n_steps"]), d.shape[1]))
        full[2:2 + len(d)] = d
        return float(np.var(full))

    def outer_variance(self, rec):
        """var(y* - Y) pooled over the 3 outputs and steps n = 1 .. n_steps - 3."""
        n = self.n_run - 1
        return float(np.var(self.target[1:n + 1] - rec["RO.Y"][:n]))

    def test(self, record=()):
        rec = self.run_trial(False, ["RO.Y", *record])
        return self.outer_variance(rec), rec

    # ---- runner protocol ---------------------------------------------------------------------
    def start(self):
        pass

    def scale_rates(self, factor):
        """Multiply every online rule's rate (η, η_out) by `factor`."""
        for proj in self.sim.projections():
            if proj.rule is not None and "eta" in proj.fields:
                self.sim.field(proj, "eta")[:] *= factor

    def trial(self, k):
        iters = int(self.p["iterations"])
        if k > 1 and (k - 1) % iters == 0 and self.v["decay"] != 1.0:
            self.scale_rates(self.v["decay"])        # after every epoch
        tested = k % int(self.p["test_every"]) == 0
        record = [f"{x}.{v}" for x in ("E", "I") for v in ("B_filt", "B_filt_rec")] \
            if tested else []
        rec = self.run_trial(True, record)
        row = dict(iteration=k, outer_variance="", inner_error="")
        if tested:
            row["inner_error"] = f"{self.inner_error(rec):.6g}"
            row["outer_variance"] = f"{self.test()[0]:.6g}"
        return row

    def state(self):
        return self.sim.state(("F", "P"))

    def restore(self, state):
        self.sim.restore(state)

    def postfix(self, rows):
        tested = [r for r in rows if r["outer_variance"] != ""]
        return {"outer": tested[-1]["outer_variance"]} if tested else {}

    def metrics(self, rows):
        tested = [r for r in rows if r["outer_variance"] != ""]
        if not tested:
            return {}
        ov = [float(r["outer_variance"]) for r in tested]
        ie = [float(r["inner_error"]) for r in tested]
        return dict(first_test_outer_variance=ov[0], last_outer_variance=ov[-1],
                    first_inner_error=ie[0], last_inner_error=ie[-1],
                    inner_error_fall=round(ie[0] / ie[-1], 3) if ie[-1] > 0 else None)

    def finish(self, out, rows, meta):
        from circuitdsl.circuits._lttb_figures import draw
        draw(self, out, rows, meta)
        m = self.metrics(rows)
        if not m:
            return "no test trial yet"
        return (f"outer variance {m['first_test_outer_variance']:.4f} -> "
                f"{m['last_outer_variance']:.4f}; inner error fell {m['inner_error_fall']}x")
