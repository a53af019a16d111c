"""The circuit graph: blocks as nodes of a networkx MultiDiGraph, edges carrying Connections.

`Circuit.connect` validates at once; `Circuit.build(seed)` walks the graph through the
connection registry and returns a `Network`: leaf populations and synapse sets, ready for the
compiler. Randomness is split from one root seed per block and per edge by name, so adding an
edge never changes another edge's draws.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from circuitdsl.block import Block, Composite, Population
from circuitdsl.connections import ConnectionError_, registry as default_registry
from circuitdsl.errors import ValidationError
from circuitdsl.model import LearningRule, Synapse


class CircuitError(ValidationError):
    """Bad circuit description: unknown block, bad edge option."""


def resolve_params(circuit_name, defaults, given):
    """A circuit file's parameters: its defaults updated by `given`, unknown names refused."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise CircuitError(f"{circuit_name} has no parameter {', '.join(unknown)}; "
                           f"parameters: {', '.join(defaults)}")
    return {**defaults, **given}


def stable_rng(seed, *names):
    """A generator derived from the root seed and a name path (stable across runs)."""
    key = tuple(zlib.crc32(str(n).encode()) for n in names)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


@dataclass
class Connection:
    """One edge: what connect() was asked for, validated."""
    src: str
    dst: str
    weight: object = 1.0
    density: float | None = None
    learning_rule: LearningRule | None = None
    delay: int = 0
    synapse: Synapse | None = None
    connection_rule: str | None = None
    self_connections: bool = False
    options: dict = field(default_factory=dict)
    key: int = 0

    @property
    def label(self):
        return f"{self.src} -> {self.dst}"

    def initial_weights(self, pre, post, rng):
        w = self.weight
        if callable(w):
            return np.asarray(w(rng, len(pre)), dtype=float)
        arr = np.asarray(w, dtype=float)
        if arr.ndim == 0:
            return np.full(len(pre), float(arr))
        if arr.ndim == 1:
            return arr[pre].astype(float)
        raise CircuitError(f"edge {self.label}: a weight matrix needs an explicit unit mapping")


class TransposeOf:
    """Initial weights of edge A -> B equal to those of edge B -> A, transposed (e.g. an error
    feedback path that starts as the readout's weights; identical learning keeps it equal)."""

    def __init__(self, src, dst):
        self.src, self.dst = src, dst

    def __call__(self, rng, n):   # placeholder until the source edge is built
        return np.zeros(n)

    def __repr__(self):
        return f"TransposeOf({self.src!r}, {self.dst!r})"


def check_edge(registry, s, d, label, weight=1.0, density=None, learning_rule=None, delay=0,
               connection_rule=None, self_connections=False, options=None):
    """Every check of an edge between blocks s and d (Circuit.connect's, and the same for the
    edges composite blocks make inside themselves); returns the weight as it will be used."""
    options = options or {}
    rule = registry.lookup(s, d)
    problem = rule.validate(s, d, dict(weight=weight, density=density,
                                       connection_rule=connection_rule,
                                       self_connections=self_connections)) \
        if rule.validate else None
    if problem:
        raise CircuitError(f"edge {label}: {problem}")
    if density is not None:
        if isinstance(density, bool) or not isinstance(density, (int, float, np.number)) \
                or not 0 < density <= 1:
            raise CircuitError(f"edge {label}: density must be in (0, 1], got {density!r}")
    if connection_rule is not None and connection_rule not in ("bernoulli", "indegree",
                                                               "hypergeometric"):
        raise CircuitError(f"edge {label}: connection_rule must be 'bernoulli', 'indegree' "
                           f"or 'hypergeometric', got {connection_rule!r}")
    if learning_rule is not None:
        if not isinstance(learning_rule, LearningRule):
            raise CircuitError(f"edge {label}: learning_rule must be a LearningRule, got "
                               f"{type(learning_rule).__name__}")
        if not rule.plastic:
            raise CircuitError(f"edge {label}: this kind of edge has no weights, so it "
                               "cannot carry a learning rule")
    if isinstance(delay, bool) or not isinstance(delay, (int, np.integer)) or delay < 0:
        raise CircuitError(f"edge {label}: delay is a number of steps >= 0, got {delay!r}")
    missing = [r for r in rule.requires if r not in options]
    if missing:
        raise CircuitError(f"edge {label}: this kind of edge needs {', '.join(missing)}")
    unknown = [k for k in options if k not in rule.requires + rule.accepts]
    if unknown:
        raise CircuitError(f"edge {label}: unknown option {', '.join(unknown)}")
    return _check_weight(label, weight, s, d)


