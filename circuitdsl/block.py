"""Blocks: what a user places on the circuit graph.

A `Population` is N identical units of one Model. A `Composite` is an inner graph of smaller
blocks (a cortical column, a striatum) with its own internal connections. Connection builders
(circuitdsl.connections) decide what an edge between two blocks means.
"""
from __future__ import annotations

import numpy as np

from circuitdsl.errors import ValidationError
from circuitdsl.model import Model


class BlockError(ValidationError):
    """Bad block definition (name, size, parameter)."""


def _check_name(name, what="block"):
    if not isinstance(name, str) or not name or "." in name or name != name.strip():
        raise BlockError(f"{what} name {name!r} must be a non-empty string without dots or "
                         "surrounding spaces")
    return name


class Block:
    """Base of every block. Subclasses are Population or Composite."""

    def __init__(self, name):
        self.name = _check_name(name)

    def populations(self, prefix=""):
        """Yield (path, Population) for every leaf population inside this block."""
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({self.name!r})"


class Population(Block):
    """N units of one Model, with per-block parameter and initial-state overrides.

    `params` and `init` map names to a scalar or to an array with one value per unit.
    `synapse` is what this population's outgoing edges carry by default.
    """

    def __init__(self, name, model: Model, N=1, params=None, init=None, synapse=None,
                 integrator=None):
        super().__init__(name)
        if not isinstance(model, Model):
            raise BlockError(f"block '{name}': model must be a circuitdsl Model, got "
                             f"{type(model).__name__}")
        if isinstance(N, bool) or not isinstance(N, (int, np.integer)) or N < 1:
            raise BlockError(f"block '{name}': N must be a positive integer, got {N!r}")
        self.model = model
        self.N = int(N)
        self.synapse = synapse
        self.integrator = integrator
        self.params = {k: self._per_unit(k, v, model.params, "parameter")
                       for k, v in (params or {}).items()}
        self.init = {k: self._per_unit(k, v, model.states, "state")
                     for k, v in (init or {}).items()}

    def _per_unit(self, key, value, known, what):
        if key not in known:
            raise BlockError(f"block '{self.name}': model '{self.model.name}' has no {what} "
                             f"'{key}'; it has: {', '.join(known) or 'none'}")
        arr = np.asarray(value, dtype=float)
        if arr.ndim == 0:
            arr = np.full(self.N, float(arr))
        if arr.shape != (self.N,):
            raise BlockError(f"block '{self.name}': {what} '{key}' has shape {arr.shape}, "
                             f"expected a scalar or ({self.N},)")
        if not np.all(np.isfinite(arr)):
            raise BlockError(f"block '{self.name}': {what} '{key}' contains NaN or Inf")
        return arr

    def param_values(self, key):
        """Per-unit values of a parameter (override or model default)."""
        if key in self.params:
            return self.params[key]
        return np.full(self.N, float(self.model.params[key]))

    def init_values(self, key):
        if key in self.init:
            return self.init[key]
        return np.full(self.N, float(self.model.states[key]))

    def populations(self, prefix=""):
        yield prefix + self.name, self

    def unit_names(self, path):
        if self.N == 1:
            return [path]
        return [f"{path}[{i}]" for i in range(self.N)]


class Composite(Block):
    """A block made of parts (blocks) and inner connections between them.

    Subclasses build their parts in __init__ with `add` and wire them with `connect`; the
    inner edges are built with the same registry as the outer ones.
    """

    def __init__(self, name):
        super().__init__(name)
        self.parts = {}
        self.inner = []   # list of (src name, dst name, kwargs)

    def add(self, block):
        if block.name in self.parts:
            raise BlockError(f"block '{self.name}' already has a part named '{block.name}'")
        self.parts[block.name] = block
        return block

    def part(self, name):
        try:
            return self.parts[name]
        except KeyError:
            raise BlockError(f"block '{self.name}' has no part '{name}'; parts: "
                             f"{', '.join(self.parts)}") from None

    def connect(self, src, dst, **kwargs):
        self.part(src), self.part(dst)
        # Checked here, when the block is made: a bad density given to a block (e.g.
        # `--set VAC.density=-0.5`) would otherwise be drawn from without complaint.
        density = kwargs.get("density")
        if density is not None and (isinstance(density, bool) or
                                    not isinstance(density, (int, float, np.number)) or
                                    not 0 < density <= 1):
            raise BlockError(f"block '{self.name}': density must be in (0, 1], got "
                             f"{density!r} (edge {src} -> {dst})")
        self.inner.append((src, dst, kwargs))

    def populations(self, prefix=""):
        for part in self.parts.values():
            yield from part.populations(prefix + self.name + ".")

    def units(self, role):
        """Ordered (population, indices) pairs for a role such as 'excitatory'; blocks override."""
        raise BlockError(f"block '{self.name}' ({type(self).__name__}) has no units of role "
                         f"'{role}'")


class Control(Block):
    """A block with no dynamics of its own (a policy): it only reads others after a trial."""

    def populations(self, prefix=""):
        return iter(())
