"""Spatial building blocks: coordinate systems, the spatial index and location queries."""
