"""Storage behind one small interface: the embedded GeoPackage now, other backends later."""

from store.base import DatasetInfo, Store, StoreError
from store.geopackage import GeoPackageStore


def open_store(location: str) -> Store:
    """The store at `location`: a path to a GeoPackage file."""
    return GeoPackageStore(location)


__all__ = ["DatasetInfo", "GeoPackageStore", "Store", "StoreError", "open_store"]
