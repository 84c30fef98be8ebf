"""Basemaps: the offline one drawn from our own layers, and optional online tiles chosen by configuration.

AMap/Gaode tiles are drawn in GCJ-02, so a view over them asks the server to shift features into GCJ-02; Tianditu's
web-Mercator (`_w`) sets and OpenStreetMap are in WGS 84 / CGCS2000 and need no shift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

BasemapName = Literal["offline", "tianditu", "osm", "amap"]


@dataclass(frozen=True)
class Tiles:
    """One tile layer."""

    url: str
    attribution: str
    subdomains: str = "abc"
    max_zoom: int = 18


@dataclass(frozen=True)
class Basemap:
    """A basemap: its tiles (none offline) and whether features must be shifted to GCJ-02 to line up."""

    name: BasemapName
    title: str
    tiles: tuple[Tiles, ...] = field(default_factory=tuple)
    gcj02: bool = False


def basemap(name: BasemapName, *, tianditu_key: str = "") -> Basemap:
    """The basemap called `name`; Tianditu needs a key (ValueError without one)."""
    if name == "offline":
        return Basemap("offline", "本地底图（离线）")
    if name == "osm":
        return Basemap(
            "osm",
            "OpenStreetMap",
            (Tiles("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "© OpenStreetMap contributors", "", 19),),
        )
    if name == "amap":
        url = "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}"
        return Basemap("amap", "高德地图", (Tiles(url, "© 高德地图 AutoNavi", "1234"),), gcj02=True)
    if name == "tianditu":
        if not tianditu_key:
            raise ValueError("天地图需要密钥：设置 ONEMAP_TIANDITU_KEY (Tianditu needs a key: set ONEMAP_TIANDITU_KEY)")
        return Basemap(
            "tianditu",
            "天地图",
            tuple(
                Tiles(
                    f"https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
                    f"&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                    f"&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={tianditu_key}",
                    "© 天地图 国家地理信息公共服务平台",
                    "01234567",
                )
                for layer in ("vec", "cva")
            ),
        )
    raise ValueError(f"unknown basemap {name!r}: use offline, tianditu, osm or amap")
