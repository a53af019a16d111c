"""Lowering: a built Network -> groups, projections, one flat layout and the kernel's arrays.

Populations that share a Model (and integrator) become one *group*, so the generated code
grows with the number of kinds of unit, not with the number of blocks. Synapse sets that share
(pre group, post group, synapse, learning rule, delay) become one *projection*, stored as CSR
by target unit. The statements of each projection's synapse and rule are bound against the two
concrete models here (compiler/bind.py), so every semantic error is raised before any code is
generated. The result is a passive `Lowered` (compiler/ir.py).
"""
from __future__ import annotations

import numpy as np

from circuitdsl.compiler.bind import bind_projection
from circuitdsl.compiler.ir import Group, Lowered, Projection
from circuitdsl.compiler.layout import Layout, key, padded_size
from circuitdsl.compiler.rng import seed_streams
from circuitdsl.compiler.schedule_order import topological_groups
from circuitdsl.errors import ValidationError


def _integrator_of(pop, default):
    return pop.integrator or getattr(pop.model, "integrator", None) or default


def lower(network, dt, method="exponential_euler", seed=0):
    groups = _group(network, method)
    projections = _project(network, groups)
    for p in projections:
        bind_projection(p)
    # Sources before targets, so latches that read other groups see this step's values.
    groups = topological_groups(groups, projections)
    for k, g in enumerate(groups):
        g.index = k
    layout, arrays = Layout(), {}
    s0 = _lay_out_groups(groups, network, layout, arrays)
    _lay_out_projections(projections, groups, layout, arrays)
    labels = [f"group:{'+'.join(g.paths)}" for g in groups] + \
             [f"projection:{p.pre.name}->{p.post.name}:{p.synapse.name}:{p.index}"
              for p in projections]
    arrays["RNG"] = seed_streams(seed, labels) if labels else np.zeros(1, dtype=np.uint64)
    return Lowered(network, dt, groups, projections, layout, arrays, s0.copy())


def _group(network, method):
    """Populations -> groups (one per model and integrator), in first-appearance order."""
    groups, by_key = [], {}
    for path, pop in network.populations.items():
        k = (id(pop.model), _integrator_of(pop, method))
        if k not in by_key:
            by_key[k] = Group(len(groups), pop.model, k[1])
            groups.append(by_key[k])
        g = by_key[k]
        g.pops.append((path, pop, g.N))
        g.N += pop.N
    return groups


def _where(groups):
    return {id(p): (g, off) for g in groups for _, p, off in g.pops}


def _project(network, groups):
    """Synapse sets -> projections keyed by (pre, post, synapse, rule, learning target,
    delay)."""
    pop_group = _where(groups)
    projections, by_key = [], {}
    for s in network.synapse_sets:
        pre_g, post_g = pop_group[id(s.pre)][0], pop_group[id(s.post)][0]
        lpost_g = pop_group[id(s.learn_post)][0] if s.learn_post is not None else post_g
        rule_key = None if s.rule is None else (s.rule.name, s.rule.on_step, s.rule.on_trial_end,
                                                id(getattr(s.rule, "modulator", None)))
        k = (pre_g.index, post_g.index, id(s.synapse), rule_key, lpost_g.index, s.delay)
        if k not in by_key:
            by_key[k] = Projection(len(projections), s.synapse, s.rule, pre_g, post_g, lpost_g,
                                   s.delay)
            projections.append(by_key[k])
        by_key[k].sets.append(s)
    return projections


def _lay_out_groups(groups, network, layout, arrays):
    """States, parameters, inputs and spike blocks of every group; returns the initial S."""
    s_chunks, p_chunks, k_size = [], [], 0
    s_off = p_off = i_off = 0
    for g in groups:
        m = g.model
        NP = padded_size(g.N)
        layout.add(key.size(g), g.N, literal=True)
        layout.add(key.padded(g), NP, literal=True)
        st = np.zeros((len(m.states), NP))
        for j, name in enumerate(m.states):
            for path, pop, off in g.pops:
                st[j, off:off + pop.N] = pop.init_values(name)
            layout.add(key.state(g, name), s_off + j * NP, literal=True)
        _pad(st, g.N)
        s_chunks.append(st.ravel())
        s_off += st.size
        pa = np.zeros((len(m.params), NP))
        for j, name in enumerate(m.params):
            for path, pop, off in g.pops:
                realised = network.params.get(path, {})
                pa[j, off:off + pop.N] = realised.get(name, pop.param_values(name))
            layout.add(key.param(g, name), p_off + j * NP, literal=True)
        _pad(pa, g.N)
        p_chunks.append(pa.ravel())
        p_off += pa.size
        for j, name in enumerate(m.inputs):
            layout.add(key.input(g, name), i_off + j * NP, literal=True)
        i_off += len(m.inputs) * NP
        layout.add(key.spikes(g), k_size, literal=True)      # spike flag, last spike time, previous condition
        k_size += 3 * g.N if m.spike is not None else 0
    arrays["S"] = _cat(s_chunks, float)
    arrays["P"] = _cat(p_chunks, float)
    arrays["I"] = np.zeros(i_off)
    arrays["SPK"] = np.zeros(k_size)
    for g in groups:
        if g.model.spike is not None:
            start = layout.spikes(g)
            arrays["SPK"][start + g.N: start + 2 * g.N] = -1e300   # "never spiked"
    return arrays["S"]


