"""Reading what the resolver needs from the database: stored rows in, plain specs out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from media.models import READY, MediaRow
from schedules.models import (
    ActionRow,
    ChannelRow,
    ClockRow,
    EntryRow,
    EpisodeRow,
    PlaylistRow,
    ProgrammeRow,
)
from schedules.plan import (
    ActionSpec,
    Catalogue,
    ChannelSpec,
    ClockSlot,
    ClockSpec,
    EntrySpec,
    EpisodeSpec,
    MediaRef,
    PlaylistSpec,
    ProgrammeSpec,
    to_ms,
)
from station.db import Database
from station.errors import NotFound


def entry_spec(row: EntryRow) -> EntrySpec:
    return EntrySpec(
        # History rows of a split series carry the entry's own id: one entry, one identity.
        id=row.revision_of or row.id or 0,
        target=row.target_type,  # type: ignore[arg-type]
        target_id=row.target_id,
        start_local=row.start_local,
        duration_ms=row.duration_ms,
        rrule=row.rrule or None,
        exdates=tuple(datetime.fromisoformat(x) for x in row.exdates or []),
        hard=bool(row.hard),
        episode_id=row.episode_id,
        title=dict(row.titles or {}),
        effective_from_ms=to_ms(row.effective_from) if row.effective_from else None,
        effective_until_ms=to_ms(row.effective_until) if row.effective_until else None,
    )


def channel_spec(row: ChannelRow, filler_ids: tuple[int, ...] = ()) -> ChannelSpec:
    return ChannelSpec(
        id=row.id,
        slug=row.slug,
        kind=row.kind,  # type: ignore[arg-type]
        timezone=row.timezone,
        crossfade_ms=row.crossfade_ms,
        filler_playlist_id=row.filler_playlist_id,
        slate_media_id=row.slate_media_id,
        loudness_target_lufs=row.loudness_target_lufs,
        true_peak_max_dbtp=row.true_peak_max_dbtp,
        names=dict(row.names or {}),
        filler_ids=filler_ids,
    )


def media_ref(m: MediaRow) -> MediaRef:
    # A video plays whole: its picture does not start or stop where its sound is silent,
    # and the TV sequencer cuts only at segment boundaries.
    video = m.video_codec is not None
    return MediaRef(
        id=m.id,
        kind=m.kind,
        title=m.title,
        artist=m.artist,
        duration_ms=m.duration_ms or 0,
        cue_in_ms=0 if video else (m.cue_in_ms or 0),
        cue_out_ms=None if video else m.cue_out_ms,
        titles=dict(m.titles or {}),
    )


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything one channel's timeline is resolved from, read in one transaction."""

    channel: ChannelSpec
    entries: tuple[EntrySpec, ...]
    catalogue: Catalogue
    actions: tuple[ActionSpec, ...] = ()


