"""Editing the schedule: create, change and delete channels, programmes, episodes, playlists,
clocks and schedule entries, with versions (ETags), an audit log, conflict detection and a
frozen past.

The past is frozen: an entry that has aired (or airs within the channel's freeze horizon)
is never rewritten. Editing a recurring entry splits it: the old rule stays, retired, for
everything before the moment the edit takes effect; the entry goes on with the new rule
after it. A one-off that has aired or is about to cannot be changed at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from media.models import READY, MediaItem, MediaRow
from schedules.cache import Memo
from schedules.errors import (
    Frozen,
    InUse,
    MediaInUse,
    MediaNotAirable,
    MediaNotReady,
    NothingOnAir,
    NotOnTv,
    ScheduleConflict,
    ScheduleError,
)
from schedules.guide import GuideBlock, GuideNames, build_guide, load_names
from schedules.models import (
    ActionRow,
    AuditRow,
    ChannelRow,
    ClockRow,
    EntryRow,
    EpisodeRow,
    PlaylistRow,
    ProgrammeRow,
)
from schedules.plan import ActionKind, ChannelSpec, TimelineItem, from_ms, to_ms
from schedules.recurrence import RecurrenceError, check_rrule, local_to_ms, occurrence_starts
from schedules.snapshot import Snapshot, entry_spec, fingerprint, load
from schedules.timeline import resolve, resolve_day
from station.clock import Clock
from station.db import Database, Page
from station.errors import NotFound, StaleVersion

DAYS_KEPT = 32  # resolved channel-days kept in memory (a busy radio day: about 2 MB)
# An operator's action takes effect this long after it is given: long enough for every
# playout (the leader and the standby) to read it before its instant (the radio engine reads
# the timeline every second), short enough to be "now" for the operator.
ACTION_LEAD_MS = 3000

ROWS: dict[str, type[Any]] = {
    "channel": ChannelRow,
    "programme": ProgrammeRow,
    "episode": EpisodeRow,
    "playlist": PlaylistRow,
    "clock": ClockRow,
    "entry": EntryRow,
}
FIXED = {
    "id",
    "version",
    "created_at",
    "updated_at",
    "retired",
    "revision_of",
    "effective_from",
    "effective_until",
}
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
CONFLICT_WINDOW = timedelta(days=400)
BUSY_WINDOW, BUSY_STARTS = timedelta(days=7), 2000
# Changes to these fields change what airs; others (titles) are only words in the guide.
ENTRY_TIMING = {
    "target_type",
    "target_id",
    "episode_id",
    "start_local",
    "rrule",
    "exdates",
    "duration_ms",
    "hard",
    "channel_id",
}


@dataclass(frozen=True, slots=True)
class Record:
    """A stored resource as plain data: its columns, and its version for ETags."""

    kind: str
    id: int
    version: int
    data: Mapping[str, Any]

    @property
    def etag(self) -> str:
        return f'"{self.kind[0]}{self.id}v{self.version}"'


@dataclass(frozen=True, slots=True)
class OnAirAction:
    """An operator's action as stored: which, on which channel, when it takes effect, by whom."""

    id: int
    channel: str
    kind: str
    at: datetime
    media_id: int | None
    actor: str


def columns(row: Any) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in sa_inspect(row).mapper.column_attrs}


def jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in values.items():
        out[k] = v.isoformat() if isinstance(v, datetime | date) else v
    return out


