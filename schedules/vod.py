"""The on-demand catalogue: programmes → seasons → episodes, and when each can be watched.

The availability rule, in the order it is applied (`availability`, a pure function):

1. **Packaged.** An episode is on demand only when its media item has a live HLS publication
   (the row's `package_prefix`: `media/publications.py`; it stays while the item is packaged
   again, and if that fails). That is the same package the TV channel plays, so catch-up needs
   no second encode. Otherwise: `not-packaged`.
2. **Until.** From `available_until` on it is `expired`.
3. **From.** With `available_from` set, it is on demand from that instant (`not-yet` before).
   Without it, once it has aired: the first as-run row for its media (played or cut-short) at
   or before now, or the start of its `air_date` in the channel's zone (the zone of a channel
   that schedules the programme; Asia/Baku when none does), whichever comes first.

Its URLs (`Streams`) are handed out only while it is on demand; when its window closes, the
windows keeper (`schedules/vod_windows.py`) moves the package to a new prefix, so the URLs
handed out stop working. The as-run log belongs to playout, which this package may not import;
the caller hands in an `AiringLog` that reads it (the API does). Everything here is read-only.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Select, false, func, or_, select, tuple_
from sqlalchemy.orm import Session

from media.library import Library
from media.models import MediaRow
from media.packaged import Published
from schedules.models import ChannelRow, EntryRow, EpisodeRow, ProgrammeRow, search_fold
from schedules.service import Schedules
from station.clock import Clock
from station.db import Database, Page
from station.errors import NotFound

NOT_PACKAGED, NOT_YET, EXPIRED = "not-packaged", "not-yet", "expired"
STATION_ZONE = ZoneInfo("Asia/Baku")
UPCOMING = timedelta(days=14)
LAST = 2**31 - 1  # sorts an episode without a season or number after those with one
CHUNK = 100


# --- the rule (pure) ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Availability:
    on_demand: bool
    reason: str | None  # not-packaged | not-yet | expired, when not on demand
    start: datetime | None  # when it is (or was, or will be) first on demand, if known
    until: datetime | None


def catchup_start(
    first_aired: datetime | None, air_date: date | None, zone: ZoneInfo
) -> datetime | None:
    """When an episode without its own window becomes available: it has aired."""
    starts = [t for t in (first_aired,) if t is not None]
    if air_date is not None:
        starts.append(datetime.combine(air_date, time(0), zone).astimezone(UTC))
    return min(starts, default=None)


def availability(
    *,
    packaged: bool,
    available_from: datetime | None,
    available_until: datetime | None,
    first_aired: datetime | None,
    air_date: date | None,
    zone: ZoneInfo,
    now: datetime,
) -> Availability:
    start = available_from
    if start is None:
        start = catchup_start(first_aired, air_date, zone)
    until = available_until
    if not packaged:
        return Availability(False, NOT_PACKAGED, start, until)
    if until is not None and now >= until:
        return Availability(False, EXPIRED, start, until)
    if start is None or now < start:
        return Availability(False, NOT_YET, start, until)
    return Availability(True, None, start, until)


def like_words(q: str) -> list[str]:
    """LIKE patterns for each word of a query, folded as the stored titles are."""
    out = []
    for word in search_fold(q).split():
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        out.append(f"%{escaped}%")
    return out


# --- what the catalogue hands out ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Airing:
    channel: str
    start: datetime
    end: datetime | None = None


class AiringLog(Protocol):
    """What aired, from the as-run log (played or cut-short, at or before `now`)."""

    def first_aired(self, media_ids: Collection[int], now: datetime) -> Mapping[int, datetime]:
        """The earliest airing of each of these media items that has aired."""
        ...

    def aired(self, media_id: int, now: datetime, limit: int) -> list[Airing]:
        """Its airings, the latest first."""
        ...

    def on_air(
        self, media_ids: Collection[int], since: datetime, now: datetime
    ) -> Mapping[int, Sequence[Airing]]:
        """Airings of these items begun at or before `now` and still on air after `since`,
        with their ends (the start and the length on the schedule)."""
        ...


@dataclass(frozen=True, slots=True)
class EpisodeInfo:
    id: int
    programme_id: int
    programme_slug: str
    programme_titles: Mapping[str, str]
    season: int | None
    number: int | None
    titles: Mapping[str, str]
    descriptions: Mapping[str, str]
    air_date: date | None
    media_id: int | None
    media_title: str
    duration_ms: int | None
    artwork_key: str | None  # the media's artwork or poster frame, from ingest
    availability: Availability


@dataclass(frozen=True, slots=True)
class ProgrammeInfo:
    id: int
    slug: str
    titles: Mapping[str, str]
    descriptions: Mapping[str, str]
    categories: tuple[str, ...]
    presenters: tuple[str, ...]
    artwork_key: str | None
    episodes: int
    episodes_on_demand: int


@dataclass(frozen=True, slots=True)
class Season:
    number: int | None
    episodes: tuple[EpisodeInfo, ...]


@dataclass(frozen=True, slots=True)
class SubtitleTrack:
    lang: str
    name: str
    playlist_key: str  # HLS WebVTT rendition, cut like the video
    file_key: str | None  # the whole WebVTT file, as uploaded


@dataclass(frozen=True, slots=True)
class Streams:
    """Storage keys of what a player fetches for an episode on demand."""

    master: str
    audio: str | None
    poster: str | None
    thumbnails: str | None
    subtitles: tuple[SubtitleTrack, ...] = ()
    audio_file: str | None = None  # the sound in one M4A file
    audio_file_bytes: int = 0


@dataclass(frozen=True, slots=True)
class EpisodeDetail:
    episode: EpisodeInfo
    aired: tuple[Airing, ...]
    upcoming: tuple[Airing, ...]
    streams: Streams | None  # when on demand


def streams_of(published: Published, subtitle_files: Mapping[str, str]) -> Streams:
    """The keys of a published package (media/packaged.py describes the layout)."""
    package, prefix = published.package, published.prefix
    audio = next((r for r in package.renditions if r.kind == "audio"), None)
    return Streams(
        master=f"{prefix}/{package.master}",
        audio=f"{prefix}/{audio.playlist}" if audio else None,
        poster=f"{prefix}/{package.poster}" if package.poster else None,
        thumbnails=f"{prefix}/{package.thumbnails}" if package.thumbnails else None,
        subtitles=tuple(
            SubtitleTrack(s.lang, s.name, f"{prefix}/{s.playlist}", subtitle_files.get(s.lang))
            for s in package.subtitles
        ),
        audio_file=f"{prefix}/{package.audio_file}" if package.audio_file else None,
        audio_file_bytes=int(package.extra.get("audio_file_bytes", 0)),
    )


# --- the service ----------------------------------------------------------------------------------


EpisodeQuery = Select[EpisodeRow, str, dict[str, str], str | None, str, int | None, str | None]


def _episode_query() -> EpisodeQuery:
    """Episodes with what the catalogue needs of their programme and media item."""
    return (
        select(
            EpisodeRow,
            ProgrammeRow.slug,
            ProgrammeRow.titles,
            MediaRow.package_prefix,
            MediaRow.title,
            MediaRow.duration_ms,
            MediaRow.artwork_key,
        )
        .join(ProgrammeRow, ProgrammeRow.id == EpisodeRow.programme_id)
        .outerjoin(MediaRow, MediaRow.id == EpisodeRow.media_id)
    )


def _season_key() -> Any:
    return func.coalesce(EpisodeRow.season, LAST)


def _number_key() -> Any:
    return func.coalesce(EpisodeRow.number, LAST)


class Catalogue:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        library: Library,
        schedules: Schedules,
        airings: AiringLog,
    ) -> None:
        self.db = db
        self.clock = clock
        self.library = library
        self.schedules = schedules
        self.airings = airings

    # --- programmes ---------------------------------------------------------------------------

    def programmes(self) -> list[ProgrammeInfo]:
        now = self.clock.now()
        with self.db.session() as s:
            progs = list(s.scalars(select(ProgrammeRow).order_by(ProgrammeRow.slug)))
            episodes = self._infos(s, s.execute(_episode_query()).all(), now)
            artwork = self._artwork_keys(s, progs)
        return [self._programme(p, episodes, artwork) for p in progs]

    def programme(self, slug: str) -> tuple[ProgrammeInfo, list[Season]]:
        now = self.clock.now()
        with self.db.session() as s:
            prog = self._programme_row(s, slug)
            q = _episode_query().where(EpisodeRow.programme_id == prog.id)
            q = q.order_by(_season_key(), _number_key(), EpisodeRow.id)
            episodes = self._infos(s, s.execute(q).all(), now)
            info = self._programme(prog, episodes, self._artwork_keys(s, [prog]))
        seasons: list[Season] = []
        for ep in episodes:
            if seasons and seasons[-1].number == ep.season:
                seasons[-1] = Season(ep.season, (*seasons[-1].episodes, ep))
            else:
                seasons.append(Season(ep.season, (ep,)))
        return info, seasons

    def episodes(
        self,
        slug: str,
        *,
        season: int | None = None,
        after: tuple[int, ...] | None = None,
        limit: int = 20,
    ) -> Page[EpisodeInfo]:
        """Every episode of a programme, on demand or not, by season and number."""
        now = self.clock.now()
        key = (_season_key(), _number_key(), EpisodeRow.id)
        with self.db.session() as s:
            prog = self._programme_row(s, slug)
            q = _episode_query().where(EpisodeRow.programme_id == prog.id)
            if season is not None:
                q = q.where(EpisodeRow.season == season)
            if after is not None:
                q = q.where(tuple_(*key) > tuple_(*after))
            rows = s.execute(q.order_by(*key).limit(limit + 1)).all()
            items = self._infos(s, rows[:limit], now)
        nxt: tuple[int, ...] | None = None
        if len(rows) > limit:
            last = items[-1]
            nxt = (_or_last(last.season), _or_last(last.number), last.id)
        return Page(items, nxt)

    # --- episodes -----------------------------------------------------------------------------

    def search(
        self,
        q: str | None,
        *,
        everything: bool = False,
        before_id: int | None = None,
        limit: int = 20,
    ) -> Page[EpisodeInfo]:
        """Episodes whose titles (or their programme's), in any language, hold every word of
        q; newest first. Only those on demand unless `everything`."""
        now = self.clock.now()
        stmt = _episode_query()
        text = EpisodeRow.search_text + " " + ProgrammeRow.search_text
        for pattern in like_words(q or ""):
            stmt = stmt.where(text.like(pattern, escape="\\"))
        if not everything:  # what SQL can rule out; the rest of the rule is applied below
            stmt = stmt.where(MediaRow.package_prefix.is_not(None))
            stmt = stmt.where(
                or_(EpisodeRow.available_until.is_(None), EpisodeRow.available_until > now)
            )
        after = before_id
        found: list[EpisodeInfo] = []
        more = False
        with self.db.session() as s:
            while True:
                chunk = stmt.order_by(EpisodeRow.id.desc()).limit(CHUNK)
                if after is not None:
                    chunk = chunk.where(EpisodeRow.id < after)
                rows = s.execute(chunk).all()
                infos = self._infos(s, rows, now)
                for info in infos:
                    if everything or info.availability.on_demand:
                        if len(found) == limit:
                            more = True
                            break
                        found.append(info)
                if more or len(rows) < CHUNK:
                    break
                after = infos[-1].id
        return Page(found, (found[-1].id,) if more else None)

    def episode(self, episode_id: int, *, upcoming: bool = True) -> EpisodeDetail:
        """One episode: its availability, airings and streams; with `upcoming`, also its
        airings in the next UPCOMING (each of its channels' guide: the costly part, which a
        podcast feed does not need)."""
        now = self.clock.now()
        with self.db.session() as s:
            row = s.execute(_episode_query().where(EpisodeRow.id == episode_id)).first()
            if row is None:
                raise NotFound(f"there is no episode {episode_id}")
            info = self._infos(s, [row], now)[0]
            channels = self._channels_of(s, info.programme_id)
        aired: tuple[Airing, ...] = ()
        streams = None
        mid = info.media_id
        if mid is not None:
            aired = tuple(self.airings.aired(mid, now, 50))
            if info.availability.on_demand:
                published = self.library.package_of(mid)
                if published is None:  # the row names a publication storage does not hold
                    info = _unavailable(info, NOT_PACKAGED)
                else:
                    files = {x.lang: x.storage_key for x in self.library.get(mid).subtitles}
                    streams = streams_of(published, files)
        ahead = [
            Airing(slug, b.start, b.end)
            for slug in (channels if upcoming else [])
            for b in self.schedules.guide(slug, now, now + UPCOMING)
            if b.episode_id == episode_id and b.end > now
        ]
        ahead.sort(key=lambda a: (a.start, a.channel))
        return EpisodeDetail(info, aired, tuple(ahead), streams)

    def windows(self) -> dict[int, list[Availability]]:
        """Every episode's availability now, by its media item: for the windows keeper."""
        now = self.clock.now()
        with self.db.session() as s:
            rows = s.execute(_episode_query().where(EpisodeRow.media_id.is_not(None))).all()
            infos = self._infos(s, rows, now)
        out: dict[int, list[Availability]] = {}
        for info in infos:
            if info.media_id is not None:
                out.setdefault(info.media_id, []).append(info.availability)
        return out

    # --- inside -------------------------------------------------------------------------------

    def _programme_row(self, s: Session, slug: str) -> ProgrammeRow:
        prog = s.scalars(select(ProgrammeRow).where(ProgrammeRow.slug == slug)).first()
        if prog is None:
            raise NotFound(f"there is no programme {slug!r}")
        return prog

    def _programme(
        self, p: ProgrammeRow, episodes: Sequence[EpisodeInfo], artwork: Mapping[int, str]
    ) -> ProgrammeInfo:
        mine = [e for e in episodes if e.programme_id == p.id]
        return ProgrammeInfo(
            id=p.id,
            slug=p.slug,
            titles=dict(p.titles or {}),
            descriptions=dict(p.descriptions or {}),
            categories=tuple(p.categories or ()),
            presenters=tuple(p.presenters or ()),
            artwork_key=artwork.get(p.artwork_media_id) if p.artwork_media_id else None,
            episodes=len(mine),
            episodes_on_demand=sum(e.availability.on_demand for e in mine),
        )

    def _artwork_keys(self, s: Session, progs: Sequence[ProgrammeRow]) -> dict[int, str]:
        ids = {p.artwork_media_id for p in progs if p.artwork_media_id is not None}
        if not ids:
            return {}
        q = select(MediaRow.id, MediaRow.artwork_key).where(MediaRow.id.in_(ids))
        return {mid: key for mid, key in s.execute(q) if key}

    def _zones(self, s: Session, programme_ids: Collection[int]) -> dict[int, ZoneInfo]:
        """Each programme's zone: that of the first channel scheduling it (live entries first)."""
        if not programme_ids:
            return {}
        q = (
            select(EntryRow.target_id, ChannelRow.timezone)
            .join(ChannelRow, ChannelRow.id == EntryRow.channel_id)
            .where(EntryRow.target_type == "programme", EntryRow.target_id.in_(programme_ids))
            .order_by(EntryRow.retired, EntryRow.id)
        )
        zones: dict[int, ZoneInfo] = {}
        for pid, tz in s.execute(q):
            zones.setdefault(pid, ZoneInfo(tz))
        return zones

    def _channels_of(self, s: Session, programme_id: int) -> list[str]:
        q = (
            select(ChannelRow.slug)
            .join(EntryRow, EntryRow.channel_id == ChannelRow.id)
            .where(
                EntryRow.target_type == "programme",
                EntryRow.target_id == programme_id,
                EntryRow.retired.is_(false()),
            )
            .distinct()
            .order_by(ChannelRow.slug)
        )
        return list(s.scalars(q))

    def _infos(self, s: Session, rows: Sequence[Any], now: datetime) -> list[EpisodeInfo]:
        """Episode rows (from _episode_query) with their availability, in their order."""
        media_ids = {r[0].media_id for r in rows if r[0].media_id is not None}
        first = self.airings.first_aired(media_ids, now) if media_ids else {}
        zones = self._zones(s, {r[0].programme_id for r in rows})
        out = []
        for ep, slug, prog_titles, package_prefix, media_title, duration_ms, artwork in rows:
            avail = availability(
                packaged=package_prefix is not None,
                available_from=ep.available_from,
                available_until=ep.available_until,
                first_aired=first.get(ep.media_id) if ep.media_id is not None else None,
                air_date=ep.air_date,
                zone=zones.get(ep.programme_id, STATION_ZONE),
                now=now,
            )
            info = EpisodeInfo(
                id=ep.id,
                programme_id=ep.programme_id,
                programme_slug=slug,
                programme_titles=dict(prog_titles or {}),
                season=ep.season,
                number=ep.number,
                titles=dict(ep.titles or {}),
                descriptions=dict(ep.descriptions or {}),
                air_date=ep.air_date,
                media_id=ep.media_id,
                media_title=media_title or "",
                duration_ms=duration_ms,
                artwork_key=artwork,
                availability=avail,
            )
            out.append(info)
        return out


def _or_last(value: int | None) -> int:
    return LAST if value is None else value


def _unavailable(info: EpisodeInfo, reason: str) -> EpisodeInfo:
    a = info.availability
    return replace(info, availability=Availability(False, reason, a.start, a.until))
