"""Per-village views of the data: what lies inside one village's boundary."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from api.auth import Viewer
from api.routes.ogc import CatalogDep
from layers import LAYERS
from ledger.roles import visible_fids

router = APIRouter(prefix="/villages", tags=["villages"])


class LayerCount(BaseModel):
    """How many features of one layer touch the village."""

    layer: str = Field(description="layer id")
    title: str = Field(description="Chinese layer title")
    count: int = Field(ge=0)


class VillageSummary(BaseModel):
    """A village and the count of each layer's features inside it (touching its boundary counts)."""

    id: int
    name: str
    code: str
    population: int | None
    households: int | None
    counts: list[LayerCount]


@router.get("/{village_id}/summary", summary="Counts of each layer inside a village")
def village_summary(
    village_id: Annotated[str, Path(description="Village fid, or its 12-digit division code")],
    cat: CatalogDep,
    user: Viewer,
) -> VillageSummary:
    """For every other layer, the number of features intersecting the village polygon."""
    fid = cat.village_fid(village_id)
    villages = cat["villages"]
    frame = villages.frame
    row: dict[str, Any] = frame.loc[fid].to_dict()
    polygon = villages.index.geometry(fid)
    counts = []
    for layer_id in cat:
        private = cat[layer_id].layer.private
        if layer_id == "villages" or (private and user is None):
            continue  # the ledger counts only for signed-in users, within their remit
        fids = cat[layer_id].index.query(polygon)
        if private:
            fids = np.intersect1d(fids, visible_fids(user, cat[layer_id].frame))
        counts.append(LayerCount(layer=layer_id, title=LAYERS[layer_id].title, count=len(fids)))
    return VillageSummary(
        id=fid,
        name=row["name"],
        code=row["code"],
        population=None if row["population"] is None else int(row["population"]),
        households=None if row["households"] is None else int(row["households"]),
        counts=counts,
    )
