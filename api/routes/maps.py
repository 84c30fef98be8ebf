"""The one map (一张图): the view pages, and the small JSON endpoints their script asks for."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from api.auth import Viewer
from api.errors import InvalidParameter
from api.params import SettingsDep, check_in_area, parse_bbox
from api.responses import GEOJSON, sends
from api.routes.ogc import CatalogDep, LayerDep, check_visible, visible_to
from api.security_headers import csp_nonce
from geo.gcj02 import gcj02_to_wgs84
from layers.frames import properties_of
from ledger.roles import User, visible_fids
from maps import four_colour
from maps.basemaps import BasemapName, basemap
from maps.near import near
from maps.page import PageRequest, render
from maps.popups import open_hazards, popup_html
from maps.search import search
from maps.viewport import viewport
from maps.views import VIEWS
from maps.village import village_panel

router = APIRouter(prefix="/map", tags=["one map 一张图"])

BasemapParam = Annotated[
    BasemapName | None,
    Query(
        description="offline (default, drawn from our own layers), tianditu, osm or amap (features shifted to GCJ-02)"
    ),
]
ViewBBox = Annotated[str, Query(description="min_lon,min_lat,max_lon,max_lat of the viewport")]
Zoom = Annotated[float, Query(ge=0, le=22, description="web-Mercator zoom level")]
ShiftParam = Annotated[Literal["gcj02"] | None, Query(description="gcj02: coordinates for drawing over AMap tiles")]


def _basemap(name: BasemapName | None, settings: Any) -> Any:
    try:
        return basemap(name or settings.basemap, tianditu_key=settings.tianditu_key)
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from None


def _visible(cat: Any, user: User | None) -> np.ndarray | None:
    """The hazard ids the viewer may see; None when not signed in (the ledger stays hidden)."""
    return None if user is None else visible_fids(user, cat["hazards"].frame)


def _page(
    request: Request,
    cat: Any,
    settings: Any,
    view: str,
    name: BasemapName | None,
    user: User | None,
    village_fid: int | None = None,
) -> HTMLResponse:
    req = PageRequest(
        VIEWS[view],
        _basemap(name, settings),
        village_fid=village_fid,
        viewer=user,
        tiles_above=settings.map_tiles_above,
    )
    panel = village_panel(cat, village_fid, hazards=_visible(cat, user)) if village_fid is not None else ""
    return HTMLResponse(render(cat, req, extra_html=panel, nonce=csp_nonce(request)))


IN_VIEW = sends(GEOJSON, description="GeoJSON of the features in view")


@router.get("", response_class=HTMLResponse, summary="镇域安全风险一张图 (all layers)")
def town_map(
    request: Request, cat: CatalogDep, settings: SettingsDep, user: Viewer, basemap: BasemapParam = None
) -> HTMLResponse:
    """Every layer of the town as its own overlay, grouped, with legends, search and measuring."""
    return _page(request, cat, settings, "town", basemap, user)


@router.get("/planner", response_class=HTMLResponse, summary="道路交通规划图")
def planner_map(
    request: Request, cat: CatalogDep, settings: SettingsDep, user: Viewer, basemap: BasemapParam = None
) -> HTMLResponse:
    """Roads by class, intersections by treatment, accident clusters and heat, accident-prone spots and segments."""
    return _page(request, cat, settings, "planner", basemap, user)


@router.get("/emergency", response_class=HTMLResponse, summary="应急处置图")
def emergency_map(
    request: Request, cat: CatalogDep, settings: SettingsDep, user: Viewer, basemap: BasemapParam = None
) -> HTMLResponse:
    """Risk sources and their heat, emergency resources, fire lanes; click the map for what is near an incident."""
    return _page(request, cat, settings, "emergency", basemap, user)


@router.get("/village/{village_id}", response_class=HTMLResponse, summary="村级隐患图")
def village_map(
    request: Request,
    cat: CatalogDep,
    settings: SettingsDep,
    village_id: Annotated[str, Path(description="Village fid or 12-digit division code")],
    user: Viewer,
    basemap: BasemapParam = None,
) -> HTMLResponse:
    """One village cropped and zoomed, its hazards with status and deadline in a printable panel beside the map."""
    return _page(request, cat, settings, "village", basemap, user, village_fid=cat.village_fid(village_id))


@router.get("/risk", response_class=HTMLResponse, summary="安全风险四色分布图 (town level)")
def risk_map(
    request: Request, cat: CatalogDep, settings: SettingsDep, user: Viewer, basemap: BasemapParam = None
) -> HTMLResponse:
    """Villages in the colour of the highest level graded among their risk sources, the sources in their graded
    colours, and a legend counting each colour."""
    return _risk_page(request, cat, settings, basemap, user)


@router.get("/risk/{village_id}", response_class=HTMLResponse, summary="村级安全风险四色分布图")
def village_risk_map(
    request: Request,
    cat: CatalogDep,
    settings: SettingsDep,
    village_id: Annotated[str, Path(description="Village fid or 12-digit division code")],
    user: Viewer,
    basemap: BasemapParam = None,
) -> HTMLResponse:
    """The four-colour map of one village, zoomed to it: that village and its own risk sources only, so the
    legend counts are the village's."""
    return _risk_page(request, cat, settings, basemap, user, village_fid=cat.village_fid(village_id))


