"""The order groups update in within a step: sources before targets, instantaneous chains
resolved, algebraic loops refused (a pass of its own so it can be tested without Numba)."""
from __future__ import annotations

import networkx as nx

from circuitdsl.errors import BuildError


def topological_groups(groups, projections):
    """Groups in update order. Cycles are common (E <-> I): they are condensed and keep
    first-appearance order inside, except that a group whose input reads another's input this
    step (an instantaneous chain: cue -> layer -> readout -> plant) comes after it. Reads the
    bound projections, so it runs after binding."""
    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(groups)))
    instant = nx.DiGraph()
    for p in projections:
        a, b = p.pre.index, p.post.index
        if a == b:
            continue
        graph.add_edge(a, b)
        if instantaneous(p):
            for s in p.sets:
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
                raise BuildError(f"edges {', '.join(edges)} form an algebraic loop: each block "
                                 "reads the previous one's input within the same step; put a "
                                 "state (a unit with dynamics) somewhere on the loop")
            members = list(nx.lexicographical_topological_sort(sub, key=lambda i: i))
        order.extend(members)
    return [groups[i] for i in order]


def instantaneous(p):
    """Does projection p's current read its presynaptic units' inputs of the same step
    (through a derived quantity of the presynaptic model)?"""
    if p.current is None or p.synapse.feedback or not p.pre.model.inputs:
        return False
    m = p.pre.model
    read = {s.name[len("pre__"):] for s in p.current.expr.free_symbols
            if s.name.startswith("pre__")}
    return any(name in m.derived and
               set(m.inputs) & {x.name for x in m.expand(m.derived[name]).free_symbols}
               for name in read)
