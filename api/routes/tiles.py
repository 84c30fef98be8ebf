"""Mapbox Vector Tiles of every collection, for web maps and GIS clients that draw large layers tile by tile."""

from __future__ import annotations

import hashlib
from typing import Annotated

import mercantile
from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import Response

from api.auth import Viewer
from api.catalog import Catalog, LayerData
from api.params import SettingsDep
from api.routes.ogc import CatalogDep, LayerDep, visible_to
from api.tile_encoders import in_database
from api.vector_tiles import MEDIA_TYPE, encode_tile, tile_fids
from geo.tiles import MAX_ZOOM, parse_tile
from ledger.roles import User

router = APIRouter(tags=["vector tiles 矢量瓦片"])

#: Open layers may sit in any cache for a minute; the ledger only in the user's browser, checked on every use.
PUBLIC_CACHE = "public, max-age=60"
PRIVATE_CACHE = "private, no-cache"


@router.get(
    "/collections/{collection_id}/tiles/{z}/{x}/{y}",
    summary="A vector tile of a collection",
    response_class=Response,
    responses={
        200: {"content": {MEDIA_TYPE: {}}, "description": "A Mapbox Vector Tile, one layer named after the collection"},
        204: {"description": "No feature of the collection meets the tile"},
        304: {"description": "The tile has not changed since the ETag sent in If-None-Match"},
    },
)
def tile(
    request: Request,
    data: LayerDep,
    cat: CatalogDep,
    settings: SettingsDep,
    z: Annotated[str, Path(description=f"Zoom level, 0 to {MAX_ZOOM}")],
    x: Annotated[str, Path(description="Column, 0 to 2^z − 1, from the west")],
    y: Annotated[str, Path(description="Row, 0 to 2^z − 1, from the north (XYZ, as web maps number them)")],
    user: Viewer,
    if_none_match: Annotated[str | None, Header(description="ETag of a copy the client holds")] = None,
) -> Response:
    """The features meeting web-Mercator tile z/x/y, clipped to it with a buffer and simplified for the zoom, in
    tile coordinates (extent 4096), each with its fid as id and its properties. The hazard ledger follows the items
    rules: signed-in users only, each within their remit."""
    address = parse_tile(z, x, y)
    headers = {"Cache-Control": PRIVATE_CACHE if data.layer.private else PUBLIC_CACHE}
    if data.layer.private:
        headers["Vary"] = "Authorization, Cookie"
    store = request.app.state.store
    if in_database(settings.tile_encoder, store):
        only = visible_to(data, user, data.fids) if data.layer.private else None
        body = store.mvt(data.layer, address, fids=only)
    else:
        body = _in_process(cat, data, address, user)
    if not body:
        return Response(status_code=204, headers=headers)
    headers["ETag"] = f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'
    held = {tag.strip().removeprefix("W/") for tag in (if_none_match or "").split(",")}
    if headers["ETag"] in held or "*" in held:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=MEDIA_TYPE, headers=headers)


def _in_process(cat: Catalog, data: LayerData, address: mercantile.Tile, user: User | None) -> bytes:
    """The tile from the catalogue's copy; empty when no feature the user may see meets it."""
    fids = visible_to(data, user, tile_fids(data, address))
    return encode_tile(cat, data, address, fids) if len(fids) else b""
