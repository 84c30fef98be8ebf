"""The PostgreSQL + PostGIS backend: the same contract as the GeoPackage, migrations, and a town moved both ways
without loss (features, geometries, the ledger's history and photos, accounts, reports).

Needs a PostgreSQL server with PostGIS available (Debian: postgresql-15-postgis-3) at ONEMAP_TEST_DATABASE_URL
(default postgresql://postgres@127.0.0.1:5432/test); each test works in a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from datetime import datetime

import pandas as pd
import psycopg
import pytest
import shapely
from backends import SERVER, fresh_schema
from typer.testing import CliRunner

from geo.index import SpatialIndex
from layers import LAYERS
from ledger.photos import check_photo
from onemap.cli import app
from onemap.settings import DEMO_GPKG
from store import GeoPackageStore, StoreError, db, open_store
from store.ledger import LedgerStore
from store.postgis import PostGISStore
from store.reports import ReportStore
from store.transfer import OWN_TABLES, migrate
from store.users import UserStore

AT = datetime(2026, 11, 2, 10, 0)


@pytest.fixture
def schema() -> Iterator[str]:
    """A URL to a fresh schema, dropped at the end."""
    with fresh_schema() as url:
        yield url


@pytest.fixture
def town(tmp_path):
    path = tmp_path / "town.gpkg"
    shutil.copy(DEMO_GPKG, path)
    return path


def same_attributes(a, b) -> None:
    pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry")))


def test_open_store_picks_the_backend_by_location(tmp_path):
    assert isinstance(open_store(str(tmp_path / "a.gpkg")), GeoPackageStore)
    store = open_store("postgresql://u@h:5432/d?schema=banner_15&sslmode=disable")
    assert isinstance(store, PostGISStore) and store.schema == "banner_15" and "sslmode=disable" in store.conninfo
    with pytest.raises(StoreError, match="lower-case identifier"):
        PostGISStore("postgresql://u@h/d?schema=Bad-Name")


def test_every_demo_layer_round_trips_exactly(schema):
    src = GeoPackageStore(DEMO_GPKG)
    db.init(schema)
    pg = PostGISStore(schema)
    for layer in LAYERS.values():
        a = src.read(layer)
        pg.replace(layer, a)
        b = pg.read(layer)
        pd.testing.assert_frame_equal(
            pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry"))
        )
        assert b.crs.equals(a.crs) and shapely.equals_exact(a.geometry.to_numpy(), b.geometry.to_numpy(), 0).all()
        assert pg.count(layer) == len(a) and pg.has(layer)


def test_writes_are_all_or_nothing_and_ids_go_on_from_the_largest(schema):
    db.init(schema)
    pg = PostGISStore(schema)
    layer = LAYERS["accidents"]
    frame = GeoPackageStore(DEMO_GPKG).read(layer)
    pg.replace(layer, frame)
    new = pg.append(layer, frame.iloc[:2])
    assert new == [int(frame.index.max()) + 1, int(frame.index.max()) + 2]
    broken = frame.iloc[:3].copy().astype({"road_id": "object"})
    broken.loc[broken.index[2], "road_id"] = "not a number"
    with pytest.raises(StoreError, match="nothing was changed"):
        pg.append(layer, broken)
    with pytest.raises(StoreError, match="nothing was changed"):
        pg.replace(layer, broken)
    assert pg.count(layer) == len(frame) + 2  # neither failed write left a row behind
    with pytest.raises(StoreError, match="nothing was deleted"):
        pg.delete(layer, [new[0], 999_999])
    pg.delete(layer, new)
    pd.testing.assert_frame_equal(pd.DataFrame(pg.read(layer)), pd.DataFrame(frame))
    with pytest.raises(StoreError, match="EPSG:4326"):
        pg.replace(layer, frame.to_crs(3857))


def test_migrations_and_new_columns(schema):
    assert db.current(schema) is None
    assert db.init(schema)[0] == f"migrated empty → {db.head()}"
    assert db.current(schema) == db.head() and db.upgrade(schema) == []  # a second run has nothing to do
    _, name = schema.split("?schema=")
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f'ALTER TABLE "{name}".roads DROP COLUMN aadt')  # as if made before the column was declared
        kinds = dict(conn.execute("SELECT f_table_name, type FROM geometry_columns WHERE f_table_schema = %s", (name,)))
        indexed = {r[0] for r in conn.execute("SELECT tablename FROM pg_indexes WHERE schemaname = %s AND "
                                               "indexdef LIKE '%%USING gist%%'", (name,))}  # fmt: skip
    assert db.upgrade(schema) == ["added column roads.aadt"]
    assert kinds["accidents"] == "POINT" and kinds["risk_sources"] == "GEOMETRY"
    assert indexed >= set(LAYERS)  # every layer has its spatial index
    out = CliRunner().invoke(app, ["db", "current", "--url", schema])
    assert out.exit_code == 0 and f"at {db.head()}" in out.output


def _with_history(path) -> None:
    """A hazard with a step and a photo in the ledger, an account, a signing key and a public report."""
    import io

    from PIL import Image

    ledger = LedgerStore(path)
    fid = int(ledger._db.execute("SELECT fid FROM hazards WHERE status = 'rectifying' ORDER BY fid").fetchone()[0])
    _, version = ledger.hazard(fid)
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, format="PNG")
    data = buffer.getvalue()
    ledger.attach(fid, "before", check_photo(data, max_bytes=1_000_000), data, actor="村干部", at=AT)
    ReportStore(path, ledger).close()  # the reports' table, as the service makes it
    ledger.close()
    users = UserStore(path)
    users.add("wang", "village password", "village", village_code="150525107201", display_name="王村长")
    users.close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO onemap_keys (name, value) VALUES ('signing', 'k3y')")
        conn.execute(
            "INSERT INTO onemap_reports (code, lon, lat, description, submitted_at, photo, photo_type) "
            "VALUES ('R-1', 120.55, 42.85, '路口有人占道堆放秸秆', '2026-11-01T09:00:00', ?, 'image/png')",
            (data,),
        )


def test_a_town_moves_to_postgis_and_back_without_loss(schema, town, tmp_path):
    _with_history(town)
    moved = migrate(str(town), schema)
    assert {m.name for m in moved} == set(LAYERS) | set(OWN_TABLES)
    counts = {m.name: m.rows for m in moved}
    assert counts["hazard_events"] >= 1 and counts["hazard_photos"] == 1 and counts["onemap_reports"] == 1
    back = tmp_path / "back.gpkg"
    out = CliRunner().invoke(app, ["migrate", "--from", schema, "--to", str(back)])
    assert out.exit_code == 0, out.output
    a, b = GeoPackageStore(town), GeoPackageStore(back)
    assert a.info() == b.info()
    for layer in LAYERS.values():
        x, y = a.read(layer), b.read(layer)
        pd.testing.assert_frame_equal(
            pd.DataFrame(x.drop(columns="geometry")), pd.DataFrame(y.drop(columns="geometry"))
        )
        assert shapely.equals_exact(x.geometry.to_numpy(), y.geometry.to_numpy(), 0).all(), layer.id
    for table, key in OWN_TABLES.items():
        with sqlite3.connect(town) as one, sqlite3.connect(back) as two:
            sql = f"SELECT * FROM {table} ORDER BY {key}"
            assert one.execute(sql).fetchall() == two.execute(sql).fetchall(), table
    # The copy is a working town: the ledger and the accounts read from it as from the original.
    ledger = LedgerStore(back)
    fid = int(ledger._db.execute("SELECT hazard_fid FROM hazard_events ORDER BY id DESC").fetchone()[0])
    assert ledger.history(fid) and len(ledger.photos(fid)) == 1
    ledger.close()
    users = UserStore(back)
    assert users.get("wang").village_code == "150525107201"
    users.close()


def test_a_file_holding_only_some_layers_moves_and_checks(schema, tmp_path):
    """A town handed in with a few layers (the rest never made) moves both ways; the missing ones arrive empty."""
    part = tmp_path / "part.gpkg"
    villages = GeoPackageStore(DEMO_GPKG).read(LAYERS["villages"])
    GeoPackageStore(part).replace(LAYERS["villages"], villages)
    migrate(str(part), schema)
    back = tmp_path / "back.gpkg"
    migrate(schema, str(back))
    same_attributes(GeoPackageStore(back).read(LAYERS["villages"]), villages)
    assert GeoPackageStore(back).count(LAYERS["roads"]) == 0


def test_migrate_refuses_a_target_with_data_and_cleans_up_after_a_failure(schema, town, tmp_path, monkeypatch):
    migrate(str(town), schema)
    with pytest.raises(StoreError, match="already holds data"):
        migrate(str(town), schema)
    with pytest.raises(StoreError, match="already exists"):
        migrate(schema, str(town))
    import store.transfer as transfer

    def broken(src, dst):
        raise StoreError("layer roads: 1 geometries differ after the move")

    monkeypatch.setattr(transfer, "_verify", broken)
    target = tmp_path / "half.gpkg"
    with pytest.raises(StoreError, match="geometries differ"):
        migrate(schema, str(target))
    assert not target.exists()  # nothing half-written is left behind
    other = schema.replace("?schema=", "?schema=x")
    try:
        with pytest.raises(StoreError, match="geometries differ"):
            migrate(str(town), other)
        assert all(PostGISStore(other).count(layer) == 0 for layer in LAYERS.values())
    finally:
        with psycopg.connect(SERVER, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{other.split("?schema=")[1]}" CASCADE')


def test_bad_locations_get_a_clear_error(tmp_path):
    out = CliRunner().invoke(app, ["migrate", "--from", str(tmp_path / "none.gpkg"), "--to", str(tmp_path / "b.gpkg")])
    assert out.exit_code == 1 and "doesnotexist" in "".join(out.output.split())  # the console wraps lines
    unreachable = PostGISStore("postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(StoreError, match="cannot connect"):
        unreachable.count(LAYERS["roads"])
    out = CliRunner().invoke(app, ["db", "upgrade"], env={"ONEMAP_DATABASE_URL": ""})
    assert out.exit_code == 2 and "nodatabasegiven" in "".join(out.output.split())


def test_points_in_a_bbox_come_from_the_spatial_index(schema):
    """A bbox query goes through the GiST index, and finds what brute force finds."""
    db.init(schema)
    pg = PostGISStore(schema)
    pg.replace(LAYERS["buildings"], GeoPackageStore(DEMO_GPKG).read(LAYERS["buildings"]))
    _, name = schema.split("?schema=")
    with psycopg.connect(SERVER, autocommit=True, options=f"-c search_path={name},public") as conn:
        conn.execute("ANALYZE buildings")
        conn.execute("SET enable_seqscan = off")  # small tables would otherwise be scanned: the index must exist
        where = "ST_Intersects(geom, ST_MakeEnvelope(120.54, 42.84, 120.55, 42.85, 4326))"
        plan = "\n".join(r[0] for r in conn.execute(f"EXPLAIN SELECT fid FROM buildings WHERE {where}"))
        found = conn.execute(f"SELECT count(*) FROM buildings WHERE {where}").fetchone()[0]
    assert "buildings_geom_idx" in plan
    frame = pg.read(LAYERS["buildings"])
    box = shapely.box(120.54, 42.84, 120.55, 42.85)
    assert found == int(shapely.intersects(frame.geometry.to_numpy(), box).sum()) > 100  # the same as brute force
    assert found == len(SpatialIndex(frame.index, frame.geometry).bbox(box.bounds))  # and what onemap's index finds


def test_a_gis_client_reads_the_layers_from_postgis(schema, town):
    """GDAL (what QGIS uses) opens the schema's tables as layers with their features and CRS."""
    import subprocess

    from outside_tools import need_tool

    ogrinfo = need_tool("ogrinfo", "Debian: apt-get install gdal-bin")
    before = town.read_bytes()
    migrate(str(town), schema)
    assert town.read_bytes() == before  # migrating reads the source file and leaves it as it was, byte for byte
    _, name = schema.split("?schema=")
    parts = psycopg.conninfo.conninfo_to_dict(SERVER)
    source = "PG:" + " ".join(f"{k}={v}" for k, v in parts.items()) + f" active_schema={name}"
    out = subprocess.run([ogrinfo, "-ro", "-so", source, "hazards"], capture_output=True, text=True, check=True).stdout
    assert "Feature Count: 48" in out and "EPSG" in out and "4326" in out
