"""The /ops/reports and /ops/jobs routes over HTTP: formats, scope, errors, the jobs' runs."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from openpyxl import load_workbook

from config.settings import Settings
from core.arrears import ReminderPolicy
from core.clock import FrozenClock
from core.jobs import JobContext
from core.services.daily_jobs import city_jobs
from core.services.jobs import run_job
from core.staff import Role, Scope
from core.store.database import Database
from core.store.unit_of_work import UnitOfWork
from tests.integration.reports.week import DAYS, FIRST, LAST, seed_week
from tests.integration.test_staff_routes import bearer, make_staff, token_of

Client = TestClient[Any, Any]
RANGE = {"from": FIRST.isoformat(), "to": LAST.isoformat()}


async def _rolled_up_week(database: Database, clock: FrozenClock) -> None:
    async with UnitOfWork(database.sessions) as uow:
        await seed_week(uow)
        await uow.commit()
    jobs = city_jobs(ReminderPolicy())
    ctx = JobContext(uows=lambda: UnitOfWork(database.sessions), clock=clock)
    for n in range(DAYS):
        await run_job(ctx, jobs.get("rollups"), FIRST + timedelta(days=n), worker="test")


async def test_reports_as_json_csv_xlsx_and_svg_and_the_jobs_runs(
    client: Client, database: Database, settings: Settings, clock: FrozenClock
) -> None:
    await _rolled_up_week(database, clock)
    finance = bearer(
        token_of(settings, clock, await make_staff(database, clock, Role.FINANCE), Role.FINANCE)
    )
    answer = await client.get(
        "/ops/reports/revenue", params={**RANGE, "by": "lot"}, headers=finance
    )
    assert answer.status == 200, await answer.text()
    body = await answer.json()
    assert body["from"] == FIRST.isoformat() and body["columns"][0]["header"] == "停车场"
    assert body["totals"]["collected"] == sum(r["collected"] for r in body["rows"]) > 0
    csv = await client.get(
        "/ops/reports/cashier-shifts/export", params={**RANGE, "format": "csv"}, headers=finance
    )
    assert csv.status == 200 and csv.content_type == "text/csv"
    assert (await csv.read()).decode("utf-8").startswith("\ufeff收费员班次现金核对")
    xlsx = await client.get("/ops/reports/passes/export", params=RANGE, headers=finance)
    assert (
        xlsx.status == 200
        and "passes_2026-11-16_2026-11-22.xlsx" in xlsx.headers["Content-Disposition"]
    )
    sheet = load_workbook(io.BytesIO(await xlsx.read())).active
    assert sheet is not None and sheet["A2"].value == "月份"
    svg = await client.get("/ops/reports/occupancy/chart", params=RANGE, headers=finance)
    assert svg.status == 200 and svg.content_type == "image/svg+xml"
    assert "泊位占用率与周转率" in await svg.text()
    jobs = await (await client.get("/ops/jobs", params={"job": "rollups"}, headers=finance)).json()
    assert {j["name"] for j in jobs["jobs"]} >= {"rollups", "reconciliation", "deferred-revenue"}
    assert len(jobs["runs"]) == DAYS and all(r["status"] == "succeeded" for r in jobs["runs"])
    assert jobs["runs"][0]["detail"]["revenue_fen"] > 0


async def test_a_scoped_account_sees_its_lot_and_bad_requests_are_refused(
    client: Client, database: Database, settings: Settings, clock: FrozenClock
) -> None:
    await _rolled_up_week(database, clock)
    scoped = await make_staff(
        database,
        clock,
        Role.FINANCE,
        username="lot-finance",
        scope=Scope(lots=frozenset({"LOT-HOSP"})),
    )
    headers = bearer(token_of(settings, clock, scoped, Role.FINANCE))
    body = await (
        await client.get("/ops/reports/revenue", params={**RANGE, "by": "lot"}, headers=headers)
    ).json()
    assert [r["key"] for r in body["rows"]] == ["LOT-HOSP"]
    unknown = await client.get("/ops/reports/profit", params=RANGE, headers=headers)
    assert (unknown.status, (await unknown.json())["code"]) == (404, "report_not_found")
    backwards = {"from": LAST.isoformat(), "to": FIRST.isoformat()}
    refused = await client.get("/ops/reports/revenue", params=backwards, headers=headers)
    assert (refused.status, (await refused.json())["code"]) == (400, "report_range_invalid")
    grouping = await client.get(
        "/ops/reports/revenue", params={**RANGE, "by": "plate"}, headers=headers
    )
    assert (await grouping.json())["code"] == "report_grouping_invalid"
    cashier = bearer(
        token_of(settings, clock, await make_staff(database, clock, Role.CASHIER), Role.CASHIER)
    )
    assert (await client.get("/ops/reports/revenue", params=RANGE, headers=cashier)).status == 403
