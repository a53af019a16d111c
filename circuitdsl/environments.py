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
