"""A small planar road graph: nodes, edges and shortest paths (no graph library needed)."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
from shapely.geometry import LineString, Point


@dataclass
class Edge:
    """One road feature between two nodes; `cls` is its admin class once routes are assigned."""

    a: int
    b: int
    line: LineString
    cls: str | None = None
    code: str | None = None
    name: str = ""
    grade_separated: bool = False
    forced: bool = False

    def other(self, node: int) -> int:
        """The node at the far end from `node`."""
        return self.b if node == self.a else self.a


@dataclass
class Graph:
    """Nodes (metric coordinates) and edges; the fid of edge k is k + 1."""

    nodes: list[tuple[float, float]] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def add_node(self, xy: Iterable[float]) -> int:
        """Append a node and return its index."""
        x, y = xy
        self.nodes.append((float(x), float(y)))
        return len(self.nodes) - 1

    def point(self, node: int) -> Point:
        """The node as a shapely point."""
        return Point(self.nodes[node])

    def incident(self) -> list[list[int]]:
        """Edge indices at each node."""
        out: list[list[int]] = [[] for _ in self.nodes]
        for k, e in enumerate(self.edges):
            out[e.a].append(k)
            out[e.b].append(k)
        return out

    def degree(self) -> np.ndarray:
        """Number of road features meeting at each node."""
        return np.array([len(ks) for ks in self.incident()])

    def shortest(self, sources: Iterable[int], target: int, weight: Callable[[Edge], float | None]) -> list[int] | None:
        """Edge indices of the cheapest path from any source to `target`; weight None bars an edge."""
        incident = self.incident()
        dist = dict.fromkeys(sources, 0.0)
        back: dict[int, int] = {}
        heap = [(0.0, s) for s in sorted(dist)]
        heapq.heapify(heap)
        done: set[int] = set()
        while heap:
            d, n = heapq.heappop(heap)
            if n in done:
                continue
            done.add(n)
            if n == target:
                path = []
                while n in back:
                    k = back[n]
                    path.append(k)
                    n = self.edges[k].other(n)
                return path[::-1]
            for k in incident[n]:
                w = weight(self.edges[k])
                if w is None:
                    continue
                m = self.edges[k].other(n)
                if d + w < dist.get(m, np.inf):
                    dist[m] = d + w
                    back[m] = k
                    heapq.heappush(heap, (d + w, m))
        return None

    def component_of(self, start: int) -> set[int]:
        """Nodes reachable from `start`."""
        incident = self.incident()
        seen, stack = {start}, [start]
        while stack:
            n = stack.pop()
            for k in incident[n]:
                m = self.edges[k].other(n)
                if m not in seen:
                    seen.add(m)
                    stack.append(m)
        return seen
