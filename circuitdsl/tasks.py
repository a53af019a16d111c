"""Supervised tasks for gradient training, and the dataset that streams them.

`DelayComparisonTask` re-implements the parametric working-memory task known as neurogym's
DelayComparison-v0 (Romo et al.; reference §D.1) from its written definition: periods
fixation, stimulus1, delay, stimulus2, decision; two float32 channels [fixation, stimulus];
ground truth 0 except in decision (1: the first value was larger, 2: the second). Every trial
is a pure function of its draws (`build_trial`), so a test can rebuild it independently.

`SequenceDataset` cuts a stream of back-to-back trials per batch row into fixed windows,
time-major (seq_len, batch, ...), like neurogym's Dataset (§D.2). `NeurogymTask` wraps any
environment with neurogym's interface (`new_trial()`, `.ob`, `.gt`) when neurogym is there.
"""
from __future__ import annotations

import numpy as np

from circuitdsl.circuit import stable_rng
from circuitdsl.errors import ValidationError

PERIODS = ("fixation", "stimulus1", "delay", "stimulus2", "decision")
DEFAULT_TIMING = {"fixation": 500, "stimulus1": 500, "delay": 1000, "stimulus2": 500,
                  "decision": 100}
DEFAULT_VPAIRS = ((18, 10), (22, 14), (26, 18), (30, 22), (34, 26))
#: The BrainPy tutorial's override ('response' is not a period of this task: it does nothing).
TUTORIAL_TIMING = {"delay": ("choice", [200, 400, 800, 1600, 3200]), "response": ("constant", 500)}


class TaskError(ValidationError):
    """A bad task option (timing specification, sizes)."""


def sample_duration(spec, rng, name="period"):
    """One duration (ms) from a timing specification, as neurogym's timing options read."""
    if isinstance(spec, (int, float, np.integer, np.floating)) and not isinstance(spec, bool):
        return float(spec)
    if isinstance(spec, list):
        return float(spec[rng.integers(len(spec))])
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str):
        kind, arg = spec
        if kind == "constant":
            return float(arg)
        if kind == "choice":
            return float(arg[rng.integers(len(arg))])
        if kind == "uniform":
            return float(rng.uniform(arg[0], arg[1]))
        if kind == "truncated_exponential":
            mean, lo, hi = (list(arg) + [0.0, np.inf])[:3]
            if lo >= hi:
                return float(hi)
            while True:   # an exponential of this mean, kept when it falls inside [lo, hi)
                x = float(rng.exponential(mean))
                if lo <= x < hi:
                    return x
    raise TaskError(f"timing of '{name}': cannot read {spec!r}; use a number, a list, or "
                    "('constant'|'choice'|'uniform'|'truncated_exponential', value)")


class Task:
    """A supervised task: `trial(rng)` -> (ob (T, n_obs) float32, gt (T,) int)."""

    n_obs = 0
    n_actions = 0

    def trial(self, rng):
        raise NotImplementedError

    def stream(self, rng, n_steps):
        """Back-to-back trials cut at n_steps (the last one truncated): (ob, gt)."""
        obs, gts, total = [], [], 0
        while total < n_steps:
            ob, gt = self.trial(rng)
            take = min(len(ob), n_steps - total)
            obs.append(ob[:take]), gts.append(gt[:take])
            total += take
        return np.concatenate(obs), np.concatenate(gts)


