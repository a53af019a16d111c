"""The Simulator: holds a compiled circuit's arrays and runs its kernel.

    sim = Simulator(circuit, dt=0.01, seed=1)
    rec = sim.run(1000.0, record=["E.V"])
    rec["E.V"]            # (n_samples, N) array; rec.t is the time axis in ms
    rec.spike_times("E")  # list of arrays, one per unit
"""
from __future__ import annotations

import numpy as np

from circuitdsl.compiler import interface as kif
from circuitdsl.compiler import strategies, weights
from circuitdsl.compiler.cache import get_cache
from circuitdsl.compiler.interface import Status
from circuitdsl.compiler.kernel import generate
from circuitdsl.compiler.lower import lower
from circuitdsl.errors import SimulationError, ValidationError
from circuitdsl.recording import Recording, RecordPlan, evaluate_derived  # noqa: F401

# The arrays a run changes (state()/restore()); the rest are structure, fixed at build.
_MUTABLE = ("S", "P", "I", "F", "SPK", "DB", "RNG")


class Simulator:
    """Compiles a circuit (or reuses the cached kernel) and runs it in chunks of steps."""

    def __init__(self, circuit, dt=0.01, seed=0, method="exponential_euler", cache=None,
                 max_spikes=1_000_000, math="libm"):
        if not (isinstance(dt, (int, float)) and dt > 0 and np.isfinite(dt)):
            raise ValidationError(f"dt must be a positive number of ms, got {dt!r}")
        self.circuit, self.dt, self.seed = circuit, float(dt), int(seed)
        self.network = circuit.build(seed)
        self.lowered = lower(self.network, self.dt, method, self.seed)
        self.choices = strategies.plan(self.lowered)
        self.math = math
        self.source = generate(self.lowered, self.choices, math)
        self.cache = cache if cache is not None else get_cache()
        self.module = self.cache.load(self.source)
        self.arrays = {k: v.copy() for k, v in self.lowered.arrays.items()}
        self.L = self.lowered.layout.array()
        self.k = 0
        self.status = np.zeros(Status.SIZE, dtype=np.int64)
        self.max_spikes = int(max_spikes)
        # Allocated once (pages are only touched when spikes are written): zeroing max_spikes
        # rows per run would cost more than a short trial.
        self._spike_buffer = np.zeros((self.max_spikes, 3), dtype=np.int64)
        self._pop_index = {}
        for g in self.lowered.groups:
            for path, pop, off in g.pops:
                self._pop_index[path] = (g, pop, off)

    # ---- addressing -------------------------------------------------------------------------

    def _locate(self, path):
        if path in self._pop_index:
            return [path]
        inside = [p for p in self._pop_index if p.startswith(path + ".")]
        if not inside:
            raise ValidationError(f"no block '{path}' in circuit '{self.circuit.name}'; populations: "
                           f"{', '.join(sorted(self._pop_index)[:12])}")
        return inside

    def _slot(self, path, var):
        """(array name, flat start) of a state or parameter of population `path`."""
        g, pop, off = self._pop_index[path]
        try:
            arr, start = self.lowered.layout.slot(g, var)
        except KeyError:
            raise ValidationError(f"block '{path}' (model '{g.model.name}') has no state or "
                                  f"parameter '{var}'") from None
        return arr, start + off

    def get(self, path, var):
        """Current per-unit values of a state, parameter, input (as summed in the last step)
        or derived quantity."""
        g, pop, off = self._pop_index[path]
        m = g.model
        if var in m.derived:
            return evaluate_derived(m, var, lambda name: self.get(path, name), self.k * self.dt,
                                    self.dt, (pop.N,))
        arr, start = self._where(path, var)
        return self.arrays[arr][start:start + pop.N].copy()

    def set(self, path, var, values):
        """Set a state or parameter of population `path` (scalar or one value per unit)."""
        g, pop, off = self._pop_index[path]
        arr, start = self._slot(path, var)
        values = np.broadcast_to(np.asarray(values, dtype=float), (pop.N,))
        self.arrays[arr][start:start + pop.N] = values

    def populations(self):
        """{path: (model, N)} of every population, in build order."""
        return {path: (g.model, pop.N) for path, (g, pop, off) in self._pop_index.items()}

    def plan(self):
        """How each projection is compiled: one dict per projection with its edges and the
        strategy chosen for its current and its per-step rule (compiler/strategies.py)."""
        return strategies.describe(self.lowered, self.choices)

    def projections(self, rule=None):
        """The lowered projections (compiler/ir.py), optionally only those whose learning
        rule is named `rule`."""
        return [p for p in self.lowered.projections
                if rule is None or (p.rule is not None and p.rule.name == rule)]

    def field(self, projection, name):
        """A writable view of one per-synapse field (weight "w", a synapse or rule parameter,
        or a trace) of a projection, in the projection's CSR order (see weight_matrix for
        the (post, pre) view of weights)."""
        if name not in projection.fields:
            raise ValidationError(f"projection {projection.name} ({projection.label}) has no "
                                  f"field '{name}'; fields: {', '.join(projection.fields)}")
        return self.arrays["F"][self.lowered.layout.field_slice(projection, name)]

    def state(self, which=_MUTABLE):
        """A copy of the run's mutable arrays (all of them by default) and the step counter,
        for checkpoints: restore(state) puts them back."""
        unknown = set(which) - set(_MUTABLE)
        if unknown:
            raise ValidationError(f"state(): no array {', '.join(sorted(unknown))}; arrays: "
                                  f"{', '.join(_MUTABLE)}")
        out = {name: self.arrays[name].copy() for name in which}
        out["k"] = np.asarray(self.k)
        return out

    def restore(self, state):
        """Put back what state() returned (any subset of its arrays)."""
        for name, values in state.items():
            if name == "k":
                self.k = int(values)
                continue
            if name not in _MUTABLE:
                raise ValidationError(f"restore(): no array '{name}'; arrays: "
                                      f"{', '.join(_MUTABLE)}")
            if np.shape(values) != self.arrays[name].shape:
                raise ValidationError(f"restore(): array '{name}' has shape {np.shape(values)}, "
                                      f"this circuit's has {self.arrays[name].shape}")
            self.arrays[name][:] = values

    # ---- running ------------------------------------------------------------------------------

    def reset(self, state=None, carried=True):
        """Back to t = 0 with the initial states (or `state`); parameters and weights stay.
        States a model declares `carried` keep their current value (pass carried=False to
        restore them too); an explicit `state` is taken whole."""
        S = self.arrays["S"]
        keep = []
        if state is None and carried:
            for g in self.lowered.groups:
                for x in g.model.carried:
                    start = self.lowered.layout.state(g, x)
                    keep.append((start, S[start:start + g.N].copy()))
        S[:] = self.lowered.init_state if state is None else state
        for start, values in keep:
            S[start:start + len(values)] = values
        self.arrays["SPK"][:] = 0.0
        for g in self.lowered.groups:
            if g.model.spike is not None:
                K = self.lowered.layout.spikes(g)
                self.arrays["SPK"][K + g.N:K + 2 * g.N] = -1e300
        self.arrays["DB"][:] = 0.0
        self.module.reset_traces(self.arrays["F"], self.L)
        self.k = 0

    def _where(self, path, var):
        """("S", "P" or "I", flat start) of a state, parameter or input of population path."""
        g, pop, off = self._pop_index[path]
        if var in g.model.inputs:
            return "I", self.lowered.layout.input(g, var) + off
        return self._slot(path, var)

    def _record_plan(self, record):
        return RecordPlan(record, self._locate, lambda p: (self._pop_index[p][0].model,
                                                           self._pop_index[p][1].N),
                          self._where)

    def run(self, duration, record=(), record_every=1, inputs=None, input_every=1):
        """Run `duration` ms from the current step; returns a Recording."""
        n = int(round(duration / self.dt))
        if n < 0 or not np.isfinite(duration):
            raise ValidationError(f"duration must be >= 0 ms, got {duration!r}")
        plan = self._record_plan(record)
        s_idx, p_idx, i_idx = plan.indices()
        width = len(s_idx) + len(p_idx) + len(i_idx)
        n_rec = n // record_every if width else 0
        REC = np.zeros((n_rec, width))
        ext, ext_idx = self._external(inputs)
        SPIKES = self._spike_buffer
        self.status[:] = 0
        a = self.arrays
        self.module.trial(*kif.values(
            kif.TRIAL, a, k0=self.k, n_steps=n, dt=self.dt, L=self.L, EXT=ext, EXTIDX=ext_idx,
            ext_every=int(input_every), RECS=s_idx, RECP=p_idx, RECI=i_idx, REC=REC,
            rec_every=int(record_every), SPIKES=SPIKES, STATUS=self.status))
        if self.status[Status.NONFINITE] == 1:
            self._raise_nonfinite(int(self.status[Status.STEP]))
        t = (self.k + (np.arange(n_rec) + 1) * record_every) * self.dt
        self.k += n
        data = plan.unpack(REC, t, self.dt)
        return Recording(t, data, self._spikes(SPIKES), self.dt,
                         {p: v[1].N for p, v in self._pop_index.items()})

    def run_trials(self, duration, cases, params=None, inputs=None, learn=True, collect=()):
        """Many trials of `duration` ms in one compiled call (for trials of a few steps, where
        calling run() per trial would cost more than the trial). Trial n is case `cases[n]`:
        it starts from the initial state (as after reset()), with the case's row of each
        `params` table ({"block.param": (n_cases, N)}) and `inputs` table ({"block.input":
        (n_cases, n_steps, N)}); if `learn` (bool or one flag per trial) its trial-end
        learning rules run after it. Returns {"block.state": (n_trials, N)} of the `collect`
        states at each trial's end. Equivalent to reset(); set(...); run(...);
        apply_learning() per trial, bit for bit; rules that need trial-level signals
        cannot run here."""
        n = int(round(duration / self.dt))
        if n < 1 or not np.isfinite(duration):
            raise ValidationError(f"duration must be at least one step, got {duration!r} ms")
        cases = np.ascontiguousarray(cases, dtype=np.int64)
        if cases.ndim != 1:
            raise ValidationError(f"cases must be one case index per trial, got shape {cases.shape}")
        n_cases = int(cases.max()) + 1 if len(cases) else 0
        learn = np.broadcast_to(np.asarray(learn, dtype=np.int64), cases.shape).copy()
        if learn.any():
            needy = [p.rule.name for p in self.lowered.projections
                     if p.rule_end and p.rule.signals]
            if needy:
                raise ValidationError(f"run_trials cannot give trial-level signals; learning rule(s) "
                                 f"{', '.join(sorted(set(needy)))} need them: use run() and "
                                 "apply_learning(signals) per trial")
        pidx, pval = [], []
        for key, table in (params or {}).items():
            path, _, var = key.rpartition(".")
            arr, start = self._slot(self._locate(path)[0], var)
            if arr != "P":
                raise ValidationError(f"'{key}' is not a parameter; per-case values are for parameters")
            N = self._pop_index[self._locate(path)[0]][1].N
            table = np.asarray(table, dtype=float).reshape(-1, N) if np.ndim(table) else None
            if table is None or table.shape[0] < n_cases:
                raise ValidationError(f"'{key}': need one row of {N} values per case "
                                 f"({n_cases} cases), got shape {np.shape(table)}")
            pidx.extend(range(start, start + N))
            pval.append(table[:n_cases])
        PVAL = np.ascontiguousarray(np.hstack(pval)) if pval else np.zeros((max(n_cases, 1), 0))
        ext_idx, extv = [], []
        for key, table in (inputs or {}).items():
            table = np.asarray(table, dtype=float)
            if table.ndim != 3 or table.shape[0] < n_cases or table.shape[1] != n:
                raise ValidationError(f"input '{key}': need shape (cases, {n} steps, units), got "
                                 f"{table.shape}")
            for c in range(n_cases):
                ext, idx = self._external({key: table[c]})
                if c == 0:
                    ext_idx.append(idx)
                    extv.append([])
                extv[-1].append(ext)
        EXTIDX = np.concatenate(ext_idx) if ext_idx else np.zeros(0, dtype=np.int64)
        EXTV = np.ascontiguousarray(np.concatenate([np.stack(v) for v in extv], axis=2)) \
            if extv else np.zeros((max(n_cases, 1), 0, 0))
        cols = []
        for key in collect:
            path, _, var = key.rpartition(".")
            arr, start = self._slot(self._locate(path)[0], var)
            if arr != "S":
                raise ValidationError(f"'{key}' is not a state; collect states")
            cols.append((key, start, self._pop_index[self._locate(path)[0]][1].N))
        COLIDX = np.asarray([i for _, st, N in cols for i in range(st, st + N)], dtype=np.int64)
        OUT = np.zeros((len(cases), len(COLIDX)))
        self.reset()
        a, S0, SPK0 = self.arrays, self.lowered.init_state.copy(), self.arrays["SPK"].copy()
        self.status[:] = 0
        self.module.trials(*kif.values(
            kif.TRIALS, a, n_steps=n, dt=self.dt, L=self.L, S0=S0, SPK0=SPK0, CASE=cases,
            LEARN=learn, PIDX=np.asarray(pidx, dtype=np.int64), PVAL=PVAL, EXTV=EXTV,
            EXTIDX=EXTIDX, COLIDX=COLIDX, OUT=OUT, SIG=np.zeros(0), SPIKES=self._spike_buffer,
            STATUS=self.status))
        if self.status[Status.NONFINITE] == 1:
            raise SimulationError(f"trial {int(self.status[Status.TRIAL])} of the block: " +
                                  self._nonfinite(int(self.status[Status.STEP])))
        self.k = n
        out, col = {}, 0
        for key, _, N in cols:
            out[key] = OUT[:, col:col + N]
            col += N
        return out

    def _external(self, inputs):
        if not inputs:
            return np.zeros((0, 0)), np.zeros(0, dtype=np.int64)
        cols, idx = [], []
        for key, values in inputs.items():
            path, _, name = key.rpartition(".")
            g, pop, off = self._pop_index[self._locate(path)[0]]
            if name not in g.model.inputs:
                raise ValidationError(f"block '{path}' (model '{g.model.name}') has no input '{name}'; "
                               f"inputs: {', '.join(g.model.inputs) or 'none'}")
            v = np.asarray(values, dtype=float)
            v = np.broadcast_to(v.reshape(v.shape[0], -1) if v.ndim == 2 else v[None, :]
                                if v.ndim == 1 else v.reshape(1, 1), (max(1, v.shape[0] if
                                                                             v.ndim == 2 else 1), pop.N))
            cols.append(v)
            start = self.lowered.layout.input(g, name) + off
            idx.extend(range(start, start + pop.N))
        rows = max(c.shape[0] for c in cols)
        ext = np.hstack([np.broadcast_to(c, (rows, c.shape[1])) if c.shape[0] == 1 else c
                         for c in cols])
        return np.ascontiguousarray(ext), np.asarray(idx, dtype=np.int64)

    def _spikes(self, SPIKES):
        n = min(int(self.status[Status.SPIKES]), len(SPIKES))
        if self.status[Status.SPIKES] > len(SPIKES):
            raise SimulationError(f"more than max_spikes={self.max_spikes} spikes in one run; "
                                  "raise Simulator(max_spikes=...)")
        out = {}
        for g in self.lowered.groups:
            if g.model.spike is None:
                continue
            sel = SPIKES[:n][SPIKES[:n, 1] == g.index]
            for path, pop, off in g.pops:
                m = (sel[:, 2] >= off) & (sel[:, 2] < off + pop.N)
                out[path] = (sel[m, 2] - off, sel[m, 0] * self.dt)
        return out

    def _raise_nonfinite(self, k):
        raise SimulationError(self._nonfinite(k))

    def _nonfinite(self, k):
        S = self.arrays["S"]
        where, value = "a state", "NaN"
        # the first unit (in group and state order) whose value is not finite; padding units
        # (compiler/layout.py, VECTOR) are skipped, they are not part of the model
        for g in self.lowered.groups:
            found = False
            for x in g.model.states:
                start = self.lowered.layout.state(g, x)
                bad = np.flatnonzero(~np.isfinite(S[start:start + g.N]))
                if len(bad):
                    path, unit = g.locate(int(bad[0]))
                    where, value = f"state '{x}' of block '{path}' (unit {unit})", \
                        S[start + bad[0]]
                    found = True
                    break
            if found:
                break
        return (f"{where} became {value} at t = {(k + 1) * self.dt:.6g} ms; the run stopped "
                "there")

    # ---- weights and learning -----------------------------------------------------------------

    def apply_learning(self, signals=None):
        """Run every trial-end learning part once, with trial-level `signals` by name."""
        signals = signals or {}
        a = self.arrays
        t = self.k * self.dt
        for p in self.lowered.projections:
            if not p.rule_end:
                continue
            sig = np.asarray([float(signals.get((p.index, s), signals.get(s, np.nan)))
                              for s in p.rule.signals])
            if np.isnan(sig).any():
                missing = [s for s, v in zip(p.rule.signals, sig) if np.isnan(v)]
                raise ValidationError(f"learning rule '{p.rule.name}' needs signal(s) "
                                 f"{', '.join(missing)}")
            getattr(self.module, f"learn_{p.name}")(*kif.values(kif.LEARN, a, t=t, dt=self.dt,
                                                               L=self.L, SIG=sig))

    def synapse_weights(self):
        """Current weights as a list aligned with network.synapse_sets (build order)."""
        out = [s.weight.copy() for s in self.network.synapse_sets]
        index = {id(s): k for k, s in enumerate(self.network.synapse_sets)}
        for p in self.lowered.projections:
            for s, values in zip(p.sets, weights.to_sets(p, self.field(p, "w"))):
                out[index[id(s)]] = values
        return out

    def set_synapse_weights(self, values):
        """Set every weight from a list aligned with network.synapse_sets (build order)."""
        index = {id(s): k for k, s in enumerate(self.network.synapse_sets)}
        for p in self.lowered.projections:
            self.field(p, "w")[:] = weights.from_sets(p, [values[index[id(s)]] for s in p.sets])

    def _edge_sets(self, src, dst):
        sets = [(k, s) for k, s in enumerate(self.network.synapse_sets)
                if s.connection is not None and (s.connection.src, s.connection.dst) == (src, dst)]
        if not sets:
            raise ValidationError(f"no edge {src} -> {dst}; edges: " + ", ".join(
                sorted({c.label for c in self.circuit.connections})))
        if any(s.pre is not sets[0][1].pre or s.post is not sets[0][1].post for _, s in sets):
            raise ValidationError(f"edge {src} -> {dst} joins several populations; use "
                             "synapse_weights() for composite blocks")
        return sets

    def weight_matrix(self, src, dst):
        """The weights of edge src -> dst as a dense (post units, pre units) matrix (0 where
        there is no synapse; parallel synapses are summed)."""
        sets = self._edge_sets(src, dst)
        current = self.synapse_weights()
        W = np.zeros((sets[0][1].post.N, sets[0][1].pre.N))
        for k, s in sets:
            weights.edge_matrix(s, current[k], out=W)
        return W

    def set_weight_matrix(self, src, dst, W):
        """Set the weights of edge src -> dst from a dense (post, pre) matrix; entries without
        a synapse are ignored."""
        sets = self._edge_sets(src, dst)
        W = np.asarray(W, dtype=float)
        shape = (sets[0][1].post.N, sets[0][1].pre.N)
        if W.shape != shape:
            raise ValidationError(f"edge {src} -> {dst}: weight matrix must have shape {shape} "
                             f"(post, pre), got {W.shape}")
        current = self.synapse_weights()
        for k, s in sets:
            current[k] = W[s.post_idx, s.pre_idx].copy()
        self.set_synapse_weights(current)
