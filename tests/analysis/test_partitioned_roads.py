"""Intersection extraction and black-spot screening on a Dask LocalCluster, partition by partition with halos,
against the single-process run: the same layer and report, the same findings, unplaced crashes and EB ranking to the
last bit, on the demo town and on denser synthetic counties whose junctions, clusters and spots cross partitions."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from backends import BACKEND, demo_store, town_copy
from scene import AS_OF
from shapely.geometry import LineString
from typer.testing import CliRunner

from analysis.intersections import ExtractRules, extract
from analysis.partitioned import local_client
from analysis.partitioned_intersections import description_radius, extract_partitioned
from analysis.partitioned_screening import screen_partitioned
from analysis.screening import ScreeningResult, run_screening
from bench.bench_network import noisy_network
from bench.bench_screening import intersections_of
from bench.road_networks import ORIGIN, buildings, crashes, road_network
from geo.crs import LOCAL_METRIC, WGS84
from layers import LAYERS
from onemap.cli import app
from onemap.settings import DEMO_GPKG
from store import open_store


@pytest.fixture(scope="module")
def demo() -> dict[str, gpd.GeoDataFrame]:
    """The demo town's roads, buildings, villages, surveyed intersections and accidents."""
    store = demo_store()
    names = ("roads", "buildings", "villages", "intersections", "accidents")
    return {name: store.read(LAYERS[name]) for name in names}


@pytest.fixture(scope="module")
def client():
    """Two worker processes on this machine, for the whole module."""
    with local_client(2) as c:
        yield c


def messy_county(segments: int = 1500, seed: int = 5) -> dict[str, gpd.GeoDataFrame]:
    """A county grid with a long straight road crossing it without shared vertices, ends stopping short of their
    junction, houses, schools and markets along the roads, and a ladder: two rails 10 m apart joined every 12 m for
    1.5 km, so its nodes make one cluster far longer than any halo starts."""
    lines, flags, keys, _ = noisy_network(segments, seed)
    grid = road_network(segments, seed)
    attrs = grid.drop(columns="geometry").reindex(range(1, len(lines) + 1))
    attrs["route_code"], attrs["grade_separated"] = keys, flags
    x0, y0 = ORIGIN[0] + 1_000.0, ORIGIN[1] + 2_100.0
    rails = [LineString([(x0, y0 + dy), (x0 + 1_500.0, y0 + dy)]) for dy in (0.0, 10.0)]
    rungs = [LineString([(x0 + x, y0), (x0 + x, y0 + 10.0)]) for x in np.arange(6.0, 1_500.0, 12.0)]
    ladder = pd.DataFrame({"route_code": ["X901", "X902"] + [None] * len(rungs), "grade_separated": False})
    roads = gpd.GeoDataFrame(
        pd.concat([attrs, ladder], ignore_index=True), geometry=[*lines, *rails, *rungs], crs=LOCAL_METRIC
    )
    roads.index = pd.RangeIndex(1, len(roads) + 1, name="fid")
    houses = buildings(grid, 3_000, seed + 2)
    return {"roads": roads.to_crs(WGS84), "buildings": houses.to_crs(WGS84)}


def dense_crashes(segments: int = 2000, seed: int = 11) -> dict[str, gpd.GeoDataFrame]:
    """A county grid whose national routes are 一级, three crashes per road line, and a few that cannot be placed:
    far from every road (one with a road_id no road has), and one with no location at all."""
    roads = road_network(segments, seed)
    roads["tech_class"] = np.where(roads["admin_class"] == "G", "class1", roads["tech_class"])
    accidents = crashes(roads, 3 * segments, seed + 1)
    lost = accidents.iloc[:4].copy()
    lost.index = pd.RangeIndex(100_001, 100_005)
    lost["severity"], lost["drunk_driving"], lost["occurred_at"] = "fatal", False, pd.Timestamp("2025-06-01")
    lost["road_id"] = [7, 999_999, None, 8]
    far = shapely.get_coordinates(lost.geometry.to_numpy()) + [[0.0, -9_000.0]]
    lost["geometry"] = [*shapely.points(far[:3]), None]
    accidents = pd.concat([accidents, lost])
    return {
        "roads": roads.to_crs(WGS84),
        "accidents": accidents.set_crs(LOCAL_METRIC, allow_override=True).to_crs(WGS84),
        "intersections": intersections_of(roads).to_crs(WGS84),
    }


