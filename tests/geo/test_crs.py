"""Coordinate systems: parsing user input, picking the Gauss-Krüger zone, metric reprojection, degree padding."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS, Transformer
from shapely.geometry import Point

from geo.crs import gauss_kruger_zone, metres_to_degrees, parse_crs, to_metric
from geo.errors import UnknownCRS

TO_4549 = Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True)
FROM_4549 = Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True)


@pytest.mark.parametrize(
    ("value", "epsg"),
    [
        ("wgs84", 4326),  # alias
        ("WGS84", 4326),  # aliases ignore case
        (" cgcs2000 ", 4490),  # ... and surrounding spaces
        ("webmercator", 3857),  # alias
        ("web-mercator", 3857),  # alias with a dash
        (4549, 4549),  # a bare int is an EPSG code
        ("4490", 4490),  # ... and so are digits in a string
        ("EPSG:4326", 4326),  # the usual authority form
        (CRS.from_epsg(4549), 4549),  # a pyproj CRS passes through
    ],
)
def test_parse_crs_accepts_aliases_codes_and_crs_objects(value, epsg):
    assert parse_crs(value).to_epsg() == epsg


@pytest.mark.parametrize("value", ["EPSG:999999", "not a crs", 999999, "", "beijing1954-ish"])
def test_parse_crs_unknown_raises_unknown_crs(value):
    with pytest.raises(UnknownCRS, match="unknown CRS"):
        parse_crs(value)


def test_unknown_crs_is_a_value_error():
    with pytest.raises(ValueError):
        parse_crs("nonsense")


@pytest.mark.parametrize(
    ("lon", "expected"),
    [
        (120.47, "EPSG:4549"),  # Naiman Banner: CM 120E
        (120.0, "EPSG:4549"),  # on the central meridian
        (118.5, "EPSG:4549"),  # western edge of the 120E zone belongs to it
        (118.49, "EPSG:4548"),  # just west of it: CM 117E
        (121.49, "EPSG:4549"),  # just inside the eastern edge
        (121.5, "EPSG:4550"),  # the eastern edge belongs to the next zone, CM 123E
        (124.5, "EPSG:4551"),  # half-way boundaries all go east, CM 126E
        (127.5, "EPSG:4552"),  # ... whatever the parity of the zone, CM 129E
        (75.0, "EPSG:4534"),  # first zone, CM 75E
        (135.0, "EPSG:4554"),  # last zone, CM 135E
        (60.0, "EPSG:4534"),  # west of the range: clamped to the first zone
        (150.0, "EPSG:4554"),  # east of the range: clamped to the last zone
    ],
)
def test_gauss_kruger_zone_and_its_boundaries(lon, expected):
    assert gauss_kruger_zone(lon) == expected


@pytest.mark.parametrize("lon", [77.0, 100.3, 120.47, 133.9])
def test_gauss_kruger_zone_central_meridian_is_the_nearest(lon):
    crs = CRS.from_user_input(gauss_kruger_zone(lon))
    meridian = next(p.value for p in crs.coordinate_operation.params if "longitude" in p.name.lower())
    assert abs(meridian - lon) <= 1.5


@pytest.mark.parametrize("lat", [42.6, 42.85, 43.1])
def test_to_metric_on_the_120e_meridian_has_false_easting_x(lat):
    assert to_metric(Point(120.0, lat)).x == pytest.approx(500_000.0, abs=1e-6)


def test_to_metric_defaults_to_epsg4549():
    x, y = TO_4549.transform(120.6, 42.85)
    metric = to_metric(Point(120.6, 42.85))
    assert (metric.x, metric.y) == pytest.approx((x, y), abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(
    lon=st.floats(120.2, 120.8),
    lat=st.floats(42.6, 43.1),
    distance_m=st.floats(0, 50_000),
    fraction=st.one_of(st.just(1.0), st.floats(0, 1)),
    bearing=st.floats(0, 2 * math.pi),
)
def test_metres_to_degrees_box_holds_every_point_within_the_distance(lon, lat, distance_m, fraction, bearing):
    # A point `fraction * distance_m` metres from (lon, lat), measured in EPSG:4549, in any direction.
    x, y = TO_4549.transform(lon, lat)
    r = fraction * distance_m
    q_lon, q_lat = FROM_4549.transform(x + r * math.cos(bearing), y + r * math.sin(bearing))
    dlon, dlat = metres_to_degrees(distance_m, lat)
    assert abs(q_lon - lon) <= dlon
    assert abs(q_lat - lat) <= dlat


@pytest.mark.parametrize("lat", [0.0, 42.85, -42.85, 80.0])
def test_metres_to_degrees_zero_distance_is_a_tiny_positive_pad(lat):
    dlon, dlat = metres_to_degrees(0.0, lat)
    assert 0 < dlon < 1e-8 and 0 < dlat < 1e-8
