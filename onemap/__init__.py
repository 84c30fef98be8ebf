"""onemap: a GIS risk-mapping service for township safety work (一张图)."""

__version__ = "0.1.0"
