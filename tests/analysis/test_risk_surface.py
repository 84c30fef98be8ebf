"""The composite risk surface: a hand-worked pair of hexagons, every component against a brute-force point-in-polygon
count on the demo town, the weights as configuration, and the run over HTTP and the command line."""

from __future__ import annotations

import json
from datetime import date, datetime

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from backends import BACKEND, demo_store, settings_for, town_copy
from fastapi.testclient import TestClient
from scene import AS_OF, bearer
from shapely.geometry import LineString, Point
from typer.testing import CliRunner

from analysis.risk_runs import INPUTS, surface_frame, surface_inputs
from analysis.risk_surface import COMPONENTS, SurfaceInputs, SurfaceRules, rank_from_cells, risk_surface, score_class
from api.main import create_app
from geo.crs import WGS84
from layers import LAYERS
from layers.frames import empty_frame
from onemap.cli import app
from onemap.settings import DEMO_GPKG
from store import open_store
from store.users import UserStore

RES = 8
A = h3.latlng_to_cell(42.846, 120.548, RES)
B = h3.grid_ring(A, 1)[0]


def centre(cell: str, dx: float = 0.0, dy: float = 0.0) -> Point:
    """A point near the cell's centre, `dx`/`dy` degrees off it."""
    lat, lng = h3.cell_to_latlng(cell)
    return Point(lng + dx, lat + dy)


def frame(rows: list[dict], geoms: list) -> gpd.GeoDataFrame:
    index = pd.RangeIndex(1, 1 + len(geoms), name="fid")
    return gpd.GeoDataFrame(pd.DataFrame(rows, index=index), geometry=list(geoms), crs=WGS84)


@pytest.fixture
def pair() -> SurfaceInputs:
    """Hexagon A holds a red major hazard site (二级), an overdue 重大 hazard, a fatal crash, a short 一类 segment, and
    15 residents of whom 5 no engine reaches; B a blue site, a 一般 hazard on time, an injury and a damage-only crash
    and 8 residents reached late. A closed hazard and a crash before the window count for nothing."""
    sources = frame([{"level": "red"}, {"level": "blue"}], [centre(A), centre(B)])
    hazards = frame(
        [
            {"status": "rectifying", "level": "major", "deadline": date(2025, 6, 1)},
            {"status": "closed", "level": "major", "deadline": date(2025, 6, 1)},
            {"status": "registered", "level": "general", "deadline": date(2026, 6, 1)},
        ],
        [centre(A, 0.001), centre(A, -0.001), centre(B, 0.001)],
    )
    accidents = frame(
        [
            {"severity": "fatal", "occurred_at": datetime(2025, 3, 1)},
            {"severity": "injury", "occurred_at": datetime(2021, 3, 1)},
            {"severity": "injury", "occurred_at": datetime(2024, 3, 1)},
            {"severity": "property", "occurred_at": datetime(2023, 3, 1)},
        ],
        [centre(A, 0.0005), centre(A, -0.0005), centre(B, 0.0005), centre(B, -0.0005)],
    )
    a = centre(A)
    segments = frame([{"grade": "class1"}], [LineString([(a.x - 0.0005, a.y), (a.x + 0.0005, a.y)])])
    buildings = frame(
        [{"residents": 10}, {"residents": 5}, {"residents": 8}],
        [centre(A, 0.0002).buffer(0.0001), centre(A, -0.0002).buffer(0.0001), centre(B).buffer(0.0001)],
    )
    villages = frame([{"code": "150525107201", "name": "甲村"}], [Point(a.x, a.y).buffer(0.2)])
    return SurfaceInputs(
        risk_sources=sources,
        graded_levels=pd.Series(["red", "blue"], index=sources.index),
        major_grades=pd.Series(["二级", None], index=sources.index),
        hazards=hazards,
        accidents=accidents,
        accident_segments=segments,
        buildings=buildings,
        fire_times_s=pd.Series([200.0, np.nan, 400.0], index=buildings.index),
        villages=villages,
    )


