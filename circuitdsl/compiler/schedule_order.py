"""The order groups update in within a step: sources before targets, instantaneous chains
resolved, algebraic loops refused (a pass of its own so it can be tested without Numba)."""
from __future__ import annotations

import re

import networkx as nx

from circuitdsl.errors import BuildError


def topological_groups(groups, network):
    """Groups in update order. Cycles are common (E <-> I): they are condensed and keep
    first-appearance order inside, except that a group whose input reads another's input this
    step (an instantaneous chain: cue -> layer -> readout -> plant) comes after it."""
    g_of = {id(p): g.index for g in groups for _, p, _ in g.pops}
    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(groups)))
    instant = nx.DiGraph()
    for s in network.synapse_sets:
        a, b = g_of[id(s.pre)], g_of[id(s.post)]
        if a != b:
            graph.add_edge(a, b)
            if instantaneous(s):
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


def instantaneous(s):
    """Does this synapse's current read the presynaptic unit's inputs of the same step (through
    a derived quantity of the presynaptic model)?"""
    syn = s.synapse
    if not syn.current or syn.feedback or not s.pre.model.inputs:
        return False
    m = s.pre.model
    # The synapse's own text names what it reads as `pre.X`; X is checked against the model.
    for name in re.findall(r"\bpre\.(\w+)", syn.current):
        if name in m.derived and \
                set(m.inputs) & {x.name for x in m.expand(m.derived[name]).free_symbols}:
            return True
    return False
