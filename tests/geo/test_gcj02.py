"""GCJ-02: the forward shift against published pairs, the box test, the inverse, vectorisation, geometries."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon

from geo.gcj02 import gcj02_to_wgs84, in_china, shift_geometries, shift_geometry, wgs84_to_gcj02

EARTH_RADIUS_M = 6_371_008.8  # mean radius; plenty for differences of a few metres


def metres_between(lon1, lat1, lon2, lat2):
    """Distance in metres between lon/lat points a short way apart (local equirectangular; works on arrays)."""
    mid_lat = np.radians((np.asarray(lat1) + np.asarray(lat2)) / 2.0)
    east = np.radians(np.asarray(lon2) - np.asarray(lon1)) * np.cos(mid_lat) * EARTH_RADIUS_M
    north = np.radians(np.asarray(lat2) - np.asarray(lat1)) * EARTH_RADIUS_M
    return np.hypot(east, north)


# WGS 84 -> GCJ-02 pairs from the public formula, all (lon, lat) here. Sources:
# - googollee/eviltransform, python/test.py and go/transform_test.go (stored there as lat, lng):
#   the repository's own test vectors.
# - hujiulong/gcoord, test/unit/crs/WGS84.spec.ts: its WGS84 -> GCJ02 unit test.
# - coord-convert 0.2.1 from PyPI (coord_convert.transform.wgs2gcj), run once in a throwaway script.
KNOWN_PAIRS = {
    "beijing": ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),  # eviltransform
    "shanghai": ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),  # eviltransform
    "shenzhen": ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),  # eviltransform
    "jilin_123e_45n": ((123.0, 45.0), (123.00607541, 45.00197815)),  # gcoord
    "naiman": ((120.5, 42.85), (120.50564604625319, 42.852244507086965)),  # coord-convert 0.2.1
    "tongliao": ((122.2433, 43.6525), (122.2488526783668, 43.65486225917752)),  # coord-convert 0.2.1
}

# A looser real-world cross-check: cities from gcoord's fixture test/fixtures/china-cities.json, given to 7 decimals.
# Its GCJ-02 values sit a steady ~0.5 m east and ~0.5 m north of the public formula (gcoord itself checks them only
# to 1e-4 degrees), so these agree within 1 m but not to the millimetre like the pairs above.
GCOORD_CITIES = {
    "beijing": ((116.4011517, 39.9028057), (116.4074002, 39.9042136)),
    "chifeng": ((118.8806794, 42.2558759), (118.886862, 42.2578201)),
    "fuxin": ((121.6649292, 42.0195172), (121.670332, 42.0216225)),
    "guangzhou": ((113.2590543, 23.131788), (113.2643859, 23.1291146)),
    "sanya": ((109.507813, 18.2545417), (109.5119135, 18.2528524)),
}


@pytest.mark.parametrize(("wgs", "gcj"), KNOWN_PAIRS.values(), ids=KNOWN_PAIRS.keys())
def test_forward_matches_published_pairs_within_a_metre(wgs, gcj):
    lon, lat = wgs84_to_gcj02(*wgs)
    assert metres_between(lon, lat, *gcj) < 1.0


@pytest.mark.parametrize(("wgs", "gcj"), GCOORD_CITIES.values(), ids=GCOORD_CITIES.keys())
def test_forward_matches_gcoord_city_fixture_within_a_metre(wgs, gcj):
    lon, lat = wgs84_to_gcj02(*wgs)
    assert metres_between(lon, lat, *gcj) < 1.0


@pytest.mark.parametrize(("wgs", "gcj"), KNOWN_PAIRS.values(), ids=KNOWN_PAIRS.keys())
def test_inverse_recovers_published_pairs(wgs, gcj):
    lon, lat = gcj02_to_wgs84(*gcj)
    assert metres_between(lon, lat, *wgs) < 0.01


def test_shift_near_naiman_is_a_few_hundred_metres_to_the_north_east():
    lon, lat = 120.5, 42.85
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    assert 100.0 < metres_between(lon, lat, gcj_lon, gcj_lat) < 1000.0
    assert gcj_lon > lon and gcj_lat > lat


@pytest.mark.parametrize(
    ("lon", "lat"),
    [
        (139.7, 35.7),  # Tokyo
        (-0.1276, 51.5072),  # London
        (-74.006, 40.7128),  # New York
        (151.2093, -33.8688),  # Sydney
        (37.6173, 55.7558),  # Moscow: north of the box
    ],
)
def test_no_shift_outside_china(lon, lat):
    assert not in_china(lon, lat)
    assert wgs84_to_gcj02(lon, lat) == (lon, lat)
    assert gcj02_to_wgs84(lon, lat) == (lon, lat)


def test_in_china_is_only_a_rough_box():
    assert in_china(120.5, 42.85)  # Naiman
    assert in_china(109.5, 18.25)  # Sanya, Hainan
    assert in_china(126.98, 37.57)  # Seoul is inside the rectangle too: it is a box, not a border
    assert not in_china(139.7, 35.7)  # Tokyo lies east of it
    assert not in_china(float("nan"), 40.0)


def test_in_china_is_vectorised():
    inside = in_china(np.array([120.5, 139.7, 116.4]), np.array([42.85, 35.7, 39.9]))
    assert isinstance(inside, np.ndarray)
    assert inside.tolist() == [True, False, True]
    assert isinstance(in_china(120.5, 42.85), bool)


def test_inverse_round_trip_within_a_centimetre_across_china():
    rng = np.random.default_rng(20240611)
    lon = rng.uniform(74.0, 134.0, 5000)
    lat = rng.uniform(18.0, 53.0, 5000)
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert np.max(metres_between(lon, lat, back_lon, back_lat)) < 0.01


def test_inverse_result_maps_back_onto_its_input_within_tolerance():
    rng = np.random.default_rng(7)
    gcj_lon = rng.uniform(74.0, 134.0, 2000)
    gcj_lat = rng.uniform(18.0, 53.0, 2000)
    again_lon, again_lat = wgs84_to_gcj02(*gcj02_to_wgs84(gcj_lon, gcj_lat))
    assert np.max(np.abs(again_lon - gcj_lon)) < 1e-7
    assert np.max(np.abs(again_lat - gcj_lat)) < 1e-7


@pytest.mark.parametrize("func", [wgs84_to_gcj02, gcj02_to_wgs84])
def test_vectorised_calls_equal_scalar_calls(func):
    # Inside China, outside it (Tokyo, London) and a NaN, which passes through untouched.
    lon = np.array([120.5, 116.377817, 113.912316, 139.7, -0.1276, 87.6, np.nan])
    lat = np.array([42.85, 39.911954, 22.543847, 35.7, 51.5072, 43.8, 40.0])
    out_lon, out_lat = func(lon, lat)
    assert isinstance(out_lon, np.ndarray) and out_lon.shape == lon.shape
    scalar = [func(float(x), float(y)) for x, y in zip(lon, lat, strict=True)]
    np.testing.assert_allclose(out_lon, [s[0] for s in scalar], rtol=0, atol=1e-12)
    np.testing.assert_allclose(out_lat, [s[1] for s in scalar], rtol=0, atol=1e-12)
    assert math.isnan(out_lon[-1]) and out_lat[-1] == 40.0


@pytest.mark.parametrize("func", [wgs84_to_gcj02, gcj02_to_wgs84])
def test_return_kind_follows_the_input(func):
    lon, lat = func(120.5, 42.85)
    assert type(lon) is float and type(lat) is float
    grid_lon, grid_lat = np.meshgrid(np.linspace(119.0, 122.0, 4), np.linspace(42.0, 44.0, 3))
    out_lon, out_lat = func(grid_lon, grid_lat)
    assert out_lon.shape == out_lat.shape == (3, 4)
    assert out_lon[1, 2] == pytest.approx(func(grid_lon[1, 2], grid_lat[1, 2])[0], abs=1e-12)
    # A list of longitudes with one latitude broadcasts.
    b_lon, b_lat = func([120.0, 121.0], 42.85)
    assert b_lon.shape == b_lat.shape == (2,)
    # The inputs are not changed in place.
    assert grid_lon[0, 0] == 119.0 and grid_lat[0, 0] == 42.0


def test_empty_arrays_pass_through():
    lon, lat = wgs84_to_gcj02(np.array([]), np.array([]))
    assert lon.shape == lat.shape == (0,)
    lon, lat = gcj02_to_wgs84(np.array([]), np.array([]))
    assert lon.shape == lat.shape == (0,)


def test_shift_geometries_keeps_types_and_shifts_every_vertex():
    ring = [(120.4, 42.8), (120.6, 42.8), (120.6, 42.9), (120.4, 42.9), (120.4, 42.8)]
    hole = [(120.45, 42.82), (120.5, 42.82), (120.5, 42.85), (120.45, 42.82)]
    geoms = [
        Point(120.5, 42.85),
        LineString([(120.4, 42.8), (120.55, 42.86), (120.7, 42.9)]),
        Polygon(ring, [hole]),
        MultiPolygon([Polygon(ring), Polygon([(121.0, 43.0), (121.1, 43.0), (121.1, 43.1), (121.0, 43.0)])]),
        None,
    ]
    shifted = shift_geometries(geoms)
    assert isinstance(shifted, np.ndarray) and shifted.shape == (5,)
    assert shifted[-1] is None
    for before, after in zip(geoms[:-1], shifted[:-1], strict=True):
        assert after.geom_type == before.geom_type
        xy = shapely.get_coordinates(before)
        expected = np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1]))
        np.testing.assert_allclose(shapely.get_coordinates(after), expected, rtol=0, atol=1e-12)
    assert len(shifted[2].interiors) == 1


def test_shift_geometry_matches_the_point_transform():
    point = shift_geometry(Point(120.5, 42.85))
    assert point.geom_type == "Point"
    assert (point.x, point.y) == pytest.approx(KNOWN_PAIRS["naiman"][1], abs=1e-9)
    line = shift_geometry(LineString([(139.7, 35.7), (139.8, 35.8)]))  # Tokyo: outside, unchanged
    assert line.geom_type == "LineString"
    assert list(line.coords) == [(139.7, 35.7), (139.8, 35.8)]
