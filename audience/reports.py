"""Audience figures over a period, grouped one way and filtered: sessions, unique listeners,
total listening hours, average session length, average and peak concurrent listeners, and a
podcast episode's downloads in its first 7 and 30 days.

The figures are sums over facts (audience/facts.py): those of rolled-up sessions read from
the rollup tables, those of the rest computed from their raw rows by the same code. Read all
raw (`use_rollups=False`) they are the same to the second; the rollups only make them fast.

Definitions (docs/architecture.md says why):
- The period is whole UTC hours: `from` and `to` are taken up to the next whole hour.
- A time bucket (hour, day, week, month, in `tz`) is the UTC hours whose first instant falls
  in it; an hour bucket is the UTC hour, named by its local time.
- Sessions: sessions begun in the group; grouped or filtered by programme or episode, the
  sessions that heard some of it.
- Seconds: listened within the group's hours, a session's seconds counted from its start.
- Unique listeners: distinct visitors per UTC day who heard something in the group, summed
  over the days — a visitor's hash changes every day by design (audience/visitors.py), so one
  person on two days counts twice, and nobody can be followed from one day to the next.
- Average concurrent: the group's seconds over its length in seconds.
- Peak concurrent: the most sessions going on at once at a minute mark (hh:mm:00); counted
  per channel and surface, so none (null) when grouped or filtered by a listener's country,
  player, device or system, or by programme or episode."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, literal, null, select

from audience.facts import DAY, HOUR, Facts, HourKey, VisitorKey, Who
from audience.ledger import Surface
from audience.models import DayVisitorRow, HourRow, MinuteRow, SessionRow
from audience.rollups import EPOCH, EPOCH_ORDINAL, Rollups, chunks, epoch_s
from station.db import Database
from station.errors import Invalid

MAX_DAYS = 400
UTC_ZONE = ZoneInfo("UTC")


class Grouping(StrEnum):
    TOTAL = "total"
    CHANNEL = "channel"
    PROGRAMME = "programme"
    EPISODE = "episode"
    COUNTRY = "country"
    PLAYER = "player"
    DEVICE = "device"
    OS = "os"
    SURFACE = "surface"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


TIME = (Grouping.HOUR, Grouping.DAY, Grouping.WEEK, Grouping.MONTH)
ON_AIR_ONLY = (Grouping.TOTAL, Grouping.CHANNEL, Grouping.SURFACE, *TIME)
# Where each grouping is found in an hour key and a visitor key (with its Who).
HOUR_AT = {
    Grouping.SURFACE: 1,
    Grouping.CHANNEL: 2,
    Grouping.COUNTRY: 3,
    Grouping.PLAYER: 4,
    Grouping.DEVICE: 5,
    Grouping.OS: 6,
    Grouping.PROGRAMME: 7,
    Grouping.EPISODE: 8,
}


class InvalidReport(Invalid):
    reason = "invalid-period"


@dataclass(frozen=True, slots=True)
class Query:
    start: datetime  # whole UTC hours (see `period`)
    end: datetime
    group_by: Grouping = Grouping.TOTAL
    tz: ZoneInfo = UTC_ZONE
    channel: str | None = None
    surface: Surface | None = None
    country: str | None = None
    programme: int | None = None
    episode: int | None = None

    @property
    def by_programme(self) -> bool:
        return (
            self.group_by in (Grouping.PROGRAMME, Grouping.EPISODE)
            or self.programme is not None
            or self.episode is not None
        )

    @property
    def has_peak(self) -> bool:
        return (
            self.group_by in ON_AIR_ONLY
            and self.country is None
            and self.programme is None
            and self.episode is None
        )


@dataclass(slots=True)
class Figures:
    key: str
    label: str
    sessions: int = 0
    uniques: int = 0
    seconds: int = 0
    length_s: int = 0  # the group's length: its hours in the period
    peak_concurrent: int | None = None
    downloads_7d: int | None = None
    downloads_30d: int | None = None

    @property
    def hours(self) -> float:
        """Total listening hours (TLH)."""
        return self.seconds / 3600

    @property
    def average_session_s(self) -> float:
        return self.seconds / self.sessions if self.sessions else 0.0

    @property
    def average_concurrent(self) -> float:
        return self.seconds / self.length_s if self.length_s else 0.0


@dataclass(frozen=True, slots=True)
class Report:
    query: Query
    rows: list[Figures]
    total: Figures


def whole_hour(t: datetime) -> datetime:
    """`t` in UTC, taken up to the next whole hour (itself if it is one); naive means UTC."""
    t = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    down = t.replace(minute=0, second=0, microsecond=0)
    return down if down == t else down + timedelta(hours=1)


def period(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The period's whole UTC hours; refused when empty, backwards or too long."""
    a, b = whole_hour(start), whole_hour(end)
    if end <= start:
        raise InvalidReport("`to` must be after `from`", reason="invalid-period")
    if b - a > timedelta(days=MAX_DAYS):
        raise InvalidReport(
            f"a report covers at most {MAX_DAYS} days; ask for a shorter period",
            reason="invalid-period",
        )
    if a == b:
        raise InvalidReport("the period holds no whole hour", reason="invalid-period")
    return a, b


