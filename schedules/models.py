"""Persistence of channels, programmes, episodes, playlists, clocks, schedule entries and the
audit log (SQLAlchemy). Rows are turned into plain specs by schedules/snapshot.py."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from station.db import Base, UtcDateTime


class Versioned:
    """Every editable resource: a version for ETags, and when it was made and changed."""

    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ChannelRow(Versioned, Base):
    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(8))  # radio | tv
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    descriptions: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    logo_url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Baku")
    loudness_target_lufs: Mapped[float] = mapped_column(Float, default=-16.0)
    true_peak_max_dbtp: Mapped[float] = mapped_column(Float, default=-1.0)
    crossfade_ms: Mapped[int] = mapped_column(Integer, default=0)
    filler_playlist_id: Mapped[int | None] = mapped_column(
        ForeignKey("playlists.id"), nullable=True
    )
    slate_media_id: Mapped[int | None] = mapped_column(ForeignKey("media_items.id"), nullable=True)
    freeze_horizon_s: Mapped[int] = mapped_column(Integer, default=120)
    streams: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class ProgrammeRow(Versioned, Base):
    __tablename__ = "programmes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    titles: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    descriptions: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    artwork_media_id: Mapped[int | None] = mapped_column(
        ForeignKey("media_items.id"), nullable=True
    )
    presenters: Mapped[list[str]] = mapped_column(JSON, default=list)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Folded titles in every language (search_fold), kept in step on every write.
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")


class EpisodeRow(Versioned, Base):
    __tablename__ = "episodes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    season: Mapped[int | None] = mapped_column(Integer, nullable=True)
    number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    titles: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    descriptions: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    media_id: Mapped[int | None] = mapped_column(ForeignKey("media_items.id"), nullable=True)
    air_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    # On demand between these instants (schedules/vod.py); without a start, once it has aired.
    available_from: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    available_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")


def search_fold(text: str) -> str:
    """Text as search compares it: case-folded, accents and dots dropped, ə→e and ı→i.

    So "vətən", "Vətən" and "veten" (a keyboard without Azerbaijani letters) find the same
    titles, "İlham" is found as "ilham", and Russian "ё" as "е". Both the stored text and the
    query words are folded the same way.
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return bare.translate(_LOOSE)


_LOOSE = str.maketrans({"ə": "e", "ı": "i"})


def search_text(texts: Iterable[str]) -> str:
    return " ".join(search_fold(t) for t in texts if t)


@event.listens_for(ProgrammeRow, "before_insert")
@event.listens_for(ProgrammeRow, "before_update")
@event.listens_for(EpisodeRow, "before_insert")
@event.listens_for(EpisodeRow, "before_update")
def _fold_titles(mapper: Any, connection: Any, row: ProgrammeRow | EpisodeRow) -> None:
    row.search_text = search_text((row.titles or {}).values())


class PlaylistRow(Versioned, Base):
    __tablename__ = "playlists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    shuffle: Mapped[bool] = mapped_column(Boolean, default=False)
    media_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    artist_separation_s: Mapped[int] = mapped_column(Integer, default=0)
    track_separation_s: Mapped[int] = mapped_column(Integer, default=0)


class ClockRow(Versioned, Base):
    __tablename__ = "clocks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # [{at_s, source: media|playlist, ref_id, fill, hard, title}]
    slots: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class EntryRow(Versioned, Base):
    __tablename__ = "schedule_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"), index=True)
    target_type: Mapped[str] = mapped_column(String(16))  # programme | playlist | clock | media
    target_id: Mapped[int] = mapped_column(Integer)
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episodes.id"), nullable=True)
    titles: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    start_local: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    rrule: Mapped[str | None] = mapped_column(Text, nullable=True)
    exdates: Mapped[list[str]] = mapped_column(JSON, default=list)
    duration_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    hard: Mapped[bool] = mapped_column(Boolean, default=True)
    effective_from: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    effective_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # A retired row is history: deleted, or the part of a series before an edit took effect.
    # It still resolves the past; editors no longer see or change it.
    retired: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    revision_of: Mapped[int | None] = mapped_column(Integer, nullable=True)


class ActionRow(Versioned, Base):
    """An operator's order for the air (skip the item on air, play media now), taking effect
    at `at`: data the resolver reads like the entries, so every playout resolves it alike."""

    __tablename__ = "onair_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # skip | play-now
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    # What aired is the as-run's; a media deleted later leaves the action without it.
    media_id: Mapped[int | None] = mapped_column(
        ForeignKey("media_items.id", ondelete="SET NULL"), nullable=True
    )
    actor: Mapped[str] = mapped_column(String(200))


class AuditRow(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(16))  # create | update | delete | split
    resource: Mapped[str] = mapped_column(String(32), index=True)
    resource_id: Mapped[int] = mapped_column(Integer)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
