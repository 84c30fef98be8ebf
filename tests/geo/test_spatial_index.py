"""SpatialIndex against brute force (plain shapely over every geometry), plus edge-case truth tables.

Data are lon/lat (EPSG:4326) in the Naiman area; distances are checked in EPSG:4549 with a pyproj
transformer built here, independently of geo.crs.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from pyproj import Transformer
from shapely.geometry import LineString, Point, Polygon, box

from geo.errors import InvalidBBox, InvalidGeometry
from geo.index import SpatialIndex

LON_MIN, LON_MAX = 120.2, 120.8
LAT_MIN, LAT_MAX = 42.6, 43.1
TO_4549 = Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True)

PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- brute force -----------------------------------------------------------------------------------------------


def to_metres(geoms: list) -> np.ndarray:
    """Geometries in EPSG:4549, vertex by vertex."""
    return shapely.transform(
        np.asarray(geoms, dtype=object), lambda xy: np.column_stack(TO_4549.transform(xy[:, 0], xy[:, 1]))
    )


def closed_box(bbox: tuple[float, float, float, float]):
    """The box as a geometry; with no width or height it is the point or segment it collapses to."""
    min_lon, min_lat, max_lon, max_lat = bbox
    if min_lon == max_lon and min_lat == max_lat:
        return Point(min_lon, min_lat)
    if min_lon == max_lon or min_lat == max_lat:
        return LineString([(min_lon, min_lat), (max_lon, max_lat)])
    return shapely.box(*bbox)


def brute_bbox(features: dict[int, object], bbox: tuple[float, float, float, float]) -> list[int]:
    """Ids whose geometry intersects the closed box, edges included."""
    ids = sorted(features)
    hits = shapely.intersects(closed_box(bbox), np.asarray([features[i] for i in ids], dtype=object))
    return [i for i, hit in zip(ids, hits, strict=True) if hit]


def brute_distances(features: dict[int, object], geom) -> tuple[list[int], np.ndarray]:
    """All ids, sorted, with their distance in metres (EPSG:4549) to `geom`."""
    ids = sorted(features)
    if not ids:
        return [], np.zeros(0)
    targets = to_metres([features[i] for i in ids])
    origin = to_metres([geom])[0]
    return ids, shapely.distance(origin, targets)


def brute_within(features: dict[int, object], geom, distance_m: float) -> list[int]:
    """Ids within `distance_m` metres of `geom`, inclusive."""
    ids, distances = brute_distances(features, geom)
    return [i for i, d in zip(ids, distances, strict=True) if d <= distance_m]


def brute_nearest(features: dict[int, object], geom, k: int) -> list[tuple[int, float]]:
    """The k nearest (id, metres), sorted by (distance, id)."""
    ids, distances = brute_distances(features, geom)
    return sorted(zip(ids, distances.tolist(), strict=True), key=lambda pair: (pair[1], pair[0]))[:k]


def brute_containing(features: dict[int, object], point: Point) -> list[int]:
    """Ids whose geometry covers the point."""
    return [i for i in sorted(features) if shapely.covers(features[i], point)]


def assert_nearest_equal(got: list[tuple[int, float]], expected: list[tuple[int, float]]) -> None:
    assert [i for i, _ in got] == [i for i, _ in expected]
    np.testing.assert_allclose([d for _, d in got], [d for _, d in expected], rtol=0, atol=1e-9)


# -- strategies ------------------------------------------------------------------------------------------------

# A coarse grid makes shared vertices, touching features and points on edges common; free floats do the rest.
lons = st.one_of(
    st.integers(0, 60).map(lambda i: LON_MIN + i * 0.01),
    st.floats(LON_MIN, LON_MAX, allow_nan=False),
)
lats = st.one_of(
    st.integers(0, 50).map(lambda i: LAT_MIN + i * 0.01),
    st.floats(LAT_MIN, LAT_MAX, allow_nan=False),
)
# Offsets up to about 400 m, also on a grid.
offsets = st.one_of(st.integers(-4, 4).map(lambda i: i * 0.001), st.floats(-0.005, 0.005, allow_nan=False))
points = st.builds(Point, lons, lats)


@st.composite
def short_lines(draw) -> LineString:
    x, y = draw(lons), draw(lats)
    coords = [(x, y)]
    for _ in range(draw(st.integers(1, 4))):
        x, y = x + draw(offsets), y + draw(offsets)
        coords.append((x, y))
    return LineString(coords)


@st.composite
def small_polygons(draw) -> Polygon:
    x, y = draw(lons), draw(lats)
    w = draw(st.one_of(st.just(0.01), st.floats(0.0005, 0.02)))
    h = draw(st.one_of(st.just(0.01), st.floats(0.0005, 0.02)))
    if draw(st.booleans()):
        return box(x, y, x + w, y + h)
    # A triangle: valid whenever its vertices are not collinear.
    triangle = Polygon([(x, y), (x + w, y), (x + draw(st.floats(0, 1)) * w, y + h)])
    return triangle if triangle.is_valid else box(x, y, x + w, y + h)


geometries = st.one_of(points, short_lines(), small_polygons())
feature_ids = st.integers(0, 10**12)
feature_sets = st.dictionaries(feature_ids, geometries, max_size=40)


@st.composite
def bboxes(draw) -> tuple[float, float, float, float]:
    x, y = draw(lons), draw(lats)
    size = st.one_of(st.just(0.0), st.integers(1, 20).map(lambda i: i * 0.01), st.floats(0, 0.2))
    return (x, y, x + draw(size), y + draw(size))


@st.composite
def query_points(draw, features: dict[int, object]) -> Point:
    """Either a random point or a vertex of an indexed feature (which sits on its boundary)."""
    if features and draw(st.booleans()):
        geom = features[draw(st.sampled_from(sorted(features)))]
        coords = shapely.get_coordinates(geom)
        return Point(coords[draw(st.integers(0, len(coords) - 1))])
    return draw(points)


def build(features: dict[int, object]) -> SpatialIndex:
    ids = list(features)
    return SpatialIndex(ids, [features[i] for i in ids])


# -- properties ------------------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(features=feature_sets, bbox=bboxes())
def test_bbox_matches_brute_force_intersects(features, bbox):
    assert build(features).bbox(bbox).tolist() == brute_bbox(features, bbox)


@PROPERTY_SETTINGS
@given(features=feature_sets, data=st.data(), distance_m=st.floats(0, 5_000))
def test_within_distance_matches_brute_force_in_epsg4549(features, data, distance_m):
    point = data.draw(query_points(features))
    assert build(features).within_distance(point, distance_m).tolist() == brute_within(features, point, distance_m)


@PROPERTY_SETTINGS
@given(features=feature_sets, query=geometries, distance_m=st.floats(0, 2_000))
def test_within_distance_of_a_line_or_polygon_matches_brute_force(features, query, distance_m):
    assert build(features).within_distance(query, distance_m).tolist() == brute_within(features, query, distance_m)


@PROPERTY_SETTINGS
@given(features=feature_sets.filter(bool), data=st.data())
def test_within_distance_includes_a_feature_at_exactly_the_radius(features, data):
    point = data.draw(query_points(features))
    fid = data.draw(st.sampled_from(sorted(features)))
    ids, distances = brute_distances(features, point)
    radius = float(distances[ids.index(fid)])
    assert fid in build(features).within_distance(point, radius).tolist()


@PROPERTY_SETTINGS
@given(features=feature_sets, data=st.data(), k=st.integers(1, 50))
def test_nearest_matches_brute_force_sorted_by_distance_then_id(features, data, k):
    point = data.draw(query_points(features))
    assert_nearest_equal(build(features).nearest(point, k), brute_nearest(features, point, k))


@PROPERTY_SETTINGS
@given(features=feature_sets, data=st.data())
def test_containing_matches_brute_force_covers(features, data):
    point = data.draw(query_points(features))
    assert build(features).containing(point).tolist() == brute_containing(features, point)


class IndexMutations(RuleBasedStateMachine):
    """Inserts and deletes interleaved with queries, checked against a dict of id -> geometry."""

    def __init__(self) -> None:
        super().__init__()
        self.model: dict[int, object] = {}
        self.index = SpatialIndex()

    @initialize(features=feature_sets)
    def start_from(self, features):
        self.model = dict(features)
        self.index = build(features)

    @rule(fid=feature_ids, geom=geometries)
    def insert(self, fid, geom):
        if fid in self.model:
            with pytest.raises(KeyError):
                self.index.insert(fid, geom)
        else:
            self.index.insert(fid, geom)
            self.model[fid] = geom

    @precondition(lambda self: self.model)
    @rule(data=st.data(), geom=geometries)
    def insert_existing_id_raises(self, data, geom):
        fid = data.draw(st.sampled_from(sorted(self.model)))
        with pytest.raises(KeyError):
            self.index.insert(fid, geom)

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def delete_existing(self, data):
        fid = data.draw(st.sampled_from(sorted(self.model)))
        self.index.delete(fid)
        del self.model[fid]

    @rule(fid=feature_ids)
    def delete_unknown_raises(self, fid):
        if fid not in self.model:
            with pytest.raises(KeyError):
                self.index.delete(fid)

    @rule(bbox=bboxes())
    def bbox(self, bbox):
        assert self.index.bbox(bbox).tolist() == brute_bbox(self.model, bbox)

    @rule(data=st.data(), distance_m=st.floats(0, 3_000))
    def within_distance(self, data, distance_m):
        point = data.draw(query_points(self.model))
        assert self.index.within_distance(point, distance_m).tolist() == brute_within(self.model, point, distance_m)

    @rule(data=st.data(), k=st.integers(1, 10))
    def nearest(self, data, k):
        point = data.draw(query_points(self.model))
        assert_nearest_equal(self.index.nearest(point, k), brute_nearest(self.model, point, k))

    @rule(data=st.data())
    def containing(self, data):
        point = data.draw(query_points(self.model))
        assert self.index.containing(point).tolist() == brute_containing(self.model, point)

    @invariant()
    def same_features(self):
        assert len(self.index) == len(self.model)
        for fid, geom in self.model.items():
            assert fid in self.index
            assert self.index.geometry(fid) is geom


IndexMutations.TestCase.settings = settings(
    max_examples=60, stateful_step_count=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_index_mutations_match_a_dict_model = IndexMutations.TestCase


# -- fixtures --------------------------------------------------------------------------------------------------


def index_of(layer: gpd.GeoDataFrame) -> SpatialIndex:
    """An index over a lon/lat layer keyed by its row labels."""
    assert layer.crs == "EPSG:4326"
    return SpatialIndex(layer.index, layer.geometry)


@pytest.fixture
def three_features() -> gpd.GeoDataFrame:
    """A point, an east-west line and a 0.1 x 0.1 degree square near Naiman town, ids 10, 20, 30."""
    return gpd.GeoDataFrame(
        geometry=[
            Point(120.5, 42.8),
            LineString([(120.6, 42.9), (120.7, 42.9)]),
            box(120.3, 42.7, 120.4, 42.8),
        ],
        index=[10, 20, 30],
        crs="EPSG:4326",
    )


@pytest.fixture
def four_fields_sharing_borders() -> gpd.GeoDataFrame:
    """Four 0.1 degree squares meeting at (120.5, 42.9), ids 1 (SW), 2 (SE), 3 (NW), 4 (NE)."""
    return gpd.GeoDataFrame(
        geometry=[
            box(120.4, 42.8, 120.5, 42.9),
            box(120.5, 42.8, 120.6, 42.9),
            box(120.4, 42.9, 120.5, 43.0),
            box(120.5, 42.9, 120.6, 43.0),
        ],
        index=[1, 2, 3, 4],
        crs="EPSG:4326",
    )


# -- truth tables ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bbox", "expected"),
    [
        ((120.45, 42.75, 120.55, 42.85), [10]),  # point strictly inside the box
        ((120.5, 42.75, 120.55, 42.85), [10]),  # point on the west edge is included
        ((120.45, 42.75, 120.5, 42.8), [10]),  # point on the north-east corner is included
        ((120.5, 42.8, 120.5, 42.8), [10]),  # degenerate bbox equal to the point
        ((120.65, 42.9, 120.65, 42.9), [20]),  # degenerate bbox on the line
        ((120.35, 42.75, 120.35, 42.75), [30]),  # degenerate bbox inside the square
        ((120.4, 42.75, 120.4, 42.75), [30]),  # degenerate bbox on the square's edge
        ((120.65, 42.85, 120.65, 42.95), [20]),  # zero-width bbox crossing the line
        ((120.4, 42.8, 120.5, 42.9), [10, 30]),  # touches the square's corner and the point
        ((120.2, 42.6, 120.25, 42.65), []),  # nothing there
        ((120.0, 42.0, 121.0, 44.0), [10, 20, 30]),  # everything
    ],
)
def test_bbox_truth_table(three_features, bbox, expected):
    assert index_of(three_features).bbox(bbox).tolist() == expected


def test_bbox_point_on_edge_is_included(three_features):
    assert index_of(three_features).bbox((120.45, 42.8, 120.55, 42.85)).tolist() == [10]


@pytest.mark.parametrize(
    "bbox",
    [
        (120.6, 42.7, 120.5, 42.8),  # min_lon > max_lon
        (120.5, 42.8, 120.6, 42.7),  # min_lat > max_lat
        (math.nan, 42.7, 120.6, 42.8),  # NaN is not ordered
    ],
)
def test_bbox_inverted_raises_invalid_bbox(three_features, bbox):
    with pytest.raises(InvalidBBox, match="min <= max"):
        index_of(three_features).bbox(bbox)


@pytest.mark.parametrize(
    ("point", "expected"),
    [
        (Point(120.45, 42.85), [1]),  # inside one field
        (Point(120.5, 42.85), [1, 2]),  # on the border between SW and SE: both sides
        (Point(120.45, 42.9), [1, 3]),  # on the border between SW and NW: both sides
        (Point(120.5, 42.9), [1, 2, 3, 4]),  # on the shared corner: all four
        (Point(120.4, 42.8), [1]),  # on an outer corner
        (Point(120.7, 42.85), []),  # outside every field
    ],
)
def test_containing_truth_table(four_fields_sharing_borders, point, expected):
    assert index_of(four_fields_sharing_borders).containing(point).tolist() == expected


def test_containing_point_on_shared_border_returns_both_polygons(four_fields_sharing_borders):
    assert index_of(four_fields_sharing_borders).containing(Point(120.5, 42.85)).tolist() == [1, 2]


def test_empty_index_answers_every_query_with_nothing():
    index = SpatialIndex()
    assert len(index) == 0
    assert index.bbox((120.2, 42.6, 120.8, 43.1)).tolist() == []
    assert index.query(box(120.2, 42.6, 120.8, 43.1)).tolist() == []
    assert index.within_distance(Point(120.5, 42.8), 10_000).tolist() == []
    assert index.nearest(Point(120.5, 42.8), 3) == []
    assert index.containing(Point(120.5, 42.8)).tolist() == []


def test_empty_and_none_geometries_are_skipped():
    index = SpatialIndex([1, 2, 3, 4], [Point(120.5, 42.8), None, Point(), LineString()])
    assert len(index) == 1
    assert 1 in index and 2 not in index and 3 not in index and 4 not in index
    assert index.bbox((120.0, 42.0, 121.0, 44.0)).tolist() == [1]
    assert index.nearest(Point(120.5, 42.8), 4) == [(1, 0.0)]


def test_index_of_only_empty_geometries_is_empty():
    assert len(SpatialIndex([1, 2], [None, Polygon()])) == 0


def test_duplicate_ids_are_rejected():
    with pytest.raises(ValueError, match="unique"):
        SpatialIndex([7, 7], [Point(120.5, 42.8), Point(120.6, 42.8)])


def test_ids_and_geometries_of_different_lengths_are_rejected():
    with pytest.raises(ValueError, match="2 ids but 1 geometries"):
        SpatialIndex([1, 2], [Point(120.5, 42.8)])


def test_delete_unknown_id_raises_key_error(three_features):
    index = index_of(three_features)
    with pytest.raises(KeyError):
        index.delete(99)
    assert len(index) == 3


def test_delete_twice_raises_key_error(three_features):
    index = index_of(three_features)
    index.delete(10)
    with pytest.raises(KeyError):
        index.delete(10)
    assert index.bbox((120.45, 42.75, 120.55, 42.85)).tolist() == []


def test_insert_existing_id_raises_key_error(three_features):
    index = index_of(three_features)
    with pytest.raises(KeyError, match="already indexed"):
        index.insert(10, Point(120.6, 42.8))
    assert index.geometry(10).equals(Point(120.5, 42.8))


@pytest.mark.parametrize("geom", [None, Point(), Polygon()])
def test_insert_empty_geometry_raises_invalid_geometry(three_features, geom):
    index = index_of(three_features)
    with pytest.raises(InvalidGeometry):
        index.insert(40, geom)
    assert 40 not in index


def test_nearest_k_larger_than_size_returns_everything_nearest_first(three_features):
    result = index_of(three_features).nearest(Point(120.5, 42.8), k=10)
    assert [fid for fid, _ in result] == [10, 30, 20]
    assert result[0] == (10, 0.0)


def test_nearest_ties_are_broken_by_id():
    # Two points mirrored across the query point's meridian... measured in metres they are equally far only
    # approximately, so the tie is made exact with the same point under two ids.
    index = SpatialIndex([5, 3, 9], [Point(120.51, 42.8), Point(120.51, 42.8), Point(120.6, 42.8)])
    assert [fid for fid, _ in index.nearest(Point(120.5, 42.8), k=2)] == [3, 5]


@pytest.mark.parametrize("k", [0, -1])
def test_nearest_k_below_one_raises(three_features, k):
    with pytest.raises(ValueError, match="k must be >= 1"):
        index_of(three_features).nearest(Point(120.5, 42.8), k)


def test_within_distance_exactly_equal_to_radius_is_included(three_features):
    query = Point(120.5, 42.85)
    radius = float(shapely.distance(*to_metres([query, three_features.geometry[10]])))
    index = index_of(three_features)
    assert index.within_distance(query, radius).tolist() == [10]  # exactly at the radius: included
    a_hair_short = float(np.nextafter(radius, 0))
    assert index.within_distance(query, a_hair_short).tolist() == []  # just under the radius: excluded


@pytest.mark.parametrize("distance_m", [-1.0, math.nan])
def test_within_distance_negative_or_nan_raises(three_features, distance_m):
    with pytest.raises(ValueError, match="distance_m must be >= 0"):
        index_of(three_features).within_distance(Point(120.5, 42.8), distance_m)


def test_within_distance_zero_finds_the_feature_under_the_point(three_features):
    assert index_of(three_features).within_distance(Point(120.6, 42.9), 0.0).tolist() == [20]


@pytest.fixture
def long_east_west_road() -> gpd.GeoDataFrame:
    """One 8 km line along the 42.9 N parallel, id 1."""
    return gpd.GeoDataFrame(geometry=[LineString([(120.6, 42.9), (120.7, 42.9)])], index=[1], crs="EPSG:4326")


def test_distance_queries_see_the_projected_segment_bowing_off_the_parallel(long_east_west_road):
    # In EPSG:4549 the straight segment between the projected ends runs about 1.2 m north of the parallel at
    # its middle, outside the line's lon/lat bounding box; a point on it is 0 m away in metres.
    (x0, x1), (y0, y1) = TO_4549.transform([120.6, 120.7], [42.9, 42.9])
    back = Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True)
    on_projected_segment = Point(back.transform((x0 + x1) / 2, (y0 + y1) / 2))
    assert on_projected_segment.y > 42.9 + 1e-5
    index = index_of(long_east_west_road)
    assert index.within_distance(on_projected_segment, 0.01).tolist() == [1]
    assert [fid for fid, _ in index.nearest(on_projected_segment, 1)] == [1]
    # ... while the lon/lat midpoint of the line is that far from it in metres.
    assert index.within_distance(Point(120.65, 42.9), 0.5).tolist() == []


@pytest.mark.parametrize(
    ("predicate", "query", "expected"),
    [
        ("intersects", box(120.35, 42.75, 120.55, 42.85), [10, 30]),  # overlaps the square, covers the point
        ("contains", box(120.45, 42.75, 120.55, 42.85), [10]),  # holds the point; the square only overlaps
        ("within", Point(120.35, 42.75), [30]),  # a point inside the square
        ("covered_by", Point(120.4, 42.75), [30]),  # a point on the square's edge is covered
        ("within", Point(120.4, 42.75), []),  # ... but not within: the boundary is not the interior
    ],
)
def test_query_predicate_truth_table(three_features, predicate, query, expected):
    assert index_of(three_features).query(query, predicate).tolist() == expected


#: Eight threads querying one index at once, as the service's worker threads do; each result checked against a
#: query made alone. Run in a child process: without the index's lock libspatialindex crashes the interpreter.
_SHARED_INDEX_SCRIPT = """
import sys, threading
import numpy as np, shapely
from shapely.geometry import Point
from geo.index import SpatialIndex
rng = np.random.default_rng(1)
n = 100_000
points = shapely.points(rng.uniform(120, 121, n), rng.uniform(42, 43, n))
index = SpatialIndex(np.arange(n), points)
boxes = [(x, y, x + 0.01, y + 0.01) for x, y in zip(rng.uniform(120, 121, 1500), rng.uniform(42, 43, 1500))]
alone = [index.bbox(b).tolist() for b in boxes]
near = [index.nearest(Point(x, y), 3) for x, y, _, _ in boxes[:300]]
wrong = []
def work(k):
    for i, b in enumerate(boxes):
        if index.bbox(b).tolist() != alone[i]:
            wrong.append(i)
        if i < 300 and index.nearest(Point(b[0], b[1]), 3) != near[i]:
            wrong.append(i)
        if k == 0 and i % 100 == 0:
            index.insert(n + i, Point(b[0] - 5, b[1] - 5))  # writes far away, while the others read
threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print("wrong", len(wrong))
sys.exit(1 if wrong else 0)
"""


def test_one_index_shared_by_many_threads_answers_each_right():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", _SHARED_INDEX_SCRIPT], cwd=root, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, f"exit {done.returncode}: {done.stdout}{done.stderr[-2000:]}"
    assert done.stdout.strip() == "wrong 0"