def test_hand_worked_pair_of_hexagons(pair):
    result = risk_surface(pair, AS_OF)
    cells = result.cells.set_index("cell")
    assert list(cells.index) == [A, B]  # highest score first
    want = {
        A: {
            "risk_sources": 4 + 3,
            "hazards": 3 * 2,
            "accidents": 10,
            "blackspots": 3,
            "fire_gaps": 5,
            "population": 15,
        },
        B: {"risk_sources": 1, "hazards": 1, "accidents": 3 + 1, "blackspots": 0, "fire_gaps": 8, "population": 8},
    }
    for cell, values in want.items():
        for component, value in values.items():
            assert cells.loc[cell, component] == pytest.approx(value), (cell, component)
    # Each component over its largest cell, weighted 0.30/0.20/0.15/0.10/0.10/0.15 out of 1.00, times 100.
    assert cells.loc[A, "score"] == pytest.approx(100 * (0.30 + 0.20 + 0.15 + 0.10 + 0.10 * 5 / 8 + 0.15))
    assert cells.loc[B, "score"] == pytest.approx(100 * (0.30 / 7 + 0.20 / 6 + 0.15 * 4 / 10 + 0.10 + 0.15 * 8 / 15))
    assert list(cells["level"]) == ["5", "3"]
    assert cells.loc[B, "fire_gaps_points"] == pytest.approx(10.0)
    shape = result.cells.set_index("cell").geometry[A]
    assert shape.contains(centre(A)) and shape.area > 0
    assert result.villages.iloc[0]["name"] == "甲村" and result.villages.iloc[0]["cells"] == 2


def test_a_score_on_a_break_goes_to_the_class_above():
    rules = SurfaceRules()
    scores = np.array([0, 9.999, 10, 19.999, 20, 34.999, 35, 49.999, 50, 100])
    assert list(score_class(scores, rules)) == ["1", "1", "2", "2", "3", "3", "4", "4", "5", "5"]


def test_weights_are_configuration(pair):
    only_people = SurfaceRules(weights={"population": 1.0})
    cells = risk_surface(pair, AS_OF, only_people).cells.set_index("cell")
    assert cells.loc[B, "score"] == pytest.approx(100 * 8 / 15)
    heavier = SurfaceRules().with_weights(["fire_gaps=0.9"])
    assert heavier.weight("fire_gaps") == 0.9 and heavier.weight("hazards") == 0.20
    assert SurfaceRules.from_dict(heavier.as_dict()) == heavier
    with pytest.raises(ValueError, match="component=number"):
        SurfaceRules().with_weights(["fire=1"])
    with pytest.raises(ValueError, match="not a number"):
        SurfaceRules().with_weights(["hazards=lots"])
    with pytest.raises(ValueError, match="not all 0"):
        SurfaceRules(weights={"hazards": 0.0})


@pytest.fixture(scope="module")
def demo_run():
    store = demo_store()
    frames = {name: store.read(LAYERS[name]) for name in INPUTS}
    inputs = surface_inputs(frames)
    return inputs, risk_surface(inputs, AS_OF)


