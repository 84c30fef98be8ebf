"""One layer's features in one web-Mercator tile, encoded by PostGIS (ST_AsMVT) straight from the layer's table.

It writes the tile the in-process encoder (`api/vector_tiles.py`) writes, where the rows are: the GiST index picks
the features meeting the tile's lon/lat box (the box the R-tree is asked for, so both choose the same features),
and each geometry goes through the steps of `geo.tiles.to_tile` — edges densified to 0.01° before projection, cut
to the tile and its 64-unit buffer, simplified by 4 units (half a pixel of a 512-pixel tile), snapped to the integer
grid by ST_AsMVTGeom (which also turns y downwards, as the format wants) — and one that the grid collapses or the
cut loses becomes a one-unit square, segment or point at its place, so every feature meeting the tile is in it.
The simplification is GEOS's in both, but PostGIS's GEOS may be another version than shapely's: a line or ring can
keep another vertex, never further than the 4 units from the original (tests/api/test_tile_encoders.py).

Properties are those of the in-process encoder: every declared field, a null left out (ST_AsMVT skips nulls), times
as ISO text, dates as `YYYY-MM-DD`, lists and objects as their JSON text (as stored: the stores write
`json.dumps` text, which is what the in-process encoder writes again) and an empty one as `[]`.
"""

from __future__ import annotations

from geo.tiles import BUFFER, DENSIFY_DEGREES, EXTENT, SIMPLIFY
from layers import Layer
from store.postgis_sql import column_types


def _property(name: str, kind: str) -> str:
    column = f't."{name}"'
    if kind == "JSON":
        text = f"{column}::text"
        return (
            f"CASE WHEN {column} IS NULL OR {text} = '' THEN '[]' WHEN {text} = 'null' THEN NULL ELSE {text} END"
            f' AS "{name}"'
        )
    if kind == "DATE":
        return f"to_char({column}, 'YYYY-MM-DD') AS \"{name}\""
    if kind == "TIMESTAMP":
        # Python's isoformat(): seconds always, microseconds only when there are any
        return (
            f"to_char({column}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN date_trunc('second', {column}) = {column} "
            f"THEN '' ELSE to_char({column}, '.US') END AS \"{name}\""
        )
    return f'{column} AS "{name}"'


def mvt_sql(layer: Layer, *, only: bool) -> str:
    """The query giving the tile as one bytea (empty when no feature meets it).

    Parameters: z, x, y; west, south, east, north (the tile's lon/lat box); with `only`, fids (an array of the ids
    the reader may see).
    """
    fields = "".join(f', "{name}"' for name in column_types(layer))
    props = "".join(f", {_property(name, kind)}" for name, kind in column_types(layer).items())
    restrict = " AND t.fid = ANY(%(fids)s)" if only else ""
    grid = f"ST_MakeBox2D(ST_Point(0, 0), ST_Point({EXTENT}, {EXTENT}))"
    low, high = -BUFFER, EXTENT + BUFFER
    buffered = f"ST_MakeEnvelope({low}, {low}, {high}, {high})"
    lost = "(g IS NULL OR ST_IsEmpty(g) OR ST_Dimension(g) < dim)"
    # A column of an inlined CTE or subquery is computed again wherever it is named: the costly steps are
    # materialised, and the lateral subqueries kept apart (OFFSET 0), so that each runs once a feature.
    return f"""
WITH box AS MATERIALIZED (
  SELECT ST_XMin(e) AS x0, ST_YMin(e) AS y0, {EXTENT} / (ST_XMax(e) - ST_XMin(e)) AS scale
  FROM ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS e
),
kept AS MATERIALIZED (
  SELECT t.fid{props}, t.geom, ST_Dimension(t.geom) AS dim,
    ST_CollectionExtract(ST_ClipByBox2D({_local("t.geom")}, {buffered}::box2d), ST_Dimension(t.geom) + 1) AS part
  FROM "{layer.id}" AS t, box
  WHERE ST_Intersects(t.geom, ST_MakeEnvelope(%(west)s, %(south)s, %(east)s, %(north)s, 4326)){restrict}
),
drawn AS MATERIALIZED (
  SELECT *, ST_AsMVTGeom(CASE WHEN dim > 0 THEN ST_SimplifyPreserveTopology(part, {SIMPLIFY}) ELSE part END,
                         {grid}, {EXTENT}, {BUFFER}, false) AS g
  FROM kept
)
SELECT ST_AsMVT(tile, %(name)s, {EXTENT}, 'geom', 'fid')
FROM (
  SELECT fid{fields}, CASE WHEN {lost} THEN {_mark()} ELSE g END AS geom
  FROM drawn CROSS JOIN box
  CROSS JOIN LATERAL (
    SELECT CASE WHEN NOT {lost} THEN NULL
                WHEN ST_IsEmpty(part) THEN ST_ClosestPoint({buffered}, {_local("geom")})
                ELSE ST_PointOnSurface(part) END AS a
    OFFSET 0
  ) AS anchor
  CROSS JOIN LATERAL (
    SELECT greatest({low}, least({high - 1}, floor(ST_X(a)))) AS ax,
           {EXTENT} - greatest({low}, least({high - 1}, floor(ST_Y(a)))) AS ay
    OFFSET 0
  ) AS corner
) AS tile
"""


def _local(column: str) -> str:
    """A lon/lat geometry in the tile's units, y up from its southern edge (as `geo.tiles.to_tile` works)."""
    return (
        f"ST_Affine(ST_Transform(ST_Segmentize({column}, {DENSIFY_DEGREES}), 3857), "
        "box.scale, 0, 0, box.scale, -box.x0 * box.scale, -box.y0 * box.scale)"
    )


def _mark() -> str:
    """The one-unit mark of a feature the grid lost, from its anchor's corner (ax, ay) with y already downwards:
    a square (rings wound as ST_AsMVTGeom winds them), a segment or a point, by the feature's dimension."""
    square = "ST_Reverse(ST_ForcePolygonCW(ST_MakeEnvelope(ax, ay - 1, ax + 1, ay)))"
    segment = "ST_MakeLine(ST_Point(ax, ay), ST_Point(ax + 1, ay))"
    return f"CASE dim WHEN 2 THEN {square} WHEN 1 THEN {segment} ELSE ST_Point(ax, ay) END"
