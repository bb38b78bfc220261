"""The as-run report: what each channel really aired, as playout logged it (`playout/asrun.py`),
for staff: as a page of JSON like every list, or as CSV for a spreadsheet.

CSV is an export, not a page: it holds every row the filters select (from `cursor` on, if
given), read from the log a batch at a time and streamed, so a year of as-run costs no more
memory than a day.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Allowed, ServicesDep
from api.csv_cells import cells
from api.paging import Paged, Pages, paged
from api.problems import Problem, problems
from playout.asrun import AsRun, AsRunFilter, AsRunReader, Outcome

router = APIRouter(prefix="/api/v1/manage", tags=["editing"])
CSV = "text/csv; charset=utf-8; header=present"
COLUMNS = (
    "id",
    "channel",
    "planned_start",
    "actual_start",
    "planned_ms",
    "kind",
    "media_id",
    "entry_id",
    "title",
    "artist",
    "outcome",
    "first_seq",
    "last_seq",
)


class AsRunOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1841,
                    "channel": "diaspor-fm",
                    "planned_start": "2026-11-29T06:00:20Z",
                    "actual_start": "2026-11-29T06:00:20Z",
                    "planned_ms": 40000,
                    "kind": "music",
                    "media_id": 12,
                    "entry_id": 3,
                    "title": "Qarabağ şikəstəsi",
                    "artist": "Xan Şuşinski",
                    "outcome": "played",
                    "first_seq": None,
                    "last_seq": None,
                }
            ]
        }
    )

    id: int
    channel: str
    planned_start: datetime = Field(description="when the schedule had it begin")
    actual_start: datetime = Field(description="when it began on the line")
    planned_ms: int = Field(description="its length on the schedule (a live slot: as it ran)")
    kind: str = Field(description="music, speech, jingle, programme, filler, live, ...")
    media_id: int | None
    entry_id: int | None = Field(description="the schedule entry it aired under")
    title: str
    artist: str
    outcome: Outcome
    first_seq: int | None = Field(description="TV: the first HLS media sequence it aired as")
    last_seq: int | None = Field(description="TV: the last HLS media sequence it aired as")

    @classmethod
    def of(cls, r: AsRun) -> AsRunOut:
        return cls(
            id=r.id or 0,
            channel=r.channel,
            planned_start=r.planned_start,
            actual_start=r.actual_start,
            planned_ms=r.planned_ms,
            kind=r.kind,
            media_id=r.media_id,
            entry_id=r.entry_id,
            title=r.title,
            artist=r.artist,
            outcome=Outcome(r.outcome),
            first_seq=r.first_seq,
            last_seq=r.last_seq,
        )


class AsRunPage(Paged[AsRunOut]):
    pass


def utc(t: datetime | None) -> datetime | None:
    """A time as asked for: with its offset, or, without one, in UTC."""
    if t is None or t.tzinfo is not None:
        return t
    return t.replace(tzinfo=UTC)


def wants_csv(fmt: str | None, accept: str | None) -> bool:
    """?format= decides; else CSV if Accept names text/csv before (or without) JSON."""
    if fmt is not None:
        return fmt == "csv"
    kinds = [part.split(";")[0].strip().lower() for part in (accept or "").split(",")]
    if "text/csv" not in kinds:
        return False
    json_at = kinds.index("application/json") if "application/json" in kinds else len(kinds)
    return kinds.index("text/csv") < json_at


def csv_lines(rows: Iterable[AsRun]) -> Iterator[bytes]:
    """The header, then each row, as UTF-8 CSV lines (RFC 4180: CRLF, quoted as needed);
    times in ISO 8601 UTC, an empty cell for none."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for r in rows:
        item = AsRunOut.of(r).model_dump(mode="json")
        writer.writerow(cells(item, COLUMNS))
        if out.tell() > 64 * 1024:
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode()


@router.get(
    "/asrun",
    response_model=AsRunPage,
    summary="What aired, as playout logged it: a page, or CSV",
    description=(
        "The as-run log in the order things aired (actual start, then id), filtered by "
        "channel, by actual start in [`from`, `to`) and by outcome. A time without an offset "
        "is UTC. With `?format=csv` or `Accept: text/csv`: CSV (UTF-8, a header row) of every "
        "row the filters select, from `cursor` on if given; `limit` does not apply."
    ),
    responses={
        200: {
            "content": {
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": "id,channel,planned_start,actual_start,planned_ms,kind,media_id,"
                    "entry_id,title,artist,outcome,first_seq,last_seq\r\n"
                    "1841,diaspor-fm,2026-11-29T06:00:20Z,2026-11-29T06:00:20Z,40000,music,12,"
                    "3,Qarabağ şikəstəsi,Xan Şuşinski,played,,\r\n",
                }
            }
        },
        **problems(422, why={422: "`to` not after `from`, an unknown outcome, or a bad cursor"}),
    },
)
async def list_as_run(
    svc: ServicesDep,
    who: Allowed,
    pages: Annotated[Pages, paged("asrun", 100)],
    channel: Annotated[
        str | None, Query(max_length=64, description="a channel's slug; every channel if left out")
    ] = None,
    start: Annotated[
        datetime | None, Query(alias="from", description="rows that began at or after this")
    ] = None,
    end: Annotated[datetime | None, Query(alias="to", description="rows that began before")] = None,
    outcome: Annotated[Outcome | None, Query(description="only rows of this outcome")] = None,
    fmt: Annotated[
        Literal["json", "csv"] | None, Query(alias="format", description="csv: as CSV")
    ] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response | AsRunPage:
    which = AsRunFilter(channel, utc(start), utc(end), outcome)
    if which.start is not None and which.end is not None and which.end <= which.start:
        raise Problem(422, "Invalid request", "to must be after from", "invalid-request")
    after = pages.after_ints(2)
    key = (after[0], after[1]) if after else None
    reader = AsRunReader(svc.db)
    if wants_csv(fmt, accept):
        return StreamingResponse(
            csv_lines(reader.every(which, key)),
            media_type=CSV,
            headers={"Vary": "Accept", "Content-Disposition": 'attachment; filename="asrun.csv"'},
        )
    page = await run_in_threadpool(reader.page, which, pages.limit, key)
    pages.response.headers["Vary"] = "Accept"
    return pages.answer(AsRunPage, page, AsRunOut.of)
