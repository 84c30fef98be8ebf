"""The embedded demo data (a synthetic town in a GeoPackage) and its generator."""