def _check_weight(label, weight, src, dst):
    if isinstance(weight, TransposeOf):
        if (weight.src, weight.dst) != (dst.name, src.name):
            raise CircuitError(f"edge {label}: TransposeOf must name the reverse edge "
                               f"{dst.name} -> {src.name}, got {weight.src} -> {weight.dst}")
        return weight
    if callable(weight):
        return weight
    arr = np.asarray(weight, dtype=float) if not isinstance(weight, np.ndarray) else weight
    if arr.dtype.kind not in "fiu":
        raise CircuitError(f"edge {label}: weight must be numeric, got {type(weight).__name__}")
    if not np.all(np.isfinite(arr)):
        raise CircuitError(f"edge {label}: weight contains NaN or Inf")
    if arr.ndim == 2:
        if not (isinstance(src, Population) and isinstance(dst, Population)):
            raise CircuitError(f"edge {label}: a weight matrix is only for population -> "
                               "population edges")
        if arr.shape != (dst.N, src.N):
            raise CircuitError(f"edge {label}: weight has shape {arr.shape} but the edge needs "
                               f"(N_dst, N_src) = ({dst.N}, {src.N})")
        return arr.astype(float)
    if arr.ndim == 1 and isinstance(src, Population) and arr.shape != (src.N,):
        raise CircuitError(f"edge {label}: a weight vector has one value per source unit: "
                           f"expected ({src.N},), got {arr.shape}")
    if arr.ndim > 2:
        raise CircuitError(f"edge {label}: weight must be a scalar, vector or matrix")
    return arr if arr.ndim else float(arr)


class Circuit:
    """A directed multigraph of blocks. `circuit.graph` is a plain networkx.MultiDiGraph whose
    nodes are block names (node data 'block') and whose edges carry 'connection'."""

    def __init__(self, name="circuit", registry=None):
        self.name = name
        self.graph = nx.MultiDiGraph()
        self.registry = registry or default_registry
        self.meta = {}   # free-form: environment factory, defaults for the CLI

    def add(self, *blocks):
        for block in blocks:
            if not isinstance(block, Block):
                raise CircuitError(f"circuit '{self.name}': only blocks can be added, got "
                                   f"{type(block).__name__}")
            if block.name in self.graph:
                raise CircuitError(f"circuit '{self.name}' already has a block named "
                                   f"'{block.name}'")
            self.graph.add_node(block.name, block=block)
        return blocks[0] if len(blocks) == 1 else blocks

    def __getitem__(self, name):
        return self.block(name)

    def __contains__(self, name):
        return name in self.graph

    def block(self, name):
        if isinstance(name, Block):
            name = name.name
        if name not in self.graph:
            import difflib
            near = [n for n in self.graph if str(n).lower() == str(name).lower()] or \
                difflib.get_close_matches(str(name), list(self.graph), n=1)
            hint = f" (did you mean '{near[0]}'?)" if near else ""
            raise CircuitError(f"circuit '{self.name}' has no block '{name}'{hint}")
        return self.graph.nodes[name]["block"]

    @property
    def blocks(self):
        return [self.graph.nodes[n]["block"] for n in self.graph]

    def connect(self, src, dst, weight=1.0, density=None, learning_rule=None, delay=0,
                synapse=None, connection_rule=None, self_connections=False, **options):
        """Add an edge; every option is checked now, not at build time."""
        s, d = self.block(src), self.block(dst)
        weight = check_edge(self.registry, s, d, f"{s.name} -> {d.name}", weight, density,
                            learning_rule, delay, connection_rule, self_connections, options)
        key = self.graph.number_of_edges(s.name, d.name)
        conn = Connection(s.name, d.name, weight, density, learning_rule, int(delay), synapse,
                          connection_rule, self_connections, dict(options), key)
        self.graph.add_edge(s.name, d.name, key=key, connection=conn)
        return conn

    @property
    def connections(self):
        return [data["connection"] for _, _, data in self.graph.edges(data=True)]

    def build(self, seed=0):
        """Flatten to a Network of leaf populations and synapse sets (deterministic in seed)."""
        return NetworkBuilder(self, seed).build()


