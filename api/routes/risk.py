"""Risk sources graded over HTTP: GB 18218 major hazard sources with the whole calculation, four-colour levels.

Computed on request from the layers the service holds (milliseconds for a town), so they always match the data.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from fastapi import APIRouter, Response

from analysis.major_hazard import assess
from analysis.risk_grading import grade, village_summary
from analysis.risk_register import register_workbook
from api.auth import CurrentUser
from api.routes.analysis import XLSX
from api.routes.ogc import CatalogDep
from api.tables import records

router = APIRouter(prefix="/analysis/risk", tags=["analysis 分析"])


def major_hazards(cat) -> pd.DataFrame:
    """GB 18218 for every risk source with an inventory, the exposed people counted from the buildings layer."""
    return assess(cat["risk_sources"].frame, cat["buildings"].frame)


@router.get("/major-hazards", summary="GB 18218-2018: S, exposed people, α, R and the grade of every site")
def get_major_hazards(cat: CatalogDep) -> dict[str, Any]:
    """Each substance's q, Q and β with where they came from, and the calculation in words."""
    table = major_hazards(cat)
    major = table[table["major"]]
    return {"major": [int(f) for f in major.index], "sources": records(table)}


@router.get("/grades", summary="Four-colour risk levels by LEC or LS, and the count of each colour per village")
def get_grades(cat: CatalogDep) -> dict[str, Any]:
    """The rule applied to each source, and where it disagrees with the level on record."""
    graded = grade(cat["risk_sources"].frame, cat["villages"].frame)
    villages = village_summary(graded, cat["villages"].frame)
    return {"sources": records(graded), "villages": records(villages)}


@router.get("/register.xlsx", summary="The graded register: major hazard sources and every risk source's level")
def register_xlsx(cat: CatalogDep, user: CurrentUser) -> Response:
    """重大危险源清单 with grades and responsible units, and the four-colour register."""
    book = register_workbook(cat["risk_sources"].frame, cat["buildings"].frame, cat["villages"].frame)
    return Response(book, media_type=XLSX, headers={"Content-Disposition": 'attachment; filename="risk-register.xlsx"'})
