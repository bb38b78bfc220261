"""The as-run log: what actually aired, item by item. The past is read from here, never
recomputed from the schedule.

The engines import this module for `Outcome` and `Boundary`; the table (`asrun_rows.py`) and
SQLAlchemy are loaded only where as-run is written or read (`AsRunLog`), so an engine's
process does not carry them (about 18 MiB) unless it writes the log itself."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from schedules.plan import TimelineItem, from_ms, to_ms

if TYPE_CHECKING:
    from playout.asrun_rows import AsRunRow
    from station.db import Database, Page


class Outcome(StrEnum):
    """How an item went: the one list of outcomes, stored as these words."""

    PLAYED = "played"
    MISSING = "skipped-missing"
    CORRUPT = "skipped-corrupt"
    OVERRIDDEN = "overridden-by-live"
    CUT_SHORT = "cut-short"
    SKIPPED_BY_OPERATOR = "skipped-by-operator"  # on air, cut by an operator's skip


# An item listeners heard (some of).
AIRED = (Outcome.PLAYED, Outcome.CUT_SHORT, Outcome.SKIPPED_BY_OPERATOR)


@dataclass(frozen=True, slots=True)
class Boundary:
    """An item began on the line: at which sample, and how it went."""

    item: TimelineItem
    sample: int  # from the line's origin
    actual_ms: int  # epoch ms of that sample
    outcome: Outcome
    resumed: bool = False  # the schedule came back after live, in the middle of this item
    segments: tuple[int, int] | None = None  # TV: the media-sequence range it aired as
    # The line began inside this item (an engine started or restarted, a standby taking
    # over): it aired from actual_ms, not from its start, and an earlier line that had it
    # on air stopped before its end.
    joined: bool = False
    # Not a beginning: the item already on air has changed under the line (an operator's
    # skip cut it), and its row says so.
    amended: bool = False


def offset_from_plan_ms(
    item: TimelineItem,
    actual_ms: int,
    outcome: str,
    resumed: bool = False,
    joined: bool = False,
) -> int | None:
    """How late (positive) or early an item began on air against its scheduled start, as the
    as-run records the two; None where there is no scheduled beginning to compare: the
    schedule resuming inside an item after a live takeover, a line joining an item under way
    (a restart, a standby taking over: the row says when it joined), an item overridden by
    live (it did not air), a live item (it begins when the presenter or the studio does)."""
    if resumed or joined or outcome == Outcome.OVERRIDDEN or item.kind == "live":
        return None
    return actual_ms - item.start_ms


@dataclass(frozen=True, slots=True)
class AsRun:
    channel: str
    planned_start: datetime
    actual_start: datetime
    planned_ms: int
    kind: str
    media_id: int | None
    entry_id: int | None
    title: str
    artist: str
    outcome: str
    first_seq: int | None = None
    last_seq: int | None = None
    id: int | None = None  # the row's, once stored


def as_run(r: AsRunRow) -> AsRun:
    return AsRun(
        r.channel,
        r.planned_start,
        r.actual_start,
        r.planned_ms,
        r.kind,
        r.media_id,
        r.entry_id,
        r.title,
        r.artist,
        r.outcome,
        r.first_seq,
        r.last_seq,
        r.id,
    )


class AsRunLog:
    def __init__(self, db: Database, channel: str) -> None:
        self.db = db
        self.channel = channel

    def write(self, b: Boundary) -> None:
        """One row per item as it starts. When the schedule resumes after a presenter, the
        live row gets its length instead (the resumed item already has its row).

        A line that joins an item under way (`joined`: a restart, a standby taking over)
        writes its row at the instant it joined, and the row an earlier line wrote for the
        same item, claiming it played, becomes `cut-short`: that line stopped (it was killed,
        or lost the lead) before the item's end. Between the two rows' actual starts is the
        gap: what the listener missed, never claimed as aired."""
        if b.resumed:
            self._end_live(b.actual_ms)
            return
        from sqlalchemy import update

        from playout.asrun_rows import AsRunRow

        item = b.item
        cut = item.cut and b.outcome == Outcome.PLAYED
        outcome = Outcome.CUT_SHORT if cut else b.outcome
        if cut and item.action == "skip":
            outcome = Outcome.SKIPPED_BY_OPERATOR
        with self.db.session() as s:
            if b.amended:  # the row written when it began now says how it ended
                s.execute(
                    update(AsRunRow)
                    .where(
                        AsRunRow.channel == self.channel,
                        AsRunRow.planned_start == from_ms(item.start_ms),
                        AsRunRow.media_id == item.media_id
                        if item.media_id is not None
                        else AsRunRow.media_id.is_(None),
                        AsRunRow.outcome.in_(AIRED),
                    )
                    .values(outcome=outcome, planned_ms=item.length_ms)
                )
                return
            if b.joined:
                s.execute(
                    update(AsRunRow)
                    .where(
                        AsRunRow.channel == self.channel,
                        AsRunRow.planned_start == from_ms(item.start_ms),
                        AsRunRow.actual_start < from_ms(b.actual_ms),
                        AsRunRow.media_id == item.media_id
                        if item.media_id is not None
                        else AsRunRow.media_id.is_(None),
                        AsRunRow.outcome == Outcome.PLAYED,
                    )
                    .values(outcome=Outcome.CUT_SHORT)
                )
            s.add(
                AsRunRow(
                    channel=self.channel,
                    planned_start=from_ms(item.start_ms),
                    actual_start=from_ms(b.actual_ms),
                    planned_ms=item.length_ms,
                    kind=item.kind,
                    media_id=item.media_id,
                    entry_id=item.entry_id,
                    title=item.title,
                    artist=item.artist,
                    outcome=outcome,
                    first_seq=b.segments[0] if b.segments else None,
                    last_seq=b.segments[1] if b.segments else None,
                )
            )

    def _end_live(self, end_ms: int) -> None:
        from sqlalchemy import select

        from playout.asrun_rows import AsRunRow

        q = (
            select(AsRunRow)
            .where(AsRunRow.channel == self.channel, AsRunRow.kind == "live")
            .order_by(AsRunRow.id.desc())
            .limit(1)
        )
        with self.db.session() as s:
            row = s.scalars(q).first()
            if row is not None:
                row.planned_ms = max(0, end_ms - to_ms(row.actual_start))

    async def hook(self, b: Boundary) -> None:
        """For the engine: written off the event loop, so the air never waits on a disk."""
        await asyncio.to_thread(self.write, b)

    def recent(self, limit: int = 20) -> list[AsRun]:
        from sqlalchemy import select

        from playout.asrun_rows import AsRunRow

        q = (
            select(AsRunRow)
            .where(AsRunRow.channel == self.channel)
            .order_by(AsRunRow.actual_start.desc(), AsRunRow.id.desc())
            .limit(limit)
        )
        with self.db.session() as s:
            return [as_run(r) for r in s.scalars(q)]


@dataclass(frozen=True, slots=True)
class AsRunFilter:
    """Which rows of the log: a channel's, begun in [start, end), of one outcome; None is any."""

    channel: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    outcome: Outcome | None = None


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def instant_key(t: datetime) -> int:
    """An instant as whole microseconds since the epoch: exact, so a page ends on it."""
    return (t - EPOCH) // MICROSECOND


