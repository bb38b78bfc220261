"""Audience reports for editors (audience/reports.py computes them): figures over a period as
JSON or CSV, charts as SVG, and the month's report as one HTML page."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Allowed, ServicesDep
from api.csv_cells import cells
from api.lang import LangDep
from api.problems import Problem, problems
from api.services import Services
from api.zones import ZoneDep
from audience.ledger import Surface
from audience.monthly import Month, monthly_page
from audience.pictures import Chart, chart
from audience.reports import (
    MAX_DAYS,
    UTC_ZONE,
    Figures,
    Grouping,
    Report,
    Reports,
    period,
    whole_hour,
)
from audience.reports import Query as Asked

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])
CSV = "text/csv; charset=utf-8; header=present"
SVG = "image/svg+xml"
HTML = "text/html; charset=utf-8"
DEFAULT_DAYS = 7
STATION_ZONE = "Asia/Baku"
UNIQUES = (
    "distinct listeners per UTC day, added up over the days of the group: a listener's "
    "anonymous id (a keyed hash of address and player) changes every day by design, so one "
    "person on two days counts twice and nobody is followed from day to day"
)
COLUMNS = (
    "key",
    "label",
    "sessions",
    "unique_listeners",
    "seconds",
    "listening_hours",
    "average_session_s",
    "average_concurrent",
    "peak_concurrent",
    "downloads_7d",
    "downloads_30d",
)


class FiguresOut(BaseModel):
    key: str = Field(
        description="the group: a channel's slug, a programme's or episode's id (0: none), a "
        "country (ISO 3166-1, ZZ unknown), a player, device, system or surface, or a time "
        "bucket's first instant (ISO 8601 in `tz`); `total` for the whole period"
    )
    label: str = Field(description="its name to show (a title, a channel's name)")
    sessions: int = Field(
        description="sessions begun in the group; by programme or episode, sessions that "
        "heard some of it"
    )
    unique_listeners: int = Field(description=UNIQUES)
    seconds: int = Field(description="listened within the group, exact")
    listening_hours: float = Field(description="total listening hours (TLH): seconds / 3600")
    average_session_s: float = Field(description="seconds / sessions")
    average_concurrent: float = Field(
        description="listeners at once on average: seconds / the group's length"
    )
    peak_concurrent: int | None = Field(
        description="the most sessions going on at a minute mark; null when grouped or "
        "filtered by country, player, device, system, programme or episode"
    )
    downloads_7d: int | None = Field(
        description="grouped by episode: podcast downloads in the 7 days from its release"
    )
    downloads_30d: int | None = Field(description="the same in 30 days")

    @classmethod
    def of(cls, f: Figures) -> FiguresOut:
        return cls(
            key=f.key,
            label=f.label,
            sessions=f.sessions,
            unique_listeners=f.uniques,
            seconds=f.seconds,
            listening_hours=round(f.hours, 6),
            average_session_s=round(f.average_session_s, 3),
            average_concurrent=round(f.average_concurrent, 6),
            peak_concurrent=f.peak_concurrent,
            downloads_7d=f.downloads_7d,
            downloads_30d=f.downloads_30d,
        )


class PeriodOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    start: datetime = Field(alias="from", description="the first whole UTC hour counted")
    end: datetime = Field(alias="to", description="the end (exclusive), a whole UTC hour")
    tz: str = Field(description="the zone time buckets are in")


class AudienceReportOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "period": {
                        "from": "2026-11-01T00:00:00Z",
                        "to": "2026-11-02T00:00:00Z",
                        "tz": "Asia/Baku",
                    },
                    "group_by": "country",
                    "filters": {"channel": "diaspor-fm"},
                    "rows": [
                        {
                            "key": "DE",
                            "label": "DE",
                            "sessions": 2,
                            "unique_listeners": 2,
                            "seconds": 4800,
                            "listening_hours": 1.333333,
                            "average_session_s": 2400.0,
                            "average_concurrent": 0.055556,
                            "peak_concurrent": None,
                            "downloads_7d": None,
                            "downloads_30d": None,
                        }
                    ],
                    "total": {
                        "key": "total",
                        "label": "total",
                        "sessions": 5,
                        "unique_listeners": 4,
                        "seconds": 7200,
                        "listening_hours": 2.0,
                        "average_session_s": 1440.0,
                        "average_concurrent": 0.083333,
                        "peak_concurrent": 2,
                        "downloads_7d": None,
                        "downloads_30d": None,
                    },
                }
            ]
        }
    )

    period: PeriodOut
    group_by: Grouping
    filters: dict[str, str | int] = Field(description="the filters asked for")
    rows: list[FiguresOut]
    total: FiguresOut


async def asked(
    svc: ServicesDep,
    tz: ZoneDep,
    start: Annotated[
        datetime | None,
        Query(
            alias="from",
            description="the period's start (no offset: UTC), taken up to a whole UTC hour; "
            f"default `to` less {DEFAULT_DAYS} days",
        ),
    ] = None,
    end: Annotated[
        datetime | None,
        Query(
            alias="to",
            description="its end (exclusive), taken up to a whole UTC hour; default now; at "
            f"most {MAX_DAYS} days after `from`",
        ),
    ] = None,
    channel: Annotated[str | None, Query(max_length=64, description="a channel's slug")] = None,
    surface: Annotated[Surface | None, Query(description="how it was heard")] = None,
    country: Annotated[
        str | None,
        Query(pattern="^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2 (ZZ: unknown)"),
    ] = None,
    programme: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="an id")] = None,
    episode: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="an id")] = None,
) -> Asked:
    b = end or whole_hour(svc.clock.now())
    a = start or b - timedelta(days=DEFAULT_DAYS)
    first, last = period(a, b)
    return Asked(
        first,
        last,
        tz=tz or UTC_ZONE,
        channel=channel,
        surface=surface,
        country=country.upper() if country else None,
        programme=programme,
        episode=episode,
    )


AskedDep = Annotated[Asked, Depends(asked)]
BAD = problems(422, why={422: "`to` not after `from`, a period over 400 days, an unknown "
                         "grouping, zone or filter"})  # fmt: skip


def filters_of(q: Asked) -> dict[str, str | int]:
    out: dict[str, str | int | None] = {
        "channel": q.channel,
        "surface": str(q.surface) if q.surface else None,
        "country": q.country,
        "programme": q.programme,
        "episode": q.episode,
    }
    return {k: v for k, v in out.items() if v is not None}


def csv_text(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for f in [*report.rows, report.total]:
        item = FiguresOut.of(f).model_dump()
        writer.writerow(cells(item, COLUMNS))
    return out.getvalue()


@router.get(
    "/audience",
    response_model=AudienceReportOut,
    summary="Audience figures over a period, grouped and filtered: JSON or CSV",
    description=(
        "Sessions, unique listeners, total listening hours (TLH, and the exact seconds), "
        "average session length, average and peak listeners at once, over [`from`, `to`) "
        "in whole UTC hours, grouped by `group_by` (time buckets in `tz`: an hour, day, week "
        "from Monday, or month is the UTC hours whose first instant falls in it) and "
        "filtered. Listening on radio and TV is attributed to the programme and episode on "
        "air (the as-run log); podcast and on-demand sessions name their episode. Grouped "
        f"by episode, podcast downloads in its first 7 and 30 days. Unique listeners: {UNIQUES}."
        " With `format=csv`: the rows and a last `total` row, with a header row. Figures of "
        "closed sessions come from hourly rollups, kept up to date in the background; the "
        "rest are read raw: both give the same figures."
    ),
    responses={
        200: {
            "content": {
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": ",".join(COLUMNS) + "\r\nDE,DE,2,2,4800,1.333333,2400.0,"
                    "0.055556,,,\r\ntotal,total,5,4,7200,2.0,1440.0,0.083333,2,,\r\n",
                }
            }
        },
        **BAD,
    },
)
async def get_audience_report(
    svc: ServicesDep,
    who: Allowed,
    q: AskedDep,
    lang: LangDep,
    group_by: Annotated[Grouping, Query(description="how rows are grouped")] = Grouping.DAY,
    fmt: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> Response | AudienceReportOut:
    asked_for = replace(q, group_by=group_by)
    report = await run_in_threadpool(Reports(svc.db).report, asked_for, True, lang)
    if fmt == "csv":
        return Response(
            csv_text(report),
            media_type=CSV,
            headers={"Content-Disposition": 'attachment; filename="audience.csv"'},
        )
    return AudienceReportOut(
        period=PeriodOut(start=q.start, end=q.end, tz=str(q.tz)),
        group_by=group_by,
        filters=filters_of(q),
        rows=[FiguresOut.of(f) for f in report.rows],
        total=FiguresOut.of(report.total),
    )


@router.get(
    "/audience/charts/{chart}.svg",
    response_class=Response,
    summary="An audience chart as SVG",
    description=(
        "For the period and filters of `GET /api/v1/reports/audience`: `day`, listeners at "
        "once by hour of the day (averaged over the period's days, in `tz`); `week`, the same "
        "by day of the week and hour, as a heat map; `countries`, listening hours by country "
        "as circles on a world map; `programmes`, the top programmes by listening hours."
    ),
    responses={200: {"content": {SVG: {"schema": {"type": "string"}}}}, **BAD},
)
async def get_audience_chart(
    svc: ServicesDep,
    who: Allowed,
    q: AskedDep,
    lang: LangDep,
    which: Annotated[Chart, Path(alias="chart", description="which chart")],
) -> Response:
    body = await run_in_threadpool(chart, Reports(svc.db), which, q, lang)
    return Response(body, media_type=SVG)


@router.get(
    "/audience/monthly",
    response_class=Response,
    summary="The month's audience report: one HTML page to send or print",
    description=(
        "Headline figures, listeners over a day and a week, countries on a map, programmes, "
        "episodes (with podcast downloads in their first 7 and 30 days), channels, surfaces, "
        "players, devices and days, for a calendar month in `tz` (default Asia/Baku): one "
        "self-contained page, its charts inline SVG, with a print style."
    ),
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}, **BAD},
)
async def get_monthly_audience_report(
    svc: ServicesDep,
    who: Allowed,
    tz: ZoneDep,
    lang: LangDep,
    month: Annotated[
        str, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM", examples=["2026-11"])
    ],
) -> Response:
    try:
        which = Month.parse(month)
    except ValueError as exc:
        raise Problem(422, "Invalid request", str(exc), "invalid-period") from exc
    body = await run_in_threadpool(monthly, svc, which, tz or ZoneInfo(STATION_ZONE), lang)
    return Response(body, media_type=HTML)


def monthly(svc: Services, month: Month, tz: ZoneInfo, lang: str) -> str:
    return monthly_page(Reports(svc.db), "Diaspor.FM / Diaspor TV", month, tz, lang)
