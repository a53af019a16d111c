"""The build product: what lowering hands to code generation, every field declared.

A `Group` is the units of every population that shares one Model and integrator; a
`Projection` is the synapses of every set that shares (pre group, post group, synapse,
learning rule, learning target, delay), stored as CSR by target unit. Both are passive: the
passes after lowering read them and never add attributes. Fields marked "binding" are the
synapse's and rule's statements bound against the two concrete models (compiler/bind.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(eq=False)
class Group:
    index: int
    model: object
    integrator: str
    pops: list = field(default_factory=list)      # (path, Population, offset in the group)
    N: int = 0

    @property
    def name(self):
        return f"g{self.index}"

    @property
    def paths(self):
        return [path for path, _, _ in self.pops]

    def locate(self, unit):
        """(path, local index) of a group-local unit index."""
        for path, pop, off in self.pops:
            if off <= unit < off + pop.N:
                return path, unit - off
        raise IndexError(unit)


@dataclass(eq=False)
class Projection:
    index: int
    synapse: object
    rule: object
    pre: Group
    post: Group
    lpost: Group            # the group the learning rule's `post` refers to
    delay: int              # steps
    sets: list = field(default_factory=list)      # SynapseSets, in build order
    fields: list = field(default_factory=list)    # per-synapse values: "w", params, traces
    # structure (lowering)
    order_origin: np.ndarray = None   # (2, M): set index and index within the set, CSR order
    full: bool = False                # every (post, pre) pair, row-major
    dense_rows: tuple = None          # (first post row, rows) if every pre for a row range
    # binding
    current: object = None            # the bound current statement, or None
    on_pre: list = field(default_factory=list)
    events: list = field(default_factory=list)     # (Event, bound statements)
    rule_step: list = field(default_factory=list)
    rule_end: list = field(default_factory=list)

    @property
    def name(self):
        return f"p{self.index}"

    @property
    def M(self):
        return 0 if self.order_origin is None else self.order_origin.shape[1]

    @property
    def label(self):
        """The edges this projection holds, as the user named them."""
        labels = [s.connection.label if s.connection is not None else
                  f"{s.pre.name} -> {s.post.name}" for s in self.sets]
        return " + ".join(dict.fromkeys(labels))


@dataclass(eq=False)
class Lowered:
    network: object
    dt: float
    groups: list
    projections: list
    layout: object          # compiler.layout.Layout
    arrays: dict            # the kernel's arrays by name (compiler.interface.ARRAYS)
    init_state: np.ndarray

    def stream(self, obj):
        """The random stream of a group or projection, as a literal for generated code:
        groups first, then projections (the order of the labels seeded in lowering)."""
        if isinstance(obj, Group):
            return str(obj.index)
        return str(len(self.groups) + obj.index)
