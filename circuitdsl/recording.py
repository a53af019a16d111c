"""What a run records, and the Recording it returns.

Any state, parameter, input or derived quantity of a population can be recorded as
`"block.variable"` (a composite block's name records every population inside it). States,
parameters and inputs are copied by the kernel each `record_every` steps (the RECS, RECP and
RECI index arrays of compiler/interface.py); a derived quantity is computed afterwards from
the recorded values of what it reads.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from circuitdsl.errors import ValidationError

_ARRAYS = ("S", "P", "I")     # kernel arrays a recording reads, in REC's column order


class Recording:
    """Recorded variables and spikes of one run."""

    def __init__(self, t, data, spikes, dt, sizes=None):
        self.t, self.data, self.spikes, self.dt = t, data, spikes, dt
        self._sizes = dict(sizes or {})

    def __getitem__(self, key):
        try:
            return self.data[key]
        except KeyError:
            raise KeyError(f"'{key}' was not recorded; recorded: {', '.join(self.data)}") from None

    def spike_times(self, path):
        """One array of spike times (ms) per unit of population `path`."""
        units, times = self.spikes.get(path, (np.zeros(0, int), np.zeros(0)))
        return [times[units == u] for u in range(self._sizes[path])]

    def spike_counts(self, path):
        units, _ = self.spikes.get(path, (np.zeros(0, int), np.zeros(0)))
        return np.bincount(units, minlength=self._sizes[path])


class RecordPlan:
    """Which kernel slots to copy for a list of "block.variable" names (see the module doc).
    `where(path, var)` gives (array, start) of a state, parameter or input of a population."""

    def __init__(self, record, locate, model_of, where):
        self.columns = {a: [] for a in _ARRAYS}     # (key, path, start, N) per array
        self.derived = []                           # (key, path, model, N)
        for item in record or []:
            path, _, var = item.rpartition(".")
            if not path:
                raise ValidationError(f"record entries are 'block.variable', got {item!r}")
            for p in locate(path):
                model, N = model_of(p)
                key = item if path == p else f"{p}.{var}"
                if var in model.derived:
                    self.derived.append((key, p, model, var, N))
                    for s in model.expand(model.derived[var]).free_symbols:
                        if s.name not in ("t", "dt"):
                            self._add(f"{p}.{s.name}", p, s.name, N, where)
                else:
                    self._add(key, p, var, N, where)

    def _add(self, key, path, var, N, where):
        arr, start = where(path, var)
        if all(k != key for k, *_ in self.columns[arr]):
            self.columns[arr].append((key, path, start, N))

    def indices(self):
        """The RECS, RECP, RECI index arrays."""
        return [np.concatenate([np.arange(st, st + N) for _, _, st, N in self.columns[a]] or
                               [np.zeros(0)]).astype(np.int64) for a in _ARRAYS]

    def unpack(self, REC, t, dt):
        """{key: (samples, N)} from the kernel's REC table, derived quantities evaluated."""
        data, col = {}, 0
        for a in _ARRAYS:
            for key, _, _, N in self.columns[a]:
                data[key] = REC[:, col:col + N]
                col += N
        for key, p, model, var, N in self.derived:
            data[key] = evaluate_derived(model, var, lambda name: data[f"{p}.{name}"],
                                         t[:, None], dt, (len(t), N))
        return data


def evaluate_derived(model, var, value_of, t, dt, shape):
    """A derived quantity of `model` from the values of what it reads (`value_of(name)` for
    each state, parameter or input), at times t: the one place it is evaluated outside a
    kernel."""
    expr = model.expand(model.derived[var])
    syms = sorted(expr.free_symbols, key=lambda s: s.name)
    f = sp.lambdify(syms, expr, "numpy")
    vals = [t if s.name == "t" else dt if s.name == "dt" else value_of(s.name) for s in syms]
    return np.asarray(f(*vals), dtype=float) * np.ones(shape)
