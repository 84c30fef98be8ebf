"""Standalone export: one self-contained HTML file of a view that opens from a USB stick with no network.

The features of the view's area go into the page (with their popups), every script and stylesheet is inlined, and
the search index travels with it; the only thing left out is what needs the server (what-is-near in the emergency
view).
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from api.catalog import Catalog
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
    embedded = {layer_id: draw(cat, layer_id, area, EMBED_ZOOM, popups=True, max_points=10**9) for layer_id in layers}
    index = [r for r in search_index(cat) if _overlaps(r["bounds"], area)]
    symbols = four_colour.four_colour(cat).symbols(fid) if coloured else {}
    req = PageRequest(view, basemap("offline"), village_fid=fid, embedded=embedded, search_index=index, symbols=symbols)
    panel = village_panel(cat, fid) if fid is not None and not coloured else ""
    return assets.inline_page(render(cat, req, extra_html=panel))


def _overlaps(bounds: list[float], area: tuple[float, float, float, float]) -> bool:
    return bounds[0] <= area[2] and bounds[2] >= area[0] and bounds[1] <= area[3] and bounds[3] >= area[1]
