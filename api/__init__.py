"""The HTTP service: OGC API – Features for GIS clients plus onemap's domain endpoints."""
