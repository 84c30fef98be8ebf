"""Fire-engine response over the road and fire-lane network: travel times, who a blocked lane cuts off, coverage.

Emergency staff need three answers the map alone does not give: how long an engine takes to reach each building,
which homes an uncleared obstruction on a fire lane cuts off (and whose obstruction it is, so the 消防法 procedure can
start), and what lies outside the response bands. Rules: domain.md §5.1 (GB 50016 §7.1.8: 4.0 m clear width and
height), §5.4 (消防法 第二十八条/第六十条) and §7 (建标152-2017: 5 min; 公消〔2015〕301号 micro stations: 3 min).

- **Blockages** are what the fire-lane analysis (`analysis.fire_lanes`) finds: a lane blocked by its own width or
  clear height is closed along its whole length, and a lane is cut at the point of every obstruction that blocks it,
  so the stretch beyond stays reachable from the lane's other end if that is connected. Narrowed lanes that keep
  4.0 m or more stay passable. Which lane an obstruction stands on, and whether it blocks, is decided there alone.
- **Times** come from the network (`analysis.response_network`): roads and lanes as one graph, cut at the stations
  and the blockages, one multi-source Dijkstra per station class. A building (a risk source, an old settlement) is
  timed at the nearest point of the nearest edge plus the access distance at walking/hose speed; farther than
  `access_max_m` it is "not on the network", reported, never dropped.

Times are computed without the blockages ("clear") and with them ("blocked"); a building is cut off where the
blockages make it unreachable or push it past its class's standard. Each such building is charged to the blockage
whose clearing alone restores its time (every blockage is lifted in turn), or to the several that only help together.
Coverage tables count what lies within each band per village; the places outside every band are listed with why.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from analysis.fire_lanes import PROVISION_TITLES, FireLaneAnalysis, LaneRules, analyse_fire_lanes, penalty_text
from analysis.response_blockages import place_blockages
from analysis.response_network import (
    ResponseGraph,
    ResponseNetwork,
    Snapped,
    band_pieces,
    column_values,
    layers_network,
    metric_geoms,
    response_graph,
    snap,
    substrings,
)
from analysis.response_params import ANY, ResponseParams, class_key, missing
from geo.crs import WGS84, transform_geometries
from geo.network import run_starts
from layers.vocab import LaneStatus

#: Scenario keys: without the blockages, and as surveyed with them.
CLEAR, BLOCKED = "clear", "blocked"
SCENARIOS = (CLEAR, BLOCKED)

#: What a fire-lane obstruction breaks, and what a lane too narrow or low by its own build breaks: the lane
#: analysis's provisions (domain.md §5.1, §5.4), so one text serves every report.
LEGAL_BASIS = "、".join(PROVISION_TITLES[code] for code in ("fire_law_28", "fire_law_60"))
LANE_BASIS = PROVISION_TITLES["gb50016_7_1_8"]


def band_label(index: int, bands_min: Sequence[float]) -> str:
    """The user's label of band `index`: "3分钟内", "3–5分钟", ..."""
    hi = bands_min[index]
    if index == 0:
        return f"{hi:g}分钟内"
    return f"{bands_min[index - 1]:g}–{hi:g}分钟"


# -- the analysis ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FireResponse:
    """Everything the response analysis found; tables are plain DataFrames indexed by fid unless said otherwise.

    Times are seconds; empty (NaN) where a place cannot be reached. Column names in the per-place tables read
    `time_<scenario>_<class>_s` and `band_<scenario>_<class>_min` (the upper bound of the band the place is in,
    empty outside every band), for scenario clear/blocked and class any or a station kind.
    """

    params: ResponseParams
    network: ResponseNetwork
    graph: ResponseGraph
    lanes: FireLaneAnalysis  # the fire-lane analysis whose blockages were modelled
    blockages: pd.DataFrame  # the blockages modelled, by blockage number (0..)
    stations: pd.DataFrame  # per station: class, standard, on the network or not
    buildings: pd.DataFrame  # per building: village, settlement, access, times and bands
    settlements: pd.DataFrame  # per old settlement: member buildings, worst time and band
    risk_sources: pd.DataFrame  # per risk source: village, access, times and bands
    cut_off: pd.DataFrame  # one row per building and station class the blockages cut off
    coverage: pd.DataFrame  # per scenario, class, village and band (cumulative): counts and shares
    outside: pd.DataFrame  # places outside every band, per scenario and class, with why
    isochrones: gpd.GeoDataFrame  # edge pieces by scenario, class and band, EPSG:4326
    report: dict[str, Any]


