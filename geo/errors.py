"""Spatial errors with messages that say what was expected and what arrived; no HTTP in here."""


class GeoError(Exception):
    """Base class for every spatial error onemap raises on purpose."""


class InvalidBBox(GeoError, ValueError):
    """Bounding box is malformed or outside the lon/lat range."""


class InvalidGeometry(GeoError, ValueError):
    """A geometry is empty, invalid, of the wrong type or in the wrong place."""


class MissingCRS(GeoError, ValueError):
    """Data arrived without a coordinate reference system and none was named."""


class UnknownCRS(GeoError, ValueError):
    """A coordinate reference system name that pyproj does not recognise."""