def with_defaults(model: type[Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """Column defaults filled in now, so a row is whole before it is checked, not at insert."""
    out = dict(values)
    for col in model.__table__.columns:
        d = col.default
        if col.key in out or d is None or col.primary_key or col.key in FIXED:
            continue
        out[col.key] = d.arg(None) if d.is_callable else d.arg
    return out


def record(kind: str, row: Any) -> Record:
    return Record(kind, row.id, row.version, columns(row))


class Schedules:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._snapshots: Memo[Snapshot] = Memo(8)
        self._days: Memo[list[TimelineItem]] = Memo(DAYS_KEPT)
        self._names: Memo[GuideNames] = Memo(8)

    # --- reading ------------------------------------------------------------------------

    def get(self, kind: str, rid: int) -> Record:
        with self.db.session() as s:
            return record(kind, self._row(s, kind, rid))

    def channel(self, slug: str) -> Record:
        with self.db.session() as s:
            row = s.scalars(select(ChannelRow).where(ChannelRow.slug == slug)).first()
            if row is None:
                raise NotFound(f"there is no channel {slug!r}")
            return record("channel", row)

    def programme_by_slug(self, slug: str) -> Record:
        with self.db.session() as s:
            row = s.scalars(select(ProgrammeRow).where(ProgrammeRow.slug == slug)).first()
            if row is None:
                raise NotFound(f"there is no programme {slug!r}")
            return record("programme", row)

    def find(self, kind: str, **where: Any) -> list[Record]:
        model = ROWS[kind]
        q = select(model).order_by(model.id)
        for k, v in where.items():
            if v is not None:
                q = q.where(getattr(model, k) == v)
        if kind == "entry":
            q = q.where(EntryRow.retired.is_(False))
        with self.db.session() as s:
            return [record(kind, r) for r in s.scalars(q)]

    def version(self) -> tuple[Any, ...]:
        """Changes whenever anything a timeline or a guide is made from changes."""
        return fingerprint(self.db)

    def channel_spec(self, slug: str, version: tuple[Any, ...] | None = None) -> ChannelSpec:
        """The channel's settings as a frozen value, read again only when the schedule
        changes (one fingerprint query otherwise)."""
        version = version or self.version()
        return self._snapshots.get((slug, version), lambda: load(self.db, slug)).channel

    def timeline(
        self, slug: str, start: datetime, end: datetime, version: tuple[Any, ...] | None = None
    ) -> list[TimelineItem]:
        """What is on air over [start, end), from days kept while the schedule and the
        catalogue are unchanged (`schedules.cache`; `version` if the caller has just read it)."""
        version = version or self.version()
        snap = self._snapshots.get((slug, version), lambda: load(self.db, slug))

        def day_run(midnight_ms: int) -> list[TimelineItem]:
            return self._days.get(
                (slug, version, midnight_ms),
                lambda: resolve_day(
                    snap.channel, snap.entries, snap.catalogue, midnight_ms, snap.actions
                ),
            )

        return resolve(
            snap.channel, snap.entries, snap.catalogue, start, end, day_run, snap.actions
        )

    def guide(self, slug: str, start: datetime, end: datetime) -> list[GuideBlock]:
        version = self.version()
        items = self.timeline(slug, start, end, version)
        names = self._names.get((slug, version), lambda: load_names(self.db, slug))
        return build_guide(items, names)

    def audit(
        self, resource: str | None = None, limit: int = 100, before_id: int | None = None
    ) -> Page[dict[str, Any]]:
        """The audit log, the latest first, a page at a time (by id)."""
        q = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit + 1)
        if resource:
            q = q.where(AuditRow.resource == resource)
        if before_id is not None:
            q = q.where(AuditRow.id < before_id)
        with self.db.session() as s:
            rows = [columns(r) for r in s.scalars(q)]
        more = len(rows) > limit
        return Page(rows[:limit], (rows[limit - 1]["id"],) if more else None)

    # --- writing ------------------------------------------------------------------------

    def act(
        self, slug: str, kind: ActionKind, actor: str, media_id: int | None = None
    ) -> OnAirAction:
        """An operator's order for the air, ACTION_LEAD_MS from now: skip the item on air,
        or play media now. It bypasses the freeze horizon (it is the way to change the
        present) but is never placed in the past: its instant is the station's clock plus
        the lead, whatever the caller says. Written with its audit row in one transaction."""
        now = self.clock.now()
        at = from_ms(to_ms(now) + ACTION_LEAD_MS)
        with self.db.session() as s:
            ch = s.scalars(select(ChannelRow).where(ChannelRow.slug == slug)).first()
            if ch is None:
                raise NotFound(f"there is no channel {slug!r}")
            if ch.kind != "radio":
                raise NotOnTv(
                    f"{slug} is a TV channel: skip and play-now are for radio channels until the "
                    "TV sequencer follows them (it would only obey from its next item)"
                )
            if kind == "play-now":
                self._airable(s, ch, media_id)
            else:
                media_id = None
                on = [
                    i
                    for i in self.timeline(slug, at, at + timedelta(milliseconds=1))
                    if i.media_id is not None
                ]
                if not on:
                    raise NothingOnAir(f"nothing is on air on {slug} to skip (a gap's slate)")
            row = ActionRow(
                channel_id=ch.id,
                kind=kind,
                at=at,
                media_id=media_id,
                actor=actor,
                version=1,
                created_at=now,
                updated_at=now,
            )
            s.add(row)
            s.flush()
            after = {"channel": slug, "kind": kind, "at": at, "media_id": media_id}
            self._audit(s, actor, kind, "action", row.id, None, after)
            return OnAirAction(row.id, slug, kind, at, media_id, actor)

    def _airable(self, s: Session, ch: ChannelRow, media_id: int | None) -> None:
        m = s.get(MediaRow, media_id) if media_id is not None else None
        if m is None:
            raise MediaNotAirable(f"there is no media {media_id}")
        if m.status != READY:
            raise MediaNotReady(f"media {m.id} is {m.status}: it airs once its analysis is done")
        video = m.video_codec is not None
        if ch.kind == "tv" and not video:
            raise MediaNotAirable(f"media {m.id} has no picture: a TV channel airs video")
        if ch.kind == "radio" and (video or m.audio_codec is None):
            raise MediaNotAirable(f"media {m.id} is not sound alone: a radio channel airs audio")

    def create(
        self, kind: str, values: Mapping[str, Any], actor: str, *, dry_run: bool = False
    ) -> Record:
        """The new record. With `dry_run`, every check is made and the record is as it would
        be written (its id is the one it would have had, not reserved), but nothing is kept:
        neither the row nor its audit entry."""
        model = ROWS[kind]
        self._only_editable(kind, values)
        now = self.clock.now()
        with self._writing(dry_run) as s:
            row = model(**with_defaults(model, values), version=1, created_at=now, updated_at=now)
            self._check(s, kind, row)
            if kind == "entry":
                self._admit_new_entry(s, row)
            s.add(row)
            s.flush()
            self._audit(s, actor, "create", kind, row.id, None, columns(row))
            return record(kind, row)

    def update(
        self,
        kind: str,
        rid: int,
        expected: int,
        changes: Mapping[str, Any],
        actor: str,
        *,
        dry_run: bool = False,
    ) -> Record:
        """The changed record; with `dry_run`, as it would be, nothing kept (see `create`)."""
        self._only_editable(kind, changes)
        with self._writing(dry_run) as s:
            row = self._row(s, kind, rid, lock=True)
            self._expect(kind, row, expected)
            before = columns(row)
            for k, v in changes.items():
                setattr(row, k, v)
            self._check(s, kind, row)
            if kind == "entry" and ENTRY_TIMING & {k for k in changes if changes[k] != before[k]}:
                self._admit_entry_change(s, row, before, actor)
            row.version += 1
            row.updated_at = self.clock.now()
            s.flush()
            self._audit(s, actor, "update", kind, row.id, before, columns(row))
            return record(kind, row)

    @contextmanager
    def _writing(self, dry_run: bool) -> Iterator[Session]:
        """One transaction for a write. A dry run is the same write, every check and flush
        included (so it cannot answer otherwise than the real one would), rolled back at the
        end instead of committed."""
        with self.db.session() as s:
            yield s
            if dry_run:
                s.rollback()

    def delete(self, kind: str, rid: int, expected: int, actor: str) -> None:
        with self.db.session() as s:
            row = self._row(s, kind, rid, lock=True)
            self._expect(kind, row, expected)
            before = columns(row)
            if kind == "entry" and self._has_aired(s, row):
                # Keep it for the past: it ends where the freeze horizon begins.
                cutoff = self._cutoff(s, row.channel_id)
                self._refuse_if_airing(s, row, cutoff)
                row.effective_until = cutoff
                row.retired = True
                row.version += 1
                row.updated_at = self.clock.now()
                self._audit(s, actor, "delete", kind, rid, before, columns(row))
                return
            self._refuse_if_used(s, kind, row)
            s.delete(row)
            self._audit(s, actor, "delete", kind, rid, before, None)

    def delete_media(self, media_id: int, actor: str) -> MediaItem:
        """Delete a media item's row, audited, unless the schedule, a playlist, a clock, an
        episode, a programme or a channel still uses it (`MediaInUse` names which). Returns
        what it was, so that its stored files can be removed once the row is gone."""
        with self.db.session() as s:
            q = select(MediaRow).where(MediaRow.id == media_id)
            if not self.db.is_sqlite:
                q = q.with_for_update()
            row = s.scalars(q.options(selectinload(MediaRow.subtitles))).first()
            if row is None:
                raise NotFound(f"there is no media item {media_id}")
            used_by = media_uses(s, media_id)
            if used_by:
                named = "; ".join(
                    f"{what} {', '.join(map(str, ids))}" for what, ids in used_by.items()
                )
                raise MediaInUse(f"media item {media_id} is still used by {named}", used_by)
            item = MediaItem.of(row)
            before = columns(row)
            s.delete(row)
            self._audit(s, actor, "delete", "media", media_id, before, None)
        return item

    # --- the rules ----------------------------------------------------------------------

    def _row(self, s: Session, kind: str, rid: int, *, lock: bool = False) -> Any:
        model = ROWS[kind]
        q = select(model).where(model.id == rid)
        if lock and not self.db.is_sqlite:
            q = q.with_for_update()
        row = s.scalars(q).first()
        if row is None or (kind == "entry" and row.retired):
            raise NotFound(f"there is no {kind} {rid}")
        return row

    def _expect(self, kind: str, row: Any, expected: int) -> None:
        if row.version != expected:
            raise StaleVersion(
                f"{kind} {row.id} changed since you read it (now version {row.version})"
            )

    def _only_editable(self, kind: str, values: Mapping[str, Any]) -> None:
        bad = set(values) & FIXED
        if bad:
            raise ScheduleError(f"these fields are set by the station: {', '.join(sorted(bad))}")

    def _audit(
        self,
        s: Session,
        actor: str,
        action: str,
        kind: str,
        rid: int,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
    ) -> None:
        s.add(
            AuditRow(
                at=self.clock.now(),
                actor=actor,
                action=action,
                resource=kind,
                resource_id=rid,
                before=jsonable(before) if before else None,
                after=jsonable(after) if after else None,
            )
        )

    def _exists(self, s: Session, model: type[Any], rid: int | None, what: str) -> None:
        if rid is not None and s.get(model, rid) is None:
            raise ScheduleError(f"there is no {what} {rid}")

    def _check(self, s: Session, kind: str, row: Any) -> None:
        """Validate a row about to be written; every message names what is wrong. Nothing is
        flushed meanwhile: an edited row naming something that is not there would reach the
        database (and its foreign keys) before the check that names it."""
        with s.no_autoflush:
            self._check_row(s, kind, row)

    def _check_row(self, s: Session, kind: str, row: Any) -> None:
        if kind == "channel":
            if not SLUG.match(row.slug or ""):
                raise ScheduleError("a channel slug is lower-case letters, digits and dashes")
            if row.kind not in ("radio", "tv"):
                raise ScheduleError("a channel is of kind radio or tv")
            try:
                ZoneInfo(row.timezone)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ScheduleError(f"unknown time zone {row.timezone!r}") from exc
            self._exists(s, PlaylistRow, row.filler_playlist_id, "playlist")
            self._exists(s, MediaRow, row.slate_media_id, "media item")
            self._unique(s, ChannelRow, "slug", row)
        elif kind == "programme":
            if not SLUG.match(row.slug or ""):
                raise ScheduleError("a programme slug is lower-case letters, digits and dashes")
            if not (row.titles or {}).get("az"):
                raise ScheduleError("a programme needs at least its Azerbaijani title (az)")
            self._exists(s, MediaRow, row.artwork_media_id, "media item")
            self._unique(s, ProgrammeRow, "slug", row)
        elif kind == "episode":
            self._exists(s, ProgrammeRow, row.programme_id, "programme")
            self._exists(s, MediaRow, row.media_id, "media item")
            start, until = row.available_from, row.available_until
            if start is not None and until is not None and until <= start:
                raise ScheduleError("available_until must be after available_from")
        elif kind == "playlist":
            for mid in row.media_ids or []:
                self._exists(s, MediaRow, mid, "media item")
            if row.artist_separation_s < 0 or row.track_separation_s < 0:
                raise ScheduleError("separation windows cannot be negative")
        elif kind == "clock":
            self._check_clock(s, row)
        elif kind == "entry":
            self._check_entry(s, row)

    def _unique(self, s: Session, model: type[Any], field: str, row: Any) -> None:
        with s.no_autoflush:  # an edited row is not written before it is checked
            q = select(model).where(getattr(model, field) == getattr(row, field))
            other = s.scalars(q).first()
        if other is not None and other is not row:
            raise ScheduleError(f"the {field} {getattr(row, field)!r} is taken")

    def _check_clock(self, s: Session, row: ClockRow) -> None:
        if not row.slots:
            raise ScheduleError("a clock needs at least one slot")
        for slot in row.slots:
            at = slot.get("at_s")
            if not isinstance(at, int) or not 0 <= at < 3600:
                raise ScheduleError("a clock slot's at_s is a second within the hour (0-3599)")
            src = slot.get("source")
            if src not in ("media", "playlist"):
                raise ScheduleError("a clock slot plays a media item or a playlist")
            self._exists(s, MediaRow if src == "media" else PlaylistRow, slot.get("ref_id"), src)

    def _check_entry(self, s: Session, row: EntryRow) -> None:
        self._exists(s, ChannelRow, row.channel_id, "channel")
        target = {
            "programme": ProgrammeRow,
            "playlist": PlaylistRow,
            "clock": ClockRow,
            "media": MediaRow,
        }.get(row.target_type)
        if target is None:
            raise ScheduleError("an entry plays a programme, a playlist, a clock or a media item")
        self._exists(s, target, row.target_id, row.target_type)
        if row.episode_id is not None:
            ep = s.get(EpisodeRow, row.episode_id)
            if ep is None or row.target_type != "programme" or ep.programme_id != row.target_id:
                raise ScheduleError(f"episode {row.episode_id} is not of this programme")
        if row.duration_ms is not None and row.duration_ms <= 0:
            raise ScheduleError("a duration must be positive")
        if row.target_type == "clock" and row.duration_ms is None:
            raise ScheduleError("a clock entry needs a duration (e.g. 86400000 for a day)")
        if row.rrule:
            try:
                check_rrule(row.rrule, row.start_local)
            except RecurrenceError as exc:
                raise ScheduleError(str(exc)) from exc
        for x in row.exdates or []:
            try:
                datetime.fromisoformat(x)
            except (TypeError, ValueError) as exc:
                raise ScheduleError(f"exception date {x!r} is not a local date-time") from exc

    # entries: freeze and conflicts ----------------------------------------------------

    def _zone(self, s: Session, channel_id: int) -> ZoneInfo:
        ch = s.get(ChannelRow, channel_id)
        assert ch is not None
        return ZoneInfo(ch.timezone)

    def _cutoff(self, s: Session, channel_id: int) -> datetime:
        ch = s.get(ChannelRow, channel_id)
        assert ch is not None
        return self.clock.now() + timedelta(seconds=ch.freeze_horizon_s)

    def _first_start_ms(self, s: Session, row: EntryRow) -> int:
        """When the entry first airs: its first start, or, for a series that took effect
        part-way, the moment it took effect (it joins the occurrence in progress)."""
        tz = self._zone(s, row.channel_id)
        first = local_to_ms(row.start_local, tz)
        if row.effective_from is not None:
            return max(first, round(row.effective_from.timestamp() * 1000))
        return first

    def _has_aired(self, s: Session, row: EntryRow) -> bool:
        """Has an occurrence begun before the freeze horizon ends?"""
        cutoff_ms = round(self._cutoff(s, row.channel_id).timestamp() * 1000)
        return self._first_start_ms(s, row) < cutoff_ms

    def _refuse_if_airing(self, s: Session, row: EntryRow, cutoff: datetime) -> None:
        if row.rrule:
            return  # a series is split at the cutoff instead
        start = self._first_start_ms(s, row)
        length = self._length_ms(s, row)
        if start + length > round(self.clock.now().timestamp() * 1000):
            when = datetime.fromtimestamp(start / 1000, UTC).isoformat()
            raise Frozen(
                f"entry {row.id} starts at {when}, which has aired or is within the freeze "
                f"horizon; it can no longer be changed"
            )

    def _admit_new_entry(self, s: Session, row: EntryRow) -> None:
        cutoff = self._cutoff(s, row.channel_id)
        row.retired = False
        if self._first_start_ms(s, row) < round(cutoff.timestamp() * 1000):
            if not row.rrule:
                raise Frozen(
                    "a one-off entry must start after the freeze horizon "
                    f"({cutoff.isoformat()}); it cannot be put in the past"
                )
            row.effective_from = cutoff  # a series begun in the past starts from now on
        self._check_conflicts(s, row)

    def _admit_entry_change(
        self, s: Session, row: EntryRow, before: Mapping[str, Any], actor: str
    ) -> None:
        old = EntryRow(**{k: v for k, v in before.items() if k != "id"})
        if not self._has_aired(s, old):
            self._admit_new_entry(s, row)
            return
        if not before["rrule"]:
            self._refuse_if_airing(s, old, self._cutoff(s, row.channel_id))
            raise Frozen(f"entry {row.id} has aired; schedule a new entry instead")
        # Split the series: history keeps the old rule up to the cutoff.
        cutoff = self._cutoff(s, row.channel_id)
        old.effective_until = cutoff
        old.retired = True
        old.revision_of = row.id
        s.add(old)
        s.flush()
        row.effective_from = cutoff
        row.effective_until = None
        self._check_conflicts(s, row)
        self._audit(s, actor, "split", "entry", old.id, None, columns(old))

    def _length_ms(self, s: Session, row: EntryRow) -> int:
        """How long an occurrence lasts, for conflicts: its duration, or its content's."""
        if row.duration_ms is not None:
            return row.duration_ms
        if row.target_type == "media":
            m = s.get(MediaRow, row.target_id)
            return m.duration_ms or 0 if m else 0
        if row.target_type == "programme":
            q = select(MediaRow.duration_ms).join(EpisodeRow, EpisodeRow.media_id == MediaRow.id)
            q = q.where(EpisodeRow.programme_id == row.target_id)
            if row.episode_id is not None:
                q = q.where(EpisodeRow.id == row.episode_id)
            return max((d or 0 for d in s.scalars(q)), default=0)
        if row.target_type == "playlist":
            pl = s.get(PlaylistRow, row.target_id)
            ids = pl.media_ids if pl else []
            durs = s.scalars(select(MediaRow.duration_ms).where(MediaRow.id.in_(ids))).all()
            return sum(d or 0 for d in durs)
        return 3_600_000

    def _check_conflicts(self, s: Session, row: EntryRow) -> None:
        """Two hard starts may not overlap on a channel: refuse, naming both."""
        if not row.hard:
            return
        tz = self._zone(s, row.channel_id)
        lo = round(max(self.clock.now(), row.effective_from or self.clock.now()).timestamp() * 1000)
        # Over 400 days; but a rule that starts thousands of times a week (every few
        # minutes) is compared over one week, which already holds every pattern it makes.
        spec, mine_len = entry_spec(row), max(1, self._length_ms(s, row))
        hi = lo + round(BUSY_WINDOW.total_seconds() * 1000)
        starts = occurrence_starts(spec, tz, lo, hi)
        if len(starts) <= BUSY_STARTS:
            hi = lo + round(CONFLICT_WINDOW.total_seconds() * 1000)
            starts = occurrence_starts(spec, tz, lo, hi)
        mine = [(t, t + mine_len) for t in starts]
        if not mine:
            return
        others = s.scalars(
            select(EntryRow).where(
                EntryRow.channel_id == row.channel_id,
                EntryRow.hard.is_(True),
                EntryRow.retired.is_(False),
            )
        ).all()
        for other in others:
            if other is row or (row.id is not None and other.id == row.id):
                continue
            length = max(1, self._length_ms(s, other))
            theirs = [(t, t + length) for t in occurrence_starts(entry_spec(other), tz, lo, hi)]
            clash = first_overlap(mine, theirs)
            if clash is not None:
                when = datetime.fromtimestamp(clash / 1000, tz).isoformat()
                described = [describe_entry(row, "this entry"), describe_entry(other)]
                raise ScheduleConflict(
                    f"two hard starts overlap at {when}: {described[0]['label']} and "
                    f"{described[1]['label']}",
                    described,
                )

    def _refuse_if_used(self, s: Session, kind: str, row: Any) -> None:
        def entries_of(target: str) -> Any:
            return (EntryRow.target_type == target) & (EntryRow.target_id == row.id)

        refs: dict[str, list[tuple[type[Any], Any, str]]] = {
            "programme": [
                (EntryRow, entries_of("programme"), "schedule entries"),
                (EpisodeRow, EpisodeRow.programme_id == row.id, "episodes"),
            ],
            "playlist": [
                (EntryRow, entries_of("playlist"), "schedule entries"),
                (ChannelRow, ChannelRow.filler_playlist_id == row.id, "channels"),
            ],
            "clock": [(EntryRow, entries_of("clock"), "schedule entries")],
            "channel": [(EntryRow, EntryRow.channel_id == row.id, "schedule entries")],
            "episode": [(EntryRow, EntryRow.episode_id == row.id, "schedule entries")],
        }
        for model, cond, what in refs.get(kind, []):
            n = len(s.scalars(select(model.id).where(cond)).all())
            if n:
                raise InUse(f"{kind} {row.id} is still used by {n} {what}")


def media_uses(s: Session, media_id: int) -> dict[str, list[int]]:
    """What refers to a media item, by kind (entries that are history do not count)."""
    entries = select(EntryRow.id).where(
        EntryRow.target_type == "media", EntryRow.target_id == media_id, EntryRow.retired.is_(False)
    )
    found = {
        "schedule_entries": list(s.scalars(entries)),
        "playlists": [
            pid
            for pid, ids in s.execute(select(PlaylistRow.id, PlaylistRow.media_ids))
            if media_id in (ids or [])
        ],
        "clocks": [
            cid
            for cid, slots in s.execute(select(ClockRow.id, ClockRow.slots))
            if any(
                slot.get("source") == "media" and slot.get("ref_id") == media_id
                for slot in slots or []
            )
        ],
        "episodes": list(s.scalars(select(EpisodeRow.id).where(EpisodeRow.media_id == media_id))),
        "programmes": list(
            s.scalars(select(ProgrammeRow.id).where(ProgrammeRow.artwork_media_id == media_id))
        ),
        "channels": list(
            s.scalars(select(ChannelRow.id).where(ChannelRow.slate_media_id == media_id))
        ),
    }
    return {what: sorted(ids) for what, ids in found.items() if ids}


def first_overlap(a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]) -> int | None:
    """The start of the first overlap of two sorted interval lists, if any."""
    i = j = 0
    while i < len(a) and j < len(b):
        (s1, e1), (s2, e2) = a[i], b[j]
        if s1 < e2 and s2 < e1:
            return max(s1, s2)
        if e1 <= e2:
            i += 1
        else:
            j += 1
    return None


def describe_entry(row: EntryRow, label: str | None = None) -> dict[str, Any]:
    name = label or f"entry {row.id}"
    return {
        "id": row.id,
        "label": f"{name} ({row.target_type} {row.target_id} at {row.start_local.isoformat()}"
        + (f", {row.rrule}" if row.rrule else "")
        + ")",
        "target_type": row.target_type,
        "target_id": row.target_id,
        "start_local": row.start_local.isoformat(),
        "rrule": row.rrule,
    }
