"""The rollups: closed sessions added up by hour and cell (audience/facts.py), kept in three
tables the reports read instead of a month of raw sessions.

A closed session never changes again, so each is added once: the batch's sessions are marked
`rolled` and their facts added in one transaction, and the marking counts — a batch another
process marked first is given up whole (rolled back) and read again. A restart in the middle
loses nothing and counts nothing twice. What is not yet rolled up (open sessions, the last
minutes' closed ones) the reports read raw, through the same `facts_of`."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from audience.attribution import Airings, Meaning, split
from audience.facts import Facts, Listened
from audience.ledger import Surface
from audience.models import (
    DAY_VISITOR_CELL,
    HOUR_CELL,
    DayVisitorRow,
    HourRow,
    MinuteRow,
    SessionRow,
)
from station.db import Database, affected

log = logging.getLogger(__name__)
T = TypeVar("T")

BATCH = 5000
ON_AIR = (Surface.RELAY, Surface.ICECAST, Surface.RADIO_HLS, Surface.TV_HLS)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
COLUMNS = (
    SessionRow.id,
    SessionRow.surface,
    SessionRow.channel,
    SessionRow.episode_id,
    SessionRow.started_at,
    SessionRow.seconds,
    SessionRow.visitor,
    SessionRow.country,
    SessionRow.player,
    SessionRow.device,
    SessionRow.os,
)
# Sessions longer than this are not looked for before a period when reading raw sessions.
LONGEST = timedelta(days=2)


def epoch_s(t: datetime) -> int:
    return int((t - EPOCH).total_seconds() // 1)


def listened(r: Any) -> Listened:
    return Listened(
        r[0],
        r[1],
        r[2] or "",
        r[3],
        epoch_s(r[4]),
        max(r[5], 0),
        r[6],
        r[7],
        r[8],
        r[9],
        r[10],
    )


class Rollups:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.airings = Airings(db)

    # --- facts, from raw sessions ----------------------------------------------------------

    def facts_of(self, sessions: Sequence[Listened], facts: Facts | None = None) -> Facts:
        """The sessions' facts, with what aired on their channels."""
        facts = facts or Facts()
        spans: dict[str, tuple[int, int]] = {}
        for s in sessions:
            if s.surface in ON_AIR and s.channel:
                lo, hi = spans.get(s.channel, (s.start_s, s.start_s + s.seconds))
                spans[s.channel] = (min(lo, s.start_s), max(hi, s.start_s + s.seconds + 1))
        items = {
            c: self.airings.items(c, EPOCH + timedelta(seconds=lo), EPOCH + timedelta(seconds=hi))
            for c, (lo, hi) in spans.items()
        }
        starts = {c: [i.start_s for i in aired] for c, aired in items.items()}
        programme_of = self.airings.programme_of_episodes(
            s.episode_id for s in sessions if s.episode_id is not None
        )
        for s in sessions:
            on = s.surface in ON_AIR and s.channel in items
            aired = items[s.channel] if on else []
            own = Meaning(
                programme_of.get(s.episode_id) if s.episode_id is not None else None,
                s.episode_id,
            )
            parts = split(s.start_s, s.start_s + s.seconds, aired, starts[s.channel] if on else [])
            facts.add(s, parts, own)
        return facts

    def unrolled(self, before: datetime) -> list[Listened]:
        """Sessions begun before `before` and not yet rolled up: open ones and the newest."""
        q = select(*COLUMNS).where(SessionRow.rolled.is_(False), SessionRow.started_at < before)
        with self.db.session() as s:
            return [listened(r) for r in s.execute(q)]

    def raw(self, start: datetime, end: datetime) -> list[Listened]:
        """Every session that may have been going on in [start, end), rolled up or not."""
        q = select(*COLUMNS).where(
            SessionRow.started_at < end,
            SessionRow.started_at >= start - LONGEST,
            SessionRow.last_seen_at >= start - LONGEST,
        )
        with self.db.session() as s:
            return [listened(r) for r in s.execute(q)]

    # --- rolling up ------------------------------------------------------------------------

    def roll_up(self, batch: int = BATCH) -> int:
        """Add every closed session not yet added; how many were. Safe to run anywhere, any
        number of times, beside other processes doing the same."""
        done = 0
        while True:
            q = (
                select(*COLUMNS)
                .where(SessionRow.rolled.is_(False), SessionRow.ended_at.is_not(None))
                .order_by(SessionRow.id)
                .limit(batch)
            )
            with self.db.session() as s:
                sessions = [listened(r) for r in s.execute(q)]
            if not sessions:
                return done
            facts = self.facts_of(sessions)
            if self._add(sessions, facts):
                done += len(sessions)
            else:
                log.info("audience rollup batch taken by another process; reading again")

    def _add(self, sessions: Sequence[Listened], facts: Facts) -> bool:
        ids = [s.id for s in sessions]
        with self.db.session() as s:
            marked = 0
            for chunk in chunks(ids, 900):
                marked += affected(
                    s.execute(
                        update(SessionRow)
                        .where(SessionRow.id.in_(chunk), SessionRow.rolled.is_(False))
                        .values(rolled=True)
                        .execution_options(synchronize_session=False)
                    )
                )
            if marked != len(ids):
                s.rollback()
                return False
            self._upsert(s, facts)
        return True

    def _upsert(self, s: Session, facts: Facts) -> None:
        insert = postgresql.insert if self.db.is_postgresql else sqlite.insert
        hours = [
            {
                "hour": EPOCH + timedelta(seconds=k[0]),
                "surface": k[1],
                "channel": k[2],
                "country": k[3],
                "player": k[4],
                "device": k[5],
                "os": k[6],
                "programme_id": k[7],
                "episode_id": k[8],
                "sessions": v[0],
                "joined": v[1],
                "seconds": v[2],
                "on_at_start": v[3],
            }
            for k, v in facts.hours.items()
        ]
        if hours:
            h = insert(cast(Table, HourRow.__table__))
            t = HourRow.__table__.c
            s.execute(
                h.on_conflict_do_update(
                    index_elements=HOUR_CELL,
                    set_={
                        name: t[name] + h.excluded[name]
                        for name in ("sessions", "joined", "seconds", "on_at_start")
                    },
                ),
                hours,
            )
        visitors = [
            {
                "day": date.fromordinal(EPOCH_ORDINAL + k[0]),
                "visitor": k[1],
                "surface": k[2],
                "channel": k[3],
                "programme_id": k[4],
                "episode_id": k[5],
                "country": w.country,
                "player": w.player,
                "device": w.device,
                "os": w.os,
                "hours": w.hours,
            }
            for k, w in facts.visitors.items()
        ]
        if visitors:
            v = insert(cast(Table, DayVisitorRow.__table__))
            t = DayVisitorRow.__table__.c
            s.execute(
                v.on_conflict_do_update(
                    index_elements=DAY_VISITOR_CELL,
                    set_={"hours": t.hours.op("|")(v.excluded.hours)},
                ),
                visitors,
            )
        minutes = [
            {
                "mark": k[0],
                "surface": k[1],
                "channel": k[2],
                "delta": d,
            }
            for k, d in facts.minutes.items()
            if d
        ]
        if minutes:
            m = insert(cast(Table, MinuteRow.__table__))
            t = MinuteRow.__table__.c
            s.execute(
                m.on_conflict_do_update(
                    index_elements=["mark", "surface", "channel"],
                    set_={"delta": t.delta + m.excluded.delta},
                ),
                minutes,
            )

    def forget_before(self, day: date) -> int:
        """Delete the visitors of days before `day` (the retention of sessions); the hours'
        and minutes' sums, which name nobody, stay."""
        with self.db.session() as s:
            return affected(s.execute(delete(DayVisitorRow).where(DayVisitorRow.day < day)))


EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def chunks(ids: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]
