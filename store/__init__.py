"""Storage behind one small interface: the embedded GeoPackage file, or PostgreSQL + PostGIS for more than a town."""

from store.base import DatasetInfo, Store, StoreError, is_database_url
from store.geopackage import GeoPackageStore


def open_store(location: str) -> Store:
    """The store at `location`: a `postgresql://…[?schema=name]` URL, else a path to a GeoPackage file."""
    if is_database_url(location):
        from store.postgis import PostGISStore  # the driver is loaded only when a database is used

        return PostGISStore(location)
    return GeoPackageStore(location)


__all__ = ["DatasetInfo", "GeoPackageStore", "Store", "StoreError", "open_store"]
