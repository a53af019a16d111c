"""Where each group's states, parameters and inputs and each projection's fields live.

The kernel's data are a few flat arrays (S states, P parameters, I inputs, F synapse fields,
the CSR index arrays, SPK spike flags, DB delay buffers). A `Layout` holds every offset and
size and answers typed questions about them: `layout.state(group, "V")` is where V of the
group starts in S. The string keys behind it are spelled only here (`key`): code generation
asks `key.state(group, "V")` for the name a generated function loads from the layout array.
"""
from __future__ import annotations

import numpy as np


#: Rows of a group's states, parameters and inputs hold a multiple of this many units (8
#: float64 lanes of AVX-512), so the integration loop runs over whole vectors and no unit
#: falls into a scalar remainder loop; the padding units copy unit 0 and nothing reads them.
VECTOR = 8


def padded_size(n):
    return -(-n // VECTOR) * VECTOR


class key:
    """The spelling of layout entries (one place; nothing outside the compiler uses them)."""

    @staticmethod
    def size(g):
        return f"N_{g.name}"

    @staticmethod
    def padded(g):
        """The group's units rounded up to whole vectors (VECTOR): the length of its state,
        parameter and input rows, and of the integration and update loops."""
        return f"NP_{g.name}"

    @staticmethod
    def state(g, var):
        return f"S_{g.name}_{var}"

    @staticmethod
    def param(g, var):
        return f"P_{g.name}_{var}"

    @staticmethod
    def input(g, var):
        return f"I_{g.name}_{var}"

    @staticmethod
    def spikes(g):
        """Spike block of a group: flag, last spike time, previous condition (3 x N)."""
        return f"K_{g.name}"

    @staticmethod
    def synapses(p):
        return f"M_{p.name}"

    @staticmethod
    def field(p, name):
        return f"F_{p.name}_{name}"

    @staticmethod
    def index(p):
        """Start of the projection's PRE / POST / LPOST / PORD entries."""
        return f"X_{p.name}"

    @staticmethod
    def rows(p):
        """Start of its CSR row pointers (post units + 1) in PTR."""
        return f"R_{p.name}"

    @staticmethod
    def pre_rows(p):
        """Start of its by-presynaptic-unit pointers (pre units + 1) in PPTR."""
        return f"Q_{p.name}"

    @staticmethod
    def delay(p):
        return f"D_{p.name}"

    @staticmethod
    def dense_first(p):
        return f"DR0_{p.name}"

    @staticmethod
    def dense_count(p):
        return f"DRN_{p.name}"


class Layout:
    """Named integer offsets, passed to the kernel as one int64 array (`array()`)."""

    def __init__(self):
        self.names, self.values = [], []
        self._where = {}
        self._literal = set()

    def add(self, name, value, literal=False):
        """Add an entry; `literal` entries are structure, written into the generated code
        (the same for every seed of a circuit), the others are read from the layout array."""
        if name in self._where:
            raise KeyError(f"layout entry {name} added twice")
        self._where[name] = len(self.names)
        self.names.append(name)
        self.values.append(int(value))
        if literal:
            self._literal.add(name)
        return self._where[name]

    def literal(self, name):
        return name in self._literal

    def index(self, name):
        """Position of an entry in the layout array (what generated code loads)."""
        return self._where[name]

    def __getitem__(self, name):
        return self.values[self._where[name]]

    def __contains__(self, name):
        return name in self._where

    def array(self):
        return np.asarray(self.values, dtype=np.int64)

    # ---- typed questions -----------------------------------------------------------------

    def size(self, g):
        return self[key.size(g)]

    def state(self, g, var):
        return self[key.state(g, var)]

    def param(self, g, var):
        return self[key.param(g, var)]

    def input(self, g, var):
        return self[key.input(g, var)]

    def spikes(self, g):
        return self[key.spikes(g)]

    def synapses(self, p):
        return self[key.synapses(p)]

    def field(self, p, name):
        return self[key.field(p, name)]

    def index_start(self, p):
        return self[key.index(p)]

    def rows(self, p):
        return self[key.rows(p)]

    def slot(self, g, var):
        """("S" or "P", start) of a state or parameter of group g; KeyError otherwise."""
        if var in g.model.states:
            return "S", self.state(g, var)
        if var in g.model.params:
            return "P", self.param(g, var)
        raise KeyError(var)

    def field_slice(self, p, name):
        start = self.field(p, name)
        return slice(start, start + self.synapses(p))


def state_or_param_key(g, var):
    """The key of a group's state or parameter `var` (states win, as in the models)."""
    return key.state(g, var) if var in g.model.states else key.param(g, var)
