"""The audience ledger: every surface's sessions in one table.

A surface reports a session as it begins (`open`), while it goes on (`progress`, at least every
HEARTBEAT_S, so that a process that dies mid-session leaves a row that says how far it got) and
as it ends (`close`); a session known only once it is over (a download) is `record`ed whole.
Each report names the session by its source's own key, so a report given twice — after a
restart, or by two processes — changes one row, never adds one. The address is used once, on
arrival, for the visitor hash and the country, and is not kept.

`close_abandoned` ends the sessions of a process that died without ending them, at the last
moment each was known to be going on."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Table, and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from audience.models import SessionRow
from audience.places import Countries
from audience.players import player_of
from audience.visitors import DayKeys, visitor_hash
from station.db import Database, affected

log = logging.getLogger(__name__)

HEARTBEAT_S = 60  # an open session's row is brought up to date at least this often
ABANDONED_AFTER_S = 3 * HEARTBEAT_S  # not heard of for this long: its process has died
SILENT_ABANDONED_AFTER_S = 7 * 86_400  # icecast2's listeners, which have no heartbeat
BULK_ROWS = 500


class Surface(StrEnum):
    RELAY = "relay"  # the built-in relay's Icecast listeners
    ICECAST = "icecast"  # icecast2's listeners (its listener_add / listener_remove hooks)
    RADIO_HLS = "radio-hls"
    TV_HLS = "tv-hls"
    PODCAST = "podcast"  # downloads of an episode's enclosure, counted IAB-style
    VOD = "vod"  # an on-demand episode played in a player


@dataclass(frozen=True, slots=True)
class Arrival:
    """What is known of a session as it begins."""

    source_key: str
    surface: Surface
    at: datetime
    address: str  # used for the visitor hash and the country, then dropped
    user_agent: str
    channel: str | None = None
    mount: str = ""
    episode_id: int | None = None


class Ledger:
    """One per process; thread-safe (each call is its own unit of work)."""

    def __init__(self, db: Database, countries: Countries | None = None) -> None:
        self.db = db
        self.days = DayKeys(db)
        self.countries = countries or Countries()

    def _values(self, a: Arrival) -> dict[str, Any]:
        kind = player_of(a.user_agent)
        return {
            "source_key": a.source_key[:200],
            "surface": str(a.surface),
            "channel": a.channel,
            "mount": a.mount[:200],
            "episode_id": a.episode_id,
            "started_at": a.at,
            "last_seen_at": a.at,
            "ended_at": None,
            "seconds": 0,
            "bytes": 0,
            "visitor": visitor_hash(self.days.key(a.at.date()), a.address, a.user_agent),
            "country": self.countries.country(a.address),
            "player": kind.player,
            "device": kind.device,
            "os": kind.os,
            "rolled": False,
        }

    def _row(self, a: Arrival) -> SessionRow:
        return SessionRow(**self._values(a))

    def open(self, a: Arrival) -> bool:
        """A session begins; False when it was already in the ledger (reported again)."""
        row = self._row(a)
        try:
            with self.db.session() as s:
                s.add(row)
        except IntegrityError:
            return False
        return True

    def progress(self, source_key: str, at: datetime, seconds: int, nbytes: int = 0) -> bool:
        """An open session goes on: `seconds` and `nbytes` so far (never fewer than known)."""
        return self.progress_many([(source_key, at, seconds, nbytes)]) == 1

    def progress_many(self, reports: Sequence[tuple[str, datetime, int, int]]) -> int:
        """Many open sessions go on (a relay's heartbeat: every listener at once), in one
        transaction; (key, at, seconds, bytes) each. How many were open."""
        found = 0
        with self.db.session() as s:
            for source_key, at, seconds, nbytes in reports:
                row = s.execute(
                    select(SessionRow).where(
                        SessionRow.source_key == source_key, SessionRow.ended_at.is_(None)
                    )
                ).scalar_one_or_none()
                if row is None:
                    continue
                row.last_seen_at = max(row.last_seen_at, at)
                row.seconds = max(row.seconds, seconds)
                row.bytes = max(row.bytes, nbytes)
                found += 1
        return found

    def close(
        self, source_key: str, at: datetime, seconds: int | None = None, nbytes: int = 0
    ) -> bool:
        """A session ends; `seconds` defaults to its length from start to `at`. False when no
        open session has that key (already closed, or never opened)."""
        with self.db.session() as s:
            row = s.execute(
                select(SessionRow).where(
                    SessionRow.source_key == source_key, SessionRow.ended_at.is_(None)
                )
            ).scalar_one_or_none()
            if row is None:
                return False
            length = round((at - row.started_at).total_seconds())
            row.ended_at = max(at, row.started_at)
            row.last_seen_at = row.ended_at
            row.seconds = max(row.seconds, length if seconds is None else seconds, 0)
            row.bytes = max(row.bytes, nbytes)
        return True

    def visitor(self, at: datetime, address: str, user_agent: str) -> str:
        """The visitor hash of `address` and `user_agent` on `at`'s day."""
        return visitor_hash(self.days.key(at.date()), address, user_agent)

    def find_open(
        self,
        surface: Surface,
        channel: str | None,
        visitor: str,
        at: datetime,
        within_s: int,
        *,
        mount: str | None = None,
    ) -> tuple[str, int] | None:
        """The open session of this visitor on this surface and channel (and mount, when
        given) last seen within `within_s` of `at` (a player that goes on after the process
        that counted it restarted): its key and seconds so far; None when there is none."""
        place = [SessionRow.channel == channel if channel else SessionRow.channel.is_(None)]
        if mount is not None:
            place.append(SessionRow.mount == mount)
        with self.db.session() as s:
            found = s.execute(
                select(SessionRow.source_key, SessionRow.seconds)
                .where(
                    SessionRow.surface == str(surface),
                    *place,
                    SessionRow.visitor == visitor,
                    SessionRow.ended_at.is_(None),
                    SessionRow.last_seen_at >= at - timedelta(seconds=within_s),
                )
                .order_by(SessionRow.last_seen_at.desc())
                .limit(1)
            ).first()
        return None if found is None else (found[0], found[1])

    def settle(self, source_key: str, at: datetime, seconds: int) -> bool:
        """A session ends at `at` after `seconds` its source measured itself (icecast2's
        duration): closed if open, and put right if it had been ended early as abandoned
        (its source said nothing while it went on). False when no such session is known."""
        if self.close(source_key, at, seconds):
            return True
        with self.db.session() as s:
            row = s.execute(
                select(SessionRow).where(SessionRow.source_key == source_key)
            ).scalar_one_or_none()
            if row is None:
                return False
            if seconds > row.seconds:
                row.seconds = seconds
                row.ended_at = row.last_seen_at = max(at, row.started_at)
        return True

    def record(self, a: Arrival, ended_at: datetime, seconds: int, nbytes: int = 0) -> bool:
        """A whole session at once (a download, known once delivered)."""
        row = self._row(a)
        row.ended_at = row.last_seen_at = ended_at
        row.seconds, row.bytes = seconds, nbytes
        try:
            with self.db.session() as s:
                s.add(row)
        except IntegrityError:
            return False
        return True

    def record_many(self, whole: Sequence[tuple[Arrival, datetime, int, int]]) -> int:
        """Whole sessions at once (arrival, ended_at, seconds, bytes): a log read after the
        fact, an import. One transaction; a session already in the ledger is left as it is.
        How many were new."""
        rows = [
            self._values(a)
            | {"ended_at": ended_at, "last_seen_at": ended_at, "seconds": seconds, "bytes": nbytes}
            for a, ended_at, seconds, nbytes in whole
        ]
        insert = postgresql.insert if self.db.is_postgresql else sqlite.insert
        table = cast(Table, SessionRow.__table__)
        stmt = insert(table).on_conflict_do_nothing(index_elements=["source_key"])
        keys = [r["source_key"] for r in rows]
        known = 0
        with self.db.session() as s:
            for i in range(0, len(rows), BULK_ROWS):
                known += s.execute(
                    select(func.count()).where(SessionRow.source_key.in_(keys[i : i + BULK_ROWS]))
                ).scalar_one()
            if rows:
                s.execute(stmt, rows)
        return len(set(keys)) - int(known)

    def close_abandoned(
        self,
        now: datetime,
        after_s: int = ABANDONED_AFTER_S,
        silent_after_s: int = SILENT_ABANDONED_AFTER_S,
    ) -> int:
        """End the sessions nobody has reported on for `after_s`: their process died. Each
        ends at the last moment it was known to be going on, with what it had delivered.
        icecast2 says nothing between a listener's arrival and departure, so its sessions are
        given up only after `silent_after_s` (icecast2 itself stopped without saying who left);
        until then its `listener_remove` ends them with their true length."""
        cutoff = now - timedelta(seconds=after_s)
        silent_cutoff = now - timedelta(seconds=silent_after_s)
        with self.db.session() as s:
            n = affected(
                s.execute(
                    update(SessionRow)
                    .where(
                        SessionRow.ended_at.is_(None),
                        or_(
                            and_(
                                SessionRow.surface != Surface.ICECAST.value,
                                SessionRow.last_seen_at < cutoff,
                            ),
                            SessionRow.last_seen_at < silent_cutoff,
                        ),
                    )
                    .values(ended_at=SessionRow.last_seen_at)
                )
            )
        if n:
            log.warning(
                "audience sessions ended for their process stopped reporting them",
                extra={"sessions": n},
            )
        return n

    def purge(self, before: datetime) -> int:
        """Forget sessions that ended before `before` (the retention setting)."""
        with self.db.session() as s:
            return affected(s.execute(delete(SessionRow).where(SessionRow.ended_at < before)))
