"""Environments hand out trials and judge outcomes (gymnasium-like reset/step where it fits)."""
from __future__ import annotations


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