def _risk_page(
    request: Request,
    cat: Any,
    settings: Any,
    name: BasemapName | None,
    user: User | None,
    village_fid: int | None = None,
) -> HTMLResponse:
    path = "/map/risk/data" if village_fid is None else f"/map/risk/{village_fid}/data"
    symbols = four_colour.four_colour(cat).symbols(village_fid)
    req = PageRequest(
        VIEWS[four_colour.VIEW],
        _basemap(name, settings),
        village_fid=village_fid,
        viewer=user,
        symbols=symbols,
        data_path=path,
        tiles_above=settings.map_tiles_above,
    )
    return HTMLResponse(render(cat, req, nonce=csp_nonce(request)))


@router.get("/data/{collection_id}", summary="Features in view, simplified for the zoom", **IN_VIEW)
def map_data(
    cat: CatalogDep,
    data: LayerDep,
    bbox: ViewBBox,
    zoom: Zoom,
    user: Viewer,
    shift: ShiftParam = None,
) -> JSONResponse:
    """GeoJSON for one overlay: legend key `k`, name `n`, heat weight `w`; dense points come grouped with `count`.
    The hazard ledger needs a sign-in and shows each user their remit only."""
    return _data(cat, data, bbox, zoom, user, shift, viewport)


@router.get("/risk/data/{collection_id}", summary="Features in view for the four-colour map", **IN_VIEW)
def risk_data(
    cat: CatalogDep,
    data: LayerDep,
    bbox: ViewBBox,
    zoom: Zoom,
    user: Viewer,
    shift: ShiftParam = None,
) -> JSONResponse:
    """As /map/data, with villages keyed by the highest graded level in them (and their popups inline) and risk
    sources by their graded level."""
    return _data(cat, data, bbox, zoom, user, shift, four_colour.viewport)


@router.get(
    "/risk/{village_id}/data/{collection_id}", summary="Features in view for a village's four-colour map", **IN_VIEW
)
def village_risk_data(
    cat: CatalogDep,
    data: LayerDep,
    village_id: Annotated[str, Path(description="Village fid or 12-digit division code")],
    bbox: ViewBBox,
    zoom: Zoom,
    user: Viewer,
    shift: ShiftParam = None,
) -> JSONResponse:
    """As /map/risk/data, of one village: the village itself and its own risk sources only."""
    draw = partial(four_colour.viewport, village_fid=cat.village_fid(village_id))
    return _data(cat, data, bbox, zoom, user, shift, draw)


def _data(
    cat: Any, data: Any, bbox: str, zoom: float, user: User | None, shift: str | None, draw: Callable[..., Any]
) -> JSONResponse:
    only = visible_to(data, user, data.fids) if data.layer.private else None
    body = draw(cat, data.layer.id, parse_bbox(bbox), zoom, shift=shift == "gcj02", only=only)
    return JSONResponse(body, media_type=GEOJSON)


@router.get("/popup/{collection_id}/{fid}", response_class=HTMLResponse, summary="Popup of one feature")
def map_popup(
    request: Request, cat: CatalogDep, data: LayerDep, user: Viewer, fid: Annotated[int, Path(ge=1)]
) -> HTMLResponse:
    """What the feature is, its key attributes, the open ledger entries there that the viewer may see, and the
    recommended action; for a hazard (signed-in users within their remit), the dates and steps of its history."""
    row = data.feature(fid)
    props = properties_of(data.layer, row.drop(columns=row.geometry.name).iloc[0].to_dict())
    check_visible(data, user, fid)
    if data.layer.id == "hazards":
        history = request.app.state.ledger.history(fid)
        return HTMLResponse(popup_html(cat, data.layer.id, fid, props, history=history))
    visible = _visible(cat, user)
    seen = set() if visible is None else {int(f) for f in visible}
    hazards = [h for h in open_hazards(cat, data.layer.id, fid) if h["fid"] in seen]
    return HTMLResponse(popup_html(cat, data.layer.id, fid, props, hazards=hazards))


@router.get("/search", summary="Find villages and places by name")
def map_search(
    cat: CatalogDep,
    user: Viewer,
    q: Annotated[str, Query(min_length=1, max_length=50, description="part of a name or code")],
) -> dict[str, Any]:
    """Villages (by name or code), named sites, roads, lanes, and the hazards the viewer may see."""
    return {"query": q, "results": search(cat, q, hazards=_visible(cat, user))}


@router.get("/near", summary="What lies near an incident")
def map_near(
    cat: CatalogDep,
    settings: SettingsDep,
    lon: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(ge=-90, le=90)],
    user: Viewer,
    radius_m: Annotated[float, Query(gt=0, le=20_000)] = 2000,
    shift: ShiftParam = None,
) -> dict[str, Any]:
    """The nearest emergency resources, and risk sources, old settlements and open hazards within the radius."""
    if shift == "gcj02":
        lon, lat = gcj02_to_wgs84(lon, lat)
    check_in_area(lon, lat, settings)
    return near(cat, lon, lat, radius_m, hazards=_visible(cat, user))
