"""Truth table for geo.validate.geometry_problem: one hand-built geometry per row, and the words expected back."""

from __future__ import annotations

import math

import pytest
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box

from geo.validate import geometry_problem
from onemap.settings import NAIMAN_REGION

POINTS = ("Point",)
AREAS = ("Polygon", "MultiPolygon")
BOWTIE = Polygon([(120.6, 42.8), (120.7, 42.9), (120.7, 42.8), (120.6, 42.9), (120.6, 42.8)])

CASES = [
    # a point near the banner seat: fine
    (Point(120.65, 42.85), POINTS, None),
    # a polygon wholly inside the region: fine
    (box(120.6, 42.8, 120.7, 42.9), AREAS, None),
    # a multipolygon where the layer takes Polygon and MultiPolygon: fine
    (MultiPolygon([box(120.6, 42.8, 120.61, 42.81), box(120.7, 42.8, 120.71, 42.81)]), AREAS, None),
    # a 3D point: the Z value does not matter here
    (Point(120.65, 42.85, 350.0), POINTS, None),
    # no geometry at all
    (None, POINTS, "missing geometry"),
    # an empty point (e.g. a feature with "coordinates": [])
    (Point(), POINTS, "empty geometry"),
    # a line where only points are allowed: name the allowed type
    (LineString([(120.6, 42.8), (120.7, 42.9)]), POINTS, "this layer accepts Point"),
    # a point where only areas are allowed: name both allowed types
    (Point(120.65, 42.85), AREAS, "accepts Polygon, MultiPolygon"),
    # NaN coordinate
    (Point(120.65, math.nan), POINTS, "NaN or infinity"),
    # infinite coordinate (what a failed reprojection gives)
    (Point(math.inf, 42.85), POINTS, "NaN or infinity"),
    # self-intersecting bow-tie: reported with GEOS' explanation, not repaired
    (BOWTIE, AREAS, "Self-intersection"),
    # lat, lon order: swapping puts it inside, so say so
    (Point(42.85, 120.65), POINTS, "latitude and longitude are swapped"),
    # Gauss-Krüger metres read as degrees: needs a CRS such as EPSG:4549
    (Point(553_000.0, 4_745_000.0), POINTS, "EPSG:4549"),
    # Web Mercator metres read as degrees
    (Point(13_430_000.0, 5_290_000.0), POINTS, "look projected"),
    # a real place outside the region (Beijing)
    (Point(116.397, 39.909), POINTS, "outside the service area"),
    # a polygon that sticks out of the region: also outside
    (box(121.9, 43.9, 122.3, 44.2), AREAS, "outside the service area"),
    # a lon/lat point just past the region edge is outside, not "projected"
    (Point(119.79, 42.0), POINTS, "outside the service area"),
]


@pytest.mark.parametrize(("geom", "allowed", "expected"), CASES)
def test_geometry_problem(geom, allowed, expected):
    problem = geometry_problem(geom, allowed, NAIMAN_REGION)
    if expected is None:
        assert problem is None
    else:
        assert problem is not None and expected in problem


def test_messages_are_bilingual():
    problem = geometry_problem(Point(116.397, 39.909), POINTS, NAIMAN_REGION)
    assert "超出服务区域" in problem and "outside" in problem


def test_invalid_is_not_repaired():
    geom = BOWTIE
    geometry_problem(geom, AREAS, NAIMAN_REGION)
    assert not geom.is_valid