def bucket(hour: datetime, g: Grouping, tz: ZoneInfo) -> datetime:
    """The first instant of the time bucket the UTC hour `hour` belongs to, in `tz`."""
    local = hour.astimezone(tz)
    if g == Grouping.HOUR:
        return local
    d = local.date()
    if g == Grouping.WEEK:
        d -= timedelta(days=d.weekday())
    elif g == Grouping.MONTH:
        d = d.replace(day=1)
    return datetime.combine(d, time(), tz)


def hours_of(start: datetime, end: datetime) -> list[datetime]:
    n = int((end - start) / timedelta(hours=1))
    return [start + timedelta(hours=i) for i in range(n)]


Key = str | int | datetime | None


@dataclass
class Sums:
    """Per group: [sessions, joined, seconds]; per group, at the period's first instant, the
    sessions going on; per group and UTC day segment, unique visitors."""

    cells: dict[Key, list[int]] = field(default_factory=dict)
    on_at_start: dict[Key, int] = field(default_factory=dict)
    uniques: dict[Key, int] = field(default_factory=dict)
    deltas: dict[tuple[int, Key], int] = field(default_factory=dict)

    def cell(self, g: Key, sessions: int, joined: int, seconds: int) -> None:
        c = self.cells.setdefault(g, [0, 0, 0])
        c[0] += sessions
        c[1] += joined
        c[2] += seconds