class AsRunReader:
    """The as-run log read across channels, in the order things aired (actual start, then
    the row's id), a page at a time by that key: for the editors' as-run report."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def page(
        self, which: AsRunFilter, limit: int, after: tuple[int, int] | None = None
    ) -> Page[AsRun]:
        """Up to `limit` rows after the key `after` (instant_key of the actual start, id)."""
        from sqlalchemy import and_, or_, select

        from playout.asrun_rows import AsRunRow
        from station.db import Page

        q = select(AsRunRow).order_by(AsRunRow.actual_start, AsRunRow.id).limit(limit + 1)
        if which.channel is not None:
            q = q.where(AsRunRow.channel == which.channel)
        if which.start is not None:
            q = q.where(AsRunRow.actual_start >= which.start)
        if which.end is not None:
            q = q.where(AsRunRow.actual_start < which.end)
        if which.outcome is not None:
            q = q.where(AsRunRow.outcome == which.outcome)
        if after is not None:
            at = EPOCH + after[0] * MICROSECOND
            q = q.where(
                or_(
                    AsRunRow.actual_start > at,
                    and_(AsRunRow.actual_start == at, AsRunRow.id > after[1]),
                )
            )
        with self.db.session() as s:
            rows = [as_run(r) for r in s.scalars(q)]
        more = len(rows) > limit
        last = rows[limit - 1] if more else None
        key = (instant_key(last.actual_start), last.id or 0) if last else None
        return Page(rows[:limit], key)

    def every(self, which: AsRunFilter, after: tuple[int, int] | None = None) -> Iterator[AsRun]:
        """Every row from `after` on, read a page at a time (an export of any length)."""
        while True:
            page = self.page(which, EXPORT_BATCH, after)
            yield from page.items
            if page.next_key is None:
                return
            after = (page.next_key[0], page.next_key[1])


EXPORT_BATCH = 1000
