"""Travel times from every emergency resource to a clicked incident point, over the road and fire-lane network.

The emergency officer clicks where something happened; the panel must say within moments how many minutes the
nearest fire station, micro fire station, clinic and rescue team need to get there by road (domain.md §7: the 5 min
and 3 min standards are judged on these times). The network, the blockages and each resource's place on the
network are made once (`IncidentRouter.build`); each click is then one single-source Dijkstra from the incident.

- **Network and speeds** are the fire-engine response's (`analysis.response_network`, `ResponseParams` [K]): roads
  and fire lanes as one undirected graph, travel time = length over the class speed. Every vehicle is timed at the
  engine speeds; an ambulance is assumed no faster on these roads [K].
- **Blockages** are those of today's survey by default, as in the response analysis's "blocked" scenario: a lane
  too narrow or too low closes whole, a blocking obstruction cuts its lane (`analysis.fire_lanes` decides which).
- **A resource** reaches the network at the nearest point of the nearest edge, after its turn-out time and the
  drive across its yard (`turnout_s`, `station_yard_kmh`); farther than `access_max_m` it is reported, unreachable.
- **The incident** snaps to its nearest edge the same way; the crew walks the rest (`access_kmh`). Farther than
  `access_max_m` from every road and lane the click is refused with `IncidentOffNetwork`. An incident on a lane
  closed by a blockage cannot be reached by road while the blockage stands.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from analysis.fire_lanes import FireLaneAnalysis, analyse_fire_lanes
from analysis.response_blockages import place_blockages
from analysis.response_network import (
    ResponseGraph,
    ResponseNetwork,
    column_values,
    layers_network,
    metric_geoms,
    response_graph,
    snap,
)
from analysis.response_params import ResponseParams, class_key, missing
from geo.crs import WGS84, transformer
from geo.errors import GeoError
from layers.vocab import ResourceKind

#: The kinds the incident panel asks for by default: fire engines, clinics and rescue teams.
PANEL_KINDS = (
    ResourceKind.FIRE_STATION.value,
    ResourceKind.MICRO_FIRE_STATION.value,
    ResourceKind.TOWNSHIP_CLINIC.value,
    ResourceKind.VILLAGE_CLINIC.value,
    ResourceKind.RESCUE_TEAM.value,
)

#: Columns of `IncidentRouter.times_to`, in order.
TIME_COLUMNS = [
    "fid",
    "kind",
    "kind_label",
    "name",
    "seconds",
    "minutes",
    "metres",
    "drive_s",
    "start_s",
    "walk_s",
    "setback_m",
    "on_network",
]


class IncidentOffNetwork(GeoError, ValueError):
    """The incident point lies farther from every road and fire lane than the access distance."""


@dataclass(frozen=True, eq=False)
class IncidentRouter:
    """The network, its blockages and every resource's place on it, made once and queried per clicked point.

    `resources` is indexed by the resource's fid: kind, name, whether it reaches the network, its set-back from
    the road (m) and the seconds before its vehicle is on the road (turn-out plus yard). The sparse graph (`_indptr`,
    `_indices`, `_time_s`, `_length_m`, `_keys`) holds both directions of each open piece, sorted by (from, to), with
    one spare row for the incident.
    """

    params: ResponseParams
    network: ResponseNetwork
    graph: ResponseGraph
    blockages: pd.DataFrame  # the blockages modelled (empty when built without them)
    blocked: bool  # whether the blockages are in place
    resources: pd.DataFrame
    _piece: np.ndarray  # each resource's piece, -1 off the network
    _offset_m: np.ndarray  # metres from the piece's start
    _u: np.ndarray  # piece ends and openness with the blockages as built
    _v: np.ndarray
    _open: np.ndarray
    _indptr: np.ndarray
    _indices: np.ndarray
    _time_s: np.ndarray
    _length_m: np.ndarray
    _keys: np.ndarray  # row * (n_nodes + 1) + column of each entry, ascending

    @classmethod
    def build(
        cls,
        roads: gpd.GeoDataFrame,
        fire_lanes: gpd.GeoDataFrame,
        resources: gpd.GeoDataFrame,
        params: ResponseParams | None = None,
        *,
        obstructions: gpd.GeoDataFrame | None = None,
        blocked: bool = True,
        lanes: FireLaneAnalysis | None = None,
    ) -> IncidentRouter:
        """Build once from the stored layers (lon/lat as stored, or any CRS they carry), indexed by fid.

        With `blocked` the lanes the fire-lane analysis finds blocked (its own width or height, or the
        `obstructions` given) are closed or cut, as surveyed today; `lanes` is that analysis when one is at hand.
        """
        params = params or ResponseParams()
        metric = params.metric_crs
        network = layers_network(roads, fire_lanes, params)
        blockages = pd.DataFrame()
        cut = np.zeros(0, bool)
        if blocked and len(fire_lanes):
            if lanes is None:
                lanes = analyse_fire_lanes(fire_lanes, obstructions, roads, metric_crs=metric)
            recorded = obstructions if obstructions is not None else fire_lanes.iloc[:0]
            if sorted(o.fid for o in lanes.obstructions) != sorted(int(f) for f in recorded.index):
                raise ValueError("lanes must be the fire-lane analysis of the obstructions given")
            recorded_m = pd.Series(metric_geoms(recorded, metric), index=recorded.index, dtype=object)
            blockages, _ = place_blockages(network, lanes, recorded_m)
            if len(blockages):
                cut = (blockages["kind"] == "obstruction").to_numpy()
        n_block = len(cut)
        graph = response_graph(
            network,
            station_edge=np.empty(0, np.int64),
            station_position_m=np.empty(0),
            station_offset_s=np.empty(0),
            cut_edge=blockages["edge"].to_numpy(np.int64)[cut] if n_block else np.empty(0, np.int64),
            cut_position_m=blockages["position_m"].to_numpy(float)[cut] if n_block else np.empty(0),
            cut_blockage=np.flatnonzero(cut),
            closed_lanes={int(blockages["lane_fid"].iloc[b]): b for b in np.flatnonzero(~cut)},
            n_blockages=n_block,
        )
        u, v, open_ = graph.ends(np.ones(n_block, bool))

        # Resources: where each meets the network and how long before its vehicle is on the road.
        snapped = snap(network, metric_geoms(resources, metric), params.access_max_m)
        piece, offset = graph.locate(snapped)
        setback = np.where(np.isfinite(snapped.distance_m), snapped.distance_m, np.nan)
        start_s = np.where(snapped.on_network, params.turnout_s + setback / (params.station_yard_kmh / 3.6), np.nan)
        kinds = np.array([class_key(k) for k in column_values(resources, "kind")], dtype=object)
        labels = ResourceKind.labels()
        table = pd.DataFrame(
            {
                "kind": kinds,
                "kind_label": [labels.get(k, k) for k in kinds],
                "name": [None if missing(x) else str(x) for x in column_values(resources, "name")],
                "on_network": snapped.on_network,
                "setback_m": setback,
                "start_s": start_s,
            },
            index=pd.Index(resources.index, name="fid"),
        )

        # The sparse graph in seconds and metres, both ways along each open piece, the quicker of parallel pieces.
        keep = open_ & (u != v)
        length = graph.piece_length_m[keep]
        time = length / graph.piece_speed_ms[keep]
        rows = np.concatenate([u[keep], v[keep]])
        cols = np.concatenate([v[keep], u[keep]])
        time, length = np.concatenate([time, time]), np.concatenate([length, length])
        order = np.lexsort((length, time, cols, rows))
        rows, cols, time, length = rows[order], cols[order], time[order], length[order]
        first = np.ones(len(rows), bool)
        first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        rows, cols, time, length = rows[first], cols[first], time[first], length[first]
        n = graph.n_nodes
        indptr = np.searchsorted(rows, np.arange(n + 2)).astype(np.int64)  # row n (the incident) is empty
        return cls(
            params=params,
            network=network,
            graph=graph,
            blockages=blockages,
            blocked=blocked,
            resources=table,
            _piece=piece,
            _offset_m=offset,
            _u=u,
            _v=v,
            _open=open_,
            _indptr=indptr,
            _indices=cols.astype(np.int32),
            _time_s=time,
            _length_m=length,
            _keys=rows.astype(np.int64) * (n + 1) + cols,
        )

    def times_to(self, lon: float, lat: float, kinds: Sequence[str] | None = None) -> pd.DataFrame:
        """Every resource (of `kinds`, all when None) with its time and road distance to (lon, lat), EPSG:4326.

        One row per resource, grouped by kind in the order asked (else by first appearance), nearest first within
        a kind; seconds, minutes and metres are NaN where the resource cannot reach the point. `seconds` is the
        resource's start (turn-out and yard), the drive (`drive_s`, over `metres` of road) and the crew's walk from
        the road to the point (`walk_s`).
        """
        p = self.params
        if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValueError(f"lon/lat must be finite degrees, got ({lon!r}, {lat!r})")
        x, y = transformer(WGS84, p.metric_crs).transform(lon, lat)
        point = np.array([shapely.Point(x, y)], dtype=object)
        at = snap(self.network, point, p.access_max_m)
        if not at.on_network[0]:
            far = at.distance_m[0]
            raise IncidentOffNetwork(
                f"the point ({lon:.6f}, {lat:.6f}) is {far:.0f} m from the nearest road or fire lane, farther than "
                f"the access distance of {p.access_max_m:g} m: too far from any road to time by road"
                if math.isfinite(far)
                else f"the point ({lon:.6f}, {lat:.6f}) cannot be timed: there is no road or fire lane in the network"
            )
        ip, ix = self.graph.locate(at)
        drive_s, metres = self._drive(int(ip[0]), float(ix[0]))

        r = self.resources
        walk_s = at.distance_m[0] / (p.access_kmh / 3.6)
        seconds = r["start_s"].to_numpy() + drive_s + walk_s
        out = pd.DataFrame(
            {
                "fid": r.index.to_numpy(),
                "kind": r["kind"].to_numpy(),
                "kind_label": r["kind_label"].to_numpy(),
                "name": r["name"].to_numpy(),
                "seconds": seconds,
                "minutes": seconds / 60.0,
                "metres": metres,
                "drive_s": drive_s,
                "start_s": r["start_s"].to_numpy(),
                "walk_s": np.where(np.isfinite(seconds), walk_s, np.nan),
                "setback_m": r["setback_m"].to_numpy(),
                "on_network": r["on_network"].to_numpy(),
            }
        )
        order = list(dict.fromkeys(out["kind"])) if kinds is None else [class_key(k) for k in kinds]
        rank = {k: i for i, k in enumerate(order)}
        out = out[out["kind"].isin(rank)]
        out = out.assign(_rank=out["kind"].map(rank)).sort_values(
            ["_rank", "seconds", "fid"], na_position="last", kind="stable"
        )
        return out.drop(columns="_rank").reset_index(drop=True)[TIME_COLUMNS]

    def nearest_by_time(self, lon: float, lat: float, kinds: Sequence[str] = PANEL_KINDS) -> pd.DataFrame:
        """The quickest resource of each kind to (lon, lat), one row per kind asked, indexed by kind.

        A kind with no resource, or none that can reach the point, keeps its row with the fid and times empty.
        """
        times = self.times_to(lon, lat, kinds)
        best = times[times["seconds"].notna()].drop_duplicates("kind").set_index("kind")
        keys = [class_key(k) for k in kinds]
        out = best.reindex(pd.Index(keys, name="kind"))
        labels = ResourceKind.labels()
        out["kind_label"] = [labels.get(k, k) for k in keys]
        out["fid"] = out["fid"].astype("Int64")
        return out

    def _drive(self, piece: int, offset_m: float) -> tuple[np.ndarray, np.ndarray]:
        """Seconds and metres of road from each resource to the incident on `piece` at `offset_m` (NaN: none)."""
        n_res = len(self._piece)
        drive = np.full(n_res, np.nan)
        metres = np.full(n_res, np.nan)
        if not self._open[piece]:
            return drive, metres  # the incident's lane is closed by a blockage: no engine gets there
        n = self.graph.n_nodes
        speed = self.graph.piece_speed_ms
        length = self.graph.piece_length_m
        u, v = int(self._u[piece]), int(self._v[piece])
        to_u, to_v = offset_m, float(length[piece]) - offset_m
        # The incident as node n, with its two along-edge parts to the piece's ends.
        ends = [(u, to_u), (v, to_v)] if u != v else [(u, min(to_u, to_v))]
        ends.sort()
        indptr = self._indptr.copy()
        indptr[-1] += len(ends)
        indices = np.concatenate([self._indices, np.array([e for e, _ in ends], np.int32)])
        seconds = np.concatenate([self._time_s, [d / speed[piece] for _, d in ends]])
        lengths = np.concatenate([self._length_m, [d for _, d in ends]])
        matrix = csr_matrix((seconds, indices, indptr), shape=(n + 1, n + 1))
        node_t, pred = dijkstra(matrix, directed=True, indices=n, return_predecessors=True)
        keys = np.concatenate([self._keys, [n * (n + 1) + e for e, _ in ends]])
        node_m = _tree_metres(pred, keys, lengths)

        on = np.flatnonzero(self._piece >= 0)
        rp, rx = self._piece[on], self._offset_m[on]
        ok = self._open[rp]
        s = speed[rp]
        ru, rv = self._u[rp], self._v[rp]
        via_u = node_t[ru] + rx / s
        via_v = node_t[rv] + (length[rp] - rx) / s
        t = np.minimum(via_u, via_v)
        m = np.where(via_u <= via_v, node_m[ru] + rx, node_m[rv] + length[rp] - rx)
        same = rp == piece  # on the incident's own piece: straight along it, no junction between
        direct = np.abs(rx - offset_m)
        quicker = same & (direct / s <= t)
        t = np.where(quicker, direct / s, t)
        m = np.where(quicker, direct, m)
        reach = ok & np.isfinite(t)
        drive[on[reach]] = t[reach]
        metres[on[reach]] = m[reach]
        return drive, metres


def _tree_metres(pred: np.ndarray, keys: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Metres from the root to every node along the shortest-path tree `pred`, by pointer doubling (log depth).

    `keys` (row * n_nodes + column, ascending) and `length` are the graph's entries; NaN where a node is unreached.
    """
    n = len(pred)
    child = np.flatnonzero(pred >= 0)
    parent = pred[child].astype(np.int64)
    acc = np.zeros(n)
    acc[child] = length[np.searchsorted(keys, parent * n + child)]
    anc = np.full(n, -1, np.int64)
    anc[child] = parent
    live = child
    while len(live):
        a = anc[live]
        acc[live] = acc[live] + acc[a]  # the right-hand side is read before the write: one synchronous jump
        anc[live] = anc[a]
        live = live[anc[live] >= 0]
    return acc  # 0 at the root and at nodes it does not reach (their time is inf)
