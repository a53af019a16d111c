"""Per-synapse values between the three orders they live in, in one place.

- build order: each SynapseSet's own arrays (`s.weight`, `s.pre_idx`, `s.post_idx`), what a
  user's weight matrix became;
- CSR order: a projection's synapses sorted by target unit, what the kernel stores in F
  (`p.order_origin` says where each came from: set index and index within the set);
- unit names: an edge's dense (post units, pre units) matrix.

The Simulator, the gradient program and the figures all map through these functions.
"""
from __future__ import annotations

import numpy as np


def set_positions(p, k):
    """(CSR positions of set k's synapses, their indices within the set)."""
    q = np.flatnonzero(p.order_origin[0] == k)
    return q, p.order_origin[1, q]


def to_sets(p, csr_values):
    """[values of each of p's sets in build order] from values in p's CSR order."""
    out = []
    for k, s in enumerate(p.sets):
        q, idx = set_positions(p, k)
        values = np.empty(len(s.weight))
        values[idx] = csr_values[q]
        out.append(values)
    return out


def from_sets(p, per_set):
    """p's CSR-ordered array from one build-order array per set."""
    out = np.empty(p.M)
    for k, values in enumerate(per_set):
        q, idx = set_positions(p, k)
        out[q] = np.asarray(values, dtype=float)[idx]
    return out


def edge_matrix(s, values, shape=None, out=None):
    """Add a set's build-order values into a dense (post, pre) matrix (parallel synapses
    summed)."""
    out = np.zeros(shape or (s.post.N, s.pre.N)) if out is None else out
    np.add.at(out, (s.post_idx, s.pre_idx), values)
    return out
