"""Read road lines from an OpenStreetMap extract (.osm XML or .osm.pbf), for building a road network.

GDAL's OSM driver (through pyogrio) gives each way as a line with `name` and `highway` columns; every other tag
arrives in `other_tags` as hstore-like text (`"ref"=>"G111","bridge"=>"yes"`), parsed here. Only the tags the
network needs are kept: route number, class, and whether the way passes over or under others (bridge, tunnel,
or a non-zero layer), which decides where it may meet them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from exchange.errors import UnreadableFile

#: Drivable classes: osmnx's "drive" network and the shared test extract (motorway ... tertiary_link, unclassified,
#: residential, living_street, road). `service` and `track` are left out as osmnx does; pass them in `drivable`
#: for rural tracks (机耕路) that carry traffic.
DRIVABLE_HIGHWAYS = frozenset(
    {
        "motorway",
        "motorway_link",
        "trunk",
        "trunk_link",
        "primary",
        "primary_link",
        "secondary",
        "secondary_link",
        "tertiary",
        "tertiary_link",
        "unclassified",
        "residential",
        "living_street",
        "road",
    }
)
#: access / motor_vehicle values that close a way to ordinary traffic (as in the shared drive extract).
CLOSED_ACCESS = frozenset({"no", "private"})
COLUMNS = ["osm_id", "name", "ref", "highway", "grade_separated"]

_HSTORE_PAIR = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')
_UNESCAPE = re.compile(r"\\(.)")


def parse_other_tags(text: object) -> dict[str, str]:
    """The tags in GDAL's `other_tags` text (`"k"=>"v",...`, with \\" and \\\\ escaped) as a dict; {} when empty."""
    if not isinstance(text, str) or not text:
        return {}
    return {_UNESCAPE.sub(r"\1", k): _UNESCAPE.sub(r"\1", v) for k, v in _HSTORE_PAIR.findall(text)}


def is_grade_separated(tags: dict[str, str]) -> bool:
    """True for a bridge, a tunnel or a way on a layer other than 0: it crosses other roads without meeting them."""
    for key in ("bridge", "tunnel"):
        if tags.get(key, "no").strip().lower() not in ("no", ""):
            return True
    layer = tags.get("layer", "0").strip()
    try:
        return float(layer) != 0
    except ValueError:
        return layer != ""


def read_osm_roads(path: str | Path, *, drivable: bool | Iterable[str] = True) -> gpd.GeoDataFrame:
    """Road lines (EPSG:4326) of an OSM file with `osm_id, name, ref, highway, grade_separated`.

    `drivable=True` keeps the classes in DRIVABLE_HIGHWAYS and drops ways closed to motor traffic; False keeps
    every `highway` line (footways too); an iterable of classes keeps exactly those, closed ways excepted.
    """
    path = Path(path)
    if not path.is_file():
        raise UnreadableFile(f"文件不存在 (no such file): {path}")
    if not (path.name.lower().endswith(".osm") or path.name.lower().endswith(".osm.pbf")):
        raise UnreadableFile(f"不是 OSM 文件 (expected .osm or .osm.pbf): {path.name}")
    try:
        lines = gpd.read_file(path, layer="lines", engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise UnreadableFile(f"无法读取 OSM 文件 (cannot read as OSM): {path.name}: {exc}") from None
    tags = [parse_other_tags(t) for t in lines.get("other_tags", pd.Series([None] * len(lines)))]
    highway = lines["highway"].astype(object).where(lines["highway"].notna(), None)
    keep = highway.notna().to_numpy().copy()
    if drivable is not False:
        classes = DRIVABLE_HIGHWAYS if drivable is True else frozenset(drivable)
        keep &= highway.isin(classes).to_numpy()
        closed = np.array(
            [
                t.get("access", "").lower() in CLOSED_ACCESS or t.get("motor_vehicle", "").lower() in CLOSED_ACCESS
                for t in tags
            ],
            dtype=bool,
        )
        keep &= ~closed
    rows = np.flatnonzero(keep)
    out = gpd.GeoDataFrame(
        {
            "osm_id": pd.array([int(v) for v in lines["osm_id"].to_numpy()[rows]], dtype="Int64"),
            "name": lines["name"].to_numpy()[rows] if "name" in lines else None,
            "ref": [tags[i].get("ref") for i in rows],
            "highway": highway.to_numpy()[rows],
            "grade_separated": np.array([is_grade_separated(tags[i]) for i in rows], dtype=bool),
        },
        geometry=lines.geometry.to_numpy()[rows],
        crs=lines.crs or "EPSG:4326",
    )
    return out.to_crs("EPSG:4326") if out.crs.to_epsg() != 4326 else out