class Reports:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.rollups = Rollups(db)

    def report(self, q: Query, use_rollups: bool = True, lang: str = "az") -> Report:
        raw_sessions = (
            self.rollups.unrolled(q.end) if use_rollups else self.rollups.raw(q.start, q.end)
        )
        raw = self.rollups.facts_of(raw_sessions)
        rows = self._figures(q, raw, use_rollups)
        timed = q.group_by in TIME
        total = (
            rows
            if q.group_by == Grouping.TOTAL
            else self._figures(replace(q, group_by=Grouping.TOTAL), raw, use_rollups, not timed)
        )
        whole = replace(total.get("", Figures("", "")))
        if timed and q.has_peak:  # the period's peak is its busiest bucket's
            whole.peak_concurrent = max((f.peak_concurrent or 0 for f in rows.values()), default=0)
        whole.length_s = int((q.end - q.start).total_seconds())
        whole.key = whole.label = "total"
        if q.group_by == Grouping.EPISODE:
            self._downloads(rows)
        out = sorted(rows.values(), key=order(q.group_by))
        for f in out if q.group_by == Grouping.TOTAL else ():
            f.key = f.label = "total"
        self._labels(q.group_by, out, lang)
        return Report(q, out, whole)

    # --- the figures of a grouping -------------------------------------------------------

    def _figures(
        self, q: Query, raw: Facts, use_rollups: bool, peaks: bool = True
    ) -> dict[str, Figures]:
        hours = hours_of(q.start, q.end)
        g = q.group_by
        timed = g in TIME
        bucket_of = {h: bucket(h, g, q.tz) for h in hours} if timed else {}

        def group(hour: datetime, value: Key) -> Key:
            return bucket_of[hour] if timed else value

        sums = Sums()
        # cells: rolled up, then raw
        if use_rollups:
            for hour, value, sessions, joined, seconds, on in self._hour_sums(q):
                sums.cell(group(hour, value), sessions, joined, seconds)
                if hour == q.start:
                    sums.on_at_start[group(hour, value)] = (
                        sums.on_at_start.get(group(hour, value), 0) + on
                    )
        start_s, end_s = epoch_s(q.start), epoch_s(q.end)
        keep = hour_filter(q)
        for k, v in raw.hours.items():
            if not (start_s <= k[0] < end_s and keep(k)):
                continue
            hour = EPOCH + timedelta(seconds=k[0])
            value = k[HOUR_AT[g]] if g in HOUR_AT else None
            sums.cell(group(hour, value), v[0], v[1], v[2])
            if k[0] == start_s:
                gk = group(hour, value)
                sums.on_at_start[gk] = sums.on_at_start.get(gk, 0) + v[3]
        self._uniques(q, raw, use_rollups, sums, bucket_of)
        out: dict[str, Figures] = {}
        lengths: dict[Key, int] = {}
        for h in hours:
            gk = bucket_of[h] if timed else None
            lengths[gk] = lengths.get(gk, 0) + 3600
        for gk, (sessions, joined, seconds) in sums.cells.items():
            f = out[text(gk)] = Figures(text(gk), text(gk))
            f.sessions = joined if q.by_programme else sessions
            f.seconds = seconds
            f.length_s = lengths.get(gk if timed else None, 0)
            f.uniques = sums.uniques.get(gk, 0)
        for gk, n in sums.uniques.items():
            if text(gk) not in out:  # heard in the period, but begun before it
                out[text(gk)] = Figures(text(gk), text(gk), uniques=n)
                out[text(gk)].length_s = lengths.get(gk if timed else None, 0)
        for gk in bucket_of.values():  # every bucket of the period, heard in or not
            if text(gk) not in out:
                out[text(gk)] = Figures(text(gk), text(gk), length_s=lengths[gk])
        if q.has_peak and peaks:
            self._peaks(q, raw, use_rollups, sums, bucket_of, out)
        return out

    def _hour_sums(self, q: Query) -> Iterable[tuple[datetime, Key, int, int, int, int]]:
        col = hour_column(q.group_by)
        cols: list[Any] = [HourRow.hour, col if col is not None else null()]
        sums = [
            func.sum(HourRow.sessions),
            func.sum(HourRow.joined),
            func.sum(HourRow.seconds),
            func.sum(HourRow.on_at_start),
        ]
        stmt = (
            select(*cols, *sums)
            .where(HourRow.hour >= q.start, HourRow.hour < q.end, *hour_where(q))
            .group_by(HourRow.hour, *([col] if col is not None else []))
        )
        with self.db.session() as s:
            for r in s.execute(stmt):
                yield r[0], r[1], int(r[2]), int(r[3]), int(r[4]), int(r[5])

    # --- unique listeners ----------------------------------------------------------------

    def _uniques(
        self,
        q: Query,
        raw: Facts,
        use_rollups: bool,
        sums: Sums,
        bucket_of: dict[datetime, datetime],
    ) -> None:
        """Distinct visitors per UTC day and group. A UTC day is cut into segments, each the
        set of its hours (a bit mask) that fall in one group: one per day, or, grouped by
        time, one per bucket the day's hours fall in."""
        segments: dict[int, list[tuple[int, Key]]] = {}
        for h in hours_of(q.start, q.end):
            s = epoch_s(h)
            day, bit = s // DAY, 1 << (s % DAY // HOUR)
            gk: Key = bucket_of.get(h)
            segs = segments.setdefault(day, [])
            for i, (mask, key) in enumerate(segs):
                if key == gk:
                    segs[i] = (mask | bit, key)
                    break
            else:
                segs.append((bit, gk))
        masks = sorted({m for segs in segments.values() for m, _ in segs})
        at = {m: i for i, m in enumerate(masks)}
        timed = bool(bucket_of)
        col = None if timed else visitor_column(q.group_by)
        rolled: dict[tuple[int, Key], list[int]] = {}
        if use_rollups:
            rolled = self._rolled_uniques(q, masks, col, min(segments), max(segments))
        for (day, value), counts in rolled.items():
            for mask, key in segments.get(day, []):
                gk = key if timed else value
                if counts[at[mask]]:
                    sums.uniques[gk] = sums.uniques.get(gk, 0) + counts[at[mask]]
        # raw: visitors not already counted in the same day, group and segment
        mine: dict[tuple[int, str, Key], int] = {}
        keep = visitor_filter(q)
        for k, who in raw.visitors.items():
            if k[0] in segments and keep(k, who):
                vk = (k[0], k[1], None if timed else visitor_value(q.group_by, k, who))
                mine[vk] = mine.get(vk, 0) | who.hours
        known = self._known_visitors(q, col, mine) if use_rollups and mine else {}
        for (day, visitor, value), hours in mine.items():
            before = known.get((day, visitor, value), 0)
            for mask, key in segments[day]:
                if hours & mask and not before & mask:
                    gk = key if timed else value
                    sums.uniques[gk] = sums.uniques.get(gk, 0) + 1

    def _rolled_uniques(
        self, q: Query, masks: Sequence[int], col: Any, first: int, last: int
    ) -> dict[tuple[int, Key], list[int]]:
        value = col if col is not None else null()
        counts = [
            func.count(
                func.distinct(
                    case((DayVisitorRow.hours.op("&")(literal(m)) != 0, DayVisitorRow.visitor))
                )
            )
            for m in masks
        ]
        stmt = (
            select(DayVisitorRow.day, value, *counts)
            .where(
                DayVisitorRow.day >= from_day(first),
                DayVisitorRow.day <= from_day(last),
                *visitor_where(q),
            )
            .group_by(DayVisitorRow.day, *([col] if col is not None else []))
        )
        with self.db.session() as s:
            return {
                (r[0].toordinal() - EPOCH_ORDINAL, r[1]): [int(c) for c in r[2:]]
                for r in s.execute(stmt)
            }

    def _known_visitors(
        self, q: Query, col: Any, mine: dict[tuple[int, str, Key], int]
    ) -> dict[tuple[int, str, Key], int]:
        """The hours each of `mine`'s visitors is already counted in, in the rollups."""
        out: dict[tuple[int, str, Key], int] = {}
        days = sorted({d for d, _, _ in mine})
        visitors = sorted({v for _, v, _ in mine})
        value = col if col is not None else null()
        with self.db.session() as s:
            for chunk in chunks(visitors, 500):
                stmt = select(
                    DayVisitorRow.day, DayVisitorRow.visitor, value, DayVisitorRow.hours
                ).where(
                    DayVisitorRow.day.in_([from_day(d) for d in days]),
                    DayVisitorRow.visitor.in_(chunk),
                    *visitor_where(q),
                )
                for r in s.execute(stmt):
                    k = (r[0].toordinal() - EPOCH_ORDINAL, r[1], r[2])
                    out[k] = out.get(k, 0) | int(r[3])
        return out

    # --- peak concurrent -----------------------------------------------------------------

    def _peaks(
        self,
        q: Query,
        raw: Facts,
        use_rollups: bool,
        sums: Sums,
        bucket_of: dict[datetime, datetime],
        out: dict[str, Figures],
    ) -> None:
        """A running sum of the minute marks' changes from the sessions going on at the
        period's first instant, per channel or surface when grouped so."""
        g = q.group_by
        timed = bool(bucket_of)
        start_s, end_s = epoch_s(q.start), epoch_s(q.end)
        deltas: dict[Key, dict[int, int]] = {}

        def add(mark: int, value: Key, d: int) -> None:
            row = deltas.setdefault(
                value if g in (Grouping.CHANNEL, Grouping.SURFACE) else None, {}
            )
            row[mark] = row.get(mark, 0) + d

        if use_rollups:
            col = minute_column(g)
            value = col if col is not None else null()
            stmt = (
                select(MinuteRow.mark, value, func.sum(MinuteRow.delta))
                .where(MinuteRow.mark > start_s, MinuteRow.mark < end_s, *minute_where(q))
                .group_by(MinuteRow.mark, *([col] if col is not None else []))
            )
            with self.db.session() as s:
                for r in s.execute(stmt):
                    add(r[0], r[1], int(r[2]))
        for (mark, surface, channel), d in raw.minutes.items():
            if start_s < mark < end_s and minute_keep(q, surface, channel):
                add(mark, surface if g == Grouping.SURFACE else channel, d)
        bases: dict[Key, int] = {}
        for gk, n in sums.on_at_start.items():
            key = None if timed else gk
            bases[key] = bases.get(key, 0) + n
        peak: dict[Key, int] = {}
        hour_marks = [epoch_s(h) for h in bucket_of] if timed else []
        for key in set(bases) | set(deltas) | ({None} if timed else set()):
            changes = deltas.get(key, {})
            running = bases.get(key, 0)
            marks = sorted({start_s, *changes, *hour_marks})
            for mark in marks:
                running += changes.get(mark, 0) if mark != start_s else 0
                gk = bucket_of[EPOCH + timedelta(seconds=mark - mark % HOUR)] if timed else key
                peak[gk] = max(peak.get(gk, 0), running)
        for gk, n in peak.items():
            f = out.get(text(gk))
            if f is None:
                f = out[text(gk)] = Figures(text(gk), text(gk))
            f.peak_concurrent = n
        for f in out.values():
            if f.peak_concurrent is None:
                f.peak_concurrent = 0

    # --- podcasts ------------------------------------------------------------------------

    def _downloads(self, rows: dict[str, Figures]) -> None:
        """Each episode's podcast downloads in the 7 and 30 days from its release (its
        `available_from`, else its air date, else its first download)."""
        from schedules.models import EpisodeRow

        ids = [int(k) for k in rows if k.isdigit() and k != "0"]
        if not ids:
            return
        with self.db.session() as s:
            released: dict[int, datetime] = {}
            for e in s.execute(
                select(EpisodeRow.id, EpisodeRow.available_from, EpisodeRow.air_date).where(
                    EpisodeRow.id.in_(ids)
                )
            ):
                if e[1] is not None:
                    released[e[0]] = e[1]
                elif e[2] is not None:
                    released[e[0]] = datetime.combine(e[2], time(), UTC)
            first = s.execute(
                select(SessionRow.episode_id, func.min(SessionRow.started_at))
                .where(SessionRow.episode_id.in_(ids), SessionRow.surface == Surface.PODCAST)
                .group_by(SessionRow.episode_id)
            )
            for episode, at in first:
                if episode is not None:
                    released.setdefault(episode, at)
            for episode, at in released.items():
                within = [
                    func.count(case((SessionRow.started_at < at + timedelta(days=n), 1)))
                    for n in (7, 30)
                ]
                r = s.execute(
                    select(*within).where(
                        SessionRow.episode_id == episode,
                        SessionRow.surface == Surface.PODCAST,
                        SessionRow.started_at >= at,
                    )
                ).one()
                f = rows[str(episode)]
                f.downloads_7d, f.downloads_30d = int(r[0]), int(r[1])
        for f in rows.values():
            if f.key != "0" and f.downloads_7d is None:
                f.downloads_7d = f.downloads_30d = 0

    # --- names ---------------------------------------------------------------------------

    def _labels(self, g: Grouping, rows: Sequence[Figures], lang: str) -> None:
        from schedules.models import ChannelRow, EpisodeRow, ProgrammeRow

        table: Any = {
            Grouping.PROGRAMME: (ProgrammeRow, ProgrammeRow.titles),
            Grouping.EPISODE: (EpisodeRow, EpisodeRow.titles),
        }.get(g)
        with self.db.session() as s:
            if g == Grouping.CHANNEL:
                names = {
                    slug: pick(n, lang)
                    for slug, n in s.execute(select(ChannelRow.slug, ChannelRow.names))
                }
                for f in rows:
                    f.label = names.get(f.key, f.key) if f.key else "—"
            elif table is not None:
                ids = [int(f.key) for f in rows if f.key.isdigit()]
                row, titles = table
                names = {
                    str(i): pick(t, lang)
                    for i, t in s.execute(select(row.id, titles).where(row.id.in_(ids)))
                }
                for f in rows:
                    f.label = names.get(f.key, f.key) if f.key != "0" else "—"


