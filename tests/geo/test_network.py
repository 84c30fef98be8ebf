"""Road network building and junction extraction on hand-built networks in metric coordinates.

Each network is small enough to draw on paper: the expected nodes, legs and bearings follow from the coordinates.
A property test checks the noding against brute force (every pair of random segments) on random layouts.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, MultiLineString, Point, Polygon

from geo.junctions import find_junctions
from geo.network import NetworkParams, build_network

MAIN = LineString([(-100, 0), (100, 0)])  # an east-west main road through the origin
CROSS = LineString([(0, -100), (0, 100)])  # a north-south road crossing it without a shared vertex


def junctions_of(lines, grade_separated=None, keys=None, **params):
    p = NetworkParams(**params)
    net = build_network(lines, grade_separated, keys, p)
    return net, find_junctions(net, p)


def bearings(junctions, i=0) -> list[float]:
    return sorted(junctions.approach_table.loc[junctions.approach_table["junction"] == i, "bearing_deg"].round(6))


def assert_bearings(got, expected, tol=1.0):
    assert len(got) == len(expected), (got, expected)
    for g, e in zip(sorted(got), sorted(expected), strict=True):
        assert abs((g - e + 180) % 360 - 180) <= tol, (got, expected)


# -- the basic shapes ------------------------------------------------------------------------------------------


def test_t_junction_of_three_lines_meeting_at_a_shared_end():
    lines = [LineString([(-100, 0), (0, 0)]), LineString([(0, 0), (100, 0)]), LineString([(0, 0), (0, 80)])]
    net, j = junctions_of(lines)
    assert len(net.edges) == 3 and net.repairs.split_points == 0
    assert (j.raw_count, len(j)) == (1, 1)
    assert j.legs.tolist() == [3]
    assert j.xy.tolist() == [[0.0, 0.0]]
    assert_bearings(bearings(j), [0, 90, 270])


def test_side_road_ending_on_the_main_road_without_a_vertex_splits_it():
    net, j = junctions_of([MAIN, LineString([(0, 0), (0, 80)])])
    assert len(net.edges) == 3  # the main road in two, the side road whole
    assert net.repairs.split_points == 1 and net.repairs.split_points_added == 1
    assert sorted(net.degree.tolist()) == [1, 1, 1, 3]
    assert j.legs.tolist() == [3] and j.xy.tolist() == [[0.0, 0.0]]


def test_two_straight_lines_crossing_without_a_shared_vertex_become_one_four_leg_junction():
    net, j = junctions_of([MAIN, CROSS])
    assert len(net.edges) == 4
    assert net.repairs.split_points == 1 and net.repairs.split_points_added == 1
    assert sorted(net.edge_source.tolist()) == [0, 0, 1, 1]
    assert (j.raw_count, j.cluster_count, len(j)) == (1, 1, 1)
    assert j.legs.tolist() == [4]
    np.testing.assert_allclose(j.xy, [[0.0, 0.0]], atol=1e-9)
    assert_bearings(bearings(j), [0, 90, 180, 270])


def test_approach_bearings_on_a_skewed_cross_follow_the_roads():
    # A road at 30 degrees east of north crossing the main road: its legs leave at 30 and 210 degrees.
    d = 100 * np.array([math.sin(math.radians(30)), math.cos(math.radians(30))])
    skew = LineString([-d, d])
    net, j = junctions_of([MAIN, skew])
    assert_bearings(bearings(j), [30, 90, 210, 270], tol=1e-6)


def test_each_leg_carries_its_first_approach_m_running_outward():
    net, j = junctions_of([MAIN, CROSS], approach_m=30.0)
    legs = j.leg_table
    assert len(legs) == 4
    np.testing.assert_allclose(shapely.length(legs["geometry"].to_numpy()), 30.0)
    starts = shapely.get_coordinates(shapely.get_point(legs["geometry"].to_numpy(), 0))
    np.testing.assert_allclose(starts, 0.0, atol=1e-9)
    ends = shapely.get_coordinates(shapely.get_point(legs["geometry"].to_numpy(), -1))
    np.testing.assert_allclose(np.hypot(*ends.T), 30.0)


def test_a_short_leg_is_measured_to_its_far_end():
    # The side road is only 10 m long: its bearing and geometry stop at its end.
    net, j = junctions_of([MAIN, LineString([(0, 0), (10, 10)])], approach_m=30.0)
    side = j.leg_table[j.leg_table["source"] == 1]
    assert len(side) == 1
    assert side["bearing_deg"].iloc[0] == pytest.approx(45.0)
    assert side["geometry"].iloc[0].length == pytest.approx(math.hypot(10, 10))


def test_a_leg_is_followed_through_nodes_where_only_two_edges_meet():
    # The side road is drawn as a 5 m stub and a second piece bending east: the bearing is taken 30 m out along
    # both, not at the stub's end (which would say due north).
    stub = LineString([(0, 0), (0, 5)])
    rest = LineString([(0, 5), (25, 5), (25, 100)])
    net, j = junctions_of([MAIN, stub, rest], approach_m=30.0)
    side = j.leg_table[j.leg_table["source"] == 1].iloc[0]
    assert side["geometry"].length == pytest.approx(30.0)
    assert side["bearing_deg"] == pytest.approx(math.degrees(math.atan2(25, 5)))


# -- near misses and snapping ----------------------------------------------------------------------------------


def test_side_road_ending_short_of_the_main_road_joins_it_within_snap_m():
    side = LineString([(0, 1.5), (0, 100)])  # stops 1.5 m short of the main road
    net, j = junctions_of([MAIN, side], snap_m=2.0)
    assert net.repairs.snapped_ends == 1 and net.repairs.snapped_to_line == 1
    assert len(j) == 1 and j.legs.tolist() == [3]
    np.testing.assert_allclose(j.xy, [[0.0, 0.0]], atol=1e-9)
    # The side road was extended to the main road, not moved.
    side_edge = net.edges[net.edge_source == 1][0]
    assert side_edge.length == pytest.approx(100.0)


def test_side_road_ending_short_stays_apart_with_a_smaller_snap_m():
    side = LineString([(0, 1.5), (0, 100)])
    net, j = junctions_of([MAIN, side], snap_m=1.0)
    assert net.repairs.snapped_ends == 0
    assert (j.raw_count, len(j)) == (0, 0)
    assert len(net.edges) == 2


def test_a_dangling_end_prefers_a_node_to_a_line():
    # The main road is drawn in two pieces meeting at (0, 0). The side road stops 1.2 m from that node and
    # 1.0 m from the line: it joins the node rather than making a second one 0.66 m away.
    main = [LineString([(-100, 0), (0, 0)]), LineString([(0, 0), (100, 0)])]
    side = LineString([(0.66, 1.0), (0.66, 100)])
    net, j = junctions_of([*main, side], snap_m=2.0)
    assert net.repairs.snapped_to_node == 1 and net.repairs.snapped_to_line == 0
    assert len(net.node_xy) == 4 and len(net.edges) == 3
    np.testing.assert_allclose(j.xy, [[0.0, 0.0]], atol=1e-9)


def test_an_interior_vertex_is_not_a_node_to_snap_to():
    # With the main road as one line, (0, 0) is only a vertex: the end joins the nearest point of the line.
    main = LineString([(-100, 0), (0, 0), (100, 0)])
    side = LineString([(0.66, 1.0), (0.66, 100)])
    net, j = junctions_of([main, side], snap_m=2.0)
    assert net.repairs.snapped_to_line == 1
    np.testing.assert_allclose(j.xy, [[0.66, 0.0]], atol=1e-9)


def test_two_dangling_ends_facing_each_other_close_the_gap():
    # A road digitised in two pieces with a 1 m gap, and a side road at the far end: one road, one T.
    west = LineString([(-100, 0), (-0.5, 0)])
    east = LineString([(0.5, 0), (100, 0)])
    side = LineString([(100, 0), (100, 50)])
    net, j = junctions_of([west, east, side], snap_m=2.0)
    assert net.repairs.snapped_ends == 1  # one end moves to the other; the two become one node
    assert sorted(net.degree.tolist()) == [1, 1, 2, 2]  # two far ends, the closed gap, the side road's corner
    assert len(j) == 0  # a gap closed is not a junction


def test_a_dangling_end_never_snaps_into_a_bridge():
    bridge = LineString([(-100, 0), (100, 0)])
    side = LineString([(0, 1.5), (0, 100)])
    net, j = junctions_of([bridge, side], grade_separated=[True, False], snap_m=2.0)
    assert net.repairs.snapped_ends == 0 and len(j) == 0


# -- grade separation ------------------------------------------------------------------------------------------


def test_an_overpass_crosses_without_a_junction():
    net, j = junctions_of([MAIN, CROSS], grade_separated=[False, True])
    assert len(net.edges) == 2 and net.repairs.split_points == 0
    assert (j.raw_count, len(j)) == (0, 0)


def test_the_same_crossing_unflagged_is_a_junction():
    net, j = junctions_of([MAIN, CROSS], grade_separated=[False, False])
    assert len(j) == 1 and j.legs.tolist() == [4]


def test_two_flagged_lines_crossing_do_not_meet():
    net, j = junctions_of([MAIN, CROSS], grade_separated=[True, True])
    assert len(net.edges) == 2 and len(j) == 0


def test_a_bridge_end_on_another_road_splits_that_road():
    # A flyover ramp lands on the main road's interior: it connects there (a T), though it is flagged.
    ramp = LineString([(0, 0), (0, 100)])
    net, j = junctions_of([MAIN, ramp], grade_separated=[False, True])
    assert len(net.edges) == 3 and net.repairs.split_points == 1
    assert j.legs.tolist() == [3]


def test_a_road_ending_under_a_bridge_does_not_split_the_bridge():
    side = LineString([(0, 0), (0, 100)])  # ends exactly on the bridge's line, but the bridge is above it
    net, j = junctions_of([MAIN, side], grade_separated=[True, False], snap_m=0.0)
    assert len(net.edges) == 2 and len(j) == 0


def test_grade_separated_lines_are_kept_per_edge():
    net, _ = junctions_of([MAIN, CROSS, LineString([(50, -50), (50, 50)])], grade_separated=[False, True, False])
    assert net.edge_grade_separated[net.edge_source == 1].all()
    assert not net.edge_grade_separated[net.edge_source != 1].any()


# -- dual carriageways and consolidation -----------------------------------------------------------------------


@pytest.fixture
def dual_carriageway():
    """Two one-way carriageways of G111 12 m apart (northbound west, southbound east), crossed by X001."""
    lines = [
        LineString([(-6, -200), (-6, 200)]),
        LineString([(6, 200), (6, -200)]),
        LineString([(-100, 0), (100, 0)]),
    ]
    return lines, ["G111", "G111", "X001"]


def test_dual_carriageway_junction_consolidates_to_one_four_approach_intersection(dual_carriageway):
    lines, keys = dual_carriageway
    net, j = junctions_of(lines, keys=keys, consolidate_m=15.0)
    assert j.raw_count == 2
    assert len(j) == 1
    assert j.legs.tolist() == [4]
    np.testing.assert_allclose(j.xy, [[0.0, 0.0]], atol=1e-9)
    assert len(j.nodes(0)) == 2
    assert len(j.leg_table) == 6  # four carriageway legs and two minor-road legs; the 12 m link is internal
    approaches = j.approach_table
    assert sorted(approaches["key"]) == ["G111", "G111", "X001", "X001"]
    assert sorted(approaches["n_legs"]) == [1, 1, 2, 2]
    assert_bearings(approaches["bearing_deg"], [0, 90, 180, 270])
    merged = approaches[approaches["n_legs"] == 2]
    assert all(s == (0, 1) for s in merged["sources"])


def test_an_intersection_can_be_read_as_an_object(dual_carriageway):
    lines, keys = dual_carriageway
    net, j = junctions_of(lines, keys=keys, consolidate_m=15.0)
    (inter,) = list(j)
    assert inter.centre == pytest.approx((0.0, 0.0))
    assert len(inter.nodes) == 2 and len(inter.legs) == 4
    assert [leg.key for leg in inter.legs] == ["G111", "X001", "G111", "X001"]  # clockwise from north
    assert [round(leg.bearing) for leg in inter.legs] == [0, 90, 180, 270]
    north = inter.legs[0]
    assert north.sources == (0, 1) and north.n_legs == 2 and north.source in (0, 1)
    outward = north.outward(net)
    start = np.array(outward.coords[0])
    assert any(np.allclose(start, net.node_xy[n]) for n in inter.nodes)  # runs away from the intersection
    assert outward.coords[-1][1] == pytest.approx(200.0)
    assert north.geometry.length == pytest.approx(30.0)
    assert j[-1] == j[0]
    with pytest.raises(IndexError):
        j[1]


def test_dual_carriageway_stays_two_junctions_at_five_metres(dual_carriageway):
    lines, keys = dual_carriageway
    net, j = junctions_of(lines, keys=keys, consolidate_m=5.0)
    assert (j.raw_count, len(j)) == (2, 2)
    assert j.legs.tolist() == [4, 4]
    np.testing.assert_allclose(j.xy, [[-6.0, 0.0], [6.0, 0.0]], atol=1e-9)


def test_without_road_keys_the_carriageways_stay_separate_approaches(dual_carriageway):
    lines, _ = dual_carriageway
    net, j = junctions_of(lines, consolidate_m=15.0)
    assert len(j) == 1 and j.legs.tolist() == [6]


def test_a_road_splitting_into_two_carriageways_is_not_a_junction():
    # A two-way road becomes a dual carriageway: three edges meet, but two of them are one approach.
    lines = [
        LineString([(0, -100), (0, 0)]),
        LineString([(0, 0), (-6, 30), (-6, 200)]),
        LineString([(6, 200), (6, 30), (0, 0)]),
    ]
    net, j = junctions_of(lines, keys=["G111"] * 3)
    assert j.raw_count == 1 and j.cluster_count == 1 and len(j) == 0


def test_a_long_loop_from_a_junction_counts_as_two_legs():
    # A village ring road leaves the main road and comes back to the same node: both ends are legs.
    ring = LineString([(0, 0), (-40, 150), (40, 150), (0, 0)])
    net, j = junctions_of([LineString([(-100, 0), (0, 0)]), LineString([(0, 0), (100, 0)]), ring])
    assert j.raw_count == 1 and j.legs.tolist() == [4]


def test_consolidation_is_single_linkage_through_a_chain():
    # Three crossings 10 m apart along the main road: at 12 m they chain into one intersection, at 8 m not.
    lines = [MAIN] + [LineString([(x, -50), (x, 50)]) for x in (0, 10, 20)]
    _, chained = junctions_of(lines, consolidate_m=12.0)
    _, apart = junctions_of(lines, consolidate_m=8.0)
    assert len(chained) == 1 and len(chained.nodes(0)) == 3
    np.testing.assert_allclose(chained.xy, [[10.0, 0.0]], atol=1e-9)
    assert len(apart) == 3


# -- repairs ---------------------------------------------------------------------------------------------------


def test_duplicate_vertices_are_dropped_and_counted():
    messy = LineString([(-100, 0), (-100, 0), (0, 0), (0, 0), (0, 0), (100, 0)])
    net, j = junctions_of([messy, CROSS])
    assert net.repairs.duplicate_vertices == 3
    clean, j_clean = junctions_of([MAIN, CROSS])
    assert j.legs.tolist() == j_clean.legs.tolist() == [4]
    for edge in net.edges:
        xy = shapely.get_coordinates(edge)
        assert not (xy[1:] == xy[:-1]).all(axis=1).any()


def test_a_line_crossing_itself_is_split_there():
    # One line runs east, turns north, west, then south across its own first stretch at (50, 0).
    loop = LineString([(0, 0), (100, 0), (100, 50), (50, 50), (50, -50)])
    net, j = junctions_of([loop])
    assert net.repairs.self_crossings == 1
    assert len(net.edges) == 3  # before the crossing, the loop, after it
    assert len(j) == 1 and j.legs.tolist() == [4]
    np.testing.assert_allclose(j.xy, [[50.0, 0.0]], atol=1e-9)
    assert set(j.leg_table["source"]) == {0}


def test_three_lines_through_one_point_make_one_six_leg_node():
    lines = [LineString([(-50, -50 * t), (50, 50 * t)]) for t in (0.0, 1.0, -1.0)]
    net, j = junctions_of(lines, consolidate_m=0.5)
    assert j.raw_count == 1
    assert net.degree.max() == 6
    assert j.legs.tolist() == [6]


def test_overlapping_lines_are_split_at_the_ends_of_the_shared_stretch():
    a = LineString([(0, 0), (100, 0)])
    b = LineString([(50, 0), (150, 0)])
    net, _ = junctions_of([a, b])
    assert net.repairs.overlaps == 1
    assert sorted(round(e.length, 6) for e in net.edges) == [50.0, 50.0, 50.0, 50.0]


def test_multi_part_lines_are_exploded_and_keep_their_source():
    multi = MultiLineString([[(-100, 0), (100, 0)], [(0, -100), (0, 100)]])
    net, j = junctions_of([multi, LineString([(500, 0), (600, 0)])])
    assert net.repairs.multipart_lines == 1
    assert sorted(net.edge_source.tolist()) == [0, 0, 0, 0, 1]
    assert len(j) == 1 and j.legs.tolist() == [4]


def test_empty_and_invalid_inputs_are_reported_by_index_not_dropped_silently():
    with np.errstate(invalid="ignore"):  # shapely warns when it builds a line with NaN; that line is the point
        nan_line = shapely.from_wkt("LINESTRING (0 0, 10 NaN)")
    lines = [
        MAIN,  # 0: fine
        None,  # 1: missing
        LineString(),  # 2: empty
        Point(1, 1),  # 3: not a line
        LineString([(5, 5), (5, 5), (5, 5)]),  # 4: no length
        nan_line,  # 5: a coordinate is not a number
        Polygon([(0, 0), (1, 0), (1, 1)]),  # 6: not a line
        CROSS,  # 7: fine
    ]
    net, j = junctions_of(lines)
    r = net.repairs
    assert r.input_lines == 8
    assert r.empty == (1, 2)
    assert dict(r.invalid) == {3: "not_a_line", 4: "zero_length", 5: "non_finite", 6: "not_a_line"}
    assert sorted(set(net.edge_source.tolist())) == [0, 7]
    assert j.legs.tolist() == [4]
    text = "\n".join(r.messages())
    assert "第 2、3 条" in text and "not_a_line" in text and "zero_length" in text and "non_finite" in text


def test_a_multi_line_with_one_degenerate_part_keeps_the_rest():
    multi = MultiLineString([[(-100, 0), (100, 0)], [(7, 7), (7, 7)]])
    net, _ = junctions_of([multi])
    assert net.repairs.zero_length_parts == 1 and net.repairs.invalid == ()
    assert len(net.edges) == 1


def test_repairs_summary_is_plain_json():
    net, _ = junctions_of([MAIN, CROSS, None])
    summary = net.repairs.summary()
    assert summary["empty"] == [2] and summary["split_points"] == 1
    assert any("交叉" in m for m in net.repairs.messages())


# -- inputs and determinism ------------------------------------------------------------------------------------


def test_lon_lat_input_is_refused():
    lonlat = gpd.GeoSeries([LineString([(120.1, 42.8), (120.2, 42.8)])], crs="EPSG:4326")
    with pytest.raises(ValueError, match="geographic CRS"):
        build_network(lonlat)


def test_a_metric_geoseries_and_geodataframe_are_accepted():
    series = gpd.GeoSeries([MAIN, CROSS], crs="EPSG:4549")
    assert len(build_network(series).edges) == 4
    assert len(build_network(gpd.GeoDataFrame(geometry=series)).edges) == 4


def test_flag_and_key_lengths_must_match_the_lines():
    with pytest.raises(ValueError, match="grade_separated"):
        build_network([MAIN, CROSS], grade_separated=[True])
    with pytest.raises(ValueError, match="keys"):
        build_network([MAIN, CROSS], keys=["G111"])


@pytest.mark.parametrize(
    "field, value",
    [("snap_m", -1.0), ("consolidate_m", -0.1), ("approach_m", 0.0), ("min_legs", 0), ("coincident_m", 0.0)],
)
def test_parameters_are_checked(field, value):
    with pytest.raises(ValueError, match=field):
        NetworkParams(**{field: value})


def test_the_same_input_gives_the_same_network_and_junctions():
    lines = [MAIN, CROSS, LineString([(40, -60), (40, 60)]), LineString([(0, 1.5), (-30, 90)])]
    a_net, a = junctions_of(lines)
    b_net, b = junctions_of(lines)
    assert [e.wkb for e in a_net.edges] == [e.wkb for e in b_net.edges]
    np.testing.assert_array_equal(a_net.edge_nodes, b_net.edge_nodes)
    np.testing.assert_array_equal(a.xy, b.xy)
    assert a.leg_table.drop(columns="geometry").equals(b.leg_table.drop(columns="geometry"))


def test_junctions_do_not_depend_on_input_order_or_direction():
    lines = [MAIN, CROSS, LineString([(40, -60), (40, 60)]), LineString([(-30, 10), (30, 80)])]
    _, a = junctions_of(lines)
    _, b = junctions_of([shapely.reverse(g) for g in lines[::-1]])
    np.testing.assert_allclose(a.xy, b.xy, atol=1e-9)
    assert a.legs.tolist() == b.legs.tolist()


def test_an_empty_layer_gives_an_empty_network():
    net, j = junctions_of([])
    assert len(net.edges) == 0 and len(j) == 0 and j.raw_count == 0
    assert len(j.to_frame()) == 0


def test_to_frame_lists_each_intersection_once():
    net, j = junctions_of([MAIN, CROSS], keys=["G111", "X001"])
    frame = j.to_frame()
    assert frame.loc[0, "legs"] == 4
    assert sorted(frame.loc[0, "keys"]) == ["G111", "G111", "X001", "X001"]
    assert frame.loc[0, "sources"] == (0, 1)


# -- noding against brute force --------------------------------------------------------------------------------

coordinate = st.integers(min_value=0, max_value=1_000).map(float)
segment = st.tuples(coordinate, coordinate, coordinate, coordinate).filter(lambda c: (c[0], c[1]) != (c[2], c[3]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(segment, min_size=1, max_size=12))
def test_noding_finds_every_crossing_of_random_segments(coords):
    lines = [LineString([(x0, y0), (x1, y1)]) for x0, y0, x1, y1 in coords]
    net = build_network(lines, params=NetworkParams(snap_m=0.0))
    # Brute force: every pair of segments, and the points where they meet.
    points = set()
    for i in range(len(lines)):
        for k in range(i + 1, len(lines)):
            meet = lines[i].intersection(lines[k])
            for part in getattr(meet, "geoms", [meet]):
                for xy in shapely.get_coordinates(part):
                    points.add((round(xy[0], 6), round(xy[1], 6)))
    ends = {(round(x, 6), round(y, 6)) for g in lines for x, y in (g.coords[0], g.coords[-1])}
    nodes = {(round(x, 6), round(y, 6)) for x, y in net.node_xy}
    # Every meeting point and every end is a node, and there are no others.
    assert nodes == points | ends
    # The edges cover the input exactly: same total length, none crossing another in its interior.
    assert sum(e.length for e in net.edges) == pytest.approx(sum(g.length for g in lines))
    tree = shapely.STRtree(net.edges)
    a, b = tree.query(net.edges, predicate="crosses")
    assert len(a) == 0
