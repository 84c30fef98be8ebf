"""The fire-safety analyses run together over the stored layers, their results written as layers, and one workbook.

Lanes (passability, dead ends, spacing), response (who a blockage cuts off, coverage bands) and fire separation
(clusters, old settlements ranked, 一区一策 drafts) read the same layers; the command line and the HTTP API run them
through `fire`, so the answer is the same whichever way it was asked for.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date

import geopandas as gpd
import pandas as pd

from analysis.fire_lanes import FireLaneAnalysis, LaneRules, analyse_fire_lanes
from analysis.fire_response import FireResponse, fire_response
from analysis.fire_separation import DEFAULT_RULES, SeparationRules
from analysis.response_params import ResponseParams
from analysis.runs import Layers
from analysis.settlement_plans import SeparationResult, analyse
from exchange import sheets
from layers import LAYERS, Layer
from layers.frames import frame_from_properties
from layers.vocab import ClusterSize

#: [K] a lane counts as too far apart (GB 50016 §7.1.1) where a building stands more than half the spacing from
#: every road and lane: blocks of farmland with no building are not a fire-engine problem.
LANE_RULES = LaneRules(spacing_measure="farthest_building")
#: Cluster size classes by households; ≥ 50 households is the firebreak target in provincial practice (domain.md §5.3).
SIZE_FROM = ((50, ClusterSize.HUGE), (30, ClusterSize.LARGE), (10, ClusterSize.MEDIUM), (0, ClusterSize.SMALL))


@dataclass
class FireRun:
    """All three fire analyses and the layers they wrote."""

    lanes: FireLaneAnalysis
    lane_table: pd.DataFrame  # one row per lane, as the lanes analysis reports it
    response: FireResponse
    separation: SeparationResult
    frames: dict[str, gpd.GeoDataFrame]
    as_of: date


def fire(
    layers: Layers,
    as_of: date,
    *,
    lane_rules: LaneRules = LANE_RULES,
    params: ResponseParams | None = None,
    separation: SeparationRules = DEFAULT_RULES,
    pairs: pd.DataFrame | None = None,
) -> FireRun:
    """Run the fire analyses and replace the response_bands, cut_off and fire_clusters layers; `pairs`: the
    too-close pairs when found elsewhere (on a Dask cluster, `analysis.partitioned`)."""
    once = _ReadOnce(layers)  # three analyses share most inputs: each layer is read from the store once
    read = {name: once.read(LAYERS[name]) for name in (
        "roads", "fire_lanes", "obstructions", "emergency_resources", "buildings", "old_settlements", "risk_sources",
        "villages",
    )}  # fmt: skip
    lanes, table = lane_findings(once, lane_rules)
    response = fire_response(
        read["roads"], read["fire_lanes"], read["obstructions"], read["emergency_resources"], read["buildings"],
        old_settlements=read["old_settlements"], risk_sources=read["risk_sources"], villages=read["villages"],
        lanes=lanes, params=params,
    )  # fmt: skip
    found = settlement_findings(once, as_of, separation, pairs=pairs)
    stamp = json.dumps({"as_of": as_of.isoformat(), **response.report["params"]}, ensure_ascii=False, default=str)
    frames = {
        "response_bands": _bands(response, stamp),
        "cut_off": _cut_off(response, read["buildings"], stamp),
        "fire_clusters": _clusters(found, separation, as_of),
    }
    for name, frame in frames.items():
        layers.replace(LAYERS[name], frame)
    return FireRun(lanes, table, response, found, frames, as_of)


class _ReadOnce:
    """A run's view of the layers: each read once and kept; results written straight through."""

    def __init__(self, layers: Layers) -> None:
        self.layers = layers
        self.frames: dict[str, gpd.GeoDataFrame] = {}

    def read(self, layer: Layer) -> gpd.GeoDataFrame:
        """The layer, from the store the first time only."""
        if layer.id not in self.frames:
            self.frames[layer.id] = self.layers.read(layer)
        return self.frames[layer.id]

    def replace(self, layer: Layer, frame: gpd.GeoDataFrame) -> None:
        """Write through."""
        self.layers.replace(layer, frame)


def lane_findings(layers: Layers, rules: LaneRules = LANE_RULES) -> tuple[FireLaneAnalysis, pd.DataFrame]:
    """The fire-lane analysis alone, and its one-row-per-lane table: all a question about lanes needs."""
    lanes = layers.read(LAYERS["fire_lanes"])
    found = analyse_fire_lanes(lanes, layers.read(LAYERS["obstructions"]), layers.read(LAYERS["roads"]),
                               layers.read(LAYERS["buildings"]), rules=rules)  # fmt: skip
    return found, pd.DataFrame(found.lane_frame(lanes).drop(columns="geometry"))


