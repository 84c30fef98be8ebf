"""Build a map view as a Folium page: the frame (controls, overlays, legend slots) and the config for onemap.js.

The page carries no features of its own when served: onemap.js fetches what is in view, and draws a layer too large
for that from its vector tiles (maps/tiling.py). A standalone export embeds the features and inlines every asset,
so the same page works from `file://` with no network.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from typing import Any

import folium
from branca.element import Element
from folium import plugins

from api.catalog import Catalog
from layers import LAYERS
from layers.base import SYNTHETIC_NOTICE
from maps import assets
from maps.basemaps import Basemap
from maps.symbols import SYMBOLS, Symbol
from maps.tiling import tile_url, tiled_layers
from maps.views import GROUPS, VIEWS, View

#: Radius of the "what is near the incident" query in the emergency view.
NEAR_RADIUS_M = 2000
#: Stand-ins for the config and the side panel while the page's scripts are given their nonce (see `render`).
_CONFIG = "__ONEMAP_CONFIG__"
_PANEL = "<!--onemap-panel-->"
#: What must not stand literally in JSON inside a <script>: "</script>" or "<!--" would end or bend the element.
_SCRIPT_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


@dataclass(frozen=True)
class PageRequest:
    """Everything that decides one page: the view, the basemap, the village, and where data comes from."""

    view: View
    basemap: Basemap
    village_fid: int | None = None
    #: Embedded features per layer (standalone export) instead of fetching from the service.
    embedded: dict[str, Any] | None = None
    search_index: list[dict[str, Any]] | None = None
    base_url: str = ""
    #: The signed-in user (None: the ledger overlay is locked until sign-in; a standalone export is trusted).
    viewer: Any = None
    #: Layers the view draws its own way (the four-colour map): their symbols, whose legend counts the whole map.
    symbols: Mapping[str, Symbol] = field(default_factory=dict)
    #: Where the page fetches features from: the view's own endpoint when it draws some layers its own way.
    data_path: str = "/map/data"
    #: A layer with more features than this is drawn from its vector tiles; None: never (the standalone export).
    tiles_above: int | None = None
    #: Lines said under the page's title (what a standalone export left out, and why).
    notes: tuple[str, ...] = ()


def render(cat: Catalog, req: PageRequest, *, extra_html: str = "", nonce: str | None = None) -> str:
    """The HTML page of a view; `nonce` marks its own scripts as the ones the response's CSP lets run.

    The nonce is added while the page holds only markup folium and this module wrote: the config (names, notes,
    embedded features) and the side panel go in afterwards, so no text from the data can ever carry it."""
    view, base = req.view, req.base_url
    bounds = _bounds(cat, req.village_fid)
    m = folium.Map(
        location=[(bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2],
        zoom_start=12,
        tiles=None,
        control_scale=False,  # onemap.js adds a metric-only scale bar
        max_zoom=19,
        min_zoom=5,
    )
    tiled = _tiled(cat, req)
    m.default_js, m.default_css = assets.folium_lists(base, tiles=bool(tiled))
    for tiles in req.basemap.tiles:
        layer = folium.TileLayer(
            tiles=tiles.url,
            attr=tiles.attribution,
            name=req.basemap.title,
            subdomains=tiles.subdomains or "abc",
            max_zoom=tiles.max_zoom,
            control=False,
        )
        layer.add_to(m)
    groups: dict[str, list[folium.FeatureGroup]] = {}
    specs = []
    for overlay in view.overlays:
        group = folium.FeatureGroup(name=overlay.title, show=overlay.visible)
        group.add_to(m)
        groups.setdefault(overlay.group, []).append(group)
        symbol = req.symbols.get(overlay.layer_id) or SYMBOLS[overlay.layer_id]
        specs.append(
            {
                "key": overlay.key,
                "layer": overlay.layer_id,
                "title": overlay.title,
                "heat": overlay.heat,
                "fg": group.get_name(),
                "locked": LAYERS[overlay.layer_id].private and req.viewer is None and req.embedded is None,
                "symbol": symbol.client(),
                "legend": symbol.legend(),
                "fixedLegend": overlay.layer_id in req.symbols,
                "tiles": tile_url(base, overlay.layer_id) if overlay.layer_id in tiled else None,
            }
        )
    control = plugins.GroupedLayerControl(
        {name: groups[name] for name in GROUPS if name in groups}, exclusive_groups=False, collapsed=False
    )
    control.default_js, control.default_css = [], []
    control.add_to(m)
    fullscreen = plugins.Fullscreen(position="topleft", title="全屏", title_cancel="退出全屏")
    fullscreen.default_js, fullscreen.default_css = [], []
    fullscreen.add_to(m)
    measure = plugins.MeasureControl(
        position="topleft",
        primary_length_unit="meters",
        secondary_length_unit="kilometers",
        primary_area_unit="sqmeters",
        secondary_area_unit="hectares",
    )
    measure.default_js, measure.default_css = [], []
    measure.add_to(m)
    config = _config(cat, req, specs, bounds)
    root = m.get_root()
    root.header.add_child(Element(f"<title>{escape(view.title)} — onemap 一张图</title>"))
    root.header.add_child(Element('<link rel="icon" href="data:,">'))  # the page asks for no icon file
    if extra_html:
        root.html.add_child(Element(_PANEL))
    # Runs after folium's own script has declared the map and its feature groups.
    start = f"OneMap.start({m.get_name()}, {_CONFIG});"
    root.script.add_child(Element(f'document.addEventListener("DOMContentLoaded", () => {{ {start} }});'))
    html = root.render()
    if nonce:  # the inline scripts; those loaded from /static are allowed as the service's own ('self')
        html = html.replace("<script>", f'<script nonce="{nonce}">')
    # The config first: it cannot hold the panel's stand-in (its "<" is escaped), while the panel's text could
    # hold the config's.
    html = html.replace(_CONFIG, script_json(config), 1)
    return html.replace(_PANEL, extra_html, 1) if extra_html else html


def script_json(value: Any) -> str:
    """`value` as JSON that is safe inside an inline <script>: no text in it can close the element."""
    text = json.dumps(value, ensure_ascii=False)
    return re.sub("[<>&\u2028\u2029]", lambda m: _SCRIPT_UNSAFE[m.group()], text)


def _tiled(cat: Catalog, req: PageRequest) -> frozenset[str]:
    """The layers this page draws from vector tiles: none in an export, nor over GCJ-02 (AMap) backgrounds."""
    if req.tiles_above is None or req.embedded is not None or req.basemap.gcj02:
        return frozenset()
    return tiled_layers(cat, req.view, above=req.tiles_above, own_symbols=req.symbols)


def _bounds(cat: Catalog, village_fid: int | None) -> tuple[float, float, float, float]:
    villages = cat["villages"]
    if village_fid is not None:
        return tuple(float(v) for v in villages.index.geometry(village_fid).bounds)  # type: ignore[return-value]
    extent = villages.extent() or next((d.extent() for d in cat.values() if d.extent()), None)
    return extent or (120.4, 42.7, 120.7, 43.0)


def _config(cat: Catalog, req: PageRequest, specs: list[dict], bounds: tuple) -> dict[str, Any]:
    view, base = req.view, req.base_url
    village = None
    if req.village_fid is not None:
        props = cat["villages"].frame.loc[req.village_fid]
        village = {"fid": req.village_fid, "code": props["code"], "name": props["name"], "bounds": list(bounds)}
    links = [
        {"title": v.title, "href": f"{base}/map" + ("" if v.name == "town" else f"/{v.name}"), "current": v is view}
        for v in VIEWS.values()
        if v.name != "village"
    ]
    if req.embedded is not None:
        links = []
    return {
        "view": view.name,
        "title": view.title + (f" · {village['name']}" if village else ""),
        "audience": view.audience,
        "notice": SYNTHETIC_NOTICE if cat.info.synthetic else "",
        "notes": list(req.notes),
        "dataUrl": f"{base}{req.data_path}",
        "popupUrl": f"{base}/map/popup",
        "searchUrl": f"{base}/map/search",
        "nearUrl": f"{base}/map/near",
        "reportUrl": f"{base}/reports",
        "nearRadius": NEAR_RADIUS_M,
        "shift": req.basemap.gcj02,
        "basemap": req.basemap.name,
        "localBasemap": not req.basemap.tiles,
        "panel": view.panel,
        "overlays": specs,
        "village": village,
        "bounds": list(bounds),
        "links": links,
        "embedded": req.embedded,
        "searchIndex": req.search_index,
        "layerTitles": {layer_id: layer.title for layer_id, layer in LAYERS.items()},
        "signInUrl": f"{base}/auth/token?session=cookie",
        "signOutUrl": f"{base}/auth/signout",
        "user": None
        if req.viewer is None
        else {"name": req.viewer.display_name or req.viewer.username, "role": req.viewer.role.label},  # fmt: skip
    }
