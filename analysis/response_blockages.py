"""The blockages a fire engine meets, from the fire-lane analysis, placed on the road and fire-lane network.

Which lane an obstruction stands on, whether it blocks and whether a lane is too narrow or too low (GB 50016 §7.1.8)
are decided once, by `analysis.fire_lanes`. Here each finding becomes a blockage of the response network: a lane
blocked by its own width or clear height closes along its whole length; a blocking obstruction cuts its lane at the
foot of its recorded point on that lane's nearest edge, the point the lane analysis placed it at, found in metres
without a round trip through lon/lat.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import shapely

from analysis.fire_lanes import FireLaneAnalysis
from analysis.response_network import ResponseNetwork
from geo.network import run_starts

_BLOCKAGE_COLUMNS = [
    "kind",
    "obstruction_fid",
    "lane_fid",
    "edge",
    "position_m",
    "detail",
    "responsible_party",
    "party_type",
]


def place_blockages(
    network: ResponseNetwork, lanes: FireLaneAnalysis, recorded_m: pd.Series
) -> tuple[pd.DataFrame, list[int]]:
    """The lane analysis's blockages on the network, numbered 0..: lanes closed whole first, then cuts, by fid.

    `recorded_m` holds each obstruction's recorded point in the network's metres, indexed by fid. Columns: kind
    ("lane" or "obstruction"), obstruction_fid, lane_fid, edge and position_m (of a cut), detail, responsible_party
    and party_type. Also returns the blocking obstructions whose lane has no edge in the network (nothing to cut).
    """
    rules = lanes.rules
    rows = []
    for lane in lanes.lanes:
        causes = {s.cause for s in lane.stretches}
        reasons = []
        if "lane_width" in causes:
            reasons.append(f"净宽 {lane.width_m:g} m < {rules.min_clear_width_m:g} m")
        if "clear_height" in causes:
            reasons.append(f"净高 {lane.clear_height_m:g} m < {rules.min_clear_height_m:g} m")
        if reasons:
            rows.append(
                {
                    "kind": "lane",
                    "obstruction_fid": None,
                    "lane_fid": lane.fid,
                    "edge": -1,
                    "position_m": math.nan,
                    "detail": "；".join(reasons),
                    "responsible_party": None,
                    "party_type": None,
                }
            )
    cuts = [o for o in lanes.obstructions if o.effect == "blocks"]
    points = np.asarray(recorded_m.loc[[o.fid for o in cuts]].to_numpy(), dtype=object)
    edge, position = _on_own_lane(network, np.array([o.lane_fid for o in cuts], dtype=np.int64), points)
    for o, e, at in zip(cuts, edge.tolist(), position.tolist(), strict=True):
        if e < 0:
            continue
        if o.remaining_width_m is None:
            detail = "剩余净宽未测，按堵塞计"
        else:
            detail = f"剩余净宽 {o.remaining_width_m:g} m < {rules.min_clear_width_m:g} m"
        rows.append(
            {
                "kind": "obstruction",
                "obstruction_fid": o.fid,
                "lane_fid": o.lane_fid,
                "edge": e,
                "position_m": at,
                "detail": detail,
                "responsible_party": o.responsible_party,
                "party_type": o.party_type,
            }
        )
    table = pd.DataFrame(rows, columns=_BLOCKAGE_COLUMNS)
    table.index.name = "blockage"
    return table, [o.fid for o, e in zip(cuts, edge.tolist(), strict=True) if e < 0]


def _on_own_lane(network: ResponseNetwork, lane_fids: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points on lanes: the nearest edge of each one's own lane (ties: the lowest; -1 for none) and metres along it."""
    n = len(points)
    edge = np.full(n, -1, np.int64)
    position = np.full(n, np.nan)
    lane_e = np.flatnonzero(network.edge_lane >= 0)
    if n == 0 or len(lane_e) == 0:
        return edge, position
    lane_e = lane_e[np.argsort(network.edge_lane[lane_e], kind="stable")]
    keys = network.edge_lane[lane_e]
    lo = np.searchsorted(keys, lane_fids, side="left")
    count = np.searchsorted(keys, lane_fids, side="right") - lo
    q = np.repeat(np.arange(n), count)
    e = lane_e[np.repeat(lo, count) + np.arange(len(q)) - np.repeat(np.cumsum(count) - count, count)]
    order = np.lexsort((e, shapely.distance(points[q], network.edges[e]), q))
    q, e = q[order], e[order]
    first = run_starts(q)
    q, e = q[first], e[first]
    edge[q] = e
    position[q] = shapely.line_locate_point(network.edges[e], points[q])
    return edge, position
