"""Scale datasets (bench/scale.py): towns inside their county boxes, unique ids and codes, intact links, and the
streamed writer giving what writing everything at once gives.

Four real demo towns over three counties in three Gauss-Kruger zones are made once for the module (about 15 s on two
idle cores); the other tests read what they are written to.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
import shapely
from backends import fresh_schema
from conftest import need_shared_data
from geopandas.testing import assert_geodataframe_equal

from bench import scale
from bench.scale_regions import LEVELS, PROVINCE, TONGLIAO, chosen_counties, county_slots, plan, share, slot_outlines
from layers import LAYERS
from store import GeoPackageStore, open_store

#: 霍林郭勒市 (Tongliao, zone 120 E), 海勃湾区 (Wuhai, 108 E) and 额济纳旗 (Alxa, 99 E).
COUNTIES = ("150581", "150302", "152923")
TOWNS = 4
#: The demo's own first seeds, which lay out at the first or second draw.
SEED = 20201
PREFECTURES = ("1501", "1502", "1503", "1504", "1505", "1506", "1507", "1508", "1509", "1522", "1525", "1529")


@pytest.fixture(scope="module")
def towns() -> list[scale.TownFrames]:
    slots = plan(LEVELS["province"], TOWNS, SEED, COUNTIES)
    with scale.TownMaker(scale.framed, slots, workers=2, window=TOWNS) as maker:
        return list(maker)


@pytest.fixture(scope="module")
def written(towns, tmp_path_factory) -> dict[str, GeoPackageStore]:
    """The towns written at once, and streamed in batches of two (so a batch ends inside the list)."""
    folder = tmp_path_factory.mktemp("scale")
    at_once, streamed = GeoPackageStore(folder / "at_once.gpkg"), GeoPackageStore(folder / "streamed.gpkg")
    scale.write_all(towns, at_once)
    scale.write_streamed(scale.batched(towns, 2), streamed)
    return {"at_once": at_once, "streamed": streamed}


@pytest.fixture(scope="module")
def layers(written) -> dict[str, pd.DataFrame]:
    return {layer.id: written["streamed"].read(layer) for layer in LAYERS.values()}


# -- the plan: counties, boxes and slots (no towns made) ------------------------------------------------------------


def test_levels_have_the_real_county_codes_under_their_prefectures():
    assert [c.code for c in LEVELS["banner"].counties] == ["150525"]
    assert sorted(c.code for c in LEVELS["city"].counties) == [
        "150502", "150521", "150522", "150523", "150524", "150525", "150526", "150581",
    ]  # fmt: skip
    codes = [c.code for c in PROVINCE]
    assert len(codes) == len(set(codes)) == 103
    assert {c[:4] for c in codes} == set(PREFECTURES)
    assert all(len(c) == 6 and c.isdigit() for c in codes)


@pytest.mark.parametrize("level", ["city", "province"])
def test_county_boxes_lie_in_the_service_area_and_do_not_overlap(level):
    lvl = LEVELS[level]
    boxes = [shapely.box(*c.box) for c in lvl.counties]
    assert shapely.box(*lvl.region).contains(shapely.union_all(boxes))
    left, right = shapely.STRtree(boxes).query(boxes, predicate="overlaps")
    assert len(left) == 0, [(lvl.counties[i].name, lvl.counties[j].name) for i, j in zip(left, right, strict=True)]
    assert all(county_slots(c) for c in lvl.counties), "every county has room for a town"


@pytest.mark.parametrize(("level", "towns"), [("banner", 15), ("city", 100), ("province", 1000)])
def test_default_plans_fit_one_town_per_slot(level, towns):
    slots = plan(LEVELS[level], towns, 1)
    codes = [s.code for s in slots]
    assert len(codes) == len(set(codes)) == towns
    assert {s.county.code for s in slots} == {c.code for c in LEVELS[level].counties}, "every county has a town"
    assert all(s.code.startswith(s.county.code) and 101 <= s.number < 200 for s in slots)
    outlines = slot_outlines(slots)
    assert all(shapely.box(*s.county.box).contains(o) for s, o in zip(slots, outlines, strict=True))
    left, right = shapely.STRtree(outlines).query(outlines, predicate="intersects")
    assert (left == right).all(), "no two towns overlap"
    assert [s.seed for s in slots] == list(range(1, towns + 1))


@pytest.mark.parametrize(
    ("towns", "room", "expected"),
    [
        (6, [2, 2, 2], [2, 2, 2]),  # exactly full
        (7, [1, 9, 9], [1, 3, 3]),  # a county with little room is filled; the others share the rest
        (10, [5, 5, 5], [3, 3, 4]),  # the remainder goes to the last county with the most room
        (2, [4, 4, 4], [0, 1, 1]),  # fewer towns than counties
        (0, [3, 3], [0, 0]),  # nothing to share
    ],
)
def test_share_spreads_towns_evenly_within_each_countys_room(towns, room, expected):
    assert share(towns, room) == expected
    assert sum(share(towns, room)) == towns


def test_share_and_plan_refuse_what_does_not_fit():
    with pytest.raises(ValueError, match="room for 4"):
        share(5, [2, 2])
    with pytest.raises(ValueError, match="room for"):
        plan(LEVELS["city"], 3, 1, ["150581"])  # 霍林郭勒市 holds two towns
    with pytest.raises(ValueError, match="at least one town"):
        plan(LEVELS["banner"], 0, 1)
    with pytest.raises(ValueError, match="no county 150599"):
        chosen_counties(LEVELS["city"], ["150599"])


def test_a_seed_without_a_layout_gives_way_to_a_seed_of_its_own(monkeypatch):
    def generate(seed):
        if seed < 2 * scale.SEED_STRIDE:
            raise RuntimeError(f"seed {seed}: no usable layout")
        return f"town {seed}"

    monkeypatch.setattr(scale, "generate", generate)
    assert scale.generated(7) == (2_000_007, "town 2000007")
    monkeypatch.setattr(scale, "SEED_TRIES", 2)
    with pytest.raises(RuntimeError, match="no usable town for seed 7: seed 7: no usable layout; seed 1000007"):
        scale.generated(7)


def test_a_prefecture_code_names_all_its_counties():
    assert [c.name for c in chosen_counties(LEVELS["province"], ["1503"])] == ["海勃湾区", "海南区", "乌达区"]


@pytest.mark.shared_data
def test_tongliao_boxes_lie_mostly_inside_their_real_counties():
    import geopandas as gpd

    outlines = gpd.read_file(need_shared_data() / "boundaries/tongliao_150500_full_counties.geojson")
    by_code = dict(zip(outlines["adcode"].astype(str), outlines.geometry, strict=True))
    for county in TONGLIAO:
        box = shapely.box(*county.box)
        assert box.intersection(by_code[county.code]).area / box.area > 0.45, county.name


# -- four towns made and written ------------------------------------------------------------------------------------


def test_streamed_writer_gives_what_writing_at_once_gives(written, towns):
    for layer in LAYERS.values():
        at_once, streamed = written["at_once"].read(layer), written["streamed"].read(layer)
        assert_geodataframe_equal(at_once, streamed)
        assert len(streamed) == sum(len(t.frames[layer.id]) for t in towns)


def test_towns_sit_in_their_counties_boxes(towns):
    assert {t.slot.county.code for t in towns} == set(COUNTIES)
    for town in towns:
        box = shapely.box(*town.slot.county.box)
        for layer_id, frame in town.frames.items():
            assert box.contains(frame.geometry.values).all(), (town.slot.code, layer_id)


def test_fids_run_one_to_n_in_every_layer(layers):
    for layer_id, frame in layers.items():
        assert frame.index.tolist() == list(range(1, len(frame) + 1)), layer_id
    assert len(layers["buildings"]) > 2_000 * TOWNS and len(layers["roads"]) > 400 * TOWNS  # the demo's densities


def test_town_and_village_codes_are_unique_and_under_their_county(layers, towns):
    town_codes = [t.slot.code for t in towns]
    assert len(set(town_codes)) == TOWNS and all(c[:6] in COUNTIES for c in town_codes)
    villages = layers["villages"]["code"]
    assert villages.is_unique and villages.str.len().eq(12).all()
    assert set(villages.str[:9]) == set(town_codes)
    hazards = layers["hazards"]["code"]
    assert hazards.is_unique and set(hazards.str[:9]) == set(town_codes)


def test_village_codes_point_at_villages_of_the_same_town(layers):
    villages = set(layers["villages"]["code"])
    for layer_id in scale.VILLAGE_CODE_LAYERS:
        codes = layers[layer_id]["village_code"].dropna()
        assert len(codes) and set(codes) <= villages, layer_id
    hazards = layers["hazards"]
    assert (
        hazards["village_code"].dropna().str[:9] == hazards.loc[hazards["village_code"].notna(), "code"].str[:9]
    ).all()


def near(a, b, metres: float) -> bool:
    return bool((shapely.distance(a, b) < metres / 111_000).all())


def test_fid_links_point_at_the_right_features(layers):
    roads, lanes = layers["roads"].geometry, layers["fire_lanes"].geometry
    accidents = layers["accidents"].dropna(subset=["road_id"])
    assert len(accidents) and near(accidents.geometry.values, roads.loc[accidents["road_id"]].values, 50)
    obstructions = layers["obstructions"].dropna(subset=["lane_id"])
    assert len(obstructions) and near(obstructions.geometry.values, lanes.loc[obstructions["lane_id"]].values, 50)
    for point, road_ids in zip(layers["intersections"].geometry, layers["intersections"]["road_ids"], strict=True):
        ids = json.loads(road_ids) if isinstance(road_ids, str) else road_ids
        assert ids and near(point, roads.loc[ids].values, 50)
    linked = layers["hazards"].dropna(subset=["linked_fid"])
    assert len(linked)
    for layer_id, group in linked.groupby("linked_layer"):
        targets = layers[layer_id].geometry.loc[group["linked_fid"]].values
        assert near(group.geometry.values, targets, 500), layer_id


def test_streams_into_postgis_as_into_a_geopackage(towns, tmp_path):
    with fresh_schema() as url:
        with scale.opened(url) as store:  # as the command line opens a database: tables made, then written in place
            scale.write_streamed(scale.batched(towns[:2], 1), store)
        scale.write_all(towns[:2], reference := GeoPackageStore(tmp_path / "two.gpkg"))
        for layer_id in ("villages", "roads", "intersections", "accidents", "hazards"):
            a, b = reference.read(LAYERS[layer_id]), open_store(url).read(LAYERS[layer_id])
            pd.testing.assert_frame_equal(
                pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry"))
            )
            assert shapely.equals_exact(a.geometry.values, b.geometry.values, 1e-9).all()


def test_command_line_writes_a_city_town(tmp_path, capsys):
    out = tmp_path / "city.gpkg"
    scale.main(["--level", "city", "--counties", "150525", "--towns", "1", "--workers", "1", "--out", str(out)])
    report = capsys.readouterr().out
    assert "1 town of 1 county (city" in report and "features/s" in report and "ONEMAP_REGION_BBOX=" in report
    store = GeoPackageStore(out)
    assert store.info().title == "通辽市（示例，1 个镇）" and store.info().synthetic
    assert set(store.read(LAYERS["villages"])["code"].str[:9]) == {"150525101"}
    assert not (tmp_path / ".city.partial.gpkg").exists()
