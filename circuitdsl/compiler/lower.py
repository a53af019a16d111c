"""Lowering: a built Network -> groups, projections and one flat layout.

Populations that share a Model (and integrator) become one *group*, so the generated code
grows with the number of kinds of unit, not with the number of blocks. Synapse sets that share
(pre group, post group, synapse, learning rule, delay) become one *projection*, stored as CSR
by target unit. Every size and offset is a runtime integer in `layout`, so a change of size,
density, weight, parameter or stimulus never changes the generated source.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from circuitdsl.compiler.rng import seed_streams


@dataclass
class Group:
    index: int
    model: object
    integrator: str
    pops: list = field(default_factory=list)      # (path, Population, offset)
    N: int = 0

    @property
    def name(self):
        return f"g{self.index}"

    def locate(self, unit):
        """(path, local index) of a group-local unit index."""
        for path, pop, off in self.pops:
            if off <= unit < off + pop.N:
                return path, unit - off
        raise IndexError(unit)


@dataclass
class Projection:
    index: int
    synapse: object
    rule: object
    pre: Group
    post: Group
    lpost: Group
    delay: int
    sets: list = field(default_factory=list)
    fields: list = field(default_factory=list)

    @property
    def name(self):
        return f"p{self.index}"


class Layout:
    """Named integer offsets passed to the kernel as one int64 array."""

    def __init__(self):
        self.names, self.values = [], []

    def add(self, name, value):
        self.names.append(name)
        self.values.append(int(value))
        return len(self.names) - 1

    def index(self, name):
        return self.names.index(name)

    def __getitem__(self, name):
        return self.values[self.index(name)]

    def array(self):
        return np.asarray(self.values, dtype=np.int64)


@dataclass
class Lowered:
    network: object
    dt: float
    groups: list
    projections: list
    layout: Layout
    arrays: dict          # name -> numpy array (S, P, I, F, PRE, POST, LPOST, PTR, PPTR, PORD, SPK, DB, RNG)
    init_state: np.ndarray
    stream_labels: list

    def group_of(self, pop):
        for g in self.groups:
            for _, p, off in g.pops:
                if p is pop:
                    return g, off
        raise KeyError(pop.name)


def _integrator_of(pop, default):
    return pop.integrator or getattr(pop.model, "integrator", None) or default


def lower(network, dt, method="exponential_euler", seed=0):
    groups, by_key = [], {}
    for path, pop in network.populations.items():
        key = (id(pop.model), _integrator_of(pop, method))
        if key not in by_key:
            by_key[key] = Group(len(groups), pop.model, key[1])
            groups.append(by_key[key])
        g = by_key[key]
        g.pops.append((path, pop, g.N))
        g.N += pop.N
    # Sources before targets, so latches that read other groups see this step's values.
    groups = _topological(groups, network)
    for k, g in enumerate(groups):
        g.index = k
    pop_group = {id(p): (g, off) for g in groups for _, p, off in g.pops}

    projections, by_pkey = [], {}
    for s in network.synapse_sets:
        pre_g, _ = pop_group[id(s.pre)]
        post_g, _ = pop_group[id(s.post)]
        lpost_g = pop_group[id(s.learn_post)][0] if s.learn_post is not None else post_g
        rule_key = None if s.rule is None else (s.rule.name, s.rule.on_step, s.rule.on_trial_end,
                                                id(getattr(s.rule, "modulator", None)))
        key = (pre_g.index, post_g.index, id(s.synapse), rule_key, lpost_g.index, s.delay)
        if key not in by_pkey:
            by_pkey[key] = Projection(len(projections), s.synapse, s.rule, pre_g, post_g,
                                      lpost_g, s.delay)
            projections.append(by_pkey[key])
        by_pkey[key].sets.append(s)

    layout = Layout()
    arrays = {}
    s_chunks, p_chunks, k_size = [], [], 0
    s_off = p_off = i_off = 0
    for g in groups:
        m = g.model
        layout.add(f"N_{g.name}", g.N)
        st = np.zeros((len(m.states), g.N))
        for j, name in enumerate(m.states):
            for path, pop, off in g.pops:
                st[j, off:off + pop.N] = pop.init_values(name)
            layout.add(f"S_{g.name}_{name}", s_off + j * g.N)
        s_chunks.append(st.ravel())
        s_off += st.size
        pa = np.zeros((len(m.params), g.N))
        for j, name in enumerate(m.params):
            for path, pop, off in g.pops:
                realised = network.params.get(path, {})
                pa[j, off:off + pop.N] = realised.get(name, pop.param_values(name))
            layout.add(f"P_{g.name}_{name}", p_off + j * g.N)
        p_chunks.append(pa.ravel())
        p_off += pa.size
        for j, name in enumerate(m.inputs):
            layout.add(f"I_{g.name}_{name}", i_off + j * g.N)
        i_off += len(m.inputs) * g.N
        layout.add(f"K_{g.name}", k_size)      # spike flag, last spike time, previous condition
        k_size += 3 * g.N if m.spike is not None else 0

    f_chunks, pre_chunks, post_chunks, lpost_chunks, ptr_chunks = [], [], [], [], []
    pptr_chunks, pord_chunks = [], []
    f_off = x_off = r_off = q_off = d_off = 0
    for p in projections:
        pre, post, lpost, w, params, origin = [], [], [], [], {}, []
        rule = p.rule
        for set_id, s in enumerate(p.sets):
            _, pre_base = pop_group[id(s.pre)]
            _, post_base = pop_group[id(s.post)]
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
        order = np.argsort(post, kind="stable")
        p.order_origin = np.concatenate(origin, axis=1)[:, order]
        pre, post, lpost = pre[order], post[order], lpost[order]
        M = len(pre)
        # Every (post, pre) pair, row-major: the weights are a dense matrix as they stand,
        # so the kernel can use a BLAS matrix-vector product instead of a CSR loop.
        p.full = bool(M == p.pre.N * p.post.N and M > 0 and
                      np.array_equal(pre, np.tile(np.arange(p.pre.N), p.post.N)))
        # The same holds for every pre unit x a contiguous range of post units (E -> E and
        # I -> E landing on the E part of a group that also holds I): a product on those rows.
        p.dense_rows = _dense_rows(pre, post, p.pre.N) if M else None
        p.fields = ["w"] + list(params)
        F = np.vstack([np.concatenate(w)[order]] + [np.concatenate(params[n])[order]
                                                   for n in params]) if M else \
            np.zeros((len(p.fields), 0))
        ptr = np.zeros(p.post.N + 1, dtype=np.int64)
        np.add.at(ptr, post + 1, 1)
        ptr = np.cumsum(ptr)
        pord = np.argsort(pre, kind="stable").astype(np.int64)
        pptr = np.cumsum(np.concatenate([[0], np.bincount(pre, minlength=p.pre.N)])).astype(np.int64)
        layout.add(f"M_{p.name}", M)
        layout.add(f"DR0_{p.name}", p.dense_rows[0] if p.dense_rows else 0)
        layout.add(f"DRN_{p.name}", p.dense_rows[1] if p.dense_rows else 0)
        for j, name in enumerate(p.fields):
            layout.add(f"F_{p.name}_{name}", f_off + j * M)
        layout.add(f"X_{p.name}", x_off)
        layout.add(f"R_{p.name}", r_off)
        layout.add(f"Q_{p.name}", q_off)
        layout.add(f"D_{p.name}", d_off)
        f_chunks.append(F.ravel())
        pre_chunks.append(pre), post_chunks.append(post), lpost_chunks.append(lpost)
        ptr_chunks.append(ptr), pptr_chunks.append(pptr), pord_chunks.append(pord)
        f_off += F.size
        x_off += M
        r_off += len(ptr)
        q_off += len(pptr)
        d_off += (p.delay + 1) * p.post.N if p.delay else 0

    def cat(chunks, dtype):
        return np.concatenate(chunks).astype(dtype) if chunks else np.zeros(0, dtype=dtype)

    arrays["S"] = cat(s_chunks, float)
    arrays["P"] = cat(p_chunks, float)
    arrays["I"] = np.zeros(i_off)
    arrays["F"] = cat(f_chunks, float)
    arrays["PRE"] = cat(pre_chunks, np.int64)
    arrays["POST"] = cat(post_chunks, np.int64)
    arrays["LPOST"] = cat(lpost_chunks, np.int64)
    arrays["PTR"] = cat(ptr_chunks, np.int64)
    arrays["PPTR"] = cat(pptr_chunks, np.int64)
    arrays["PORD"] = cat(pord_chunks, np.int64)
    arrays["SPK"] = np.zeros(k_size)
    for g in groups:
        if g.model.spike is not None:
            arrays["SPK"][layout[f"K_{g.name}"] + g.N: layout[f"K_{g.name}"] + 2 * g.N] = -1e300
    arrays["DB"] = np.zeros(d_off)
    labels = [f"group:{'+'.join(path for path, _, _ in g.pops)}" for g in groups] + \
             [f"projection:{p.pre.name}->{p.post.name}:{p.synapse.name}:{p.index}"
              for p in projections]
    arrays["RNG"] = seed_streams(seed, labels) if labels else np.zeros(1, dtype=np.uint64)
    return Lowered(network, dt, groups, projections, layout, arrays, arrays["S"].copy(), labels)


def _rule_values(s, name):
    """A rule parameter for each synapse of set `s`: a scalar, or an (N_post, N_pre) matrix
    read at the set's (post, pre) pairs (e.g. weight bounds that differ on the diagonal)."""
    value = np.asarray(s.rule.params[name], dtype=float)
    if value.ndim == 0:
        return np.full(len(s.weight), float(value))
    if value.shape != (s.post.N, s.pre.N):
        label = s.connection.label if s.connection is not None else f"{s.pre.name} -> {s.post.name}"
        raise ValueError(f"edge {label}: learning rule '{s.rule.name}' parameter '{name}' has "
                         f"shape {value.shape}; expected a scalar or ({s.post.N}, {s.pre.N})")
    return value[s.post_idx, s.pre_idx]


