"""Rewriting a layer while the service holds the file open: all or nothing, the spatial index right, the file sound
for GDAL and QGIS, and the service's own connections unharmed (a file's own concerns, so on a file; the all-or-nothing
rewrite on the backend under test)."""

from __future__ import annotations

import shutil
import sqlite3

import pandas as pd
import pyogrio
import pytest
import shapely
from backends import BACKEND, town_copy
from shapely.geometry import LineString, Point

from layers import LAYERS
from layers.frames import empty_frame
from onemap.settings import DEMO_GPKG
from store import GeoPackageStore, StoreError, open_store
from store.gpkg_rows import geometry_blob
from store.gpkg_sql import decode
from store.users import UserStore


@pytest.fixture
def path(tmp_path):
    target = tmp_path / "town.gpkg"
    shutil.copy(DEMO_GPKG, target)
    return target


def test_a_rewrite_under_open_connections_leaves_them_and_the_file_sound(path, monkeypatch):
    def gdal_write(*args, **kwargs):
        raise AssertionError("an existing table was handed to GDAL while the file is shared")

    monkeypatch.setattr(pyogrio, "write_dataframe", gdal_write)  # GDAL's own SQLite must not touch a shared file
    store = GeoPackageStore(path)
    frame = store.read(LAYERS["intersections"])  # as the service does: read everything before sharing the file
    users = UserStore(path)
    users.add("admin", "admin password", "admin")
    for k in range(3):  # had GDAL written here, the next sqlite3 close would remove the log from under `users`
        store.replace(LAYERS["intersections"], frame)
        store.info()
        assert users.get("admin").role == "admin"
        users.add(f"clerk{k}", "clerk password", "admin")
    users.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM onemap_users").fetchone()[0] == 4
    pd.testing.assert_frame_equal(pd.DataFrame(store.read(LAYERS["intersections"])), pd.DataFrame(frame))


def test_rewritten_rows_read_back_the_same_through_gdal_with_the_index_right(path):
    store = GeoPackageStore(path)
    for layer_id in ("accidents", "roads", "buildings", "accident_segments"):
        layer = LAYERS[layer_id]
        before = store.read(layer)
        store.replace(layer, before)
        after = store.read(layer)
        pd.testing.assert_frame_equal(pd.DataFrame(after.drop(columns="geometry")),
                                      pd.DataFrame(before.drop(columns="geometry")))  # fmt: skip
        assert shapely.equals_exact(after.geometry.values, before.geometry.values, tolerance=0).all()
    with sqlite3.connect(path) as db:  # the R-tree holds exactly the roads' bounding boxes
        tree = db.execute("SELECT id, minx, maxx, miny, maxy FROM rtree_roads_geom ORDER BY id").fetchall()
    roads = store.read(LAYERS["roads"])
    assert [r[0] for r in tree] == list(roads.index)
    bounds = roads.geometry.bounds.to_numpy()
    for (_, minx, maxx, miny, maxy), (bx0, by0, bx1, by1) in zip(tree, bounds, strict=True):
        assert minx <= bx0 and maxx >= bx1 and miny <= by0 and maxy >= by1  # float32 boxes round outwards
    info = pyogrio.read_info(path, layer="roads")
    assert info["features"] == len(roads)


def test_a_failed_rewrite_changes_nothing(tmp_path):
    store = open_store(town_copy(BACKEND, DEMO_GPKG, tmp_path))  # on either backend
    before = store.read(LAYERS["roads"])
    broken = before.copy()
    broken.index = pd.Index([1] * len(broken), name="fid")  # duplicate ids: the insert fails half-way
    with pytest.raises(StoreError, match="nothing (was )?changed"):
        store.replace(LAYERS["roads"], broken)
    pd.testing.assert_frame_equal(pd.DataFrame(store.read(LAYERS["roads"])), pd.DataFrame(before))


def test_missing_tables_and_columns_are_added_before_the_file_is_shared(path):
    with sqlite3.connect(path) as db:
        db.execute('ALTER TABLE "intersections" DROP COLUMN "skew_deg"')
    pyogrio.write_dataframe(empty_frame(LAYERS["villages"]), path, layer="crash_density", driver="GPKG")
    store = GeoPackageStore(path)
    store.replace(LAYERS["crash_density"], empty_frame(LAYERS["crash_density"]))  # columns missing: GDAL remakes it
    with sqlite3.connect(path) as db:
        db.execute('DROP TABLE "treatment_plan"')
        db.execute("DELETE FROM gpkg_contents WHERE table_name = 'treatment_plan'")
        db.execute("DELETE FROM gpkg_geometry_columns WHERE table_name = 'treatment_plan'")
    changes = store.ensure_tables(LAYERS.values())
    assert changes == ["added column intersections.skew_deg", "created table treatment_plan"]
    assert store.read(LAYERS["intersections"])["skew_deg"].isna().all()
    assert store.ensure_tables(LAYERS.values()) == []


def test_geometry_blobs_round_trip():
    for geom in (Point(120.5, 42.8), LineString([(120.5, 42.8), (120.6, 42.9)])):
        assert decode(geometry_blob(geom)).equals_exact(geom, tolerance=0)
    assert decode(geometry_blob(Point())).is_empty
    assert geometry_blob(None) is None
