"""Query parameters shared by the routes, each parsed and checked in one place."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from api.errors import InvalidParameter
from geo.errors import InvalidBBox
from geo.index import BBox
from layers.base import _strip_optional
from onemap.settings import Settings

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
#: Query parameters with a meaning of their own; every other parameter filters on a property.
RESERVED = frozenset({"bbox", "bbox-crs", "limit", "offset", "f", "datetime", "crs"})
#: Largest id a path may name: ids are 64-bit integers in SQLite and PostgreSQL, and a larger one would fail in the
#: database driver rather than be "not found".
MAX_ID = 2**63 - 1


def parse_bbox(text: str) -> BBox:
    """ "min_lon,min_lat,max_lon,max_lat" (or 6 numbers with heights, which are ignored) in CRS84."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (4, 6):
        raise InvalidBBox(f"bbox needs 4 numbers min_lon,min_lat,max_lon,max_lat (or 6 with heights), got {text!r}")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise InvalidBBox(f"bbox values must be numbers, got {text!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise InvalidBBox(f"bbox values must be finite numbers, got {text!r}")
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    min_lon, min_lat, max_lon, max_lat = values
    if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180):
        raise InvalidBBox(f"bbox longitudes must lie in -180..180, got {text!r}")
    if not (-90 <= min_lat <= 90 and -90 <= max_lat <= 90):
        hint = " — are longitude and latitude swapped?" if -90 <= min_lon <= 90 and -90 <= max_lon <= 90 else ""
        raise InvalidBBox(f"bbox latitudes must lie in -90..90, got {text!r}{hint}")
    if min_lat > max_lat:
        raise InvalidBBox(f"bbox min_lat must be <= max_lat, got {text!r}")
    if min_lon > max_lon:
        raise InvalidBBox(
            f"bbox min_lon must be <= max_lon (boxes across the antimeridian are not supported), got {text!r}"
        )
    return (min_lon, min_lat, max_lon, max_lat)


async def bbox_param(
    bbox: Annotated[
        str | None, Query(description="Only features intersecting min_lon,min_lat,max_lon,max_lat (CRS84)")
    ] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs", description="Only CRS84 is supported")] = None,
) -> BBox | None:
    """The bbox filter, if any."""
    if bbox_crs is not None and bbox_crs not in (CRS84, "EPSG:4326", "http://www.opengis.net/def/crs/EPSG/0/4326"):
        raise InvalidParameter(f"bbox-crs {bbox_crs!r} is not supported: give the bbox in CRS84 ({CRS84})")
    return parse_bbox(bbox) if bbox is not None else None


def check_in_area(lon: float, lat: float, settings: Settings) -> None:
    """A clicked or given point must lie in the service area; InvalidParameter (400) saying so otherwise."""
    west, south, east, north = settings.region_bbox
    if not (west <= lon <= east and south <= lat <= north):
        raise InvalidParameter(
            f"({lon:.5f}, {lat:.5f}) lies outside the service area {settings.region_bbox}: "
            "give lon then lat, in WGS 84 degrees"
        )


async def app_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(app_settings)]


async def page_param(
    settings: SettingsDep,
    limit: Annotated[
        int | None, Query(ge=1, description="Items per page; larger values are capped at the maximum")
    ] = None,
    offset: Annotated[int, Query(ge=0, description="Items to skip")] = 0,
) -> tuple[int, int]:
    """(limit, offset), the limit defaulted and capped by the settings."""
    size = settings.default_limit if limit is None else min(limit, settings.max_limit)
    return size, offset


async def format_param(f: Annotated[str | None, Query(description="Output format: json")] = None) -> None:
    """Only JSON is served; say so rather than silently ignoring another format."""
    if f is not None and f.lower() not in ("json", "geojson"):
        raise InvalidParameter(f"f={f!r} is not offered: use f=json (or leave it out)")


def property_filters(request: Request, fields: dict[str, Any]) -> dict[str, Any]:
    """Equality filters from the query string: `?severity=fatal&road_id=3`, typed by the layer schema."""
    filters: dict[str, Any] = {}
    for name, raw in request.query_params.items():
        if name in RESERVED:
            continue
        if name not in fields:
            raise InvalidParameter(
                f"unknown query parameter {name!r}: filter on one of the properties {', '.join(fields)}"
            )
        filters[name] = _typed(name, raw, fields[name])
    return filters


def _typed(name: str, raw: str, annotation: Any) -> Any:
    base = _strip_optional(annotation)
    if base is bool:
        lowered = raw.lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise InvalidParameter(f"{name} must be true or false, got {raw!r}")
    if base in (int, float):
        try:
            return base(raw)
        except ValueError:
            raise InvalidParameter(f"{name} must be a number, got {raw!r}") from None
    return raw


BBoxDep = Annotated[BBox | None, Depends(bbox_param)]
PageDep = Annotated[tuple[int, int], Depends(page_param)]
FormatDep = Annotated[None, Depends(format_param)]