def _synapse_table(p, pop_group):
    """One projection's synapses in build order: pre, post, learning post, per-synapse
    fields by name, and each synapse's origin (set index, index within the set)."""
    pre, post, lpost, w, params, origin = [], [], [], [], {}, []
    rule = p.rule
    for set_id, s in enumerate(p.sets):
        pre_base, post_base = pop_group[id(s.pre)][1], pop_group[id(s.post)][1]
        pre.append(s.pre_idx + pre_base)
        post.append(s.post_idx + post_base)
        if s.learn_post is not None:
            lpost.append(np.asarray(s.learn_post_idx) + pop_group[id(s.learn_post)][1])
        else:
            lpost.append(s.post_idx + post_base)
        w.append(s.weight)
        for name in p.synapse.params:
            params.setdefault(name, []).append(s.params[name])
        if rule is not None:
            for name in rule.params:
                params.setdefault(name, []).append(_rule_values(s, name))
            for name, init in rule.traces.items():
                params.setdefault(name, []).append(np.full(len(s.weight), float(init)))
        origin.append(np.stack([np.full(len(s.weight), set_id), np.arange(len(s.weight))]))
    pre, post, lpost = (np.concatenate(a).astype(np.int64) for a in (pre, post, lpost))
    return pre, post, lpost, w, params, np.concatenate(origin, axis=1)


def _lay_out_projections(projections, groups, layout, arrays):
    """CSR (by post unit) and by-pre orders, fields and delay buffers of every projection."""
    pop_group = _where(groups)
    chunks = {name: [] for name in ("F", "PRE", "POST", "LPOST", "PTR", "PPTR", "PORD")}
    f_off = x_off = r_off = q_off = d_off = 0
    for p in projections:
        pre, post, lpost, w, params, origin = _synapse_table(p, pop_group)
        order = np.argsort(post, kind="stable")
        p.order_origin = origin[:, order]
        pre, post, lpost = pre[order], post[order], lpost[order]
        M = len(pre)
        # Every (post, pre) pair, row-major: the weights are a dense matrix as they stand,
        # so the kernel can use a BLAS matrix-vector product instead of a CSR loop.
        p.full = bool(M == p.pre.N * p.post.N and M > 0 and
                      np.array_equal(pre, np.tile(np.arange(p.pre.N), p.post.N)))
        # The same holds for every pre unit x a contiguous range of post units (E -> E and
        # I -> E landing on the E part of a group that also holds I): a product on those rows.
        p.dense_rows = dense_rows(pre, post, p.pre.N) if M else None
        p.fields = ["w"] + list(params)
        F = np.vstack([np.concatenate(w)[order]] + [np.concatenate(params[n])[order]
                                                   for n in params]) if M else \
            np.zeros((len(p.fields), 0))
        ptr = np.zeros(p.post.N + 1, dtype=np.int64)
        np.add.at(ptr, post + 1, 1)
        ptr = np.cumsum(ptr)
        pord = np.argsort(pre, kind="stable").astype(np.int64)
        pptr = np.cumsum(np.concatenate([[0], np.bincount(pre, minlength=p.pre.N)])).astype(np.int64)
        layout.add(key.synapses(p), M)
        layout.add(key.dense_first(p), p.dense_rows[0] if p.dense_rows else 0)
        layout.add(key.dense_count(p), p.dense_rows[1] if p.dense_rows else 0)
        for j, name in enumerate(p.fields):
            layout.add(key.field(p, name), f_off + j * M)
        layout.add(key.index(p), x_off)
        layout.add(key.rows(p), r_off, literal=True)
        layout.add(key.pre_rows(p), q_off, literal=True)
        layout.add(key.delay(p), d_off, literal=True)
        for name, value in (("F", F.ravel()), ("PRE", pre), ("POST", post), ("LPOST", lpost),
                            ("PTR", ptr), ("PPTR", pptr), ("PORD", pord)):
            chunks[name].append(value)
        f_off += F.size
        x_off += M
        r_off += len(ptr)
        q_off += len(pptr)
        d_off += (p.delay + 1) * p.post.N if p.delay else 0
    arrays["F"] = _cat(chunks["F"], float)
    for name in ("PRE", "POST", "LPOST", "PTR", "PPTR", "PORD"):
        arrays[name] = _cat(chunks[name], np.int64)
    arrays["DB"] = np.zeros(d_off)


def _pad(rows, n):
    """Padding units copy unit 0: finite values, so the finiteness check never trips on them
    (they are integrated with the rest and read by nothing)."""
    if n and rows.shape[1] > n:
        rows[:, n:] = rows[:, :1]


def _cat(chunks, dtype):
    return np.concatenate(chunks).astype(dtype) if chunks else np.zeros(0, dtype=dtype)


def _rule_values(s, name):
    """A rule parameter for each synapse of set `s`: a scalar, or an (N_post, N_pre) matrix
    read at the set's (post, pre) pairs (e.g. weight bounds that differ on the diagonal)."""
    value = np.asarray(s.rule.params[name], dtype=float)
    if value.ndim == 0:
        return np.full(len(s.weight), float(value))
    if value.shape != (s.post.N, s.pre.N):
        label = s.connection.label if s.connection is not None else f"{s.pre.name} -> {s.post.name}"
        raise ValidationError(f"edge {label}: learning rule '{s.rule.name}' parameter '{name}' "
                              f"has shape {value.shape}; expected a scalar or "
                              f"({s.post.N}, {s.pre.N})")
    return value[s.post_idx, s.pre_idx]


def dense_rows(pre, post, n_pre):
    """(first row, number of rows) if the sorted pairs are every pre unit for each of a
    contiguous range of post units, row-major; else None."""
    if len(pre) % n_pre:
        return None
    n = len(pre) // n_pre
    lo = int(post[0])
    if np.array_equal(post, np.repeat(np.arange(lo, lo + n), n_pre)) and \
            np.array_equal(pre, np.tile(np.arange(n_pre), n)):
        return lo, n
    return None