def _dense_rows(pre, post, n_pre):
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


def _topological(groups, network):
    import networkx as nx
    g_of = {id(p): g.index for g in groups for _, p, _ in g.pops}
    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(groups)))
    for s in network.synapse_sets:
        a, b = g_of[id(s.pre)], g_of[id(s.post)]
        if a != b:
            graph.add_edge(a, b)
    # Cycles are common (E <-> I); condense them and keep first-appearance order inside,
    # except that a group whose input reads another's input this step (an instantaneous
    # chain: cue -> layer -> readout -> plant) comes after it.
    instant = nx.DiGraph()
    for s in network.synapse_sets:
        a, b = g_of[id(s.pre)], g_of[id(s.post)]
        if a != b and _instantaneous(s):
            instant.add_edge(a, b, label=f"{s.pre.name} -> {s.post.name}")
    cond = nx.condensation(graph)
    order = []
    for c in nx.lexicographical_topological_sort(cond, key=lambda c: min(cond.nodes[c]["members"])):
        members = sorted(cond.nodes[c]["members"])
        sub = nx.DiGraph()
        sub.add_nodes_from(members)
        sub.add_edges_from(instant.subgraph(members).edges(data=True))
        if sub.number_of_edges():
            if not nx.is_directed_acyclic_graph(sub):
                edges = [sub.edges[u, v]["label"] for u, v in nx.find_cycle(sub)]
                raise ValueError(f"edges {', '.join(edges)} form an algebraic loop: each block "
                                 "reads the previous one's input within the same step; put a "
                                 "state (a unit with dynamics) somewhere on the loop")
            members = list(nx.lexicographical_topological_sort(sub, key=lambda i: i))
        order.extend(members)
    return [groups[i] for i in order]


def _instantaneous(s):
    """Does this synapse's current read the presynaptic unit's inputs of the same step?"""
    syn = s.synapse
    if not syn.current or syn.feedback or not s.pre.model.inputs:
        return False
    m = s.pre.model
    for name in re.findall(r"\bpre\.(\w+)", syn.current):
        if name in m.derived and \
                set(m.inputs) & {x.name for x in m.expand(m.derived[name]).free_symbols}:
            return True
    return False