def fire_response(
    roads: gpd.GeoDataFrame,
    fire_lanes: gpd.GeoDataFrame,
    obstructions: gpd.GeoDataFrame,
    resources: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    old_settlements: gpd.GeoDataFrame | None = None,
    risk_sources: gpd.GeoDataFrame | None = None,
    villages: gpd.GeoDataFrame | None = None,
    lanes: FireLaneAnalysis | None = None,
    params: ResponseParams | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FireResponse:
    """Response times, cut-off buildings and coverage bands from the stored layers (any CRS, EPSG:4326 as stored).

    `resources` is the emergency_resources layer; its rows whose kind is in `params.station_standard_min` are the
    stations. `lanes` is the fire-lane analysis of these fire_lanes, obstructions and roads when one is at hand
    (its rules decide what blocks); without it the analysis is made here with the default `LaneRules`.
    `progress(done, total)` is called after each shortest-path run.
    """
    params = params or ResponseParams()
    classes = params.classes
    metric = params.metric_crs
    if lanes is None:
        lanes = analyse_fire_lanes(fire_lanes, obstructions, roads, metric_crs=metric)
    analysed = (sorted(x.fid for x in lanes.lanes), sorted(x.fid for x in lanes.obstructions))
    if analysed != (sorted(int(f) for f in fire_lanes.index), sorted(int(f) for f in obstructions.index)):
        raise ValueError("lanes must be the fire-lane analysis of the fire_lanes and obstructions given")

    network = layers_network(roads, fire_lanes, params)

    # What blocks, and where: the lane analysis's blocked lanes and blocking obstructions, placed on the network.
    recorded_m = pd.Series(metric_geoms(obstructions, metric), index=obstructions.index, dtype=object)
    blockages, unplaced = place_blockages(network, lanes, recorded_m)
    n_block = len(blockages)
    is_cut = (blockages["kind"] == "obstruction").to_numpy() if n_block else np.zeros(0, bool)
    closed_lanes = {int(blockages["lane_fid"].iloc[b]): b for b in np.flatnonzero(~is_cut)}

    # Stations.
    kind_key = np.array([class_key(k) for k in column_values(resources, "kind")], dtype=object)
    is_station = np.isin(kind_key, np.array(classes, dtype=object))
    station_frame = resources.loc[is_station]
    station_kind = kind_key[is_station]
    station_snap = snap(network, metric_geoms(station_frame, metric), params.access_max_m)
    placed = np.flatnonzero(station_snap.on_network)
    offset = params.turnout_s + station_snap.distance_m[placed] / (params.station_yard_kmh / 3.6)
    graph = response_graph(
        network,
        station_edge=station_snap.edge[placed],
        station_position_m=station_snap.position_m[placed],
        station_offset_s=offset,
        cut_edge=blockages["edge"].to_numpy(np.int64)[is_cut] if n_block else np.empty(0, np.int64),
        cut_position_m=blockages["position_m"].to_numpy(float)[is_cut] if n_block else np.empty(0),
        cut_blockage=np.flatnonzero(is_cut),
        closed_lanes=closed_lanes,
        n_blockages=n_block,
    )
    groups = [np.flatnonzero(station_kind[placed] == c) for c in classes]
    stations = _station_table(station_frame, station_kind, station_snap, placed, offset, params)

    # Shortest paths: without and with the blockages, then with each blockage lifted in turn where needed.
    done, total = [0], [len(SCENARIOS)]  # runs made and runs known to be needed; lifts add to the total

    def runs(active: np.ndarray) -> list[np.ndarray]:
        out = graph.node_times(active, groups)
        done[0] += 1
        if progress is not None:
            progress(done[0], total[0])
        return out

    scenario_active = {CLEAR: np.zeros(n_block, bool), BLOCKED: np.ones(n_block, bool)}
    node_t = {s: dict(zip(classes, runs(a), strict=True)) for s, a in scenario_active.items()}
    for s in SCENARIOS:
        node_t[s][ANY] = np.minimum.reduce([node_t[s][c] for c in classes])
    times = _Times(network, graph, node_t, scenario_active, params)

    # Places.
    b_geoms = metric_geoms(buildings, metric)
    b_at = times.place(b_geoms)
    b_times = times.of(b_at)
    b_village = _villages_of(buildings, b_geoms, villages, metric)
    settle_of = _settlement_of(b_geoms, old_settlements, metric)
    building_table = _place_table(buildings.index, b_village, b_at.snapped, b_times, params)
    building_table.insert(1, "settlement_fid", pd.array(settle_of, dtype="Int64"))
    building_table.insert(2, "residents", _int_column(buildings, "residents"))

    # Who is cut off, and by which blockage: lift each blockage in turn (and, where none alone helps, those that
    # help together) and see whose time comes back.
    lift_cache: dict[tuple[int, ...], dict[str, np.ndarray]] = {
        tuple(range(n_block)): {c: b_times[(CLEAR, c)] for c in classes}  # all lifted: the clear scenario
    }

    def building_times_without(lifted: tuple[int, ...]) -> dict[str, np.ndarray]:
        if lifted not in lift_cache:
            total[0] += 1
            active = np.ones(n_block, bool)
            active[list(lifted)] = False
            node = dict(zip(classes, runs(active), strict=True))
            lift_cache[lifted] = {c: b_at.times(graph, node[c], active) for c in classes}
        return lift_cache[lifted]

    cut_off = _cut_off(buildings, b_village, settle_of, b_times, blockages, building_times_without, params, lanes.rules)

    # Old settlements and risk sources.
    settlements = _settlement_table(old_settlements, settle_of, building_table, times)
    if len(settlements):
        cut_settlements = set(cut_off["settlement_fid"].dropna().astype(int)) if len(cut_off) else set()
        settlements["cut_off"] = [int(f) in cut_settlements for f in settlements.index]
    risk_table = _risk_table(risk_sources, villages, times)

    coverage = _coverage(building_table, settlements, risk_table, villages, params)
    outside = _outside(building_table, settlements, risk_table, params)
    isochrones = _isochrones(graph, node_t, scenario_active, params)
    report = {
        "edges": len(network.edges),
        "nodes": network.n_nodes,
        "road_edges_taken_by_lanes": network.road_edges_taken_by_lanes,
        "network_repairs": network.repairs.summary(),
        "stations": {c: int((stations["kind"] == c).sum()) for c in classes},
        "stations_off_network": [int(f) for f in stations.index[~stations["on_network"].to_numpy(bool)]],
        "blockages": n_block,
        "impassable_lanes": [lane.fid for lane in lanes.lanes if lane.status == LaneStatus.BLOCKED],
        "obstructions_not_placed": sorted({o.fid for o in lanes.unsnapped} | set(unplaced)),
        "buildings": len(building_table),
        "buildings_off_network": int((~building_table["on_network"]).sum()),
        "cut_off_buildings": int(cut_off["building_fid"].nunique()) if len(cut_off) else 0,
        "cut_off_settlements": sorted({int(v) for v in cut_off["settlement_fid"].dropna()}) if len(cut_off) else [],
        "shortest_path_runs": done[0],
        "params": {
            "road_speed_kmh": dict(params.road_speed_kmh),
            "fire_lane_kmh": params.fire_lane_kmh,
            "turnout_s": params.turnout_s,
            "access_max_m": params.access_max_m,
            "access_kmh": params.access_kmh,
            "min_clear_width_m": lanes.rules.min_clear_width_m,
            "min_clear_height_m": lanes.rules.min_clear_height_m,
            "station_standard_min": dict(params.station_standard_min),
            "bands_min": list(params.bands_min),
        },
    }
    return FireResponse(
        params=params,
        network=network,
        graph=graph,
        lanes=lanes,
        blockages=blockages,
        stations=stations,
        buildings=building_table,
        settlements=settlements,
        risk_sources=risk_table,
        cut_off=cut_off,
        coverage=coverage,
        outside=outside,
        isochrones=isochrones,
        report=report,
    )


# -- helpers of the analysis -----------------------------------------------------------------------------------


def _int_column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A whole-number column with missing values as 0 (0 throughout when absent)."""
    if name not in frame.columns:
        return np.zeros(len(frame), np.int64)
    return pd.to_numeric(frame[name], errors="coerce").fillna(0).to_numpy(np.int64)


@dataclass(frozen=True, eq=False)
class _Placed:
    """Places on the network: where each was snapped, its piece and metres along it, and its access time."""

    snapped: Snapped
    piece: np.ndarray
    offset: np.ndarray
    extra_s: np.ndarray

    def times(self, graph: ResponseGraph, node_t: np.ndarray, active: np.ndarray) -> np.ndarray:
        """Seconds to each place from the node times `node_t` with the blockages `active`."""
        return graph.place_times(node_t, active, self.piece, self.offset, self.extra_s)


@dataclass(frozen=True, eq=False)
class _Times:
    """The node times of every scenario and class: what any place on the network is timed against."""

    network: ResponseNetwork
    graph: ResponseGraph
    node_t: Mapping[str, Mapping[str, np.ndarray]]
    active: Mapping[str, np.ndarray]
    params: ResponseParams

    def place(self, geoms: np.ndarray) -> _Placed:
        """Snap places (metres) to the network, with their walk from where the engine stops."""
        snapped = snap(self.network, geoms, self.params.access_max_m)
        piece, offset = self.graph.locate(snapped)
        return _Placed(snapped, piece, offset, snapped.distance_m / (self.params.access_kmh / 3.6))

    def of(self, placed: _Placed) -> dict[tuple[str, str], np.ndarray]:
        """Seconds to each place per (scenario, class), the nearest station of any class included."""
        return {
            (s, c): placed.times(self.graph, self.node_t[s][c], self.active[s])
            for s in SCENARIOS
            for c in (ANY, *self.params.classes)
        }


def _station_table(
    frame: gpd.GeoDataFrame,
    kinds: np.ndarray,
    snapped: Snapped,
    placed: np.ndarray,
    offset: np.ndarray,
    params: ResponseParams,
) -> pd.DataFrame:
    """Per station: kind, standard, whether it reaches the network and how far it is set back."""
    off = np.full(len(frame), np.nan)
    off[placed] = offset
    return pd.DataFrame(
        {
            "name": column_values(frame, "name"),
            "kind": kinds,
            "standard_min": [params.station_standard_min[k] for k in kinds],
            "on_network": snapped.on_network,
            "access_m": snapped.distance_m,
            "edge": snapped.edge,
            "start_offset_s": off,
            "note": np.where(
                snapped.on_network, "", f"离道路超过 {params.access_max_m:g} m，未计入出动 (not on the network)"
            ),
        },
        index=frame.index,
    )


def _villages_of(
    frame: gpd.GeoDataFrame, geoms: np.ndarray, villages: gpd.GeoDataFrame | None, metric_crs: str
) -> np.ndarray:
    """Each place's village code: its own `village_code` where set, else the village polygon holding it."""
    own = column_values(frame, "village_code")
    codes = np.array([None if missing(v) else str(v) for v in own], dtype=object)
    todo = np.flatnonzero(np.array([c is None for c in codes], bool))
    if len(todo) and villages is not None and len(villages) and "code" in villages.columns:
        polys = metric_geoms(villages, metric_crs)
        pts = shapely.point_on_surface(geoms[todo])
        q, j = shapely.STRtree(polys).query(pts, predicate="within")
        order = np.lexsort((j, q))
        q, j = q[order], j[order]
        first = run_starts(q)
        village_codes = villages["code"].astype(str).to_numpy()
        codes[todo[q[first]]] = village_codes[j[first]]
    return codes


def _settlement_of(b_geoms: np.ndarray, settlements: gpd.GeoDataFrame | None, metric_crs: str) -> list[int | None]:
    """The old settlement (fid) whose polygon holds each building's inside point; the lowest fid on overlaps."""
    out: list[int | None] = [None] * len(b_geoms)
    if settlements is None or len(settlements) == 0 or len(b_geoms) == 0:
        return out
    polys = metric_geoms(settlements, metric_crs)
    pts = shapely.point_on_surface(b_geoms)
    q, j = shapely.STRtree(polys).query(pts, predicate="within")
    fids = np.asarray(settlements.index, dtype=np.int64)
    order = np.lexsort((fids[j], q))
    q, j = q[order], j[order]
    first = run_starts(q)
    for b, s in zip(q[first], j[first], strict=True):
        out[int(b)] = int(fids[s])
    return out


def _band_of(t: np.ndarray, bands_min: Sequence[float], tol: float) -> np.ndarray:
    """The upper bound (minutes) of the band each time (seconds) falls in, NaN outside every band."""
    limits = np.asarray(bands_min, float) * 60.0
    k = np.searchsorted(limits + tol, t, side="left")
    out = np.full(len(t), np.nan)
    inside = k < len(limits)
    out[inside] = np.asarray(bands_min, float)[k[inside]]
    return out


def _place_table(
    index: pd.Index,
    village: np.ndarray,
    snapped: Snapped,
    t: Mapping[tuple[str, str], np.ndarray],
    params: ResponseParams,
) -> pd.DataFrame:
    """Per place: village, access to the network, and time and band per scenario and class."""
    cols: dict[str, Any] = {
        "village_code": village,
        "on_network": snapped.on_network,
        "access_m": snapped.distance_m,
    }
    for (s, c), values in t.items():
        cols[f"time_{s}_{c}_s"] = np.where(np.isfinite(values), values, np.nan)
        cols[f"band_{s}_{c}_min"] = _band_of(values, params.bands_min, params.time_tol_s)
    return pd.DataFrame(cols, index=index)


def _cut_off(
    buildings: gpd.GeoDataFrame,
    village: np.ndarray,
    settle_of: list[int | None],
    t: Mapping[tuple[str, str], np.ndarray],
    blockages: pd.DataFrame,
    without: Callable[[tuple[int, ...]], dict[str, np.ndarray]],
    params: ResponseParams,
    rules: LaneRules,
) -> pd.DataFrame:
    """Buildings the blockages make unreachable or push past their class standard, each charged to its blockages.

    A blockage is charged when lifting it alone brings the building's time back to its time without any blockage.
    Where none does, the building needs several cleared together (`needs_several`): starting from all blockages,
    each is left in place in turn if the others still restore the time, and those that remain are charged.
    """
    tol = params.time_tol_s
    n_block = len(blockages)
    affected: list[tuple[int, str, str]] = []
    for c in params.classes:
        before, after = t[(CLEAR, c)], t[(BLOCKED, c)]
        std = params.station_standard_min[c] * 60.0
        unreachable = np.isfinite(before) & ~np.isfinite(after)
        beyond = np.isfinite(after) & (before <= std + tol) & (after > std + tol)
        for i in np.flatnonzero(unreachable | beyond):
            affected.append((int(i), c, "unreachable" if unreachable[i] else "beyond_standard"))
    if not affected or n_block == 0:
        return pd.DataFrame(columns=_CUT_OFF_COLUMNS)
    alone = [without((b,)) for b in range(n_block)]
    rows = []
    for i, c, reason in affected:
        before, after = t[(CLEAR, c)][i], t[(BLOCKED, c)][i]
        charged = [b for b in range(n_block) if alone[b][c][i] <= before + tol]
        together = not charged
        if together:
            # Lifting every blockage restores the time; drop each in turn while the rest still restore it.
            lifted = list(range(n_block))
            for b in range(n_block):
                trial = tuple(x for x in lifted if x != b)
                if trial and without(trial)[c][i] <= before + tol:
                    lifted = list(trial)
            charged = lifted
        chosen = blockages.iloc[charged]
        parties = [p for p in chosen["responsible_party"] if not missing(p)]
        ptypes = [p for p in chosen["party_type"] if not missing(p)]
        basis = [LEGAL_BASIS] if (chosen["kind"] == "obstruction").any() else []
        if (chosen["kind"] == "lane").any():
            basis.append(LANE_BASIS)
        rows.append(
            {
                "building_fid": int(buildings.index[i]),
                "village_code": village[i],
                "settlement_fid": settle_of[i],
                "station_class": c,
                "time_before_s": before,
                "time_after_s": after if math.isfinite(after) else math.nan,
                "standard_s": params.station_standard_min[c] * 60.0,
                "reason": reason,
                "blockages": tuple(charged),
                "obstruction_fids": tuple(int(f) for f in chosen["obstruction_fid"].dropna()),
                "lane_fids": tuple(dict.fromkeys(int(f) for f in chosen["lane_fid"])),
                "cleared_alone": not together,
                "needs_several": together,
                "legal_basis": "；".join(basis),
                "responsible_party": "；".join(dict.fromkeys(str(p) for p in parties)) or None,
                "party_type": "；".join(dict.fromkeys(str(p) for p in ptypes)) or None,
                "penalty": "；".join(dict.fromkeys(penalty_text(p, rules) for p in ptypes)) or None,
            }
        )
    out = pd.DataFrame(rows, columns=_CUT_OFF_COLUMNS)
    out["settlement_fid"] = pd.array(out["settlement_fid"].tolist(), dtype="Int64")
    return out.sort_values(["building_fid", "station_class"], kind="stable").reset_index(drop=True)


_CUT_OFF_COLUMNS = [
    "building_fid",
    "village_code",
    "settlement_fid",
    "station_class",
    "time_before_s",
    "time_after_s",
    "standard_s",
    "reason",
    "blockages",
    "obstruction_fids",
    "lane_fids",
    "cleared_alone",
    "needs_several",
    "legal_basis",
    "responsible_party",
    "party_type",
    "penalty",
]


def _settlement_table(
    settlements: gpd.GeoDataFrame | None, settle_of: list[int | None], building_table: pd.DataFrame, times: _Times
) -> pd.DataFrame:
    """Per old settlement: its buildings, and its time as the worst of them (the polygon itself when it has none)."""
    if settlements is None or len(settlements) == 0:
        return pd.DataFrame(columns=["name", "village_code", "buildings"])
    params = times.params
    fids = np.asarray(settlements.index, dtype=np.int64)
    member = pd.Series(settle_of, index=building_table.index, dtype="Int64")
    own_at = times.place(metric_geoms(settlements, params.metric_crs))
    own_times = times.of(own_at)
    counts = member.value_counts()
    n_members = np.array([int(counts.get(f, 0)) for f in fids])
    cols: dict[str, Any] = {
        "name": column_values(settlements, "name"),
        "village_code": [None if missing(v) else str(v) for v in column_values(settlements, "village_code")],
        "buildings": n_members,
        "on_network": np.where(n_members > 0, True, own_at.snapped.on_network),
    }
    for (s, c), own in own_times.items():
        col = f"time_{s}_{c}_s"
        bt = building_table[col].fillna(np.inf)
        worst = bt.groupby(member.to_numpy(), dropna=True).max()
        t = np.array([worst.get(f, np.inf) if n_members[k] else own[k] for k, f in enumerate(fids)], dtype=float)
        cols[col] = np.where(np.isfinite(t), t, np.nan)
        cols[f"band_{s}_{c}_min"] = _band_of(t, params.bands_min, params.time_tol_s)
    return pd.DataFrame(cols, index=settlements.index)


def _risk_table(
    risk_sources: gpd.GeoDataFrame | None, villages: gpd.GeoDataFrame | None, times: _Times
) -> pd.DataFrame:
    """Per risk source: the village holding it, its access and its times."""
    if risk_sources is None or len(risk_sources) == 0:
        return pd.DataFrame(columns=["name", "village_code", "on_network", "access_m"])
    params = times.params
    geoms = metric_geoms(risk_sources, params.metric_crs)
    at = times.place(geoms)
    village = _villages_of(risk_sources, geoms, villages, params.metric_crs)
    table = _place_table(risk_sources.index, village, at.snapped, times.of(at), params)
    table.insert(0, "name", column_values(risk_sources, "name"))
    return table


def _coverage(
    buildings: pd.DataFrame,
    settlements: pd.DataFrame,
    risks: pd.DataFrame,
    villages: gpd.GeoDataFrame | None,
    params: ResponseParams,
) -> pd.DataFrame:
    """Per scenario, class, village and band: how many buildings, residents, risk sources and old settlements lie
    within the band (cumulative), of how many, and the share; villages with none of a kind get 0 of 0 (share empty)."""
    names: dict[str, Any] = {}
    if villages is not None and len(villages) and "code" in villages.columns:
        names = dict(zip(villages["code"].astype(str), column_values(villages, "name"), strict=True))
    no_village = ""  # the group of places whose village is unknown
    kinds = (
        ("buildings", buildings, None),
        ("residents", buildings, "residents"),
        ("risk_sources", risks, None),
        ("old_settlements", settlements, None),
    )
    codes = set(names)
    for _, frame, _ in kinds:
        if len(frame) and "village_code" in frame.columns:
            codes |= {no_village if missing(c) else str(c) for c in frame["village_code"].tolist()}
    village_index = pd.Index(sorted(codes), name="village_code")
    limits = np.asarray(params.bands_min, float) * 60.0 + params.time_tol_s
    parts = []
    for s in SCENARIOS:
        for c in (ANY, *params.classes):
            col = f"time_{s}_{c}_s"
            block = pd.DataFrame(
                {
                    "scenario": s,
                    "station_class": c,
                    "village_code": np.repeat(village_index.to_numpy(), len(limits)),
                    "band_min": np.tile(np.asarray(params.bands_min, float), len(village_index)),
                }
            )
            for kind, frame, weight in kinds:
                within = np.zeros((len(village_index), len(limits)))
                total = np.zeros(len(village_index))
                if len(frame) and col in frame.columns:
                    code = [no_village if missing(v) else str(v) for v in frame["village_code"].tolist()]
                    pos = village_index.get_indexer(code)
                    w = frame[weight].to_numpy(float) if weight else np.ones(len(frame))
                    t = frame[col].to_numpy(float)
                    total = np.bincount(pos, weights=w, minlength=len(village_index))
                    reached = np.where(np.isnan(t), np.inf, t)[:, None] <= limits[None, :]
                    for k in range(len(limits)):
                        within[:, k] = np.bincount(pos, weights=w * reached[:, k], minlength=len(village_index))
                tot = np.repeat(total, len(limits))
                got = within.ravel()
                block[kind] = np.rint(got).astype(np.int64)
                block[f"{kind}_total"] = np.rint(tot).astype(np.int64)
                block[f"{kind}_share"] = np.divide(got, tot, out=np.full(len(got), np.nan), where=tot > 0)
            parts.append(block)
    out = pd.concat(parts, ignore_index=True)
    out.insert(3, "village_name", [names.get(v, "未分村" if v == no_village else None) for v in out["village_code"]])
    out["village_code"] = out["village_code"].replace(no_village, None)
    return out


def _outside(
    buildings: pd.DataFrame, settlements: pd.DataFrame, risks: pd.DataFrame, params: ResponseParams
) -> pd.DataFrame:
    """Places outside every band, per scenario and class: off the network, unreachable, or beyond the last band."""
    last = params.bands_min[-1] * 60.0 + params.time_tol_s
    columns = ["scenario", "station_class", "kind", "fid", "village_code", "time_s", "reason"]
    parts = []
    for kind, frame in (("building", buildings), ("old_settlement", settlements), ("risk_source", risks)):
        if len(frame) == 0 or "on_network" not in frame.columns:
            continue
        on = frame["on_network"].to_numpy(bool)
        for s in SCENARIOS:
            for c in (ANY, *params.classes):
                t = frame[f"time_{s}_{c}_s"].to_numpy(float)
                out = ~on | np.isnan(t) | (t > last)
                if not out.any():
                    continue
                reason = np.where(~on[out], "off_network", np.where(np.isnan(t[out]), "unreachable", "beyond_bands"))
                parts.append(
                    pd.DataFrame(
                        {
                            "scenario": s,
                            "station_class": c,
                            "kind": kind,
                            "fid": np.asarray(frame.index[out], dtype=np.int64),
                            "village_code": frame["village_code"].to_numpy()[out],
                            "time_s": t[out],
                            "reason": reason,
                        }
                    )
                )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def _isochrones(
    graph: ResponseGraph,
    node_t: Mapping[str, Mapping[str, np.ndarray]],
    active: Mapping[str, np.ndarray],
    params: ResponseParams,
) -> gpd.GeoDataFrame:
    """Edge pieces reached within each band, per scenario and class, as lon/lat LineStrings with band labels."""
    bands_s = [b * 60.0 for b in params.bands_min]
    parts = []
    for s in SCENARIOS:
        for c in (ANY, *params.classes):
            edge, band, a, b = band_pieces(graph, node_t[s][c], active[s], bands_s)
            parts.append((s, c, edge, band, a, b))
    edge = np.concatenate([p[2] for p in parts]) if parts else np.empty(0, np.int64)
    geoms = substrings(
        graph.network.edges, edge, np.concatenate([p[4] for p in parts]), np.concatenate([p[5] for p in parts])
    )
    band = np.concatenate([p[3] for p in parts]) if parts else np.empty(0, np.int64)
    bands = np.asarray(params.bands_min, float)
    labels = np.array([band_label(k, params.bands_min) for k in range(len(bands))], dtype=object)
    net = graph.network
    frame = gpd.GeoDataFrame(
        {
            "scenario": np.concatenate([np.full(len(p[2]), p[0], dtype=object) for p in parts]),
            "station_class": np.concatenate([np.full(len(p[2]), p[1], dtype=object) for p in parts]),
            "band_min": bands[band],
            "band_from_min": np.where(band > 0, bands[np.maximum(band - 1, 0)], 0.0),
            "label": labels[band],
            "edge": edge,
            "lane_fid": pd.array([None if v < 0 else int(v) for v in net.edge_lane[edge]], dtype="Int64"),
            "road_fid": pd.array([None if v < 0 else int(v) for v in net.edge_road[edge]], dtype="Int64"),
            "start_m": np.concatenate([p[4] for p in parts]),
            "end_m": np.concatenate([p[5] for p in parts]),
        },
        geometry=transform_geometries(geoms, params.metric_crs, WGS84) if len(geoms) else geoms,
        crs=WGS84,
    )
    return frame
