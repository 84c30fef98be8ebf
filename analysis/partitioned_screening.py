"""事故多发点段 screening of a whole province on a Dask cluster, in phases, with the result one process gives.

The screening is not one embarrassingly parallel step: whether a route is 高速/一级 depends on all of it, a route's
windows run along the whole route, a crash counted in a spot does not count again in a wider window, and the
Empirical Bayes calibration sums over every local site. So it runs in phases, each where its step allows:

1. **Here: the routes** (`analysis.routes.Routes`): each route's roads merged into parts, positions measured along
   them. One process measures a position along a part from a running sum over the vertices of every part before it,
   in route order; routes merged apart, by route tasks, would put positions a rounding error off, which moves a
   finding's geometry in the last digit and can tip a window whose end falls on a crash. So this stays in one
   process, and what depends on whole routes (高速/一级, the parts) comes from here. It is the largest stage (two
   fifths of the single-process time at 100,000 roads, bench/results/screening.json), and bounds the speed-up.
2. **On the workers: placing** (tasks: runs of the crash and junction points along a Hilbert curve,
   `analysis.partitioned`). Each task places its own crashes on a road (their own road within max_snap_m, else the
   nearest), finds the roads at its own junctions (legs, volumes, hence each spot's radius) and every crash within
   a junction's reach: the spatial index queries, which are most of the work that scales with the crashes. Halo,
   from the hull of the task's points: the roads within max_snap_m (the leg tolerance is smaller) and the crashes
   within the largest junction reach (the 高速/一级 spot radius or the EB intersection radius). A task's crashes
   are placed on their pieces exactly as on the whole network, and its (junction, crash) pairs are the same
   pairs at the same distances.
3. **Here: the intersection spots, the route windows and the EB second opinion** (`screening.screen_placed`, the
   rest of the single-process screening). Spots are taken strongest first over all junctions, and a spot's fresh
   crashes depend on every stronger spot sharing a crash with it, and that one's on the next: a chain with no
   bound. Section spots, then segments, slide along the whole routes of phase 1. A calibration factor sums over
   every local site of a type, and partial sums added in another order could differ in the last bit. These loops
   run over candidates and sites, not the spatial index, and are a small part of the time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import shapely

from analysis.partitioned import hilbert_groups, hull_of, partition_count, within
from analysis.routes import SLACK_M, Routes
from analysis.screening import (
    Rules,
    ScreeningResult,
    _Clock,
    _Crashes,
    _crashes_near_junctions,
    _Junctions,
    _points,
    _points_xy,
    screen_placed,
    to_frame,
)
from layers import LAYERS


@dataclass(frozen=True)
class PartitionedScreening:
    """The screening, as one process gives it, and how the placing was cut."""

    result: ScreeningResult
    partitions: int  # runs of crash and junction points
    overlap_m: float  # how far beyond a partition's points its crashes were read
    halo: list[int]  # roads and other partitions' crashes read beside each partition's own points
    across: int  # (junction, crash) pairs within reach whose crash belongs to another partition


def screen_partitioned(
    accidents: pd.DataFrame,
    intersections: pd.DataFrame,
    roads: pd.DataFrame,
    as_of: date,
    client: Any,
    rules: Rules = Rules(),
    *,
    partitions: int | None = None,
) -> PartitionedScreening:
    """`analysis.screening.run_screening` with the crashes placed and the junctions read on the cluster behind
    `client`: the same findings, unplaced crashes, site table and notes."""
    clock = _Clock()
    crashes = _Crashes.of(accidents, as_of, rules)
    clock.lap("counted")
    network = Routes(roads, rules.high_grade_classes)
    clock.lap("network")
    junction_xy = _points_xy(intersections.geometry.to_numpy())
    placing = _Placing(network, roads, intersections, junction_xy, rules)
    piece, legs, near, cut = placing.run(client, crashes, partitions)
    clock.lap("snap")
    road_high = network.route_high[network.route_of_road]
    junctions = _Junctions(intersections, junction_xy, legs, road_high, network.aadt, rules)
    result = screen_placed(crashes, network, piece, junctions, near, intersections, rules, clock)
    return PartitionedScreening(result, *cut)


class _Placing:
    """Crashes placed on roads and junctions read, by runs of points along a Hilbert curve, each with its halo."""

    def __init__(self, network: Routes, roads: pd.DataFrame, intersections, junction_xy, rules: Rules) -> None:
        self.network, self.roads, self.rules = network, roads, rules
        self.intersections, self.junction_xy = intersections, junction_xy
        self.road_reach = max(rules.max_snap_m, rules.leg_tolerance_m) + SLACK_M + 1.0
        reach = max(rules.spot_radius_m, rules.high_junction_radius_m, rules.eb.intersection_radius_m)
        self.crash_reach = reach + SLACK_M + 1.0

    def run(self, client: Any, crashes: _Crashes, partitions: int | None):
        """Each crash's piece of the whole network (−1: not placed), the junctions' legs and the (junction, crash,
        distance) rows as one process finds them; and (partitions, overlap, halo, across)."""
        xy, network = crashes.xy, self.network
        piece = np.full(len(xy), -1)
        located = np.flatnonzero(np.isfinite(xy).all(axis=1))
        valid = np.flatnonzero(np.isfinite(self.junction_xy).all(axis=1))
        points = shapely.points(np.concatenate([xy[located], self.junction_xy[valid]]))
        empty = np.zeros(0, dtype=int)
        if not len(points):
            return piece, (empty, empty, empty), (empty, empty, np.zeros(0)), (0, self.crash_reach, [], 0)
        groups = hilbert_groups(points, partition_count(client, partitions, len(points)))
        roads_tree, crash_tree = shapely.STRtree(network.pieces), shapely.STRtree(points[: len(located)])
        owner = np.full(len(points), -1)
        tasks, halo = [], []
        for number, own in enumerate(groups):
            owner[own] = number
            hull = hull_of(points[own])
            mine, theirs = located[own[own < len(located)]], valid[own[own >= len(located)] - len(located)]
            roads = np.unique(network.piece_road[within(roads_tree, hull, self.road_reach)])
            near = located[within(crash_tree, hull, self.crash_reach)] if len(theirs) else empty
            halo.append(len(roads) + len(np.setdiff1d(near, mine)))
            task = client.submit(
                _place, self.roads.iloc[roads], network.route_high[network.route_of_road[roads]], xy[mine],
                crashes.road_ids[mine], self.intersections.iloc[theirs], self.junction_xy[theirs], xy[near], self.rules,
                pure=False,
            )  # fmt: skip
            tasks.append((task, roads, mine, theirs, near))
        legs, rows = [], []
        for (_, roads, mine, theirs, near), out in zip(tasks, client.gather([t[0] for t in tasks]), strict=True):
            road, rank = out["road"], out["rank"]
            placed = road >= 0
            whole = roads[road[placed]]  # the road's position in the layer; its pieces are consecutive there
            piece[mine[placed]] = np.searchsorted(network.piece_road, whole) + rank[placed]
            j, r, count = out["legs"]
            legs.append((theirs[j], roads[r], count))
            k, c, d = out["near"]
            rows.append((theirs[k], near[c], d))
        k, c, d = (np.concatenate([row[i] for row in rows]) for i in range(3))
        order = np.lexsort((c, k))  # as `_crashes_near_junctions` orders them
        crash_owner = np.full(len(xy), -1)
        crash_owner[located] = owner[: len(located)]
        junction_owner = np.full(len(self.junction_xy), -1)
        junction_owner[valid] = owner[len(located) :]
        across = int((crash_owner[c] != junction_owner[k]).sum())
        legs_rows = tuple(np.concatenate([row[i] for row in legs]) for i in range(3))
        return piece, legs_rows, (k[order], c[order], d[order]), (len(groups), self.crash_reach, halo, across)


def _place(roads, road_high, xy, road_ids, intersections, junction_xy, near_xy, rules: Rules) -> dict:
    """A partition's crashes placed on the halo's roads, its junctions' legs, and the crashes within their reach
    (run on a worker). Roads are given by position among `roads`; a crash's piece by its rank within its road.

    The halo's routes are partial here, so whether a road's route is 高速/一级 is given (`road_high`).
    """
    network = Routes(roads)
    snapped = network.snap(xy, road_ids, rules.max_snap_m)
    placed = snapped.piece >= 0
    road = np.full(len(xy), -1)
    road[placed] = network.piece_road[snapped.piece[placed]]
    rank = np.zeros(len(xy), dtype=int)
    rank[placed] = snapped.piece[placed] - np.searchsorted(network.piece_road, road[placed])
    legs = network.legs(_points(junction_xy), rules.leg_tolerance_m)
    junctions = _Junctions(intersections, junction_xy, legs, road_high, network.aadt, rules)
    near = _crashes_near_junctions(near_xy, junctions, rules.eb.intersection_radius_m)
    return {"road": road, "rank": rank, "legs": legs, "near": near}


def blackspots_on(
    layers, as_of: date, client: Any, rules: Rules = Rules(), *, partitions: int | None = None
) -> tuple[PartitionedScreening, Any]:
    """`analysis.runs.blackspots` on a cluster: screen, then replace the accident_segments layer."""
    read = {name: layers.read(LAYERS[name]) for name in ("accidents", "intersections", "roads")}
    found = screen_partitioned(
        read["accidents"], read["intersections"], read["roads"], as_of, client, rules, partitions=partitions
    )
    frame = to_frame(found.result.findings, read["accidents"], as_of, rules)
    layers.replace(LAYERS["accident_segments"], frame)
    return found, frame