class DelayComparisonTask(Task):
    """Compare two values held across a delay (§D.1). `timing` overrides periods (ms)."""

    n_obs, n_actions = 2, 3

    def __init__(self, dt=100, sigma=1.0, vpairs=None, rewards=None, timing=None):
        self.dt, self.sigma = float(dt), float(sigma)
        if not self.dt > 0:
            raise TaskError(f"dt must be > 0, got {dt!r}")
        self.vpairs = tuple(tuple(float(v) for v in p) for p in (vpairs or DEFAULT_VPAIRS))
        self.vmin = min(min(p) for p in self.vpairs)
        self.vmax = max(max(p) for p in self.vpairs)
        self.rewards = {"abort": -0.1, "correct": 1.0, "fail": 0.0, **(rewards or {})}
        self.timing = {**DEFAULT_TIMING, **(timing or {})}
        for name in PERIODS:
            sample_duration(self.timing[name], np.random.default_rng(0), name)   # checks form
        self.noise_std = self.sigma / np.sqrt(self.dt)
        self._env_rng = None

    def encode(self, v):
        """A value -> the stimulus channel's level, in [0.5, 1]."""
        return (1 + (np.asarray(v, dtype=float) - self.vmin) / (self.vmax - self.vmin)) / 2

    # ---- draws ------------------------------------------------------------------------------

    def steps(self, period, rng):
        """A period's number of steps: the sampled time floored to a multiple of dt."""
        return int(sample_duration(self.timing[period], rng, period) // self.dt)

    def draw(self, rng):
        """One trial's draws: ground truth, pair index, steps per period."""
        gt = int(rng.integers(1, 3))
        pair = int(rng.integers(len(self.vpairs)))
        return gt, pair, [self.steps(p, rng) for p in PERIODS]

    def build_trial(self, gt, pair, steps, noise):
        """The trial as a pure function of its draws; `noise` (T, 2) standard normal values of
        which only the stimulus steps are used."""
        big, small = self.vpairs[pair]
        v1, v2 = (big, small) if gt == 1 else (small, big)
        T = int(sum(steps))
        ob = np.zeros((T, 2), dtype=np.float32)
        edges = np.cumsum([0] + list(steps))
        fix, s1, _, s2, dec = (slice(edges[k], edges[k + 1]) for k in range(5))
        ob[:edges[4], 0] = 1.0
        ob[s1, 1] = self.encode(v1)
        ob[s2, 1] = self.encode(v2)
        for s in (s1, s2):   # float32 observations, noise added in float64 as neurogym's +=
            ob[s] = (ob[s].astype(np.float64) + self.noise_std * noise[s]).astype(np.float32)
        gt_arr = np.zeros(T, dtype=np.int64)
        gt_arr[dec] = gt
        return ob, gt_arr

    def trial(self, rng):
        gt, pair, steps = self.draw(rng)
        noise = rng.standard_normal((sum(steps), 2))
        return self.build_trial(gt, pair, steps, noise)

    # ---- fast stream: many trials per call, the same function of the same draws ---------------

    def draws(self, rng, n):
        """n trials' draws at once: gt (n,), pair (n,), steps (n, 5)."""
        gt = rng.integers(1, 3, size=n)
        pair = rng.integers(len(self.vpairs), size=n)
        steps = np.empty((n, 5), dtype=np.int64)
        for k, name in enumerate(PERIODS):
            spec = self.timing[name]
            if isinstance(spec, tuple) and spec[0] == "choice" or isinstance(spec, list):
                options = np.asarray(spec[1] if isinstance(spec, tuple) else spec, dtype=float)
                steps[:, k] = (options[rng.integers(len(options), size=n)] // self.dt)
            elif _is_constant(spec):   # no draw: the same for every trial
                steps[:, k] = self.steps(name, rng)
            elif isinstance(spec, tuple) and spec[0] == "uniform":
                steps[:, k] = rng.uniform(spec[1][0], spec[1][1], size=n) // self.dt
            else:
                steps[:, k] = [self.steps(name, rng) for _ in range(n)]
        return gt, pair, steps

    def build_stream(self, gt, pair, steps, noise, n_steps):
        """Trials k = 0, 1, ... back to back, cut at n_steps; noise (>= n_steps, 2)."""
        ob, gts = self.build_streams(gt[None], pair[None], steps[None],
                                     noise[None, :n_steps], n_steps)
        return ob[:, 0], gts[:, 0]

    def build_streams(self, gt, pair, steps, noise, n_steps):
        """Rows of back-to-back trials at once: gt, pair (R, K), steps (R, K, 5), noise
        (R, n_steps, 2) -> ob (n_steps, R, 2), gt (n_steps, R). The K trials of a row must
        cover n_steps."""
        R, K = gt.shape
        lengths = steps.sum(axis=2)
        starts = np.cumsum(lengths, axis=1) - lengths
        if (starts[:, -1] + lengths[:, -1] < n_steps).any():
            raise TaskError(f"{K} trials do not fill {n_steps} steps")
        # one sorted search over all rows: row r's starts are shifted by r * span
        span = int(lengths.sum(axis=1).max()) + n_steps + 1
        shift = span * np.arange(R)[:, None]
        flat_starts = (starts + shift).ravel()
        pos = (np.arange(n_steps)[None, :] + shift).ravel()
        tid = np.searchsorted(flat_starts, pos, side="right") - 1      # trial of each step
        local = pos - flat_starts[tid]
        bounds = np.cumsum(steps.reshape(R * K, 5), axis=1)[tid]       # period ends, per step
        period = (local[:, None] >= bounds).sum(axis=1)
        gt_f, vp = gt.ravel(), np.asarray(self.vpairs)[pair.ravel()]
        first = self.encode(np.where(gt_f == 1, vp[:, 0], vp[:, 1]))
        second = self.encode(np.where(gt_f == 1, vp[:, 1], vp[:, 0]))
        ob = np.zeros((R * n_steps, 2), dtype=np.float32)
        ob[:, 0] = period < 4
        ob[:, 1] = np.where(period == 1, first[tid], np.where(period == 3, second[tid], 0.0))
        stim = (period == 1) | (period == 3)
        ob[stim] = (ob[stim].astype(np.float64) + self.noise_std *
                    noise.reshape(R * n_steps, 2)[stim]).astype(np.float32)
        labels = np.where(period == 4, gt_f[tid], 0).astype(np.int64)
        return (np.ascontiguousarray(ob.reshape(R, n_steps, 2).transpose(1, 0, 2)),
                np.ascontiguousarray(labels.reshape(R, n_steps).T))

    def _stream_draws(self, rng, n_steps):
        # enough draws for the shortest possible trials; unused draws are simply dropped
        min_len = max(1, sum(_min_steps(self.timing[p], self.dt) for p in PERIODS))
        gt, pair, steps = self.draws(rng, n_steps // min_len + 1)
        return gt, pair, steps, rng.standard_normal((n_steps, 2))

    def stream(self, rng, n_steps):
        gt, pair, steps, noise = self._stream_draws(rng, n_steps)
        return self.build_stream(gt, pair, steps, noise, n_steps)

    def streams(self, rngs, n_steps):
        """One stream per generator, built together: (n_steps, len(rngs), 2), (n_steps, R);
        row r equals stream(rngs[r], n_steps) for generators in the same state."""
        gt, pair, steps, noise = map(np.stack, zip(*(self._stream_draws(r, n_steps)
                                                     for r in rngs)))
        return self.build_streams(gt, pair, steps, noise, n_steps)

    # ---- environment interface (gymnasium-like step with the task's rewards) ------------------

    def reset(self, seed=None):
        self._env_rng = np.random.default_rng(seed)
        self._new_env_trial()
        return self._ob[0], {}

    def _new_env_trial(self):
        gt, pair, steps = self.draw(self._env_rng)
        noise = self._env_rng.standard_normal((sum(steps), 2))
        self._ob, self._gt = self.build_trial(gt, pair, steps, noise)
        self._trial_gt, self._edges, self._t = gt, np.cumsum([0] + steps), 0

    def step(self, action):
        """(observation, reward, terminated, truncated, info); a trial ends at a decision or
        when its time runs out, and the next one starts at once (the episode never ends)."""
        if self._env_rng is None:
            raise TaskError("call reset() before step()")
        t, e = self._t, self._edges
        reward, new_trial, info = 0.0, False, {"gt": self._trial_gt}
        if t < e[1] and action != 0:
            reward = self.rewards["abort"]          # not aborted: the trial goes on
        elif e[4] <= t < e[5] and action != 0:
            new_trial = True
            correct = action == self._trial_gt
            reward = self.rewards["correct" if correct else "fail"]
            info["performance"] = 1.0 if correct else 0.0
        self._t += 1
        if self._t >= len(self._ob):
            new_trial = True
        info["new_trial"] = new_trial
        if new_trial:
            self._new_env_trial()
        return self._ob[self._t], reward, False, False, info


def _is_constant(spec):
    return (isinstance(spec, (int, float, np.integer, np.floating)) and not isinstance(spec, bool)
            ) or (isinstance(spec, tuple) and len(spec) == 2 and spec[0] == "constant")


def _min_steps(spec, dt):
    """A lower bound on a period's steps (used to size a batch of draws)."""
    if isinstance(spec, (int, float, np.integer, np.floating)):
        return int(spec // dt)
    if isinstance(spec, list):
        return int(min(spec) // dt)
    kind, arg = spec
    if kind == "constant":
        return int(arg // dt)
    if kind == "choice":
        return int(min(arg) // dt)
    if kind == "uniform":
        return int(arg[0] // dt)
    if kind == "truncated_exponential":
        return int((list(arg) + [0.0])[1] // dt)
    return 0


class NeurogymTask(Task):
    """Any environment with neurogym's interface: `new_trial()` fills `.ob` and `.gt`.

    `env` is an environment object or a registered name (needs `pip install neurogym`); it is
    seeded from the rng of the first trial, so a seed still drives every draw.
    """

    def __init__(self, env, **env_kwargs):
        if isinstance(env, str):
            try:
                import neurogym  # noqa: F401 - registers its environments with gym
                import gymnasium as gym
            except ImportError as err:
                raise TaskError(f"neurogym task '{env}' needs neurogym (pip install "
                                f"'circuitdsl[neurogym]'): {err}") from None
            env = gym.make(env, **env_kwargs)
        self.env = getattr(env, "unwrapped", env)
        if not hasattr(self.env, "new_trial"):
            raise TaskError(f"{type(self.env).__name__} has no new_trial(); not a neurogym "
                            "task")
        self.n_obs = int(np.prod(self.env.observation_space.shape))
        self.n_actions = int(self.env.action_space.n)
        self._seeded = False

    def trial(self, rng):
        if not self._seeded:
            seed = int(rng.integers(2**31))
            if hasattr(self.env, "seed"):
                self.env.seed(seed)
            else:
                self.env.rng = np.random.RandomState(seed)
            self._seeded = True
        self.env.new_trial()
        ob = np.asarray(self.env.ob, dtype=np.float32).reshape(len(self.env.ob), -1)
        return ob, np.asarray(self.env.gt, dtype=np.int64).reshape(len(ob))


class SequenceDataset:
    """Batches of windows cut from per-row streams of back-to-back trials.

    Calling the dataset returns (inputs (seq_len, batch, n_obs) float32, labels
    (seq_len, batch) int64). Each row has a cache of `cache_len` steps, refilled with fresh
    trials when used up (§D.2: 1e5 / (n_obs + 1) / batch steps, rounded up to whole windows).
    """

    def __init__(self, task, batch_size=16, seq_len=100, seed=0, cache_len=None):
        if batch_size < 1 or seq_len < 1:
            raise TaskError(f"batch_size and seq_len must be >= 1, got {batch_size}, {seq_len}")
        self.task, self.batch_size, self.seq_len = task, int(batch_size), int(seq_len)
        if cache_len is None:
            cache_len = (int(1e5 / (task.n_obs + 1) / batch_size) // seq_len + 1) * seq_len
        if cache_len < seq_len:
            raise TaskError(f"cache_len {cache_len} is shorter than seq_len {seq_len}")
        self.cache_len = int(cache_len)
        self.rngs = [stable_rng(seed, "dataset", row) for row in range(batch_size)]
        self._fill()

    def _fill(self):
        if hasattr(self.task, "streams"):   # all rows in one vectorised build
            self._ob, self._gt = self.task.streams(self.rngs, self.cache_len)
        else:
            obs, gts = zip(*(self.task.stream(rng, self.cache_len) for rng in self.rngs))
            self._ob = np.ascontiguousarray(np.stack(obs, axis=1))   # (cache, batch, n_obs)
            self._gt = np.ascontiguousarray(np.stack(gts, axis=1))
        self._start = 0

    def __call__(self):
        if self._start + self.seq_len > self.cache_len:
            self._fill()
        s = slice(self._start, self._start + self.seq_len)
        self._start += self.seq_len
        return self._ob[s], self._gt[s]