def inside(cells: gpd.GeoDataFrame, points: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Brute force: the weights of the points each hexagon polygon covers, summed, one cell at a time."""
    return np.array([weights[shapely.covers(poly, points)].sum() for poly in cells.geometry])


def test_demo_components_equal_a_brute_force_point_in_polygon_count(demo_run):
    inputs, result = demo_run
    cells = result.cells
    b = inputs.buildings
    residents = b["residents"].to_numpy(float)
    points = shapely.point_on_surface(b.geometry.to_numpy())
    assert inside(cells, points, residents) == pytest.approx(cells["population"].to_numpy())
    late = ~(inputs.fire_times_s.reindex(b.index).to_numpy() <= 300)
    assert late.any() and inside(cells, points, residents * late) == pytest.approx(cells["fire_gaps"].to_numpy())
    src = inputs.risk_sources
    pts = {"red": 4, "orange": 3, "yellow": 2, "blue": 1}
    major = {"一级": 4, "二级": 3, "三级": 2, "四级": 1}
    src_points = np.array(
        [pts.get(lv, 0) + major.get(g, 0) for lv, g in zip(inputs.graded_levels, inputs.major_grades, strict=True)]
    )
    got = inside(cells, shapely.point_on_surface(src.geometry.to_numpy()), src_points.astype(float))
    assert got == pytest.approx(cells["risk_sources"].to_numpy())
    assert cells["risk_sources"].sum() == pytest.approx(src_points.sum())  # every site lands in a cell
    acc = inputs.accidents
    when = pd.to_datetime(acc["occurred_at"])
    window = ((when >= pd.Timestamp("2023-01-01")) & (when < pd.Timestamp(AS_OF))).to_numpy()
    sev = acc["severity"].map({"fatal": 10.0, "injury": 3.0, "property": 1.0}).to_numpy() * window
    assert inside(cells, acc.geometry.to_numpy(), sev) == pytest.approx(cells["accidents"].to_numpy())
    segs = inputs.accident_segments
    assert cells["blackspots"].sum() == pytest.approx(segs["grade"].map({"class1": 3, "class2": 2, "class3": 1}).sum())


def test_demo_town_seat_ranks_first_and_major_sites_sit_in_high_cells(demo_run):
    inputs, result = demo_run
    assert result.villages.iloc[0]["name"] == "义隆永村"
    assert list(result.villages["rank"]) == list(range(1, len(inputs.villages) + 1))
    majors = inputs.major_grades.dropna().index
    assert len(majors) == 2
    for fid in majors:
        p = inputs.risk_sources.geometry[fid].representative_point()
        cell = h3.latlng_to_cell(p.y, p.x, RES)
        row = result.cells.set_index("cell").loc[cell]
        assert row["risk_sources_points"] > 0
    stored = surface_frame(result)
    ranked = rank_from_cells(stored, inputs.villages, result.rules)
    assert list(ranked["name"]) == list(result.villages["name"])  # the ranking read back from the stored layer


@pytest.fixture
def data(tmp_path):
    path = town_copy(BACKEND, DEMO_GPKG, tmp_path)
    open_store(path).replace(LAYERS["risk_surface"], empty_frame(LAYERS["risk_surface"]))
    return path


def test_the_surface_over_http(data):
    users = UserStore(data)
    users.add("admin", "admin password", "admin")
    users.add("viewer", "viewer password", "emergency")
    users.close()
    with TestClient(create_app(settings_for(data))) as client:
        assert client.get("/analysis/risk/surface").json()["cells"] == 0
        assert client.post("/analysis/risk/surface").status_code == 401
        assert (
            client.post("/analysis/risk/surface", headers=bearer(client, "viewer", "viewer password")).status_code
            == 403
        )
        admin = bearer(client, "admin", "admin password")
        bad = client.post("/analysis/risk/surface", params={"weight": "fire=2"}, headers=admin)
        assert bad.status_code == 400 and "component=number" in bad.json()["description"]
        ran = client.post("/analysis/risk/surface", params={"as_of": "2026-01-01"}, headers=admin).json()
        assert ran["villages"][0]["name"] == "义隆永村" and ran["rules"]["weights"]["risk_sources"] == 0.30
        read = client.get("/analysis/risk/surface", params={"top": 5}).json()
        assert read["as_of"] == "2026-01-01" and read["cells"] == ran["cells"] and len(read["top"]) == 5
        assert [v["name"] for v in read["villages"]] == [v["name"] for v in ran["villages"]]
        items = client.get("/collections/risk_surface/items", params={"limit": 1000}).json()
        assert items["numberMatched"] == ran["cells"]
        first = min(items["features"], key=lambda f: f["properties"]["rank"])["properties"]
        assert [f["factor"] for f in json.loads(first["factors"])] == list(COMPONENTS)
        heavier = client.post("/analysis/risk/surface", params={"weight": ["population=0", "hazards=1"]}, headers=admin)
        assert heavier.json()["rules"]["weights"]["population"] == 0.0


def test_onemap_analyse_risk_stores_the_surface_and_ranks_villages(data):
    out = CliRunner().invoke(app, ["analyse", "risk", "--data", str(data), "--as-of", "2026-01-01"])
    assert out.exit_code == 0, out.output
    text = "".join(out.output.split())  # the console wraps long lines
    assert "1.义隆永村" in text and "storedinrisk_surface" in text
    assert len(open_store(data).read(LAYERS["risk_surface"])) > 100
    bad = CliRunner().invoke(app, ["analyse", "risk", "--data", str(data), "--weight", "x=1"])
    assert bad.exit_code != 0 and "component=number" in "".join(bad.output.split())
