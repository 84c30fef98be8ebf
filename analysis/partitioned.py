"""Fire separation for a whole city or province on a Dask cluster, with the same answer as one process.

The buildings are cut into spatially compact partitions along a Hilbert curve (`hilbert_groups`).
Each partition is searched for too-close pairs on a worker, together with a halo: every building within `overlap`
of the partition's hull, where `overlap` is the largest separation any pair could need plus the widest building.
A pair is kept only by the partition holding its smaller fid, so each pair is found exactly once, and a pair whose
two buildings lie in different partitions is still found, because the partner is in the halo. The clusters (连片)
are then the connected components of all the pairs together (`analysis.fire_separation.find_clusters`), which
spans partitions as it should. The distances are those one process computes, pair for pair.

The cutting and halo helpers here (`partition_count`, `hilbert_groups`, `hull_of`, `within`, `local_client`) serve
the road analyses too: `analysis.partitioned_intersections` and `analysis.partitioned_screening`.

`client` is a `dask.distributed.Client`: on a `LocalCluster` for one machine's cores, or connected to an existing
scheduler (`onemap analyse fire --dask tcp://host:8786`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from analysis.fire_separation import DEFAULT_RULES, SeparationRules, required_separations, too_close_pairs
from geo.crs import LOCAL_METRIC

#: Partitions per worker thread when none are asked for: enough to balance uneven towns.
PER_WORKER = 4


@dataclass(frozen=True)
class Partitioned:
    """The pairs found, and how the work was cut."""

    pairs: pd.DataFrame  # as too_close_pairs gives them, sorted by (fid_a, fid_b)
    partitions: int
    overlap_m: float
    halo: list[int]  # buildings searched beside each partition's own
    across: int  # pairs whose two buildings lie in different partitions (found through a halo)


def partition_count(client: Any, partitions: int | None, items: int) -> int:
    """How many partitions to cut `items` things into: as asked, else PER_WORKER per worker thread; 1 to `items`."""
    workers = sum(client.nthreads().values()) or 1
    return max(1, min(partitions or PER_WORKER * workers, items))


def hilbert_groups(geoms: np.ndarray, k: int) -> list[np.ndarray]:
    """Positions (ascending) of the metric geometries in each of k runs of nearly equal size along a Hilbert curve.

    The curve is the one dask-geopandas' spatial shuffle sorts by (`GeoSeries.hilbert_distance`, level 16 over the
    geometries' extent), so each run is spatially compact. The sort and the cut are done here: they take
    milliseconds, where the shuffle's task graph took seconds for a few hundred points.
    """
    distance = gpd.GeoSeries(geoms, crs=LOCAL_METRIC).hilbert_distance().to_numpy()
    runs = np.array_split(np.argsort(distance, kind="stable"), k)
    return [np.sort(run) for run in runs if len(run)]


def hull_of(geoms: np.ndarray) -> shapely.Geometry:
    """The convex hull of the geometries' envelopes: the area a partition's halo is measured from."""
    return shapely.convex_hull(shapely.union_all(shapely.envelope(geoms)))


def within(tree: shapely.STRtree, region: shapely.Geometry, distance: float) -> np.ndarray:
    """Sorted positions of the tree's geometries within `distance` of `region` (a partition's own and its halo)."""
    return np.sort(tree.query(region, predicate="dwithin", distance=distance))


def largest_separation(rules: SeparationRules = DEFAULT_RULES) -> float:
    """The most Table 5.2.2 asks between any two kinds of building under these rules (m)."""
    classes = np.arange(3)
    a, b = np.meshgrid(classes, classes)
    values = []
    for high_a in (False, True):
        for high_b in (False, True):
            values.append(
                required_separations(
                    a.ravel(), b.ravel(), np.full(a.size, high_a), np.full(b.size, high_b), rules
                ).max()
            )
    return float(max(values))


def too_close_pairs_partitioned(
    buildings: gpd.GeoDataFrame,
    client: Any,
    *,
    partitions: int | None = None,
    rules: SeparationRules = DEFAULT_RULES,
) -> Partitioned:
    """too_close_pairs over spatial partitions on the cluster behind `client`; the same rows, in the same order."""
    if not len(buildings):
        return Partitioned(too_close_pairs(buildings, rules), 0, 0.0, [], 0)
    metric = buildings.geometry.to_crs(LOCAL_METRIC)
    geoms = np.asarray(metric.values, dtype=object)
    bounds = shapely.bounds(geoms)
    widest = float(np.hypot(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1]).max())
    overlap = largest_separation(rules) + widest + 1.0
    groups = hilbert_groups(geoms, partition_count(client, partitions, len(buildings)))
    tree = shapely.STRtree(geoms)

    tasks, halo = [], []
    for own in groups:
        near = np.union1d(within(tree, hull_of(geoms[own]), overlap), own)
        halo.append(int(len(near) - len(own)))
        subset = buildings.iloc[near]
        tasks.append(client.submit(_owned_pairs, subset, set(buildings.index[own].tolist()), rules, pure=False))
    found = [f for f in client.gather(tasks) if len(f)]
    pairs = pd.concat(found, ignore_index=True) if found else too_close_pairs(buildings.iloc[:0], rules)
    pairs = pairs.sort_values(["fid_a", "fid_b"], kind="stable").reset_index(drop=True)
    owner = pd.Series(np.repeat(np.arange(len(groups)), [len(g) for g in groups]),
                      index=buildings.index[np.concatenate(groups)])  # fmt: skip
    across = int((owner.reindex(pairs["fid_a"]).to_numpy() != owner.reindex(pairs["fid_b"]).to_numpy()).sum())
    return Partitioned(pairs, len(groups), overlap, halo, across)


def _owned_pairs(subset: gpd.GeoDataFrame, own: set[int], rules: SeparationRules) -> pd.DataFrame:
    """The pairs among a partition and its halo whose smaller fid is the partition's own (run on a worker)."""
    pairs = too_close_pairs(subset, rules)
    return pairs[pairs["fid_a"].isin(own)].reset_index(drop=True)


def local_client(workers: int = 2):
    """A client on a LocalCluster of worker processes on this machine (closed with the client)."""
    from dask.distributed import Client

    # A client that makes its cluster owns it: closing the client stops the workers (a client handed a LocalCluster
    # leaves it running until the process ends).
    return Client(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", set_as_default=False)
