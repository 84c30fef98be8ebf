"""Fire separation on a Dask LocalCluster, partition by partition with halos, against the single-process run:
the same pairs to the last bit, the same clusters, on the demo town and on rows of houses that cross partitions."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from backends import BACKEND, demo_store, town_copy
from scene import AS_OF
from shapely.geometry import box
from typer.testing import CliRunner

from analysis.fire_separation import find_clusters, too_close_pairs
from analysis.partitioned import largest_separation, local_client, too_close_pairs_partitioned
from analysis.settlement_plans import analyse
from geo.crs import LOCAL_METRIC, WGS84
from layers import LAYERS
from onemap.cli import app
from onemap.settings import DEMO_GPKG
from store import open_store


@pytest.fixture(scope="module")
def client():
    with local_client(2) as c:
        yield c


@pytest.fixture(scope="module")
def demo() -> dict[str, gpd.GeoDataFrame]:
    store = demo_store()
    return {name: store.read(LAYERS[name]) for name in ("buildings", "old_settlements", "villages", "fire_lanes")}


def rows_of_houses(seed: int = 3) -> gpd.GeoDataFrame:
    """Long rows of 10 m houses 4 m apart running across the whole area (so across partitions), and scattered
    houses, some close enough to pair; fids shuffled and not contiguous."""
    rng = np.random.default_rng(seed)
    x0, y0 = 540_000.0, 4_745_000.0
    shapes = []
    for row in range(6):
        y = y0 + row * 900.0
        shapes += [box(x0 + k * 14.0, y, x0 + k * 14.0 + 10.0, y + 8.0) for k in range(400)]
    for x, y in rng.uniform(0, 5_600, size=(2_500, 2)):
        w, h = rng.uniform(6, 30, 2)
        shapes.append(box(x0 + x, y0 + y, x0 + x + w, y0 + y + h))
    n = len(shapes)
    fids = rng.permutation(np.arange(1, 3 * n, 3))[:n]
    grades = rng.choice(["1", "2", "3", "4", None], size=n)
    frame = gpd.GeoDataFrame(
        {"fire_grade": grades, "storeys": rng.integers(1, 12, size=n), "residents": rng.integers(0, 6, size=n)},
        geometry=shapes,
        crs=LOCAL_METRIC,
        index=pd.Index(fids, name="fid"),
    )
    return frame.to_crs(WGS84)


def test_demo_pairs_and_clusters_equal_the_single_process_run(client, demo):
    buildings = demo["buildings"]
    found = too_close_pairs_partitioned(buildings, client, partitions=16)
    assert found.partitions == 16 and found.overlap_m >= largest_separation()
    pd.testing.assert_frame_equal(found.pairs, too_close_pairs(buildings), check_exact=True)
    kwargs = {"old_settlements": demo["old_settlements"], "villages": demo["villages"],
              "fire_lanes": demo["fire_lanes"], "as_of": AS_OF}  # fmt: skip
    one, many = analyse(buildings, **kwargs), analyse(buildings, pairs=found.pairs, **kwargs)
    pd.testing.assert_frame_equal(pd.DataFrame(one.clusters), pd.DataFrame(many.clusters), check_exact=True)
    pd.testing.assert_frame_equal(one.buildings, many.buildings, check_exact=True)
    pd.testing.assert_frame_equal(one.settlements, many.settlements, check_exact=True)
    assert one.drafts == many.drafts


@pytest.mark.parametrize("partitions", [16, 37])
def test_rows_that_cross_partitions_give_the_same_pairs_and_clusters(client, partitions):
    buildings = rows_of_houses()
    found = too_close_pairs_partitioned(buildings, client, partitions=partitions)
    single = too_close_pairs(buildings)
    assert found.partitions == partitions and found.across > 0  # some pairs were only found through a halo
    pd.testing.assert_frame_equal(found.pairs, single, check_exact=True)
    ids_one, table_one = find_clusters(buildings, single)
    ids_many, table_many = find_clusters(buildings, found.pairs)
    pd.testing.assert_series_equal(ids_one, ids_many)
    pd.testing.assert_frame_equal(pd.DataFrame(table_one), pd.DataFrame(table_many), check_exact=True)
    assert table_one["buildings"].max() >= 400  # a whole row is one cluster, across every partition it spans


def test_onemap_analyse_fire_on_a_local_cluster_stores_what_one_process_stores(tmp_path):
    one = town_copy(BACKEND, DEMO_GPKG, tmp_path / "one")
    many = town_copy(BACKEND, DEMO_GPKG, tmp_path / "many")
    runner = CliRunner()
    assert runner.invoke(app, ["analyse", "fire", "--as-of", "2026-01-01", "--data", one]).exit_code == 0
    out = runner.invoke(app, ["analyse", "fire", "--as-of", "2026-01-01", "--dask", "local", "--partitions", "16",
                              "--data", many])  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "16partitions" in "".join(out.output.split())
    layer = LAYERS["fire_clusters"]
    a, b = open_store(one).read(layer), open_store(many).read(layer)
    pd.testing.assert_frame_equal(pd.DataFrame(a), pd.DataFrame(b), check_exact=True)
    bad = runner.invoke(app, ["analyse", "fire", "--dask", "tcp://127.0.0.1:1", "--data", many])
    assert bad.exit_code != 0 and "cannotreachtheDaskscheduler" in "".join(bad.output.split())