def pick(texts: dict[str, str] | None, lang: str) -> str:
    texts = texts or {}
    return texts.get(lang) or texts.get("az") or next(iter(texts.values()), "")


def text(k: Key) -> str:
    if k is None:
        return ""
    if isinstance(k, datetime):
        return k.isoformat()
    return str(k)


def order(g: Grouping) -> Callable[[Figures], Any]:
    if g in TIME:
        return lambda f: f.key
    return lambda f: (-f.seconds, -f.sessions, f.key)


def from_day(n: int) -> date:
    return date.fromordinal(EPOCH_ORDINAL + n)


# --- filters and columns, as SQL over the rollups and as Python over raw facts -----------


def hour_column(g: Grouping) -> Any:
    return {
        Grouping.SURFACE: HourRow.surface,
        Grouping.CHANNEL: HourRow.channel,
        Grouping.COUNTRY: HourRow.country,
        Grouping.PLAYER: HourRow.player,
        Grouping.DEVICE: HourRow.device,
        Grouping.OS: HourRow.os,
        Grouping.PROGRAMME: HourRow.programme_id,
        Grouping.EPISODE: HourRow.episode_id,
    }.get(g)


def visitor_column(g: Grouping) -> Any:
    return {
        Grouping.SURFACE: DayVisitorRow.surface,
        Grouping.CHANNEL: DayVisitorRow.channel,
        Grouping.COUNTRY: DayVisitorRow.country,
        Grouping.PLAYER: DayVisitorRow.player,
        Grouping.DEVICE: DayVisitorRow.device,
        Grouping.OS: DayVisitorRow.os,
        Grouping.PROGRAMME: DayVisitorRow.programme_id,
        Grouping.EPISODE: DayVisitorRow.episode_id,
    }.get(g)