def assert_same_screening(one: ScreeningResult, many: ScreeningResult) -> None:
    assert many.findings == one.findings  # geometry, crashes, grades, EB excess and rank, notes: to the last bit
    assert many.unplaced == one.unplaced
    pd.testing.assert_frame_equal(many.sites, one.sites, check_exact=True)
    assert many.notes == one.notes


def test_demo_intersections_equal_the_single_process_extraction(client, demo):
    layers = {"buildings": demo["buildings"], "villages": demo["villages"], "surveyed": demo["intersections"]}
    one = extract(demo["roads"], **layers)
    many = extract_partitioned(demo["roads"], client, partitions=16, **layers)
    assert many.partitions == 16 and many.overlap_m > description_radius(ExtractRules(), 50.0)
    assert many.across > 0  # intersections whose legs run into another partition were read through a halo
    pd.testing.assert_frame_equal(many.extraction.frame, one.frame, check_exact=True)
    assert many.extraction.report == one.report
    assert many.extraction.repairs == one.repairs


def test_a_messy_county_gives_the_same_layer_and_a_cluster_longer_than_the_halo_is_read_again_wider(client):
    county = messy_county()
    one = extract(county["roads"], buildings=county["buildings"])
    assert one.report["repairs"]["snapped_ends"] > 0 and one.report["repairs"]["split_points_added"] > 0
    assert one.report["sight_obstructed"] > 0 and one.frame["in_settlement"].any()
    many = extract_partitioned(county["roads"], client, buildings=county["buildings"], partitions=24)
    assert many.partitions == 24 and many.across > 0
    assert many.widened > 0  # the ladder's cluster reached beyond its partition's first halo
    pd.testing.assert_frame_equal(many.extraction.frame, one.frame, check_exact=True)
    assert many.extraction.report == one.report


def test_demo_screening_equals_the_single_process_one(client, demo):
    one = run_screening(demo["accidents"], demo["intersections"], demo["roads"], AS_OF)
    many = screen_partitioned(demo["accidents"], demo["intersections"], demo["roads"], AS_OF, client, partitions=16)
    assert many.partitions == 16
    assert many.across > 0  # crashes near a junction but in another partition were read through a halo
    assert_same_screening(one, many.result)
    assert len(one.findings) == 5


@pytest.mark.parametrize("partitions", [16, 37])
def test_a_dense_county_screens_the_same_with_unplaced_crashes_and_high_grade_routes(client, partitions):
    county = dense_crashes()
    one = run_screening(county["accidents"], county["intersections"], county["roads"], AS_OF)
    many = screen_partitioned(
        county["accidents"], county["intersections"], county["roads"], AS_OF, client, partitions=partitions
    )
    assert many.partitions == partitions and many.across > 0
    assert_same_screening(one, many.result)
    kinds = {(f.kind, f.road_type, f.intersection_fid is None) for f in one.findings}
    assert {("spot", "high", False), ("spot", "ordinary", False), ("segment", "ordinary", True)} <= kinds
    assert {u.reason for u in one.unplaced} == {"no_location", "beyond_max_snap"}
    assert any(f.eb_rank for f in one.findings)


def test_onemap_analyse_intersections_and_blackspots_on_a_local_cluster_store_what_one_process_stores(tmp_path):
    one = town_copy(BACKEND, DEMO_GPKG, tmp_path / "one")
    many = town_copy(BACKEND, DEMO_GPKG, tmp_path / "many")
    runner = CliRunner()
    for command, layer in (("intersections", "intersections"), ("blackspots", "accident_segments")):
        args = ["analyse", command, *(["--as-of", "2026-01-01"] if command == "blackspots" else [])]
        assert runner.invoke(app, [*args, "--data", one]).exit_code == 0
        out = runner.invoke(app, [*args, "--dask", "local", "--partitions", "16", "--data", many])
        assert out.exit_code == 0, out.output
        assert "16partitions" in "".join(out.output.split())
        a, b = open_store(one).read(LAYERS[layer]), open_store(many).read(LAYERS[layer])
        pd.testing.assert_frame_equal(pd.DataFrame(a), pd.DataFrame(b), check_exact=True)
