"""Standalone export: one self-contained HTML file of a view that opens from a USB stick with no network.

The features of the view's area go into the page (with their popups), every script and stylesheet is inlined, and
the search index travels with it. There is no server to draw a large layer tile by tile, as the served pages do
(maps/tiling.py), so every layer is embedded whole, up to `EXPORT_MAX_FEATURES` in the area: a layer with more is
left out rather than cut to some arbitrary part, and the page says so under its title and in the legend. What needs
the server (what-is-near in the emergency view) is left out too.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any

from api.catalog import Catalog
from layers import LAYERS
from maps import assets, four_colour
from maps.basemaps import basemap
from maps.page import PageRequest, render
from maps.search import search_index
from maps.viewport import viewport
from maps.views import VIEWS
from maps.village import village_panel

#: Drawn from the embedded data even when not an overlay: the offline background.
BASEMAP_LAYERS = ("villages", "roads", "old_settlements")
#: Zoom used to cut the embedded features: fine enough to draw every building, never grouped.
EMBED_ZOOM = 17
#: Most features of one layer a file carries: a page draws every embedded feature at once, and 100,000 took a
#: browser 95 s (bench_map); a town's largest layer has a few thousand.
EXPORT_MAX_FEATURES = 20_000


def standalone_html(cat: Catalog, view_name: str, village_id: str | None = None) -> str:
    """The whole page of a view as one HTML document with its data and assets inside."""
    view = VIEWS[view_name]
    if view.panel == "near":
        view = replace(view, panel="none")
    fid = cat.village_fid(village_id) if village_id is not None else None
    if view.name == "village" and fid is None:
        raise ValueError("the village view needs a village: give its fid or 12-digit code")
    area = cat["villages"].index.geometry(fid).bounds if fid is not None else cat["villages"].extent()
    if area is None:
        raise ValueError("there are no villages to frame the map with")
    layers = dict.fromkeys([*BASEMAP_LAYERS, *(o.layer_id for o in view.overlays)])
    coloured = view.name == four_colour.VIEW
    draw = partial(four_colour.viewport, village_fid=fid) if coloured else viewport
    counts = {layer_id: len(cat[layer_id].index.bbox(area)) for layer_id in layers}
    too_large = {layer_id: n for layer_id, n in counts.items() if n > EXPORT_MAX_FEATURES}
    embedded = {
        layer_id: _left_out(layer_id, too_large[layer_id])
        if layer_id in too_large
        else draw(cat, layer_id, area, EMBED_ZOOM, popups=True, max_points=10**9)
        for layer_id in layers
    }
    notes = tuple(_note(layer_id, n) for layer_id, n in too_large.items())
    index = [r for r in search_index(cat) if _overlaps(r["bounds"], area)]
    symbols = four_colour.four_colour(cat).symbols(fid) if coloured else {}
    req = PageRequest(
        view, basemap("offline"), village_fid=fid, embedded=embedded, search_index=index, symbols=symbols, notes=notes
    )
    panel = village_panel(cat, fid) if fid is not None and not coloured else ""
    return assets.inline_page(render(cat, req, extra_html=panel))


def _note(layer_id: str, count: int) -> str:
    return f"离线文件未收录「{LAYERS[layer_id].title}」：区域内 {count:,} 个要素，过多，请在联网的一张图上查看"


def _left_out(layer_id: str, count: int) -> dict[str, Any]:
    """An empty layer whose legend says why (the legend shows a layer's `hidden` note)."""
    return {"type": "FeatureCollection", "layer": layer_id, "features": [], "hidden": _note(layer_id, count)}


def _overlaps(bounds: list[float], area: tuple[float, float, float, float]) -> bool:
    return bounds[0] <= area[2] and bounds[2] >= area[0] and bounds[1] <= area[3] and bounds[3] >= area[1]
