"""Intersection extraction for a whole county or province on a Dask cluster, with the layer one process gives.

What runs where, and why:

- **Here, once:** noding and snapping the road lines (`geo.network.build_network`). The repair report counts
  events of the whole network (split points, snapped ends) that no partition could count alone, and an edge's
  geometry, hence a snapped node's coordinates and a junction centre to the last bit, depends on crossings anywhere
  along its line. It is about an eighth of the single-process extraction at a million segments
  (bench/results/network.json). Also here: the village centres (the middle of all of a village's buildings, which
  spans partitions) and the school and market footprints (few, and any distance away), sent to every partition.
- **On the workers:** the junction nodes (three or more edge ends) are cut along a Hilbert curve
  (`analysis.partitioned`). Each partition gets a halo: every network edge and every building within `overlap` of
  the hull of its nodes. The edges make a small network on which `geo.junctions.find_junctions` consolidates the
  nodes and follows the legs exactly as on the whole one, and `analysis.intersections` describes each intersection
  (classes, skew, sight triangles, built-up area, distances). An intersection is kept by the partition holding its
  smallest member node, so each is kept exactly once.
- **Here, last:** the kept intersections are put in one process's order (it numbers them by their smallest node, and
  nodes are numbered in coordinate order), matched against the survey and numbered (`intersections.assemble`).

The overlap is the farthest any step looks from an intersection centre (`description_radius`: the longest sight
triangle side, the reach of the built-up test, consolidation and leg-following), plus `SPREAD_M` for how far a
cluster's nodes may lie from its smallest one. Within `overlap` of the hull the small network is the whole one:
an edge passing a node is in the halo, so the node's degree is right. A worker reports how far its kept clusters
reach; a partition whose clusters reach beyond what its halo covers (a long chain of nodes each within the
consolidation distance of the next) is run again with a wider halo, so the answer is exact whatever the chain.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from analysis.intersections import (
    Extraction,
    ExtractRules,
    _Context,
    _describe,
    _village_centres,
    assemble,
    building_footprints,
    road_network,
)
from analysis.partitioned import hilbert_groups, hull_of, partition_count, within
from geo.junctions import Junctions, find_junctions
from geo.network import RoadNetwork
from layers import LAYERS

#: [K] How far (m) an intersection's nodes are first assumed to lie from its smallest node: more than a dual
#: carriageway junction or a village roundabout spans. A partition whose clusters reach farther is run again.
SPREAD_M = 100.0


@dataclass(frozen=True)
class PartitionedExtraction:
    """The extraction, as one process gives it, and how the work was cut."""

    extraction: Extraction
    partitions: int
    overlap_m: float  # the halo width the partitions started with
    halo: list[int]  # edges and buildings read beside each partition's own nodes (its last run)
    across: int  # intersections with an approach edge leaving their partition's hull (read through the halo)
    widened: int  # partition runs repeated with a wider halo because a cluster reached beyond it


def description_radius(rules: ExtractRules, widest_m: float) -> float:
    """The farthest (m) the description of an intersection looks from its centre, for buildings `widest_m` across.

    A sight triangle reaches one stopping sight distance up the major road and the eye distance up the minor one. A
    centre is built up when within settlement_buffer_m of a building whose group (buildings linked within twice
    that) has settlement_min_buildings members, m say; any m members of a group are found within m − 1 links of one
    of them, each link adding at most twice the buffer and a building across. Consolidation and leg-following look
    consolidate_m and approach_m from a node.
    """
    sight = max([*rules.sight.stopping_sight_m.values(), rules.sight.eye_m])
    m = max(rules.settlement_min_buildings, 1)
    buffer = rules.settlement_buffer_m
    settled = buffer + (m - 1) * 2 * buffer + m * widest_m
    return float(max(sight, settled, rules.network.consolidate_m, rules.network.approach_m))


def extract_partitioned(
    roads: gpd.GeoDataFrame,
    client: Any,
    *,
    buildings: gpd.GeoDataFrame | None = None,
    villages: gpd.GeoDataFrame | None = None,
    surveyed: gpd.GeoDataFrame | None = None,
    rules: ExtractRules = ExtractRules(),
    partitions: int | None = None,
) -> PartitionedExtraction:
    """`analysis.intersections.extract` over spatial partitions on the cluster behind `client`: the same layer,
    report and repairs."""
    attrs, net = road_network(roads, rules)
    nodes = np.flatnonzero(net.degree >= rules.network.min_legs)
    footprints, building_ids, by_use = building_footprints(buildings)
    centres = _village_centres(villages, buildings, footprints) if villages is not None and len(villages) else []
    bounds = shapely.bounds(footprints)
    widest = float(np.hypot(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1]).max()) if len(bounds) else 0.0
    radius = description_radius(rules, widest)
    overlap = radius + SPREAD_M + 1.0
    if not len(nodes):
        found = assemble(len(roads), net, 0, [], np.empty((0, 2)), surveyed, rules)
        return PartitionedExtraction(found, 0, overlap, [], 0, 0)

    points = shapely.points(net.node_xy[nodes])
    groups = hilbert_groups(points, partition_count(client, partitions, len(nodes)))
    edge_tree, building_tree = shapely.STRtree(net.edges), shapely.STRtree(footprints)
    by_use_there, centres_there = client.scatter([by_use, centres], broadcast=True, hash=False)  # the same for all

    def submit(own: np.ndarray, width: float):
        hull = hull_of(points[own])
        sub, node_ids, sources = _subnetwork(net, within(edge_tree, hull, width))
        near = within(building_tree, hull, width)
        task = client.submit(
            _owned_intersections, sub, attrs.iloc[sources], node_ids, nodes[own], hull, footprints[near],
            building_ids[near], by_use=by_use_there, centres=centres_there, rules=rules, pure=False,
        )  # fmt: skip
        return task, len(sub.edges) + len(near)

    width = dict.fromkeys(range(len(groups)), overlap)
    done: dict[int, tuple] = {}
    halo = [0] * len(groups)
    widened = 0
    while len(done) < len(groups):
        todo = [i for i in range(len(groups)) if i not in done]
        runs = {i: submit(groups[i], width[i]) for i in todo}
        for i, result in zip(todo, client.gather([runs[i][0] for i in todo]), strict=True):
            halo[i] = runs[i][1]
            reach = result[-1]
            if reach + radius > width[i]:  # a cluster may go on beyond the halo: look again, at least twice as wide
                width[i] = max(reach + radius + SPREAD_M, 2 * width[i])
                widened += 1
            else:
                done[i] = result
    records, xy, across = _in_one_process_order([done[i] for i in range(len(groups))])
    found = assemble(len(roads), net, len(nodes), records, xy, surveyed, rules)
    return PartitionedExtraction(found, len(groups), overlap, halo, across, widened)


def _subnetwork(net: RoadNetwork, edges: np.ndarray) -> tuple[RoadNetwork, np.ndarray, np.ndarray]:
    """The network of some of the edges (ascending), its nodes and source lines renumbered in the same order and
    degrees counted over these edges; with the whole network's ids of its nodes and of its source lines."""
    ends = net.edge_nodes[edges]
    node_ids, local_ends = np.unique(ends.ravel(), return_inverse=True)
    sources, local_source = np.unique(net.edge_source[edges], return_inverse=True)
    local_ends = local_ends.reshape(ends.shape)
    sub = RoadNetwork(
        edges=net.edges[edges],
        edge_source=local_source,
        edge_nodes=local_ends,
        node_xy=net.node_xy[node_ids],
        degree=np.bincount(local_ends.ravel(), minlength=len(node_ids)),
        edge_grade_separated=net.edge_grade_separated[edges],
        edge_keys=None if net.edge_keys is None else net.edge_keys[edges],
        repairs=net.repairs,
        params=net.params,
    )
    return sub, node_ids, sources