def settlement_findings(
    layers: Layers, as_of: date, rules: SeparationRules = DEFAULT_RULES, *, pairs: pd.DataFrame | None = None
) -> SeparationResult:
    """Fire separation, clusters, old settlements ranked and their 一区一策 drafts: no travel times needed."""
    return analyse(layers.read(LAYERS["buildings"]), old_settlements=layers.read(LAYERS["old_settlements"]),
                   villages=layers.read(LAYERS["villages"]), fire_lanes=layers.read(LAYERS["fire_lanes"]),
                   as_of=as_of, rules=rules, pairs=pairs)  # fmt: skip


def _bands(response: FireResponse, stamp: str) -> gpd.GeoDataFrame:
    """Today's situation (blockages in place) from the nearest station of any kind, as coloured stretches."""
    layer = LAYERS["response_bands"]
    rows = response.isochrones
    rows = rows[(rows["scenario"] == "blocked") & (rows["station_class"] == "any")]
    props = [
        layer.properties(
            band=f"{r.band_min:g}",
            band_from_min=float(r.band_from_min),
            road_id=_id(r.road_fid),
            lane_id=_id(r.lane_fid),
            start_m=round(float(r.start_m), 1),
            end_m=round(float(r.end_m), 1),
            parameters=stamp,
        )  # fmt: skip
        for r in rows.itertuples()
    ]
    return frame_from_properties(layer, props, list(rows.geometry), fids=range(1, len(props) + 1))


def _cut_off(response: FireResponse, buildings: gpd.GeoDataFrame, stamp: str) -> gpd.GeoDataFrame:
    """One point per cut-off building and station kind, at the building, naming the blockage to clear."""
    layer = LAYERS["cut_off"]
    rows = response.cut_off
    props = [
        layer.properties(
            building_id=int(r.building_fid),
            village_code=r.village_code,
            settlement_id=_id(r.settlement_fid),
            station_kind=str(r.station_class),
            minutes_before=_minutes(r.time_before_s),
            minutes_after=_minutes(r.time_after_s),
            standard_min=float(r.standard_s) / 60,
            reason=r.reason,
            obstruction_ids=[int(x) for x in r.obstruction_fids],
            lane_ids=[int(x) for x in r.lane_fids],
            needs_several=bool(r.needs_several),
            responsible_party=_text(r.responsible_party),
            legal_basis=_text(r.legal_basis),
            penalty=_text(r.penalty),
            parameters=stamp,
        )  # fmt: skip
        for r in rows.itertuples()
    ]
    points = buildings.geometry.loc[rows["building_fid"].to_numpy()].representative_point() if len(rows) else []
    return frame_from_properties(layer, props, list(points), fids=range(1, len(props) + 1))


def _clusters(found: SeparationResult, rules: SeparationRules, as_of: date) -> gpd.GeoDataFrame:
    """Every cluster of buildings linked by too-short separations, shaded by households."""
    layer = LAYERS["fire_clusters"]
    stamp = json.dumps({"as_of": as_of.isoformat(), **asdict(rules)}, ensure_ascii=False, default=str)
    rows = found.clusters
    props = [
        layer.properties(
            village_code=r.village_code if isinstance(r.village_code, str) else None,
            size=next(size for least, size in SIZE_FROM if r.households >= least),
            buildings=int(r.buildings),
            households=int(r.households),
            residents=int(r.residents),
            old_buildings=int(r.old_buildings),
            low_grade_buildings=int(r.low_grade_buildings),
            too_close_pairs=int(r.too_close_pairs),
            min_distance_m=round(float(r.min_distance_m), 2),
            max_shortfall_m=round(float(r.max_shortfall_m), 2),
            length_m=round(float(r.length_m), 1),
            grades=str(r.grades),
            largest_in_village=bool(r.largest_in_village),
            parameters=stamp,
        )  # fmt: skip
        for r in rows.itertuples()
    ]
    return frame_from_properties(layer, props, list(rows.geometry), fids=[int(i) for i in rows.index])


def _id(value) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _minutes(seconds) -> float | None:
    return None if seconds is None or pd.isna(seconds) else round(float(seconds) / 60, 2)


def _text(value) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value)[:300]


def workbook(run: FireRun) -> bytes:
    """One XLSX for the fire office: lanes, cut-off buildings, coverage, places outside, settlements, clusters."""
    tables = {
        "消防车通道": run.lane_table.reset_index(),
        "堵塞影响建筑": run.response.cut_off,
        "到场时间覆盖": run.response.coverage,
        "覆盖范围外": run.response.outside,
        "老旧场所排序": run.separation.settlements.reset_index(),
        "一区一策草案": pd.DataFrame([d.to_dict() for d in run.separation.drafts]),
        "连片建筑": pd.DataFrame(run.separation.clusters.drop(columns="geometry")).reset_index(),
        "街区间距": pd.DataFrame(run.lanes.spacing_frame().drop(columns="geometry", errors="ignore")),
    }
    return sheets.workbook(tables)
