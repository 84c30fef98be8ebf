"""Text that would run as script if a page put it in unescaped: for the tests that every page and popup shows user
text as text. Each payload sets its own `window.__xss` value, so a failure names the place that let it through.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import shapely

from layers import LAYERS
from onemap.settings import DEMO_GPKG
from store import GeoPackageStore

#: The village the hostile names are given to (义隆永村 in the demo town).
VILLAGE = "150525107201"
#: A hazard as a careless or hostile user might register it (every field within its length limit).
HAZARD = {
    "description": '<img src=x onerror="window.__xss=1">柴草垛紧挨民房',
    "responsible_unit": "<script>window.__xss=2</script>村委会",
    "responsible_person": '"><svg onload=window.__xss=3>',
}
MEASURES = "</td></tr></table><img src=x onerror=window.__xss=4>清理柴草"
VILLAGE_NAME = "义隆永村</script><img src=x onerror=window.__xss=5>"
SOURCE_NAME = "加油站'\"><svg onload=window.__xss=6>"
REPORT = '<iframe srcdoc="<script>parent.__xss=7</script>"></iframe>路边油桶'
#: Fragments that must never reach a page as markup.
MARKUP = ("<img src=x", "<script>window.__xss", "<svg onload", "<iframe srcdoc")


def hostile_town(folder: Path) -> tuple[Path, int]:
    """A copy of the demo town whose village VILLAGE and one risk source in it have hostile names; the path and that
    source's fid."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "hostile.gpkg"
    shutil.copy(DEMO_GPKG, path)
    store = GeoPackageStore(path)
    villages, sources = store.read(LAYERS["villages"]), store.read(LAYERS["risk_sources"])
    outline = villages.loc[villages["code"] == VILLAGE].geometry.iloc[0]
    inside = sources.index[shapely.contains(outline, sources.geometry.to_numpy())]
    source = int(inside[0])
    villages.loc[villages["code"] == VILLAGE, "name"] = VILLAGE_NAME
    sources.loc[source, "name"] = SOURCE_NAME
    store.replace(LAYERS["villages"], villages)
    store.replace(LAYERS["risk_sources"], sources)
    return path, source


def village_outline(api) -> shapely.Geometry:
    """VILLAGE's outline as the service serves it (`api` a TestClient or an httpx client on the service)."""
    villages = api.get("/collections/villages/items", params={"limit": 100}).json()["features"]
    return shapely.geometry.shape(next(f for f in villages if f["properties"]["code"] == VILLAGE)["geometry"])


def plant(api, bearer: dict[str, str], source: int, hazard_at: shapely.Point, report_at: shapely.Point) -> dict:
    """Through the real API: a hostile hazard at `hazard_at` with hostile measures, linked to risk source `source`,
    and a hostile public report at `report_at` accepted into the ledger. The two new hazards' fids."""
    new = {**HAZARD, "lon": hazard_at.x, "lat": hazard_at.y, "sector": "fire", "channel": "department_inspection"}
    registered = api.post("/ledger/hazards", json=new, headers=bearer)
    assert registered.status_code == 201, registered.text
    fid = registered.json()["id"]
    edit = {"action": "edit", "version": 1,
            "fields": {"measures": MEASURES, "linked_layer": "risk_sources", "linked_fid": source}}  # fmt: skip
    assert api.post(f"/ledger/hazards/{fid}/steps", json=edit, headers=bearer).status_code == 200
    report = api.post("/reports", json={"lon": report_at.x, "lat": report_at.y, "description": REPORT})
    assert report.status_code == 201, report.text
    reports = api.get("/ledger/reports", headers=bearer).json()["reports"]
    (pending,) = [r for r in reports if r["description"] == REPORT]
    filing = {"sector": "fire", "responsible_unit": "村委会", "responsible_person": "赵六"}
    accepted = api.post(f"/ledger/reports/{pending['id']}/accept", json=filing, headers=bearer)
    assert accepted.status_code == 201, accepted.text
    return {"hazard": fid, "report_hazard": accepted.json()["hazard_id"]}
