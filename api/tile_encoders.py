"""Who writes a vector tile: the in-process encoder (`api/vector_tiles.py`), or PostGIS's ST_AsMVT when the service
runs on PostgreSQL (`PostGISStore.mvt`, `store/postgis_tiles.py`).

Both give the same tile: the same features with the same ids and properties, geometries within the simplification
of each other (tests/api/test_tile_encoders.py). They differ in cost. `python -m bench.bench_tiles --postgis`
(bench/README.md, bench/results/tiles_postgis.json) serves the same PostGIS schema both ways and asks each for the
same 100 tiles per layer and zoom, one request at a time; on the 2-core reference machine, banner data (78,058
buildings, 8,481 roads, 6,630 accidents), median / p95 ms:

| layer | zoom | in process | ST_AsMVT | in process ÷ ST_AsMVT, median / p95 |
|---|---:|---:|---:|---:|
| buildings | 10 | 213.8 / 554.9 | 80.2 / 176.3 | 2.7× / 3.1× |
| buildings | 12 | 76.4 / 203.7 | 23.9 / 59.3 | 3.2× / 3.4× |
| buildings | 14 | 11.2 / 32.0 | 5.4 / 11.2 | 2.1× / 2.9× |
| buildings | 16 | 8.9 / 14.6 | 4.5 / 7.3 | 2.0× / 2.0× |
| roads | 10 | 23.9 / 38.5 | 7.9 / 11.9 | 3.0× / 3.2× |
| roads | 16 | 5.6 / 15.8 | 2.7 / 5.8 | 2.1× / 2.7× |
| accidents | 10 | 24.2 / 36.7 | 5.6 / 10.6 | 4.3× / 3.5× |
| accidents | 16 | 9.2 / 18.6 | 4.7 / 12.3 | 2.0× / 1.5× |

The demo town gives the same picture (1.9× to 3.2× on the median), every tile held the same features both ways,
and the first tile of a layer costs less too (90 against 413 ms for the banner's buildings: no web-Mercator copy to
make). ST_AsMVT is faster at every zoom and on every layer measured, small tiles and large: the database clips,
simplifies and encodes in C where the in-process encoder spends 40 to 50 µs a feature in Python. So on PostgreSQL
the database writes every tile (`auto`), and `ONEMAP_TILE_ENCODER=memory` keeps the in-process encoder for a
database that is far away or busy. That is only fast with one plan per connection made once: planning the query
takes ten times as long as running it on a small tile (`store/postgis.py` keeps the connections and their plans).
A GeoPackage is always encoded in process.
"""

from __future__ import annotations

from typing import Any, Literal

Encoder = Literal["auto", "memory", "database"]


def in_database(choice: Encoder, store: Any) -> bool:
    """Whether tiles are made by the database: never on a GeoPackage, whatever `choice` says; with `auto`, at every
    zoom (the figures above)."""
    if getattr(store, "mvt", None) is None:
        return False
    return choice != "memory"
