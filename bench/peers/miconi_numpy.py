"""Peer benchmark: Miconi (2017) reward-modulated recurrent network, plain NumPy.

Delayed non-match-to-sample (DNMS) task with the node-perturbation /
eligibility-trace rule of Miconi, eLife 2017 ("sparse" configuration: 200
units, 10 % connectivity), with one baseline slot per trial type (AA, AB, BA,
BB).  Written from the model description in MICONI.md beside this file.

    python bench/peers/miconi_numpy.py --trials 200 --seed 0 [--naive]
                                       [--learn-after 100] [--json OUT]

prints one JSON line: tool, version, seconds_per_trial, errors (one per
trial), types (one per trial), plus timing details.

Two ways to accumulate the eligibility trace e_ij = sum_t (r_j(t-1) dx_i(t))^3:

* default ("matmul"): the loop only integrates the network and stacks x(t)
  and r(t); after the trial the running mean xbar is rebuilt from the stacked
  x, dx = x - xbar_prev is formed for all steps at once, and, since
  (a*b)^3 = a^3 * b^3, the whole trace is one (N x T) @ (T x N) product.
* ``--naive``: xbar and the trace are updated inside the loop, one outer
  product per step.

Both modes draw the same random numbers and integrate x with the same code,
so they differ only by rounding in the trace.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

# Single-threaded BLAS unless the caller set otherwise (2-core machine shared
# with other jobs; a 200x200 mat-vec gains nothing from threads).  Must be set
# before numpy is imported.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np

# ----------------------------------------------------------------- constants
N = 200                 # rate units
DT = 1.0                # ms
TAU = 30.0              # ms
P_CONN = 0.1            # connection probability
G = 1.5                 # gain: J ~ N(0, G^2 / (P_CONN N)) on existing pairs
N_IN = 2                # input channels A, B
OUT = 100               # output unit
BIAS = (0, 1, 2)        # clamped units
BIAS_X = (1.0, 1.0, -1.0)
F_PERT = 3.0            # Hz: perturbation rate per unit
P_PERT = F_PERT * DT / 1000.0   # = 0.003 per unit per step
A_PERT = 16.0           # perturbation ~ U(-A, A)
XBAR_KEEP = 0.05        # xbar <- 0.05 xbar + 0.95 x
T_TRIAL = 1000          # steps (ms) per trial
STIM1 = (1, 201)        # [start, stop) steps of stimulus 1
STIM2 = (400, 600)      # [start, stop) steps of stimulus 2
RESP = (800, 1000)      # [start, stop) steps scored
TARGET = 0.98
ETA = 0.5
MAX_DW = 3e-4
RBAR_KEEP = 0.75        # Rbar_k <- 0.75 Rbar_k + 0.25 R
RBAR_INIT = -1.0
LEARN_AFTER = 100       # trials 0..99 (0-based) only update the baselines
TYPES = ("AA", "AB", "BA", "BB")


# ------------------------------------------------- shared with the ANNarchy peer
def make_network(seed: int = 0):
    """Return (J, mask, W_in): J (N, N) with J[i, j] = weight j -> i."""
    rng = np.random.default_rng([seed, 0])
    mask = rng.random((N, N)) < P_CONN
    np.fill_diagonal(mask, False)
    J = rng.standard_normal((N, N)) * (G / np.sqrt(P_CONN * N))
    J *= mask
    W_in = rng.uniform(-1.0, 1.0, (N, N_IN))
    W_in[OUT] = 0.0
    return J, mask, W_in


def initial_x_stream(seed: int = 0) -> np.random.Generator:
    """Generator for the per-trial initial x ~ U(-0.1, 0.1)."""
    return np.random.default_rng([seed, 1])


def draw_x0(rng: np.random.Generator) -> np.ndarray:
    x0 = rng.uniform(-0.1, 0.1, N)
    x0[list(BIAS)] = BIAS_X
    return x0


def trial_type(trial: int) -> str:
    return TYPES[trial % 4]


def trial_target(ttype: str) -> float:
    return -TARGET if ttype[0] == ttype[1] else TARGET


def stimulus(ttype: str) -> np.ndarray:
    """u (T_TRIAL, N_IN): the input at each step."""
    u = np.zeros((T_TRIAL, N_IN))
    u[STIM1[0]:STIM1[1], "AB".index(ttype[0])] = 1.0
    u[STIM2[0]:STIM2[1], "AB".index(ttype[1])] = 1.0
    return u


def baseline_update(rbar: np.ndarray, k: int, reward: float) -> None:
    rbar[k] = RBAR_KEEP * rbar[k] + (1.0 - RBAR_KEEP) * reward


# ------------------------------------------------------------ perturbation
def perturbation_events(rng: np.random.Generator, n_cells: int, p: float):
    """Flat indices of Bernoulli(p) events among n_cells, via geometric gaps."""
    mean = n_cells * p
    n_draw = int(mean + 8.0 * np.sqrt(mean) + 16)
    pos = np.cumsum(rng.geometric(p, n_draw)) - 1
    while pos[-1] < n_cells:                      # (practically never)
        more = np.cumsum(rng.geometric(p, n_draw)) + pos[-1]
        pos = np.concatenate((pos, more))
    return pos[pos < n_cells]


# ------------------------------------------------------------------- model
class Miconi:
    def __init__(self, seed: int = 0, naive: bool = False,
                 learn_after: int = LEARN_AFTER, amp: float = A_PERT):
        self.J, self.mask, self.W_in = make_network(seed)
        self.rng_x0 = initial_x_stream(seed)
        self.rng_pert = np.random.default_rng([seed, 2])
        self.naive = naive
        self.learn_after = learn_after
        self.amp = amp
        self.rbar = np.full(4, RBAR_INIT)
        self.k = DT / TAU
        # x(t) = a * x(t-1) + Jk @ r(t-1) + Dk(t); bias rows: a = 0, Jk = 0,
        # Dk = clamp value, so their x stays clamped without a separate step.
        self.a = np.full(N, 1.0 - self.k)
        self.a[list(BIAS)] = 0.0
        self._set_jk()
        self.trial = 0
        # work arrays
        self.X = np.empty((T_TRIAL + 1, N))     # row 0: initial, row t+1: step t
        self.R = np.empty((T_TRIAL + 1, N))
        self.tmp = np.empty(N)

    def _set_jk(self):
        self.Jk = self.k * self.J
        self.Jk[list(BIAS)] = 0.0

    def _drive(self, ttype: str) -> np.ndarray:
        """Dk (T, N) = (dt/tau) (W_in u(t) + xi(t)); clamp values on bias rows."""
        D = stimulus(ttype) @ self.W_in.T                    # (T, N)
        pos = perturbation_events(self.rng_pert, T_TRIAL * N, P_PERT)
        xi = self.rng_pert.uniform(-self.amp, self.amp, pos.size)
        D.ravel()[pos] += xi
        D *= self.k
        D[:, list(BIAS)] = BIAS_X
        return D

    def run_trial(self):
        ttype = trial_type(self.trial)
        k_type = self.trial % 4
        X, R, a, Jk, tmp = self.X, self.R, self.a, self.Jk, self.tmp
        D = self._drive(ttype)
        X[0] = draw_x0(self.rng_x0)
        np.tanh(X[0], out=R[0])

        if not self.naive:
            for t in range(T_TRIAL):
                xt = X[t + 1]
                np.dot(Jk, R[t], out=xt)
                xt += D[t]
                np.multiply(a, X[t], out=tmp)
                xt += tmp
                np.tanh(xt, out=R[t + 1])
            # xbar(-1) = x0, xbar(t) = 0.05 xbar(t-1) + 0.95 x(t): a linear
            # recurrence, evaluated for all t by a doubling scan; 16 terms
            # (0.05^16 ~ 1.5e-21) are exact to double precision.
            B = (1.0 - XBAR_KEEP) * X
            B[0] = X[0]
            c = XBAR_KEEP
            for s in (1, 2, 4, 8):
                B[s:] = B[s:] + c * B[:-s]
                c = c * c
            post = X[1:] - B[:-1]                 # dx(t) = x(t) - xbar(t-1)
            post *= post * post
            pre = R[:-1] * R[:-1]                 # r(t-1)^3 (x*x*x: numpy's
            pre *= R[:-1]                         # ** 3 calls pow(), ~40x slower)
            e = post.T @ pre                      # e_ij = sum_t post_ti pre_tj
        else:
            e = np.zeros((N, N))
            xbar = X[0].copy()
            for t in range(T_TRIAL):
                xt = X[t + 1]
                np.dot(Jk, R[t], out=xt)
                xt += D[t]
                np.multiply(a, X[t], out=tmp)
                xt += tmp
                dx = xt - xbar
                e += np.outer(dx * dx * dx, R[t] * R[t] * R[t])
                xbar = XBAR_KEEP * xbar + (1.0 - XBAR_KEEP) * xt
                np.tanh(xt, out=R[t + 1])

        err = float(np.mean(np.abs(R[RESP[0] + 1:RESP[1] + 1, OUT]
                                   - trial_target(ttype))))
        reward = -err
        if self.trial >= self.learn_after:
            dJ = ETA * (reward - self.rbar[k_type]) * e
            np.clip(dJ, -MAX_DW, MAX_DW, out=dJ)
            dJ *= self.mask
            self.J += dJ
            self._set_jk()
        baseline_update(self.rbar, k_type, reward)
        self.trial += 1
        return err, ttype


def run(n_trials: int, seed: int = 0, naive: bool = False,
        learn_after: int = LEARN_AFTER, amp: float = A_PERT,
        warmup: int = 10) -> dict:
    """Simulate n_trials trials (with learning from trial ``learn_after`` on).

    seconds_per_trial: mean wall time of one trial (simulation, trace,
    scoring, learning) over the learning trials, i.e. trials with index >=
    max(learn_after, warmup); if there are none, over trials >= warmup.
    """
    model = Miconi(seed=seed, naive=naive, learn_after=learn_after, amp=amp)
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
    return dict(
        tool="numpy" + (" naive trace" if naive else " matmul trace"),
        version=np.__version__,
        python=sys.version.split()[0],
        n_trials=n_trials,
        seed=seed,
        learn_after=learn_after,
        seconds_per_trial=float(np.mean(timed)),
        median_seconds_per_trial=float(np.median(timed)),
        timed_trials=[first, n_trials],
        total_seconds=float(np.sum(secs)),
        trial_seconds=secs,
        errors=errors,
        types=types,
        any_nan=bool(not np.all(np.isfinite(errors))
                     or not np.all(np.isfinite(model.J))),
        final_rbar=model.rbar.tolist(),
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--naive", action="store_true",
                    help="per-step outer-product trace update")
    ap.add_argument("--learn-after", type=int, default=LEARN_AFTER)
    ap.add_argument("--amp", type=float, default=A_PERT,
                    help="perturbation amplitude A (0 disables it)")
    ap.add_argument("--json", help="also write the result to this file")
    args = ap.parse_args(argv)
    res = run(args.trials, seed=args.seed, naive=args.naive,
              learn_after=args.learn_after, amp=args.amp)
    line = json.dumps(res)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(line + "\n")
    print(line)


if __name__ == "__main__":
    main()