def minute_column(g: Grouping) -> Any:
    return {Grouping.SURFACE: MinuteRow.surface, Grouping.CHANNEL: MinuteRow.channel}.get(g)


def hour_where(q: Query) -> list[ColumnElement[bool]]:
    return wheres(
        q,
        HourRow.channel,
        HourRow.surface,
        HourRow.country,
        HourRow.programme_id,
        HourRow.episode_id,
    )


def visitor_where(q: Query) -> list[ColumnElement[bool]]:
    return wheres(
        q,
        DayVisitorRow.channel,
        DayVisitorRow.surface,
        DayVisitorRow.country,
        DayVisitorRow.programme_id,
        DayVisitorRow.episode_id,
    )


def minute_where(q: Query) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if q.channel is not None:
        out.append(MinuteRow.channel == q.channel)
    if q.surface is not None:
        out.append(MinuteRow.surface == str(q.surface))
    return out


def wheres(
    q: Query, channel: Any, surface: Any, country: Any, programme: Any, episode: Any
) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if q.channel is not None:
        out.append(channel == q.channel)
    if q.surface is not None:
        out.append(surface == str(q.surface))
    if q.country is not None:
        out.append(country == q.country)
    if q.programme is not None:
        out.append(programme == q.programme)
    if q.episode is not None:
        out.append(episode == q.episode)
    return [and_(*out)] if out else []


