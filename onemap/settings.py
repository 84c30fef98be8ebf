"""Service settings, read from ONEMAP_* environment variables, with defaults that serve the demo town."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from store.base import is_database_url

#: The GeoPackage shipped with the code: the synthetic demo town.
DEMO_GPKG = Path(__file__).resolve().parent.parent / "data" / "demo_town.gpkg"

#: Naiman Banner (奈曼旗) with a margin: coordinates outside are refused as "outside the area".
NAIMAN_REGION = (119.8, 41.7, 122.1, 44.0)

#: Import limits (exchange/limits.py): the largest file accepted, and the most vertices in one feature.
MAX_IMPORT_BYTES = 100 * 2**20
MAX_IMPORT_VERTICES = 100_000


class Settings(BaseSettings):
    """Where the data lives, which area it covers, and the service's limits."""

    model_config = SettingsConfigDict(env_prefix="ONEMAP_", env_file=".env", extra="ignore")

    data: Path = Field(DEMO_GPKG, description="GeoPackage file holding the layers")
    database_url: str | None = Field(
        None,
        description="postgresql://user@host:port/database[?schema=name]: serve from PostgreSQL + PostGIS instead of "
        "the GeoPackage (set it up with `onemap db init` and `onemap migrate`)",
    )
    region_bbox: Annotated[tuple[float, float, float, float], NoDecode] = Field(
        NAIMAN_REGION, description="min_lon,min_lat,max_lon,max_lat of the service area; data outside is refused"
    )
    default_limit: int = Field(100, ge=1, le=10_000, description="items per page when the client gives no limit")
    max_limit: int = Field(10_000, ge=1, le=100_000, description="largest page a client may ask for")
    basemap: Literal["offline", "tianditu", "osm", "amap"] = Field(
        "offline", description="map background: offline (drawn from our layers, no internet), tianditu, osm or amap"
    )
    tianditu_key: str = Field("", description="Tianditu web key, needed for basemap=tianditu")
    token_minutes: int = Field(480, ge=1, le=10_080, description="how long a sign-in lasts (minutes)")
    report_limit: int = Field(5, ge=1, le=1000, description="public reports per address every ten minutes")
    login_limit: int = Field(
        20, ge=1, le=10_000, description="sign-in attempts per address every ten minutes (slows password guessing)"
    )
    max_request_bytes: int = Field(
        2**20,
        ge=2**10,
        le=2**30,
        description="largest request body accepted, in bytes, except uploads (photos and files to import have their "
        "own limits)",
    )
    max_photo_bytes: int = Field(8 * 2**20, ge=2**16, le=2**30, description="largest photo accepted (bytes)")
    max_import_bytes: int = Field(
        MAX_IMPORT_BYTES,
        ge=2**16,
        le=2**32,
        description="largest file `onemap import` (and an upload to import) accepts, in bytes; a zip may expand to "
        "four times this",
    )
    max_import_vertices: int = Field(
        MAX_IMPORT_VERTICES, ge=100, le=10_000_000, description="most vertices one imported feature may have"
    )
    tile_encoder: Literal["auto", "memory", "database"] = Field(
        "auto",
        description="who writes vector tiles when serving from PostgreSQL: auto (PostGIS's ST_AsMVT where the "
        "benchmark found it faster, see api/tile_encoders.py), memory (always the in-process encoder) or database "
        "(always ST_AsMVT); a GeoPackage is always encoded in process",
    )
    map_tiles_above: int = Field(
        10_000,
        ge=0,
        description="a map view draws a layer with more features than this from its vector tiles, not as GeoJSON "
        "(the standalone export always embeds)",
    )
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="comma-separated origins (https://host[:port]) of separate web front ends allowed to call the API "
        "from their pages (CORS); empty (the default): none",
    )
    log_format: Literal["json", "text"] = Field(
        "json",
        description="how `onemap serve` writes its log to stderr: json (one JSON object a line, with the request id, "
        "for a log collector) or text (one readable line a record, for a terminal)",
    )
    shutdown_timeout: int = Field(
        30,
        ge=1,
        le=3600,
        description="seconds `onemap serve` gives requests in flight to finish after SIGTERM before it closes the "
        "connections still open, so a stuck client cannot hold the shutdown forever",
    )
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)

    @property
    def location(self) -> str:
        """Where the service's data lives: the database when one is set, else the GeoPackage file."""
        return self.database_url or str(self.data)

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str | None) -> str | None:
        if value and not is_database_url(value):
            raise ValueError(f"database_url must be a postgresql:// URL, got {value!r}")
        return value or None

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _parse_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            if origin != "*" and not re.fullmatch(r"https?://[^/?#\s]+", origin):
                raise ValueError(f"cors_origins takes origins such as https://map.example.cn, got {origin!r}")
        return value

    @field_validator("region_bbox", mode="before")
    @classmethod
    def _parse_bbox(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(","))
        return value

    @field_validator("region_bbox")
    @classmethod
    def _ordered(cls, value: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        min_lon, min_lat, max_lon, max_lat = value
        if not (-180 <= min_lon < max_lon <= 180 and -90 <= min_lat < max_lat <= 90):
            raise ValueError(f"region_bbox must be min_lon,min_lat,max_lon,max_lat in degrees, got {value}")
        return value


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings (tests clear the cache to change them)."""
    return Settings()
