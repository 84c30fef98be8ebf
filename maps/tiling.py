"""Which overlays a served map page draws from the vector tile endpoint instead of GeoJSON from /map/data.

A layer with more features than the threshold (`ONEMAP_MAP_TILES_ABOVE`, 10,000 by default: the demo town's largest
layer, crash density, has 3,656, and a banner's buildings 78,000) is drawn tile by tile in the browser: a tile is
made once per zoom and place and cached for a minute, the browser keeps only the tiles in view, and a canvas per
tile draws thousands of buildings where as many SVG paths would not keep up. It keeps its look: the same colours,
weights and legend, read from the tile's properties, and a click opens the same popup (/map/popup).

Left on GeoJSON whatever their size: heat maps and clustered or icon markers (drawn from points, not tiles), layers
whose category is more than one property's value (the browser could not tell it from a tile), the private ledger,
layers a view draws its own way (the four-colour map's graded villages and sources), and everything over AMap's
GCJ-02 tiles (the tiles are WGS 84; /map/data shifts its features). The standalone export has no server and always
embeds (maps/export.py).
"""

from __future__ import annotations

from collections.abc import Collection

from api.catalog import Catalog
from layers import LAYERS
from maps.symbols import SYMBOLS
from maps.views import View


def tiled_layers(cat: Catalog, view: View, *, above: int, own_symbols: Collection[str] = ()) -> frozenset[str]:
    """Ids of the view's layers to draw from vector tiles: more than `above` features, and drawable from tiles."""
    return frozenset(
        overlay.layer_id
        for overlay in view.overlays
        if not overlay.heat
        and overlay.layer_id not in own_symbols
        and not LAYERS[overlay.layer_id].private
        and SYMBOLS[overlay.layer_id].tileable
        and len(cat[overlay.layer_id].frame) > above
    )


def tile_url(base: str, layer_id: str) -> str:
    """The layer's tile URL template, as the browser fills it in."""
    return f"{base}/collections/{layer_id}/tiles/{{z}}/{{x}}/{{y}}"
