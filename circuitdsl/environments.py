"""Environments hand out trials and judge outcomes (gymnasium-like reset/step where it fits)."""
from __future__ import annotations

import numpy as np


class ClassificationEnvironment:
    """Stimuli in file order, one per trial (wrapping), judged against their category."""

    def __init__(self, stimulus, n_trials=None):
        self.stimulus = stimulus
        self.n_trials = n_trials or stimulus.images.n_stimuli
        self.current = 0

    def reset(self):
        self.current = 0
        return self.current

    def trial(self):
        """(stimulus index, category) of the current trial."""
        k = self.current % self.stimulus.images.n_stimuli
        return k, self.stimulus.category(k)

    def step(self, action):
        """Judge `action` (1-based category) and advance; returns correct (bool)."""
        k, category = self.trial()
        self.current = (self.current + 1) % self.n_trials
        return action == category


class DNMSTask:
    """Delayed non-match-to-sample (Miconi 2017): two 200-ms stimuli on channel A or B, a
    delay, and a response window scored by mean |output - target| (targets +-0.98: non-match
    +0.98, match -0.98). Trial types rotate AA, AB, BA, BB.

    Times are in steps of dt: stimulus 1 on steps [s1, s1 + dur), stimulus 2 on
    [s2, s2 + dur), response scored on [resp, n_steps)."""

    TYPES = ("AA", "AB", "BA", "BB")

    def __init__(self, n_steps=1000, s1=1, s2=400, dur=200, resp=800, channels=(1, 2),
                 n_channels=3, target=0.98):
        self.n_steps, self.s1, self.s2, self.dur, self.resp = n_steps, s1, s2, dur, resp
        self.channels, self.n_channels, self.target = channels, n_channels, target

    def trial_type(self, k):
        """Type index (0..3) of trial k (1-based)."""
        return (k - 1) % 4

    def inputs(self, type_index):
        """(n_steps, n_channels) input array for a trial type."""
        name = self.TYPES[type_index]
        u = np.zeros((self.n_steps, self.n_channels))
        for start, letter in ((self.s1, name[0]), (self.s2, name[1])):
            u[start:start + self.dur, self.channels[0 if letter == "A" else 1]] = 1.0
        return u

    def target_of(self, type_index):
        name = self.TYPES[type_index]
        return self.target if name[0] != name[1] else -self.target

    def error(self, type_index, output):
        """Mean |output - target| over the response window of an (n_steps,) output trace."""
        return float(np.mean(np.abs(output[self.resp:self.n_steps] - self.target_of(type_index))))


class ReachingTask:
    """Reach from the origin to one of `n_targets` points on the unit circle in `t_max` steps
    (Murray & Escola 2020). Target k sits at angle k * 360/n_targets degrees; with the default
    8, the four trained targets 0..3 are at 0, 45, 90 and 135 degrees.

    The desired velocity is a minimum-jerk profile, v*(t) = (30 u^2 - 60 u^3 + 30 u^4) / t_max
    * (target - start) with u = t / t_max, t = 0 .. t_max - 1; a trial's loss is the mean over
    steps of |v* - g|^2 / 2, g being the readout's velocity.
    """

    PROTOCOLS = ("interleaved", "sequential")

    def __init__(self, n_targets=8, used=4, t_max=10, start=(0.0, 0.0)):
        if not 1 <= used <= n_targets:
            raise ValueError(f"ReachingTask: used targets must be in 1..{n_targets}, got {used}")
        self.n_targets, self.used, self.t_max = int(n_targets), int(used), int(t_max)
        self.start = np.asarray(start, dtype=float)
        angle = 2 * np.pi * np.arange(self.n_targets) / self.n_targets
        self.targets = np.stack([np.cos(angle), np.sin(angle)], axis=1)

    def desired_velocity(self, k):
        """(t_max, 2) desired velocities toward target k."""
        u = np.arange(self.t_max) / self.t_max
        profile = (30 * u**2 - 60 * u**3 + 30 * u**4) / self.t_max
        return profile[:, None] * (self.targets[k] - self.start)[None, :]

    def loss(self, velocity, k):
        """Trial loss of a (t_max, 2) velocity sequence for target k."""
        e = self.desired_velocity(k) - np.asarray(velocity)
        return float(np.mean(0.5 * np.sum(e**2, axis=1)))

    def schedule(self, protocol, block, rng):
        """Training targets: `sequential` is 10 blocks of target 0 then one block each of
        targets 1 .. used-1 (13 blocks for 4 targets); `interleaved` draws the same number of
        trials uniformly from the used targets."""
        if protocol not in self.PROTOCOLS:
            raise ValueError(f"ReachingTask: protocol must be one of "
                             f"{', '.join(self.PROTOCOLS)}, got {protocol!r}")
        n_blocks = 10 + self.used - 1
        if protocol == "interleaved":
            return rng.integers(0, self.used, size=n_blocks * block)
        return np.concatenate([np.zeros(10 * block, dtype=np.int64)] +
                              [np.full(block, k, dtype=np.int64) for k in range(1, self.used)])

    def test_schedule(self, per_target):
        """Test trials: `per_target` trials of each used target, in order."""
        return np.repeat(np.arange(self.used), per_target)
