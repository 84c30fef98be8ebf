"""The storage contract every backend meets; callers never touch files or SQL themselves."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

import geopandas as gpd
from pydantic import BaseModel

from layers import Layer

#: URL schemes that name a PostgreSQL database rather than a GeoPackage file.
DATABASE_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")


def is_database_url(location: str | Path) -> bool:
    """Whether a location names a PostgreSQL database rather than a file."""
    return str(location).startswith(DATABASE_SCHEMES)


class StoreError(Exception):
    """Storage could not do what was asked (missing file, not a GeoPackage, write failed)."""


class DatasetInfo(BaseModel):
    """What the dataset says about itself: its name and whether it is synthetic sample data."""

    title: str = "onemap"
    synthetic: bool = False
    notice: str = ""
    area: str = ""


class Store(Protocol):
    """Layer-level reads and writes; every frame is EPSG:4326 with the feature id (fid) as its index."""

    location: str

    def info(self) -> DatasetInfo:
        """Dataset-level metadata."""
        ...

    def set_info(self, info: DatasetInfo) -> None:
        """Replace the dataset-level metadata."""
        ...

    def has(self, layer: Layer) -> bool:
        """Whether the layer exists in storage (it may be empty)."""
        ...

    def read(self, layer: Layer) -> gpd.GeoDataFrame:
        """All features of a layer, columns typed by its schema; an empty frame if the layer is absent."""
        ...

    def count(self, layer: Layer) -> int:
        """Number of features stored for a layer."""
        ...

    def replace(self, layer: Layer, frame: gpd.GeoDataFrame, *, description: str | None = None) -> None:
        """Write the layer anew (keeping the frame's fids when its index is named fid)."""
        ...

    def append(self, layer: Layer, frame: gpd.GeoDataFrame) -> list[int]:
        """Add features all-or-nothing; returns their new fids."""
        ...

    def delete(self, layer: Layer, fids: Sequence[int]) -> None:
        """Remove features by fid, all-or-nothing."""
        ...

    def ensure_tables(self, layers: Iterable[Layer]) -> list[str]:
        """Create missing tables and add new columns before the store is shared; returns what changed."""
        ...
