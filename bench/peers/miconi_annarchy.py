"""Peer benchmark: Miconi (2017) reward-modulated recurrent network in ANNarchy 5.

Same model, task and learning rule as ``miconi_numpy.py`` (and the same
initial weights and per-trial initial states for a given seed: both come
from ``miconi_numpy.make_network`` / ``draw_x0``); written from the model
description in MICONI.md, not from the ANNarchy notebook.

Needs the ANNarchy venv ACTIVATED (ANNarchy's generated CMake project finds
Python through PATH):

    python3 -m venv /tmp/annvenv && source /tmp/annvenv/bin/activate
    pip install annarchy
    python bench/peers/miconi_annarchy.py --trials 200 --seed 0 [--json OUT]

prints one JSON line: tool, version, compile_seconds, seconds_per_trial,
errors (one per trial), types (one per trial), plus timing details.

Implementation:

* one population of 200 rate-coded units; each step, in order:
  ``rprev = r`` (keeps r(t-1) for the trace), the perturbation as a
  neuron-level random draw ``ite(Uniform(0,1) < f dt, A Uniform(-1,1), 0)``,
  the explicit Euler step of x (bias units clamped by a local flag),
  ``r = tanh(x)``, ``delta_x = x - xbar``, ``xbar = 0.05 xbar + 0.95 x``, and
  an accumulator ``errsum += scoring |r - target|`` (``scoring`` and
  ``target`` are global parameters set from Python);
* a 2-unit ``InputArray`` for the stimuli (``inp.r`` set from Python between
  ``simulate`` calls) with a static projection of W_in onto target ``inp``;
* the recurrent projection (from ``from_matrix``, same sparse J as NumPy)
  carries the trace as a synapse variable updated every step,
  ``trace += power(pre.rprev * post.delta_x, 3)``;
* the weight update is applied once per trial with a flag: after the 1000
  trial steps, Python sets the projection-level parameters ``adv = R -
  Rbar_k`` (0 before ``learn_after``) and ``learn = 1`` and simulates ONE
  extra step, in which ``w += learn * clip(eta trace adv, -3e-4, 3e-4)`` and
  then ``trace = (1 - learn) (trace + ...)`` resets the trace.  That step's
  neuron update is thrown away: the next trial sets x, r and xbar anew.
  (Chosen over reading/writing the 4000 weights from Python every trial.)

Timing: ``compile_seconds`` = ``Network.compile`` in a fresh build directory
(code generation + CMake + g++); ``seconds_per_trial`` = mean wall time of a
trial (all Python-side resets and parameter sets, the 1000 + 1 simulated
steps, reading the error) over the learning trials (index >= learn_after).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import miconi_numpy as mn  # noqa: E402  (constants, weights, x0, task)


def build(seed: int = 0, amp: float = mn.A_PERT):
    """Create the ANNarchy network (not compiled). Returns (net, pop, inp, proj)."""
    import ANNarchy as ann

    neuron = ann.Neuron(
        parameters=dict(
            tau=mn.TAU,
            fdt=mn.P_PERT,
            amp=amp,
            keep=mn.XBAR_KEEP,
            target=0.0,
            scoring=0.0,
            bias=ann.Parameter(0.0, locality="local"),
            xclamp=ann.Parameter(0.0, locality="local"),
        ),
        equations=[
            "rprev = r",
            "pert = ite(Uniform(0.0, 1.0) < fdt, amp * Uniform(-1.0, 1.0), 0.0)",
            "x = ite(bias > 0.5, xclamp,"
            " x + dt * (sum(exc) + sum(inp) - x + pert) / tau)",
            "r = tanh(x)",
            "delta_x = x - xbar",
            "xbar = keep * xbar + (1.0 - keep) * x",
            "errsum = errsum + scoring * fabs(r - target)",
        ],
        name="miconi_unit",
    )
    synapse = ann.Synapse(
        parameters=dict(eta=mn.ETA, maxdw=mn.MAX_DW, adv=0.0, learn=0.0),
        equations=[
            "w = w + learn * clip(eta * trace * adv, -maxdw, maxdw)",
            "trace = (1.0 - learn) * (trace + power(pre.rprev * post.delta_x, 3))",
        ],
        name="miconi_trace",
    )

    J, mask, W_in = mn.make_network(seed)
    net = ann.Network(dt=mn.DT, seed=seed)
    pop = net.create(geometry=mn.N, neuron=neuron, name="rnn")
    inp = net.create(ann.InputArray(geometry=mn.N_IN, name="stim"))

    w_rec = np.full((mn.N, mn.N), None, dtype=object)
    w_rec[mask] = J[mask]
    proj = net.connect(pop, pop, target="exc", synapse=synapse, name="rec")
    proj.from_matrix(w_rec)
    proj_in = net.connect(inp, pop, target="inp", name="input")
    proj_in.from_matrix(W_in)
    return net, pop, inp, proj


class AnnMiconi:
    def __init__(self, seed: int = 0, learn_after: int = mn.LEARN_AFTER,
                 amp: float = mn.A_PERT, build_dir: str | None = None):
        import ANNarchy as ann

        self.ann = ann
        self.net, self.pop, self.inp, self.proj = build(seed, amp)
        own_dir = build_dir is None
        self.build_dir = build_dir or tempfile.mkdtemp(prefix="miconi_ann_")
        t0 = time.perf_counter()
        self.net.compile(directory=self.build_dir, clean=True, silent=True)
        self.compile_seconds = time.perf_counter() - t0
        if own_dir:
            shutil.rmtree(self.build_dir, ignore_errors=True)
        bias = np.zeros(mn.N)
        bias[list(mn.BIAS)] = 1.0
        xclamp = np.zeros(mn.N)
        xclamp[list(mn.BIAS)] = mn.BIAS_X
        self.pop.bias = bias
        self.pop.xclamp = xclamp
        self.rng_x0 = mn.initial_x_stream(seed)
        self.learn_after = learn_after
        self.rbar = np.full(4, mn.RBAR_INIT)
        self.trial = 0

    def run_trial(self):
        pop, inp, proj, sim = self.pop, self.inp, self.proj, self.net.simulate
        ttype = mn.trial_type(self.trial)
        k_type = self.trial % 4
        c1 = "AB".index(ttype[0])
        c2 = "AB".index(ttype[1])
        x0 = mn.draw_x0(self.rng_x0)
        pop.x = x0
        pop.r = np.tanh(x0)
        pop.xbar = x0
        pop.errsum = 0.0
        pop.target = mn.trial_target(ttype)
        off = np.zeros(mn.N_IN)
        s1 = off.copy()
        s1[c1] = 1.0
        s2 = off.copy()
        s2[c2] = 1.0
        # steps 0 .. 999 (dt = 1 ms): input u(t) is used by step t
        inp.r = off
        sim(mn.STIM1[0])                                   # 0
        inp.r = s1
        sim(mn.STIM1[1] - mn.STIM1[0])                     # 1 .. 200
        inp.r = off
        sim(mn.STIM2[0] - mn.STIM1[1])                     # 201 .. 399
        inp.r = s2
        sim(mn.STIM2[1] - mn.STIM2[0])                     # 400 .. 599
        inp.r = off
        sim(mn.RESP[0] - mn.STIM2[1])                      # 600 .. 799
        pop.scoring = 1.0
        sim(mn.RESP[1] - mn.RESP[0])                       # 800 .. 999
        pop.scoring = 0.0
        err = float(pop.errsum[mn.OUT]) / (mn.RESP[1] - mn.RESP[0])
        reward = -err
        # one extra step: apply the weight update and reset the trace
        proj.adv = (reward - self.rbar[k_type]) if self.trial >= self.learn_after else 0.0
        proj.learn = 1.0
        sim(1.0)
        proj.learn = 0.0
        mn.baseline_update(self.rbar, k_type, reward)
        self.trial += 1
        return err, ttype

    def weights(self) -> np.ndarray:
        """Dense (post, pre) weight matrix, 0 where no synapse (slow; for checks)."""
        w = self.proj.connectivity_matrix(fill=0.0)
        return np.asarray(w, dtype=float)


def _annarchy_version(ann) -> str:
    try:
        from importlib.metadata import version
        return version("annarchy")                        # e.g. 5.0.4.1
    except Exception:                                     # pragma: no cover
        return str(ann.__version__)


def run(n_trials: int, seed: int = 0, learn_after: int = mn.LEARN_AFTER,
        amp: float = mn.A_PERT, warmup: int = 10,
        build_dir: str | None = None) -> dict:
    import ANNarchy as ann

    model = AnnMiconi(seed=seed, learn_after=learn_after, amp=amp,
                      build_dir=build_dir)
    errors, types, secs = [], [], []
    for _ in range(n_trials):
        t0 = time.perf_counter()
        err, ttype = model.run_trial()
        secs.append(time.perf_counter() - t0)
        errors.append(err)
        types.append(ttype)
    first = max(learn_after, warmup)
    if first >= n_trials:
        first = min(warmup, max(n_trials - 1, 0))
    timed = secs[first:]
    try:
        w_final = model.weights()
        w_finite = bool(np.all(np.isfinite(w_final)))
    except Exception:                                     # pragma: no cover
        w_finite = None
    return dict(
        tool="ANNarchy",
        version=_annarchy_version(ann),
        numpy=np.__version__,
        python=sys.version.split()[0],
        n_trials=n_trials,
        seed=seed,
        learn_after=learn_after,
        compile_seconds=model.compile_seconds,
        seconds_per_trial=float(np.mean(timed)),
        median_seconds_per_trial=float(np.median(timed)),
        timed_trials=[first, n_trials],
        total_seconds=float(np.sum(secs)),
        trial_seconds=secs,
        errors=errors,
        types=types,
        any_nan=bool(not np.all(np.isfinite(errors)) or w_finite is False),
        final_rbar=model.rbar.tolist(),
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--learn-after", type=int, default=mn.LEARN_AFTER)
    ap.add_argument("--amp", type=float, default=mn.A_PERT,
                    help="perturbation amplitude A (0 disables it)")
    ap.add_argument("--build-dir", help="ANNarchy build directory "
                    "(default: a fresh temporary one, deleted after compiling)")
    ap.add_argument("--json", help="also write the result to this file")
    args = ap.parse_args(argv)
    res = run(args.trials, seed=args.seed, learn_after=args.learn_after,
              amp=args.amp, build_dir=args.build_dir)
    line = json.dumps(res)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(line + "\n")
    print(line)


if __name__ == "__main__":
    main()
