"""The job graph: which job's output feeds which, in order; its cycles, chains, shards and drawings.

Nodes are job keys (`recipe-path::job`); `upstream[key]` is the set of keys whose outputs the job
takes as inputs. Every order is deterministic: ties go by key.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable, Mapping

Edges = Mapping[str, Iterable[str]]
NEWLINE = "\n"


def toposort(nodes: Iterable[str], upstream: Edges) -> tuple[list[str], list[str]]:
    """The nodes upstream first, and those left over because they sit on or behind a cycle."""
    nodes = sorted(set(nodes))
    known = set(nodes)
    waiting = {n: {u for u in upstream.get(n, ()) if u in known} for n in nodes}
    downstream: dict[str, list[str]] = {n: [] for n in nodes}
    for node, ups in waiting.items():
        for up in ups:
            downstream[up].append(node)
    ready = [n for n in nodes if not waiting[n]]
    heapq.heapify(ready)
    order = []
    while ready:
        node = heapq.heappop(ready)
        order.append(node)
        for down in downstream[node]:
            waiting[down].discard(node)
            if not waiting[down]:
                heapq.heappush(ready, down)
    done = set(order)
    return order, [n for n in nodes if n not in done]


def cycles(nodes: Iterable[str], upstream: Edges) -> list[list[str]]:
    """Cycles among `nodes`, each once, as its nodes from its smallest key following the inputs."""
    known = set(nodes)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []
    found: dict[tuple[str, ...], list[str]] = {}

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for up in sorted(u for u in upstream.get(node, ()) if u in known):
            if state.get(up) == 1:
                cycle = path[path.index(up) :]
                first = cycle.index(min(cycle))
                rotated = cycle[first:] + cycle[:first]
                found.setdefault(tuple(rotated), rotated)
            elif up not in state:
                visit(up)
        path.pop()
        state[node] = 2

    for node in sorted(known):
        if node not in state:
            visit(node)
    return sorted(found.values())


def closure(keys: Iterable[str], upstream: Edges) -> set[str]:
    """`keys` and every job they need, however far upstream."""
    out: set[str] = set()
    todo = list(keys)
    while todo:
        key = todo.pop()
        if key not in out:
            out.add(key)
            todo.extend(upstream.get(key, ()))
    return out


def components(keys: Iterable[str], upstream: Edges) -> list[list[str]]:
    """The connected chains among `keys` (edges outside them ignored), each sorted, in key order."""
    keys = set(keys)
    parent = {k: k for k in keys}

    def find(k: str) -> str:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for key in keys:
        for up in upstream.get(key, ()):
            if up in keys:
                parent[find(key)] = find(up)
    groups: dict[str, list[str]] = {}
    for key in sorted(keys):
        groups.setdefault(find(key), []).append(key)
    return sorted(groups.values())


def shard_chains(keys: Iterable[str], upstream: Edges, index: int, count: int) -> set[str]:
    """Shard `index` of `count` (1-based): whole chains, the largest first to the lightest shard,
    so every connected chain runs on one machine and shards stay balanced."""
    load = [0] * count
    mine: set[str] = set()
    for chain in sorted(components(keys, upstream), key=lambda c: (-len(c), c[0])):
        lightest = min(range(count), key=lambda i: (load[i], i))
        load[lightest] += len(chain)
        if lightest == index - 1:
            mine.update(chain)
    return mine


def dot(nodes: Mapping[str, str], upstream: Edges) -> str:
    """Graphviz: one node per job, labelled with its status, an edge from each input to its job."""
    lines = ["digraph wanform {", "  rankdir=LR;"]
    lines += [f"  {json.dumps(k)} [label={json.dumps(k + NEWLINE + v)}];" for k, v in nodes.items()]
    lines += [
        f"  {json.dumps(up)} -> {json.dumps(k)};"
        for k in nodes
        for up in sorted(upstream.get(k, ()))
        if up in nodes
    ]
    return "\n".join(lines + ["}"]) + "\n"


def mermaid(nodes: Mapping[str, str], upstream: Edges) -> str:
    """Mermaid flowchart of the same graph."""
    ids = {k: f"j{i}" for i, k in enumerate(nodes)}

    def label(text: str) -> str:
        return text.replace('"', "#quot;")

    lines = ["flowchart LR"]
    lines += [f'  {ids[k]}["{label(k)}<br/>{label(v)}"]' for k, v in nodes.items()]
    lines += [
        f"  {ids[up]} --> {ids[k]}"
        for k in nodes
        for up in sorted(upstream.get(k, ()))
        if up in nodes
    ]
    return "\n".join(lines) + "\n"
