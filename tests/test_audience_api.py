"""Editors read the audience through the API: figures as JSON and CSV, charts as SVG, the
month's page; presenters and strangers are refused, bad questions get problem+json."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from accounts.tokens import create_token
from api.app import create_app
from audience.rollups import Rollups
from diaspor.compose import build_station
from media.binaries import Tools
from station.clock import SimulatedClock
from tests.audience_support import (
    BAKU,
    BERLIN,
    DAY0,
    GOOGLE,
    PROGRAMME_TITLE,
    at,
    audience,
    catalogue,
)
from tests.conftest import settings_for
from tests.support import serve_app

SVG = "{http://www.w3.org/2000/svg}"
MORNING = {"from": at(0).isoformat(), "to": at(180).isoformat()}


@dataclass
class Desk:
    client: httpx.Client
    editor: dict[str, str]
    presenter: dict[str, str]


@pytest.fixture
def desk(tmp_path: Path, db_url: str, tools: Tools) -> Iterator[Desk]:
    clock = SimulatedClock(DAY0 + timedelta(days=1))
    st = build_station(settings_for(tmp_path, db_url), tools=tools, clock=clock)
    try:
        audience(st.db, catalogue(st.db))
        Rollups(st.db).roll_up()
        editor = create_token(st.db, clock, "Günay", "editor")
        presenter = create_token(st.db, clock, "Elvin", "presenter")
        with serve_app(create_app(st)) as base, httpx.Client(base_url=base, timeout=30) as c:
            yield Desk(
                c,
                {"Authorization": f"Bearer {editor}"},
                {"Authorization": f"Bearer {presenter}"},
            )
    finally:
        st.close()


def test_an_editor_reads_the_mornings_figures_as_json_and_as_csv(desk: Desk) -> None:
    r = desk.client.get(
        "/api/v1/reports/audience", params={**MORNING, "group_by": "country"}, headers=desk.editor
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["period"] == {
        "from": "2026-11-02T11:00:00Z",
        "to": "2026-11-02T14:00:00Z",
        "tz": "UTC",
    }
    assert body["group_by"] == "country" and body["filters"] == {}
    rows = {x["key"]: (x["sessions"], x["seconds"], x["unique_listeners"]) for x in body["rows"]}
    assert rows == {"DE": (2, 4800, 2), "AZ": (2, 1800, 1), "US": (1, 600, 1)}
    t = body["total"]
    assert (t["sessions"], t["seconds"], t["listening_hours"], t["peak_concurrent"]) == (
        5,
        7200,
        2.0,
        2,
    )
    r = desk.client.get(
        "/api/v1/reports/audience",
        params={**MORNING, "group_by": "hour", "format": "csv", "tz": "Asia/Baku"},
        headers=desk.editor,
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x["key"], x["seconds"], x["peak_concurrent"]) for x in table] == [
        ("2026-11-02T15:00:00+04:00", "1800", "1"),
        ("2026-11-02T16:00:00+04:00", "3000", "2"),
        ("2026-11-02T17:00:00+04:00", "2400", "1"),
        ("total", "7200", "2"),
    ]
    for address in (BAKU, BERLIN, GOOGLE):  # exports name nobody
        assert address not in r.text and address not in str(body)


def test_filters_pick_a_channel_a_surface_and_a_programme(desk: Desk) -> None:
    r = desk.client.get(
        "/api/v1/reports/audience",
        params={**MORNING, "group_by": "surface", "programme": 1, "channel": "diaspor-fm"},
        headers=desk.editor,
    )
    assert r.status_code == 200, r.text
    assert {x["key"]: x["seconds"] for x in r.json()["rows"]} == {"relay": 600, "icecast": 2400}
    assert r.json()["filters"] == {"channel": "diaspor-fm", "programme": 1}


def test_charts_are_svg_with_a_mark_for_each_thing_they_show(desk: Desk) -> None:
    def chart(name: str) -> ET.Element:
        r = desk.client.get(
            f"/api/v1/reports/audience/charts/{name}.svg", params=MORNING, headers=desk.editor
        )
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("image/svg+xml")
        return ET.fromstring(r.text)

    day = chart("day")
    assert len([e for e in day.iter(f"{SVG}rect") if e.get("class") == "bar"]) == 24
    week = chart("week")
    assert len([e for e in week.iter(f"{SVG}rect") if e.get("class") == "cell"]) == 7 * 24
    world = chart("countries")
    placed = {e.get("data-country") for e in world.iter(f"{SVG}circle")}
    assert placed == {"AZ", "DE", "US"}
    top = chart("programmes")
    titles = [t.text or "" for t in top.iter(f"{SVG}title")]
    assert any(PROGRAMME_TITLE in t for t in titles)
    assert top.find(f"{SVG}title") is not None  # named for a screen reader
    unknown = desk.client.get(
        "/api/v1/reports/audience/charts/pie.svg", params=MORNING, headers=desk.editor
    )
    assert unknown.status_code == 422
    assert unknown.headers["content-type"] == "application/problem+json"


def test_the_monthly_page_is_one_printable_page_with_its_charts_inline(desk: Desk) -> None:
    r = desk.client.get(
        "/api/v1/reports/audience/monthly",
        params={"month": "2026-11", "tz": "UTC"},
        headers=desk.editor,
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert page.startswith("<!doctype html>") and "@media print" in page
    assert page.count("<svg") == 4
    assert "audience in November 2026" in page
    # the morning and a download eight days on: 6 sessions, 8100 s, 5 visitor-days
    assert "Sessions<b>6</b>" in page and "Listening hours<b>2.2</b>" in page
    assert "Unique listeners<b>5</b>" in page and "Peak at once<b>2</b>" in page
    assert PROGRAMME_TITLE in page and "Toronto azərbaycanlıları" in page
    assert "src=" not in page and "<link" not in page  # nothing fetched from elsewhere
    for address in (BAKU, BERLIN, GOOGLE):
        assert address not in page


def test_presenters_and_strangers_are_refused(desk: Desk) -> None:
    for path in (
        "/api/v1/reports/audience",
        "/api/v1/reports/audience/charts/day.svg",
        "/api/v1/reports/audience/monthly?month=2026-11",
    ):
        r = desk.client.get(path, headers=desk.presenter)
        assert r.status_code == 403 and r.json()["reason"] == "forbidden"
        r = desk.client.get(path)
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"group_by": "year"}, "invalid-request"),
        ({"from": "2026-11-02T12:00:00Z", "to": "2026-11-02T11:00:00Z"}, "invalid-period"),
        ({"from": "2025-01-01T00:00:00Z", "to": "2026-11-02T00:00:00Z"}, "invalid-period"),
        ({"tz": "Mars/Olympus_Mons"}, "unknown-time-zone"),
        ({"country": "Azerbaijan"}, "invalid-request"),
        ({"surface": "carrier-pigeon"}, "invalid-request"),
    ],
)
def test_a_bad_question_gets_a_problem_saying_what_is_wrong(
    desk: Desk, params: dict[str, str], reason: str
) -> None:
    r = desk.client.get("/api/v1/reports/audience", params=params, headers=desk.editor)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["reason"] == reason


def test_a_month_that_is_not_one_is_refused(desk: Desk) -> None:
    r = desk.client.get(
        "/api/v1/reports/audience/monthly", params={"month": "2026-13"}, headers=desk.editor
    )
    assert r.status_code == 422 and r.json()["reason"] == "invalid-period"
