"""Risk sources graded as a user asks for them: `onemap analyse risk`, `/analysis/risk/…`, and the popup that shows
the calculation."""

from __future__ import annotations

import json
from io import BytesIO

import openpyxl
from backends import BACKEND, settings_for, town_copy
from fastapi.testclient import TestClient
from scene import bearer
from typer.testing import CliRunner

from api.main import create_app
from onemap.cli import app
from onemap.settings import DEMO_GPKG
from store.users import UserStore

TRUTH = json.loads(DEMO_GPKG.with_name("demo_town.truth.json").read_text(encoding="utf-8"))["major_hazard_sources"]


def test_onemap_analyse_risk_lists_the_major_hazard_sources_and_writes_the_register(tmp_path):
    data = town_copy(BACKEND, DEMO_GPKG, tmp_path)
    result = CliRunner().invoke(app, ["analyse", "risk", "--xlsx", str(tmp_path / "r.xlsx"), "--data", str(data)])
    assert result.exit_code == 0, result.output
    for site in TRUTH["sites"]:
        assert f"#{site['fid']} {site['name']}: S = {site['S']:.3f}" in result.output
    book = openpyxl.load_workbook(tmp_path / "r.xlsx")
    rows = list(book["重大危险源清单"].iter_rows(values_only=True))
    assert rows[0][:4] == ("编号", "名称", "类型", "S=Σq/Q") and {r[0] for r in rows[1:]} == {
        s["fid"] for s in TRUTH["sites"]
    }
    assert book["安全风险分级"].max_row == 32  # a header and the 31 risk sources
    ranked = list(book["村综合风险排序"].iter_rows(values_only=True))
    assert ranked[0][:4] == ("排序", "村（嘎查）", "区划代码", "综合风险指数") and len(ranked) == 27  # 26 villages
    assert [r[0] for r in ranked[1:]] == list(range(1, 27)) and ranked[1][1] == "义隆永村"
    weights = {r[1]: r[2] for r in book["综合风险权重"].iter_rows(min_row=2, values_only=True)}
    assert weights["risk_sources"] == 0.30 and len(weights) == 6


def test_the_risk_grading_over_http_and_in_the_popup(tmp_path):
    data = town_copy(BACKEND, DEMO_GPKG, tmp_path)
    users = UserStore(data)
    users.add("viewer", "viewer password", "emergency")
    users.close()
    with TestClient(create_app(settings_for(data))) as client:
        found = client.get("/analysis/risk/major-hazards").json()
        assert found["major"] == [site["fid"] for site in TRUTH["sites"]]
        lpg = next(s for s in found["sources"] if s["fid"] == found["major"][0])
        assert lpg["substances"][0]["Q_t"] == 50 and lpg["alpha"] in (0.5, 1.0, 1.2, 1.5, 2.0) and lpg["grade"]
        grades = client.get("/analysis/risk/grades").json()
        assert len(grades["sources"]) == 31 and all(s["rule"] for s in grades["sources"])
        assert sum(v["total"] for v in grades["villages"]) == 31
        assert client.get("/analysis/risk/register.xlsx").status_code == 401
        book = client.get("/analysis/risk/register.xlsx", headers=bearer(client, "viewer", "viewer password"))
        sheets = openpyxl.load_workbook(BytesIO(book.content)).sheetnames
        # the demo ships with a surface, so its ranking and weights come too
        assert sheets == ["重大危险源清单", "安全风险分级", "村综合风险排序", "综合风险权重"]
        popup = client.get(f"/map/popup/risk_sources/{found['major'][0]}").text
        assert "分级依据" in popup and "GB 18218" in popup and "α =" in popup
        assert f"共{lpg['exposed_people']}人" in popup  # the popup counts the same people as the register
