"""The one incident call (/analysis/risk/incident) over the demo town: rescue forces by road against an independent
networkx run, people and risk sources within each radius against brute-force distances, hazards by role, and the
clear errors for bad input."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import shapely
from backends import BACKEND, settings_for, town_copy
from fastapi.testclient import TestClient
from test_incident import nx_times

from analysis.incident import PANEL_KINDS
from analysis.incident_report import DEFAULT_RADII_M, IncidentContext, check_radii, rings_within
from api.catalog import Catalog
from api.main import create_app
from geo.crs import LOCAL_METRIC, transform_geometries
from layers import LAYERS
from onemap.settings import DEMO_GPKG
from store import open_store
from store.users import UserStore

PASSWORD = "correct horse battery"
#: Points in the demo town: the town centre, a village road, and beside the planted lane blockage.
POINTS = [(120.548, 42.846), (120.5475, 42.8455), (120.55045, 42.84871)]


@pytest.fixture(scope="module")
def town(tmp_path_factory) -> Iterator[dict]:
    path = town_copy(BACKEND, DEMO_GPKG, tmp_path_factory.mktemp("incident"))
    hazards = open_store(path).read(LAYERS["hazards"])
    village = str(hazards["village_code"].dropna().iloc[0])
    users = UserStore(path)
    users.add("officer", PASSWORD, "emergency")
    users.add("village", PASSWORD, "village", village_code=village)
    users.close()
    with TestClient(create_app(settings_for(path))) as client:
        headers = {}
        for name in ("officer", "village"):
            token = client.post("/auth/token", data={"username": name, "password": PASSWORD}).json()["access_token"]
            headers[name] = {"Authorization": f"Bearer {token}"}
        yield {"client": client, "cat": Catalog.load(open_store(path)), "headers": headers, "village": village}


def ask(town: dict, lon: float, lat: float, **params) -> dict:
    response = town["client"].get("/analysis/risk/incident", params={"lon": lon, "lat": lat, **params})
    assert response.status_code == 200, response.text
    return response.json()


def metric_distances(frame, lon: float, lat: float) -> np.ndarray:
    origin = transform_geometries([shapely.Point(lon, lat)], "EPSG:4326", LOCAL_METRIC)[0]
    return shapely.distance(origin, transform_geometries(frame.geometry.values, "EPSG:4326", LOCAL_METRIC))


@pytest.mark.parametrize(("lon", "lat"), POINTS)
def test_rescue_forces_are_those_an_independent_shortest_path_run_finds(town, lon, lat):
    body = ask(town, lon, lat)
    assert body["on_network"] is True
    cat = town["cat"]
    resources = cat["emergency_resources"].frame
    router = IncidentContext.build(cat).router
    x, y = transform_geometries([shapely.Point(lon, lat)], "EPSG:4326", LOCAL_METRIC)[0].coords[0]
    geoms = np.asarray(resources.to_crs(LOCAL_METRIC).geometry.to_numpy(), dtype=object)
    seconds, metres = nx_times(router, x, y, geoms)
    kinds = resources["kind"].astype(str).to_numpy()
    fids = resources.index.to_numpy()
    by_kind = {row["kind"]: row for row in body["nearest_by_time"]}
    assert list(by_kind) == list(PANEL_KINDS)
    if not np.isfinite(seconds).any():
        assert "堵塞" in body["network_note"]  # behind the straw on dead-end lane 17: nothing gets there by road
    for kind in PANEL_KINDS:
        mine = (kinds == kind) & np.isfinite(seconds)
        if not mine.any():
            assert by_kind[kind]["fid"] is None
            continue
        best = np.flatnonzero(mine)[np.argmin(seconds[mine])]
        assert by_kind[kind]["fid"] == int(fids[best])
        assert by_kind[kind]["seconds"] == pytest.approx(seconds[best], abs=0.05)
        assert by_kind[kind]["road_m"] == pytest.approx(metres[best], abs=0.05)
    shelters = (kinds == "shelter") & np.isfinite(metres)
    order = np.lexsort((fids[shelters], metres[shelters]))[:3]
    assert [s["fid"] for s in body["shelters"]] == [int(f) for f in fids[shelters][order]]


@pytest.mark.parametrize(("lon", "lat"), POINTS)
def test_people_and_risk_sources_within_each_radius_match_brute_force(town, lon, lat):
    radii = [300, 800, 2500]
    body = ask(town, lon, lat, radius_m=radii)
    cat = town["cat"]
    buildings = cat["buildings"].frame
    d = metric_distances(buildings, lon, lat)
    for ring, r in zip(body["exposed"], radii, strict=True):
        assert ring["radius_m"] == r
        assert ring["buildings"] == int((d <= r).sum())
        assert ring["residents"] == int(buildings["residents"].to_numpy()[d <= r].sum())
    sources = cat["risk_sources"].frame
    ds = metric_distances(sources, lon, lat)
    inside = np.flatnonzero(ds <= radii[-1])
    got = {s["fid"]: s for s in body["risk_sources"]}
    assert set(got) == {int(f) for f in sources.index[inside]}
    for i in inside:
        s = got[int(sources.index[i])]
        assert s["distance_m"] == pytest.approx(ds[i], abs=0.1)
        assert s["ring_m"] == min(r for r in radii if ds[i] <= r + 0.05)
        assert s["colour"] and s["level_label"] and s["level_rule"]
    assert [s["distance_m"] for s in body["risk_sources"]] == sorted(s["distance_m"] for s in body["risk_sources"])


def test_a_major_hazard_source_nearby_shows_its_grade_and_substances(town):
    major = town["client"].get("/analysis/risk/major-hazards").json()
    fid = major["major"][0]
    lon, lat = town["cat"]["risk_sources"].index.geometry(fid).representative_point().coords[0]
    body = ask(town, lon, lat, radius_m=[500])
    site = next(s for s in body["risk_sources"] if s["fid"] == fid)
    record = next(s for s in major["sources"] if s["fid"] == fid)
    assert site["major_hazard"] is True and site["gb18218_grade"] == record["grade"]
    assert site["S"] == pytest.approx(record["S"], abs=1e-4)
    assert [x["name"] for x in site["substances"]] == [x["name"] for x in record["substances"]]
    assert all(x["q_t"] > 0 and x["Q_t"] > 0 for x in site["substances"])


def test_open_hazards_only_for_those_who_may_see_them(town):
    cat = town["cat"]
    hazards = cat["hazards"].frame
    open_ = hazards[hazards["status"].isin(["registered", "assessed", "rectifying"])]
    lon, lat = cat["hazards"].index.geometry(int(open_.index[0])).representative_point().coords[0]
    assert ask(town, lon, lat)["hazards"] is None  # not signed in: the ledger stays hidden
    client = town["client"]
    params = {"lon": lon, "lat": lat, "radius_m": 3000}
    officer = client.get("/analysis/risk/incident", params=params, headers=town["headers"]["officer"]).json()
    village = client.get("/analysis/risk/incident", params=params, headers=town["headers"]["village"]).json()
    assert officer["hazards"], "the officer sees every open hazard nearby"
    codes = dict(zip(hazards.index, hazards["village_code"], strict=True))
    assert {codes[h["fid"]] for h in village["hazards"]} <= {town["village"]}
    assert {h["fid"] for h in village["hazards"]} <= {h["fid"] for h in officer["hazards"]}
    assert all(h["status"] not in ("closed", "voided") for h in officer["hazards"])


def test_off_the_road_the_call_still_answers_and_says_why_there_are_no_times(town):
    body = ask(town, 120.60, 42.90)
    assert body["on_network"] is False and "access distance" in body["network_note"]
    assert body["nearest_by_time"] == [] and body["exposed"][0]["radius_m"] == DEFAULT_RADII_M[0]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"lon": 100.0, "lat": 30.0}, "outside the service area"),
        ({"lon": 42.846, "lat": 120.548}, "lat"),
        ({"lon": 120.548, "lat": 42.846, "radius_m": 0}, "more than 0"),
        ({"lon": 120.548, "lat": 42.846, "radius_m": 50_000}, "at most 20000 m"),
        ({"lon": 120.548, "lat": 42.846, "radius_m": [1, 2, 3, 4, 5, 6]}, "at most 5 radii"),
        ({"lon": "east", "lat": 42.846}, "lon"),
    ],
)
def test_bad_input_gets_a_clear_400(town, params, message):
    response = town["client"].get("/analysis/risk/incident", params=params)
    assert response.status_code == 400 and message in response.json()["description"]


def test_radii_are_sorted_and_rings_wrap_a_single_radius():
    assert check_radii([1000, 500, 1000]) == (500.0, 1000.0)
    assert check_radii(None) == DEFAULT_RADII_M
    assert rings_within(2000) == (500.0, 1000.0, 2000.0)
    assert rings_within(300) == (300.0,)
