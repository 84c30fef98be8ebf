"""The annual report: its counts agree with counts made here independently, from the stored dates and from the raw
events of a ledger built step by step; the XLSX and HTML carry them."""

from __future__ import annotations

import io
from collections import Counter
from datetime import date, datetime

import openpyxl
from backends import BACKEND, town_copy
from outside_tools import need_tool
from typer.testing import CliRunner

from layers import LAYERS
from layers.frames import empty_frame
from layers.ledger import HazardProperties
from layers.vocab import SupervisionLevel
from ledger.annual import build
from onemap.cli import app
from onemap.settings import DEMO_GPKG
from store import open_store
from store.ledger import LedgerStore

REPORT_DAY = "2025-12-10"


def test_the_demo_year_matches_a_count_from_the_stored_dates(tmp_path):
    data = town_copy(BACKEND, DEMO_GPKG, tmp_path)
    result = CliRunner().invoke(app, ["report", "annual", "--year", "2025", "-o", str(tmp_path), "--data", data])
    assert result.exit_code == 0, result.output
    store = open_store(data)
    villages = store.read(LAYERS["villages"])
    names = dict(zip(villages["code"], villages["name"], strict=True))
    columns = ["village_code", "status", "discovered_on", "closed_on", "accepted_on", "deadline", "supervised"]
    rows = store.read(LAYERS["hazards"])[columns].astype(object).itertuples(index=False)
    expected: dict[str, Counter] = {}
    for village, status, found, closed, accepted, deadline, supervised in rows:
        c = expected.setdefault(names[village], Counter())
        open_then = found <= REPORT_DAY and status != "voided" and (closed is None or closed > REPORT_DAY)
        c["发现"] += found.startswith("2025")
        c["整改销号"] += closed is not None and closed.startswith("2025") and closed <= REPORT_DAY
        c["未销号"] += open_then
        c["逾期"] += (
            open_then and (accepted is None or accepted > REPORT_DAY) and deadline is not None and deadline < REPORT_DAY
        )
        c["挂牌督办"] += found.startswith("2025") and bool(supervised)
    book = openpyxl.load_workbook(tmp_path / "隐患年报-2025.xlsx")
    sheet = list(book["分村汇总"].values)
    header = sheet[0]
    assert header == ("村", "发现", "整改销号", "逾期", "未销号", "挂牌督办")
    got = {row[0]: dict(zip(header[1:], row[1:], strict=True)) for row in sheet[1:]}
    for village, counts in expected.items():
        if any(counts.values()):
            assert got[village] == {k: counts[k] for k in header[1:]}, village
    assert got["全镇合计"] == {k: sum(c[k] for c in expected.values()) for k in header[1:]}
    html = (tmp_path / "隐患年报-2025.html").read_text(encoding="utf-8")
    assert "2025 年度隐患排查治理情况报告" in html and html.count("<svg") == len(names)
    assert "合成示例数据" in html and "<script" not in html


def test_a_ledger_built_step_by_step_matches_a_count_from_its_events(tmp_path):
    data = town_copy(BACKEND, DEMO_GPKG, tmp_path)
    open_store(data).replace(LAYERS["hazards"], empty_frame(LAYERS["hazards"]))  # only this test's hazards
    ledger = LedgerStore(data)
    villages = open_store(data).read(LAYERS["villages"])

    def start(deadline: str) -> dict:
        return {"measures": "清理", "deadline": deadline}

    plan = [  # village index, discovered, steps with dates
        (
            0,
            date(2027, 2, 1),
            [("assess", {"level": "major"}, "2027-02-02"), ("start", start("2027-05-01"), "2027-02-03")],
        ),
        (
            0,
            date(2027, 3, 1),
            [
                ("assess", {"level": "general"}, "2027-03-02"),
                ("start", start("2027-12-31"), "2027-03-03"),
                ("request_verification", {}, "2027-06-01"),
                ("accept", {"acceptor": "甲"}, "2027-06-05"),
                ("close", {}, "2027-06-06"),
            ],
        ),
        (
            1,
            date(2027, 4, 1),
            [("assess", {"level": "general"}, "2027-04-02"), ("void", {"reason": "重复"}, "2027-04-03")],
        ),
        (1, date(2027, 11, 1), []),
        (
            2,
            date(2026, 12, 20),
            [("assess", {"level": "general"}, "2027-01-05"), ("start", start("2027-01-31"), "2027-01-06")],
        ),
    ]
    fids = []
    for index, found, steps in plan:
        village = villages.iloc[index]
        point = village.geometry.representative_point()
        hazard = HazardProperties(
            code=f"T-{len(fids) + 1:03d}", village_code=village["code"], sector="fire", description="测试隐患",
            discovered_on=found, channel="department_inspection", responsible_unit="镇", responsible_person="乙",
        )  # fmt: skip
        fid, _ = ledger.register(hazard, point.x, point.y, actor="t", at=datetime.combine(found, datetime.min.time()))
        version = 1
        for action, request, when in steps:
            signed = SupervisionLevel.CITY if action == "close" else None
            _, version, _ = ledger.apply(
                fid, version, action, request, actor="t", at=datetime.fromisoformat(when), signed_off_by=signed
            )
        fids.append(fid)
    # Counts from the raw events alone.
    day = "2027-12-10"
    expected: dict[str, Counter] = {}
    for fid, (index, _, _) in zip(fids, plan, strict=True):
        events = ledger.history(fid)
        name = villages.iloc[index]["name"]
        c = expected.setdefault(name, Counter())
        registered = events[0]["changes"]["discovered_on"][1]
        ended = [e for e in events if e["to_status"] in ("closed", "voided") and e["at"][:10] <= day]
        closed = [e for e in ended if e["to_status"] == "closed"]
        deadline = next((e["changes"]["deadline"][1] for e in reversed(events) if "deadline" in e["changes"]), None)
        accepted = any(e["action"] == "accept" for e in events)
        c["发现"] += registered.startswith("2027")
        c["整改销号"] += bool(closed) and closed[0]["at"].startswith("2027")
        c["未销号"] += not ended
        c["逾期"] += not ended and not accepted and deadline is not None and deadline < day
        c["挂牌督办"] += registered.startswith("2027") and any(
            e["changes"].get("supervised", [0, 0])[1] for e in events
        )
    ledger.close()
    report = build(open_store(data), 2027, "测试镇")
    got = report.table.groupby("村")[["发现", "整改销号", "逾期", "未销号", "挂牌督办"]].sum()
    for name, counts in expected.items():
        assert got.loc[name].to_dict() == {k: counts[k] for k in got.columns}, name
    sheets = openpyxl.load_workbook(io.BytesIO(report.xlsx)).sheetnames
    assert sheets == ["分村汇总", "分村分行业", "挂牌督办案件"]
    cases = list(openpyxl.load_workbook(io.BytesIO(report.xlsx))["挂牌督办案件"].values)
    assert [row[0] for row in cases[1:]] == ["T-001"]


def test_the_report_prints_to_pdf(tmp_path):
    need_tool("chromium", "Debian: apt-get install chromium")
    data = town_copy(BACKEND, DEMO_GPKG, tmp_path)
    args = ["report", "annual", "--year", "2025", "--pdf", "-o", str(tmp_path), "--data", data]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    pdf = (tmp_path / "隐患年报-2025.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and len(pdf) > 50_000 and pdf.count(b"/Type /Page") + pdf.count(b"/Type/Page") >= 2