def load(db: Database, slug: str) -> Snapshot:
    with db.session() as s:
        ch = s.scalars(select(ChannelRow).where(ChannelRow.slug == slug)).first()
        if ch is None:
            raise NotFound(f"there is no channel {slug!r}")
        rows = s.scalars(select(EntryRow).where(EntryRow.channel_id == ch.id)).all()
        entries = tuple(entry_spec(r) for r in rows)
        playlist_ids = {r.target_id for r in rows if r.target_type == "playlist"}
        clock_ids = {r.target_id for r in rows if r.target_type == "clock"}
        programme_ids = {r.target_id for r in rows if r.target_type == "programme"}
        media_ids = {r.target_id for r in rows if r.target_type == "media"}
        actions = tuple(
            ActionSpec(a.id, a.kind, to_ms(a.at), a.media_id)  # type: ignore[arg-type]
            for a in s.scalars(
                select(ActionRow).where(ActionRow.channel_id == ch.id).order_by(ActionRow.id)
            )
        )
        media_ids.update(a.media_id for a in actions if a.media_id is not None)
        if ch.filler_playlist_id:
            playlist_ids.add(ch.filler_playlist_id)
        if ch.slate_media_id:
            media_ids.add(ch.slate_media_id)
        clocks: dict[int, ClockSpec] = {}
        for c in s.scalars(select(ClockRow).where(ClockRow.id.in_(clock_ids))):
            slots = tuple(
                ClockSlot(
                    at_ms=int(x["at_s"]) * 1000,
                    source=x["source"],
                    ref_id=int(x["ref_id"]),
                    fill=bool(x.get("fill")),
                    hard=bool(x.get("hard")),
                    title=x.get("title", ""),
                )
                for x in c.slots
            )
            clocks[c.id] = ClockSpec(c.id, c.name, slots)
            for slot in slots:
                (playlist_ids if slot.source == "playlist" else media_ids).add(slot.ref_id)
        playlists: dict[int, PlaylistSpec] = {}
        for p in s.scalars(select(PlaylistRow).where(PlaylistRow.id.in_(playlist_ids))):
            playlists[p.id] = PlaylistSpec(
                p.id,
                p.name,
                tuple(p.media_ids),
                p.shuffle,
                p.artist_separation_s * 1000,
                p.track_separation_s * 1000,
            )
            media_ids.update(p.media_ids)
        programmes: dict[int, ProgrammeSpec] = {}
        episodes: dict[int, list[EpisodeSpec]] = {}
        for e in s.scalars(
            select(EpisodeRow)
            .where(EpisodeRow.programme_id.in_(programme_ids))
            .order_by(EpisodeRow.season, EpisodeRow.number, EpisodeRow.id)
        ):
            episodes.setdefault(e.programme_id, []).append(
                EpisodeSpec(
                    e.id,
                    e.programme_id,
                    e.media_id,
                    e.number,
                    e.season,
                    e.air_date,
                    dict(e.titles or {}),
                )
            )
            if e.media_id:
                media_ids.add(e.media_id)
        for pr in s.scalars(select(ProgrammeRow).where(ProgrammeRow.id.in_(programme_ids))):
            programmes[pr.id] = ProgrammeSpec(
                pr.id,
                pr.slug,
                dict(pr.titles or {}),
                tuple(episodes.get(pr.id, [])),
                tuple(pr.categories or []),
            )
        # Only what is ready can air: a file still being analysed, or one that failed, is
        # left out, and the resolver fills its place.
        media = {
            m.id: media_ref(m)
            for m in s.scalars(
                select(MediaRow).where(MediaRow.id.in_(media_ids), MediaRow.status == READY)
            )
        }
    filler = playlists.get(ch.filler_playlist_id) if ch.filler_playlist_id else None
    spec = channel_spec(ch, filler.media_ids if filler else ())
    return Snapshot(spec, entries, Catalogue(media, playlists, clocks, programmes), actions)


def catalogue_rows(db: Database, slug: str) -> dict[str, Any]:
    """Titles for the guide: programmes, episodes, playlists, clocks by id, as stored."""
    with db.session() as s:
        return {
            "programmes": {p.id: p for p in s.scalars(select(ProgrammeRow))},
            "episodes": {e.id: e for e in s.scalars(select(EpisodeRow))},
            "playlists": {p.id: p for p in s.scalars(select(PlaylistRow))},
            "clocks": {c.id: c for c in s.scalars(select(ClockRow))},
        }


FINGERPRINTED = (
    ChannelRow,
    ProgrammeRow,
    EpisodeRow,
    PlaylistRow,
    ClockRow,
    EntryRow,
    MediaRow,
    ActionRow,
)


FINGERPRINT = select(
    *(
        select(agg).select_from(m).scalar_subquery()
        for m in FINGERPRINTED
        for agg in (func.count(), func.max(m.id), func.sum(m.version), func.max(m.updated_at))
    )
)


def fingerprint(db: Database) -> tuple[Any, ...]:
    """One cheap query whose answer changes whenever anything the resolver or the guide reads
    changes, in this process or another: per table, its row count, highest id, the sum of the
    rows' versions (every edit adds one) and the latest change.

    It is asked for on every request for a guide, so it is SQL compiled once, sent as it is
    (the values are only compared, never read: no result types), and on a SQLite file read
    again only when something was committed since (`Database.current_row`)."""
    sql = FINGERPRINT_SQL.get(db.engine.dialect.name)
    if sql is None:
        sql = FINGERPRINT_SQL[db.engine.dialect.name] = str(FINGERPRINT.compile(db.engine))
    return db.current_row(sql)


FINGERPRINT_SQL: dict[str, str] = {}  # by dialect name