@dataclass
class SynapseSet:
    """Synapses of one kind between two leaf populations (the compiler's unit of work)."""
    pre: Population
    pre_idx: np.ndarray
    post: Population
    post_idx: np.ndarray
    weight: np.ndarray
    synapse: Synapse
    connection: Connection | None
    rule: LearningRule | None = None
    learn_post: Population | None = None
    learn_post_idx: np.ndarray | None = None
    params: dict = field(default_factory=dict)
    delay: int = 0


@dataclass
class Network:
    circuit: Circuit
    seed: int
    populations: dict            # path -> Population
    params: dict                 # path -> {param: per-unit array} (realised draws)
    synapse_sets: list
    paths: dict                  # id(block) -> path

    def path(self, block):
        return self.paths[id(block)]

    @property
    def n_units(self):
        return sum(p.N for p in self.populations.values())

    @property
    def n_plastic(self):
        return sum(len(s.weight) for s in self.synapse_sets if s.rule is not None)


class NetworkBuilder:
    """Walks a circuit through the registry. Builders call `connect` (for inner edges) and
    `add_synapses` (for unit-level synapses)."""

    def __init__(self, circuit, seed):
        self.circuit, self.seed = circuit, int(seed)
        self.populations, self.params, self.paths, self.synapse_sets = {}, {}, {}, []

    def _register(self, block, prefix):
        path = prefix + block.name
        self.paths[id(block)] = path
        if isinstance(block, Population):
            self.populations[path] = block
            rng = stable_rng(self.seed, "block", path)
            self.params[path] = {k: (v(rng, block.N) if callable(v) else v)
                                 for k, v in block.params.items()}
        elif isinstance(block, Composite):
            for part in block.parts.values():
                self._register(part, path + ".")

    def build(self):
        for block in self.circuit.blocks:
            self._register(block, "")
        for block in self.circuit.blocks:
            self._inner(block)
        for conn in self.circuit.connections:
            src, dst = self.circuit.block(conn.src), self.circuit.block(conn.dst)
            rng = stable_rng(self.seed, "edge", conn.src, conn.dst, conn.key)
            self.circuit.registry.lookup(src, dst).builder(self, conn, src, dst, rng)
        self._tie_transposes()
        return Network(self.circuit, self.seed, self.populations, self.params,
                       self.synapse_sets, self.paths)

    def _tie_transposes(self):
        for conn in self.circuit.connections:
            if not isinstance(conn.weight, TransposeOf):
                continue
            mine = [s for s in self.synapse_sets if s.connection is conn]
            theirs = [s for s in self.synapse_sets if s.connection is not None and
                      (s.connection.src, s.connection.dst) == (conn.dst, conn.src)]
            if not theirs:
                raise CircuitError(f"edge {conn.label}: weight=TransposeOf({conn.dst!r}, "
                                   f"{conn.src!r}) but there is no edge {conn.dst} -> {conn.src}")
            source = {}
            for s in theirs:
                for a, b, w in zip(s.pre_idx, s.post_idx, s.weight):
                    source[(id(s.pre), int(a), id(s.post), int(b))] = w
            for s in mine:
                for k, (a, b) in enumerate(zip(s.pre_idx, s.post_idx)):
                    key = (id(s.post), int(b), id(s.pre), int(a))
                    if key not in source:
                        raise CircuitError(f"edge {conn.label}: synapse {a} -> {b} has no "
                                           f"partner in edge {conn.dst} -> {conn.src}")
                    s.weight[k] = source[key]

    def _inner(self, block):
        if not isinstance(block, Composite):
            return
        for part in block.parts.values():
            self._inner(part)
        named = ("weight", "density", "learning_rule", "delay", "synapse", "connection_rule",
                 "self_connections")
        for k, (s, d, kwargs) in enumerate(block.inner):
            src, dst = block.part(s), block.part(d)
            path = self.paths[id(block)]
            fields = {key: kwargs[key] for key in named if key in kwargs}
            options = {key: v for key, v in kwargs.items() if key not in named}
            # the same checks as Circuit.connect, with the edge named by its full path
            fields["weight"] = check_edge(
                self.circuit.registry, src, dst, f"{path}.{s} -> {path}.{d}",
                fields.get("weight", 1.0), fields.get("density"), fields.get("learning_rule"),
                fields.get("delay", 0), fields.get("connection_rule"),
                fields.get("self_connections", False), options)
            conn = Connection(f"{path}.{s}", f"{path}.{d}", **fields, options=options, key=k)
            self.connect(src, dst, conn)

    def connect(self, src, dst, conn):
        """Build an edge between two (inner) blocks through the registry."""
        rng = stable_rng(self.seed, "edge", conn.src, conn.dst, conn.key)
        self.circuit.registry.lookup(src, dst).builder(self, conn, src, dst, rng)

    def add_synapses(self, pre, pre_idx, post, post_idx, weight, synapse, conn, rule=None,
                     learn_post=None, learn_post_idx=None, params=None):
        if not isinstance(synapse, Synapse):
            raise ConnectionError_(f"edge {conn.label}: synapse must be a Synapse")
        if synapse.target_input and synapse.target_input not in post.model.inputs:
            raise ConnectionError_(
                f"edge {conn.label}: synapse '{synapse.name}' feeds input "
                f"'{synapse.target_input}', but model '{post.model.name}' of '{post.name}' has "
                f"inputs: {', '.join(post.model.inputs) or 'none'}")
        if conn.delay and not synapse.on_pre:
            raise ConnectionError_(f"edge {conn.label}: delay={conn.delay} steps, but synapse "
                                   f"'{synapse.name}' has no spike (on_pre) part; delays apply "
                                   "to spike-event edges only")
        pre_idx = np.asarray(pre_idx, dtype=np.int64)
        post_idx = np.asarray(post_idx, dtype=np.int64)
        weight = np.asarray(weight, dtype=float)
        if not (len(pre_idx) == len(post_idx) == len(weight)):
            raise ConnectionError_(f"edge {conn.label}: pre, post and weight lengths differ")
        if len(pre_idx) and (pre_idx.max() >= pre.N or post_idx.max() >= post.N):
            raise ConnectionError_(f"edge {conn.label}: unit index out of range")
        if learn_post is not None and (learn_post_idx is None or
                                       len(learn_post_idx) != len(pre_idx)):
            raise ConnectionError_(f"edge {conn.label}: learn_post_idx needs one index per "
                                   f"synapse ({len(pre_idx)})")
        rule = rule if rule is not None else conn.learning_rule
        syn_params = {}
        for name, default in synapse.params.items():
            value = (params or {}).get(name, conn.options.get(name, default))
            syn_params[name] = np.full(len(pre_idx), float(value))
        self.synapse_sets.append(SynapseSet(pre, pre_idx, post, post_idx, weight, synapse, conn,
                                            rule, learn_post, learn_post_idx, syn_params,
                                            conn.delay))
