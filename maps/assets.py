"""Every script and stylesheet the map pages load, served by onemap itself: no page ever reaches a CDN.

folium points its pages at public CDNs (jsdelivr, cdnjs), which a township network may not reach. Each page here
lists the vendored copies instead (see maps/vendor/README.md), and a standalone export inlines them, with the
images their stylesheets use as data URIs, so the file opens from a USB stick with no network at all.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from pathlib import Path

ROOT = Path(__file__).parent
STATIC_URL = "/static"
#: URL prefix → folder served under it.
MOUNTS = {"vendor": ROOT / "vendor", "onemap": ROOT / "static"}

SCRIPTS = (
    "vendor/leaflet/leaflet.js",
    "vendor/leaflet.markercluster/leaflet.markercluster.js",
    "vendor/leaflet.heat/leaflet-heat.js",
    "vendor/leaflet.fullscreen/Control.FullScreen.js",
    "vendor/leaflet-measure/leaflet-measure.cn.js",
    "vendor/leaflet-groupedlayercontrol/leaflet.groupedlayercontrol.min.js",
    "onemap/onemap.js",
)
#: Loaded (before onemap.js) only by a page that draws a layer from vector tiles, which an export never does.
TILE_SCRIPTS = ("vendor/protomaps-leaflet/protomaps-leaflet.js",)
STYLES = (
    "vendor/leaflet/leaflet.css",
    "vendor/leaflet.markercluster/MarkerCluster.css",
    "vendor/leaflet.markercluster/MarkerCluster.Default.css",
    "vendor/leaflet.fullscreen/Control.FullScreen.css",
    "vendor/leaflet-measure/leaflet-measure.css",
    "vendor/leaflet-groupedlayercontrol/leaflet.groupedlayercontrol.min.css",
    "onemap/onemap.css",
)


def path_of(asset: str) -> Path:
    """The file behind an asset name such as `vendor/leaflet/leaflet.js`."""
    mount, _, rest = asset.partition("/")
    return MOUNTS[mount] / rest


def url_of(asset: str, base: str = "") -> str:
    """The URL the page loads an asset from."""
    return f"{base}{STATIC_URL}/{asset}"


def folium_lists(base: str = "", *, tiles: bool = False) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(default_js, default_css) in folium's (name, url) form, pointing at our own copies; with `tiles`, the vector
    tile renderer too."""
    scripts = [*SCRIPTS[:-1], *TILE_SCRIPTS, SCRIPTS[-1]] if tiles else SCRIPTS
    js = [(Path(a).stem, url_of(a, base)) for a in scripts]
    css = [(Path(a).stem + "_css", url_of(a, base)) for a in STYLES]
    return js, css


def _data_uri(path: Path) -> str:
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def inline_css(asset: str) -> str:
    """A stylesheet with every relative url(...) replaced by the file's data URI."""
    path = path_of(asset)
    text = path.read_text(encoding="utf-8")

    def replace(match: re.Match[str]) -> str:
        ref = match.group(2)
        if ref.startswith(("data:", "#")):
            return match.group(0)
        target = (path.parent / ref.split("?")[0].split("#")[0]).resolve()
        return f'url("{_data_uri(target)}")'

    return re.sub(r"""url\((['"]?)([^'")]+)\1\)""", replace, text)


def inline_page(html: str, base: str = "") -> str:
    """The page with each of our <script src> and <link rel=stylesheet> replaced by the file's contents."""
    for asset in SCRIPTS:
        tag = f'<script src="{url_of(asset, base)}"></script>'
        if tag not in html:
            raise ValueError(f"{asset} is not loaded by this page as expected ({tag})")
        body = path_of(asset).read_text(encoding="utf-8").replace("</script", "<\\/script")
        html = html.replace(tag, f"<script>/* {asset} */\n{body}\n</script>")
    for asset in STYLES:
        tag = f'<link rel="stylesheet" href="{url_of(asset, base)}"/>'
        if tag not in html:
            raise ValueError(f"{asset} is not loaded by this page as expected ({tag})")
        html = html.replace(tag, f"<style>/* {asset} */\n{inline_css(asset)}\n</style>")
    return html