def hour_filter(q: Query) -> Callable[[HourKey], bool]:
    def keep(k: HourKey) -> bool:
        return (
            (q.channel is None or k[2] == q.channel)
            and (q.surface is None or k[1] == q.surface)
            and (q.country is None or k[3] == q.country)
            and (q.programme is None or k[7] == q.programme)
            and (q.episode is None or k[8] == q.episode)
        )

    return keep


def visitor_filter(q: Query) -> Callable[[VisitorKey, Who], bool]:
    def keep(k: VisitorKey, who: Who) -> bool:
        return (
            (q.channel is None or k[3] == q.channel)
            and (q.surface is None or k[2] == q.surface)
            and (q.country is None or who.country == q.country)
            and (q.programme is None or k[4] == q.programme)
            and (q.episode is None or k[5] == q.episode)
        )

    return keep


def visitor_value(g: Grouping, k: VisitorKey, who: Who) -> Key:
    values: dict[Grouping, Key] = {
        Grouping.SURFACE: k[2],
        Grouping.CHANNEL: k[3],
        Grouping.PROGRAMME: k[4],
        Grouping.EPISODE: k[5],
        Grouping.COUNTRY: who.country,
        Grouping.PLAYER: who.player,
        Grouping.DEVICE: who.device,
        Grouping.OS: who.os,
    }
    return values.get(g)


def minute_keep(q: Query, surface: str, channel: str) -> bool:
    return (q.channel is None or channel == q.channel) and (
        q.surface is None or surface == q.surface
    )
