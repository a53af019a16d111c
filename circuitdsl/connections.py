"""What an edge means: connection builders keyed by the pair of block types.

`registry.register(SrcType, DstType)` adds a builder; lookup walks both class hierarchies
(most specific first), so a new block brings its own rules without edits to the core.
A builder receives the `NetworkBuilder`, the edge's `Connection`, the two blocks and the
edge's random generator, and adds synapses between leaf populations.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from circuitdsl.block import Population
from circuitdsl.errors import ValidationError


class ConnectionError_(ValidationError):
    """An edge that cannot be built (unknown pair of block types, bad option)."""


@dataclass
class Rule:
    builder: object
    plastic: bool = True       # can the edge carry a learning rule?
    requires: tuple = ()       # keyword options the edge must have (e.g. t_event)
    accepts: tuple = ()        # extra keyword options it may have
    validate: object = None    # validate(src, dst, options) -> error text or None, by connect()


@dataclass
class Registry:
    rules: dict = field(default_factory=dict)

    def register(self, src_type, dst_type, plastic=True, requires=(), accepts=(), validate=None):
        def deco(fn):
            self.rules[(src_type, dst_type)] = Rule(fn, plastic, tuple(requires), tuple(accepts),
                                                    validate)
            return fn
        return deco

    def lookup(self, src, dst):
        for s in type(src).__mro__:
            for d in type(dst).__mro__:
                rule = self.rules.get((s, d))
                if rule is not None:
                    return rule
        raise ConnectionError_(f"no connection rule from '{src.name}' ({type(src).__name__}) "
                               f"to '{dst.name}' ({type(dst).__name__})")


registry = Registry()


# ---- connectivity rules (unit level) ---------------------------------------------------------

def bernoulli_pairs(n_src, n_dst, density, rng, allow_self=True):
    """(pre, post) index arrays of a Bernoulli(density) mask, rows = dst."""
    mask = rng.random((n_dst, n_src)) < density
    if not allow_self:
        np.fill_diagonal(mask, False)
    post, pre = np.nonzero(mask)
    return pre, post


def indegree_pairs(n_src, n_dst, density, rng, allow_self=True):
    """Each target draws round(density * n_src) distinct sources."""
    k = max(1, int(round(density * n_src)))
    pre, post = [], []
    for i in range(n_dst):
        cands = np.array([j for j in range(n_src) if allow_self or j != i])
        k_i = min(k, len(cands))
        pre.extend(rng.choice(cands, size=k_i, replace=False))
        post.extend([i] * k_i)
    return np.asarray(pre, dtype=np.int64), np.asarray(post, dtype=np.int64)


def hypergeometric_pairs(n_src, n_dst, density, rng):
    """Balanced in/out degrees: every target draws ceil(Nc/n_dst) sources among those whose out
    degree is still below ceil(Nc/n_src), with Nc = density*n_dst*n_src (reference §2.2)."""
    n_c = density * n_dst * n_src
    out_deg = math.ceil(n_c / n_src)
    in_deg = math.ceil(n_c / n_dst)
    counts = np.zeros(n_src, dtype=np.int64)
    pre, post = [], []
    for i in range(n_dst):
        cands = np.flatnonzero(counts < out_deg)
        chosen = rng.choice(cands, size=min(in_deg, len(cands)), replace=False)
        counts[chosen] += 1
        pre.extend(chosen)
        post.extend([i] * len(chosen))
    return np.asarray(pre, dtype=np.int64), np.asarray(post, dtype=np.int64)


CONNECTION_RULES = {"bernoulli": bernoulli_pairs, "indegree": indegree_pairs,
                    "hypergeometric": hypergeometric_pairs}


def pairs_for(conn, n_src, n_dst, rng, same_block=False):
    """Pre/post indices and initial weights for a unit-level edge from its Connection."""
    w = conn.weight
    if isinstance(w, np.ndarray) and w.ndim == 2:
        post, pre = np.nonzero(w if conn.density is None else w * (rng.random(w.shape) < conn.density))
        return pre, post, w[post, pre].astype(float)
    if conn.density is None:
        pre = np.tile(np.arange(n_src), n_dst)
        post = np.repeat(np.arange(n_dst), n_src)
        if same_block and not conn.self_connections:
            keep = pre != post
            pre, post = pre[keep], post[keep]
    else:
        name = conn.connection_rule or "bernoulli"
        fn = CONNECTION_RULES[name]
        if name == "hypergeometric":
            pre, post = fn(n_src, n_dst, conn.density, rng)
        else:
            pre, post = fn(n_src, n_dst, conn.density, rng,
                           allow_self=not same_block or conn.self_connections)
    return pre, post, conn.initial_weights(pre, post, rng)


@registry.register(Population, Population)
def connect_populations(net, conn, src, dst, rng):
    """The default edge: every (or a random subset of) unit pair(s), carrying the source's
    synapse (or the edge's `synapse=`)."""
    synapse = conn.synapse or src.synapse
    if synapse is None:
        raise ConnectionError_(f"edge {conn.label}: '{src.name}' has no default synapse; "
                               "pass synapse=... to connect()")
    pre, post, w = pairs_for(conn, src.N, dst.N, rng, same_block=src is dst)
    net.add_synapses(src, pre, dst, post, w, synapse, conn)


def unit_list(block, role):
    """Ordered (population, index) pairs of a block's units in a role."""
    if isinstance(block, Population):
        return [(block, i) for i in range(block.N)]
    out = []
    for pop, idx in block.units(role):
        out.extend((pop, int(i)) for i in np.atleast_1d(idx))
    return out


def add_unit_synapses(net, pairs_src, pairs_dst, pre, post, w, synapse, conn, **extra):
    """Add synapses given as indices into two unit lists, grouping by population pair."""
    # Per-synapse extras (learn_post_idx) are split with the synapses they belong to.
    per_synapse = {k: np.asarray(v) for k, v in extra.items() if k == "learn_post_idx"}
    groups = {}
    for k, (a, b) in enumerate(zip(pre, post)):
        sp_, si = pairs_src[a]
        dp, di = pairs_dst[b]
        groups.setdefault((id(sp_), id(dp)), (sp_, dp, [], [], [], []))
        g = groups[(id(sp_), id(dp))]
        g[2].append(si), g[3].append(di), g[4].append(w[k]), g[5].append(k)
    for sp_, dp, si, di, wi, ks in groups.values():
        kw = dict(extra)
        kw.update({name: v[ks] for name, v in per_synapse.items()})
        net.add_synapses(sp_, np.asarray(si), dp, np.asarray(di), np.asarray(wi, dtype=float),
                         synapse, conn, **kw)