def _owned_intersections(
    net: RoadNetwork,
    attrs: pd.DataFrame,
    node_ids: np.ndarray,
    own: np.ndarray,
    hull: shapely.Geometry,
    footprints: np.ndarray,
    building_ids: np.ndarray,
    *,
    by_use: dict,
    centres: list,
    rules: ExtractRules,
) -> tuple[list[dict], np.ndarray, np.ndarray, int, float]:
    """The intersections whose smallest node is the partition's own, described (run on a worker).

    Returns their records and centres, the whole network's id of each one's smallest node, how many have an
    approach edge leaving the hull, and how far from the hull their nodes reach (m).
    """
    junctions = find_junctions(net, rules.network)
    smallest = node_ids[junctions.member_nodes[junctions.node_ptr[:-1]]]
    owned = np.isin(smallest, own)
    mine = _only(junctions, np.flatnonzero(owned))
    records = _describe(mine, net, attrs, _Context(footprints, building_ids, by_use, centres), rules)
    reach = float(shapely.distance(hull, shapely.points(net.node_xy[mine.member_nodes])).max(initial=0.0))
    approaches = mine.approach_table
    leaving = ~shapely.covers(hull, net.edges[approaches["edge"].to_numpy(dtype=int)])
    across = len(np.unique(approaches["junction"].to_numpy()[leaving]))
    return records, mine.xy, smallest[owned], across, reach


def _only(junctions: Junctions, keep: np.ndarray) -> Junctions:
    """The intersections `keep` (ascending) alone, numbered from 0 in the same order."""
    new = np.full(len(junctions), -1)
    new[keep] = np.arange(len(keep))

    def rows(table: pd.DataFrame) -> pd.DataFrame:
        number = new[table["junction"].to_numpy(dtype=int)]
        return table[number >= 0].assign(junction=number[number >= 0]).reset_index(drop=True)

    counts = np.diff(junctions.node_ptr)[keep]
    members = [junctions.nodes(i) for i in keep]
    return dataclasses.replace(
        junctions,
        xy=junctions.xy[keep],
        legs=junctions.legs[keep],
        node_ptr=np.concatenate([[0], np.cumsum(counts)]).astype(int),
        member_nodes=np.concatenate(members) if members else np.empty(0, dtype=int),
        leg_table=rows(junctions.leg_table),
        approach_table=rows(junctions.approach_table),
    )


def _in_one_process_order(parts: list[tuple]) -> tuple[list[dict], np.ndarray, int]:
    """The partitions' intersections together, in one process's order (by smallest node), and how many were read
    across a partition edge."""
    records = [r for part in parts for r in part[0]]
    xy = np.concatenate([part[1] for part in parts]).reshape(-1, 2)
    order = np.argsort(np.concatenate([part[2] for part in parts]), kind="stable")
    return [records[i] for i in order], xy[order], sum(part[3] for part in parts)


def intersections_on(
    layers, client: Any, rules: ExtractRules = ExtractRules(), roads=None, *, partitions: int | None = None
) -> PartitionedExtraction:
    """`analysis.runs.intersections` on a cluster: extract from the roads (or `roads`), replace the layer."""
    read = {name: layers.read(LAYERS[name]) for name in ("buildings", "villages", "intersections")}
    found = extract_partitioned(
        layers.read(LAYERS["roads"]) if roads is None else roads, client, buildings=read["buildings"],
        villages=read["villages"], surveyed=read["intersections"], rules=rules, partitions=partitions,
    )  # fmt: skip
    layers.replace(LAYERS["intersections"], found.extraction.frame)
    return found
