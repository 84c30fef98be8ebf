"""Accident-prone spots and segments: the norm's rules on hand-built examples (boundaries included), and every
planted black spot of the demo town found with nothing else."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from backends import BACKEND, demo_store, settings_for, town_copy
from fastapi.testclient import TestClient
from scene import AS_OF, ORIGIN, bearer, lonlat
from shapely.geometry import LineString, Point
from typer.testing import CliRunner

from analysis.routes import Routes
from analysis.screening import Rules, grade, run_screening, screen
from api.main import create_app
from geo.crs import LOCAL_METRIC, transform_geometries
from layers import LAYERS
from layers.frames import empty_frame
from onemap.cli import app
from onemap.settings import DEMO_GPKG
from store import open_store
from store.users import UserStore


def test_grades_at_the_boundaries():
    assert grade(6, 6) == "class1"  # exactly six fatal crashes: 一类
    assert grade(5, 5) == "class2" and grade(3, 3) == "class2"  # three to five fatal: 二类
    assert grade(2, 6) == "class2"  # six injury-or-fatal crashes: 二类
    assert grade(2, 5) is None and grade(0, 0) is None


def _scene(crash_xy: list[tuple[float, float]], severity="injury", **columns):
    """A straight east-west road through a junction at ORIGIN, and crashes at the given metric positions."""
    x0, y0 = ORIGIN
    road = LineString(
        transform_geometries([LineString([(x0 - 3000, y0), (x0 + 3000, y0)])], LOCAL_METRIC, "EPSG:4326")[0]
    )
    roads = gpd.GeoDataFrame({"route_code": ["X999"], "name": ["X999"]}, geometry=[road], crs=4326, index=pd.Index([1]))
    junction = gpd.GeoDataFrame({"name": ["路口"]}, geometry=lonlat([ORIGIN]), crs=4326, index=pd.Index([1]))
    n = len(crash_xy)
    frame = {
        "occurred_at": pd.to_datetime(["2025-06-01"] * n),
        "severity": [severity] * n if isinstance(severity, str) else severity,
        "drunk_driving": [False] * n,
        "drug_driving": [False] * n,
        "road_id": [1] * n,
    } | columns
    accidents = gpd.GeoDataFrame(frame, geometry=lonlat(crash_xy), crs=4326, index=pd.RangeIndex(1, n + 1))
    return accidents, junction, roads


def test_a_crash_250_m_from_the_centre_counts_and_251_m_does_not():
    x0, y0 = ORIGIN
    near = [(x0 + 100 * k / 5, y0) for k in range(5)]
    inside, _ = screen(*_scene([*near, (x0 + 250, y0)]), AS_OF)
    assert [(f.kind, f.grade, f.intersection_fid, f.casualty) for f in inside] == [("spot", "class2", 1, 6)]
    outside, _ = screen(*_scene([*near, (x0 + 251, y0)]), AS_OF)
    # No longer the junction's spot; the six still lie within 500 m of road, so a section spot remains.
    assert [(f.kind, f.intersection_fid) for f in outside] == [("spot", None)]


def test_drink_drugs_and_old_crashes_do_not_count():
    x0, y0 = ORIGIN
    spot = [(x0 + 20 * k, y0) for k in range(6)]
    found, _ = screen(*_scene(spot), AS_OF)
    assert found and found[0].grade == "class2"
    for column, values in (("drunk_driving", [True] + [False] * 5), ("drug_driving", [False] * 5 + [True])):
        assert screen(*_scene(spot, **{column: values}), AS_OF)[0] == []
    old = pd.to_datetime(["2022-12-31"] + ["2025-06-01"] * 5)
    assert screen(*_scene(spot, occurred_at=old), AS_OF)[0] == []
    fatal, _ = screen(*_scene(spot, severity="fatal"), AS_OF)
    assert fatal[0].grade == "class1" and fatal[0].fatal == 6


def test_spread_crashes_make_a_segment_only_within_2_km():
    x0, y0 = ORIGIN
    spread = [(x0 + 600 + 350 * k, y0) for k in range(6)]  # 1,750 m from first to last, away from the junction
    found, _ = screen(*_scene(spread), AS_OF)
    assert [(f.kind, f.grade, f.casualty) for f in found] == [("segment", "class2", 6)]
    assert found[0].end_m - found[0].start_m == pytest.approx(1750, abs=1)
    wider = [(x0 + 600 + 420 * k, y0) for k in range(6)]  # 2,100 m: no 2 km window holds six
    assert screen(*_scene(wider), AS_OF)[0] == []
    heaped = [(x0 + 1500 + 40 * k, y0) for k in range(6)]  # within 500 m on a section: a spot, not a segment
    assert [(f.kind, f.intersection_fid) for f in screen(*_scene(heaped), AS_OF)[0]] == [("spot", None)]


def test_a_crash_far_from_its_road_is_reported_not_placed():
    x0, y0 = ORIGIN
    accidents, junction, roads = _scene([(x0 + 1000, y0 + 200)])
    assert screen(accidents, junction, roads, AS_OF, Rules())[1] == [1]


def test_the_demo_town_black_spots_are_found_and_nothing_else():
    store = demo_store()
    layers = [store.read(LAYERS[name]) for name in ("accidents", "intersections", "roads")]
    findings, unplaced = screen(*layers, AS_OF)
    truth = json.loads(DEMO_GPKG.with_name("demo_town.truth.json").read_text(encoding="utf-8"))["accident_black_spots"]
    spots = {(f.intersection_fid, f.grade) for f in findings if f.kind == "spot"}
    assert spots == {(t["intersection_fid"], t["grade"]) for t in truth["spots"]}
    for planted in truth["segments"]:
        match = [f for f in findings if f.kind == "segment" and f.route_code == planted["route_code"]]
        assert len(match) == 1 and match[0].grade == planted["grade"]
        assert set(match[0].accident_fids) == set(planted["accident_fids"])
    assert truth["decoy"]["intersection_fid"] not in {f.intersection_fid for f in findings}
    false_positives = len(findings) - len(truth["spots"]) - len(truth["segments"])
    assert false_positives == 0 and unplaced == []
    again, _ = screen(*layers, AS_OF)
    assert [(f.kind, f.grade, f.accident_fids) for f in again] == [(f.kind, f.grade, f.accident_fids) for f in findings]


def test_onemap_analyse_blackspots_stores_the_layer_with_its_parameters(tmp_path):
    data = town_copy(BACKEND, DEMO_GPKG, tmp_path)
    result = CliRunner().invoke(app, ["analyse", "blackspots", "--as-of", "2026-01-01", "--data", str(data)])
    assert result.exit_code == 0, result.output
    stored = open_store(data).read(LAYERS["accident_segments"])
    assert sorted(stored["kind"]) == ["segment", "segment", "spot", "spot", "spot"]
    assert (stored["grade"] == "class1").sum() == 1
    parameters = json.loads(stored["parameters"].iloc[0])
    assert parameters["as_of"] == "2026-01-01" and parameters["spot_radius_m"] == 250.0
    assert stored.geometry.is_valid.all() and str(stored["window_from"].iloc[0]) == "2023-01-01"
    bad = CliRunner().invoke(app, ["analyse", "blackspots", "--as-of", "yesterday", "--data", str(data)])
    assert bad.exit_code == 2


def test_the_screening_over_http_is_run_by_the_town_office_and_served_at_once(tmp_path):
    data = town_copy(BACKEND, DEMO_GPKG, tmp_path)
    open_store(data).replace(LAYERS["accident_segments"], empty_frame(LAYERS["accident_segments"]))
    users = UserStore(data)
    users.add("admin", "admin password", "admin")
    users.add("viewer", "viewer password", "emergency")
    users.close()
    with TestClient(create_app(settings_for(data))) as client:
        assert client.get("/analysis/blackspots").json()["count"] == 0
        assert client.post("/analysis/blackspots", params={"as_of": "2026-01-01"}).status_code == 401
        denied = client.post(
            "/analysis/blackspots", params={"as_of": "2026-01-01"}, headers=bearer(client, "viewer", "viewer password")
        )
        assert denied.status_code == 403
        ran = client.post(
            "/analysis/blackspots", params={"as_of": "2026-01-01"}, headers=bearer(client, "admin", "admin password")
        )
        assert ran.status_code == 200 and len(ran.json()["found"]) == 5
        assert client.get("/analysis/blackspots").json()["count"] == 5
        served = client.get("/collections/accident_segments/items").json()
        assert served["numberMatched"] == 5  # on the map and the OGC API at once
        assert open_store(data).count(LAYERS["accident_segments"]) == 5  # and stored


# -- road-class windows, snapping by index ---------------------------------------------------------------------


def _roads_scene(crash_xy, roads, road_id=1, severity="injury"):
    """Roads given as (fid, metric coordinates, attributes); a junction at ORIGIN; crashes at metric positions."""
    fids = [fid for fid, _, _ in roads]
    lines = transform_geometries([LineString(coords) for _, coords, _ in roads], LOCAL_METRIC, "EPSG:4326")
    columns = [{"name": attrs.get("route_code", f"road {fid}")} | attrs for fid, _, attrs in roads]
    frame = gpd.GeoDataFrame(pd.DataFrame(columns, index=pd.Index(fids)), geometry=list(lines), crs=4326)
    junction = gpd.GeoDataFrame({"name": ["路口"]}, geometry=lonlat([ORIGIN]), crs=4326, index=pd.Index([1]))
    n = len(crash_xy)
    accidents = gpd.GeoDataFrame(
        {
            "occurred_at": pd.to_datetime(["2025-06-01"] * n),
            "severity": [severity] * n,
            "deaths": [1 if severity == "fatal" else 0] * n,
            "injuries": [0 if severity == "fatal" else 1] * n,
            "drunk_driving": [False] * n,
            "drug_driving": [False] * n,
            "road_id": pd.array([road_id] * n, dtype="Int64"),
        },
        geometry=lonlat(crash_xy),
        crs=4326,
        index=pd.RangeIndex(1, n + 1),
    )
    return accidents, junction, frame


def _straight(tech_class: str, half_length_m: float = 6000.0, **attrs):
    x0, y0 = ORIGIN
    return [(1, [(x0 - half_length_m, y0), (x0 + half_length_m, y0)], {"route_code": "G999", "tech_class": tech_class})]


@pytest.mark.parametrize(
    ("tech_class", "expected"),
    [
        ("class1", [("spot", None, "high", 1000.0)]),  # 900 m spread: one 1,000 m spot on a 一级 road
        ("expressway", [("spot", None, "high", 1000.0)]),  # the same for 高速
        ("class3", [("segment", None, "ordinary", 2000.0)]),  # no 500 m window holds six: a 2 km segment only
    ],
)
def test_class1_roads_use_1000_m_spots(tech_class, expected):
    x0, y0 = ORIGIN
    spread = [(x0 + 1000 + 180 * k, y0) for k in range(6)]  # 900 m from first to last, 1 km from the junction
    found, unplaced = screen(*_roads_scene(spread, _straight(tech_class)), AS_OF)
    assert [(f.kind, f.intersection_fid, f.road_type, f.window_m) for f in found] == expected
    assert found[0].end_m - found[0].start_m == pytest.approx(900, abs=0.5) and unplaced == []


def test_class1_segments_are_4_km_long():
    x0, y0 = ORIGIN
    within = [(x0 + 600 + 780 * k, y0) for k in range(6)]  # 3,900 m: one 4 km window holds all six
    found, _ = screen(*_roads_scene(within, _straight("class1")), AS_OF)
    assert [(f.kind, f.grade, f.casualty, f.window_m) for f in found] == [("segment", "class2", 6, 4000.0)]
    assert found[0].end_m - found[0].start_m == pytest.approx(3900, abs=0.5)
    beyond = [(x0 + 600 + 820 * k, y0) for k in range(6)]  # 4,100 m: no 4 km window holds six
    assert screen(*_roads_scene(beyond, _straight("class1")), AS_OF)[0] == []
    # On an ordinary road the 3,900 m spread is far too wide for its 2 km segments.
    assert screen(*_roads_scene(within, _straight("class3")), AS_OF)[0] == []


def test_a_junction_on_a_class1_road_takes_the_1000_m_spot_centred_on_it():
    x0, y0 = ORIGIN
    near = [(x0 + 100 + 70 * k, y0) for k in range(6)]  # 100–450 m from the junction centre
    high, _ = screen(*_roads_scene(near, _straight("class1")), AS_OF)
    assert [(f.kind, f.intersection_fid, f.road_type, f.window_m) for f in high] == [("spot", 1, "high", 1000.0)]
    ordinary, _ = screen(*_roads_scene(near, _straight("class3")), AS_OF)
    # Beyond 250 m of an ordinary junction the crashes are on the section: a 500 m section spot, not the junction's.
    assert [(f.kind, f.intersection_fid) for f in ordinary] == [("spot", None)]


def test_a_route_takes_the_class_of_most_of_its_length():
    x0, y0 = ORIGIN
    long_class1 = (1, [(x0 - 6000, y0), (x0 + 3000, y0)], {"route_code": "S201", "tech_class": "class1"})
    short_class3 = (2, [(x0 + 3000, y0), (x0 + 4000, y0)], {"route_code": "S201", "tech_class": "class3"})
    spread = [(x0 + 3100 + 160 * k, y0) for k in range(6)]  # 800 m, all on the short class3 stretch
    found, _ = screen(*_roads_scene(spread, [long_class1, short_class3], road_id=2), AS_OF)
    assert [(f.kind, f.route_code, f.road_type) for f in found] == [("spot", "S201", "high")]
    assert found[0].start_m == pytest.approx(9100, abs=0.5)  # measured along the merged route from its west end
    mostly_class3 = [long_class1[:2] + ({"route_code": "S201", "tech_class": "class3"},), short_class3]
    found, _ = screen(*_roads_scene(spread, mostly_class3, road_id=2), AS_OF)
    assert [(f.kind, f.road_type) for f in found] == [("segment", "ordinary")]


def test_crashes_without_road_id_snap_to_the_nearest_road():
    x0, y0 = ORIGIN
    roads = [
        (1, [(x0 - 3000, y0), (x0 + 3000, y0)], {"route_code": "X101"}),
        (2, [(x0 - 3000, y0 + 300), (x0 + 3000, y0 + 300)], {"route_code": "X102"}),
    ]
    heaped = [(x0 + 1500 + 40 * k, y0 + 300 - 12) for k in range(6)]  # 12 m from X102, 288 m from X101
    found, unplaced = screen(*_roads_scene(heaped, roads, road_id=None), AS_OF)
    assert [(f.kind, f.route_code) for f in found] == [("spot", "X102")] and unplaced == []
    # A wrong road_id (X101, 288 m away) gives way to the nearest road within reach.
    found, unplaced = screen(*_roads_scene(heaped, roads, road_id=1), AS_OF)
    assert [(f.kind, f.route_code) for f in found] == [("spot", "X102")] and unplaced == []


@pytest.mark.parametrize("road_id", [1, None])
def test_a_crash_31_m_away_is_unplaced_with_its_reason_and_29_m_is_placed(road_id):
    x0, y0 = ORIGIN
    roads = [(1, [(x0 - 3000, y0), (x0 + 3000, y0)], {"route_code": "X101"})]
    result = run_screening(*_roads_scene([(x0 + 1000, y0 + 31), (x0 + 1000, y0 + 29)], roads, road_id), AS_OF)
    assert [(u.fid, u.reason) for u in result.unplaced] == [(1, "beyond_max_snap")]
    assert result.unplaced[0].nearest_m == pytest.approx(31, abs=0.01)
    assert "no road within 30 m" in result.unplaced[0].detail
    assert any("could not be placed" in note for note in result.notes)
    wider = run_screening(*_roads_scene([(x0 + 1000, y0 + 31)], roads, road_id), AS_OF, Rules(max_snap_m=35))
    assert wider.unplaced == []
    assert screen(*_roads_scene([(x0 + 1000, y0 + 31)], roads, road_id), AS_OF)[1] == [1]


def _grid_roads(rng: np.random.Generator, k: int = 12, spacing: float = 300.0) -> gpd.GeoDataFrame:
    """A jittered k x k grid: each link a two-piece line with a bent middle, one route per row and per column."""
    x0, y0 = ORIGIN
    nodes = np.stack(np.meshgrid(np.arange(k), np.arange(k), indexing="ij"), -1) * spacing
    nodes = nodes + rng.uniform(-30, 30, nodes.shape) + (x0 - 2000, y0 - 2000)
    lines, codes = [], []
    for i in range(k):
        for j in range(k):
            for di, dj, code in ((1, 0, f"Y{j + 100}"), (0, 1, f"C{i + 200}")):
                if i + di < k and j + dj < k and rng.random() > 0.1:
                    a, b = nodes[i, j], nodes[i + di, j + dj]
                    lines.append(LineString([a, (a + b) / 2 + rng.uniform(-20, 20, 2), b]))
                    codes.append(code)
    geoms = transform_geometries(lines, LOCAL_METRIC, "EPSG:4326")
    index = pd.Index(rng.permutation(len(lines)) * 3 + 7)  # ids that are not positions
    return gpd.GeoDataFrame({"route_code": codes, "name": codes}, geometry=list(geoms), crs=4326, index=index)


def test_snapping_agrees_with_brute_force_on_a_random_network():
    rng = np.random.default_rng(20260101)
    roads = _grid_roads(rng)
    network = Routes(roads)
    n = 3000
    road_geoms = transform_geometries(roads.geometry.to_numpy(), "EPSG:4326", LOCAL_METRIC)
    on = rng.integers(0, len(roads), n)  # each crash near a random road, up to 45 m off it in x and y
    xy = shapely.get_coordinates(shapely.line_interpolate_point(road_geoms[on], rng.random(n), normalized=True))
    xy += rng.uniform(-45, 45, (n, 2))
    given = roads.index.to_numpy()[on].astype(object)  # its own road ...
    draw = rng.random(n)
    given[draw < 0.3] = None  # ... or none ...
    given[(draw >= 0.3) & (draw < 0.5)] = rng.choice(roads.index.to_numpy(), n)[(draw >= 0.3) & (draw < 0.5)]  # wrong
    given[(draw >= 0.5) & (draw < 0.55)] = 999_999  # ... or an id no road has
    snapped = network.snap(xy, given, 30.0)
    # Brute force: every distance from every crash to every road.
    d = shapely.distance(shapely.points(xy)[:, None], road_geoms[None, :])
    chosen = np.where(snapped.piece >= 0, network.piece_road[np.maximum(snapped.piece, 0)], -1)
    own = roads.index.get_indexer(pd.array(given, dtype="Int64").fillna(-1).to_numpy())
    own_d = np.where(own >= 0, d[np.arange(n), np.maximum(own, 0)], np.inf)
    by_own = own_d <= 30.0 + 1e-3
    assert (chosen[by_own] == own[by_own]).all() and snapped.by_road_id[by_own].all()
    rest = ~by_own
    nearest = d.min(axis=1)
    reachable = rest & (nearest <= 30.0 + 1e-3)
    assert (chosen[rest & ~reachable] == -1).all()
    # The nearest road, up to ties: the chosen road is at the minimum distance.
    assert np.allclose(d[reachable, chosen[reachable]], nearest[reachable], atol=1e-9)
    assert np.allclose(snapped.distance_m[reachable], nearest[reachable], atol=1e-9)
    assert min(reachable.sum(), (rest & ~reachable).sum(), by_own.sum()) > 200  # every case is met
    assert (by_own & (own_d > nearest + 1e-6)).sum() > 20  # its own road wins over a nearer one
    # Linear referencing by piece offsets agrees with projecting onto the whole merged route part.
    sample = np.flatnonzero(reachable)[:300]
    part, pos = network.locate(snapped.piece[sample], xy[sample])
    for p, x, at in zip(part, xy[sample], pos, strict=True):
        line = network.part_geometry(int(p), 0.0, float(network.part_length[p]))
        assert shapely.line_locate_point(line, Point(x)) == pytest.approx(at, abs=1e-6)
