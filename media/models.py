"""Persistence of the library (SQLAlchemy); converted to frozen records at this boundary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from station.db import Base, UtcDateTime

KINDS = ("music", "speech", "jingle", "programme", "filler", "slate")
PENDING, READY, FAILED = "pending", "ready", "failed"
# HLS packaging of a video item (media/packaging.py): none (not video, or not yet analysed),
# queued, packaging, ready (published), failed (package_error says why). That is the latest
# packaging's outcome; what is on air and on demand is the publication `package_prefix` names
# (media/publications.py), which stays while a new package is made, and if that one fails.
PACKAGE_NONE, PACKAGE_QUEUED, PACKAGING = "none", "queued", "packaging"
PACKAGE_READY, PACKAGE_FAILED = "ready", "failed"


class MediaRow(Base):
    __tablename__ = "media_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True, default=PENDING)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)

    title: Mapped[str] = mapped_column(String(500), default="")
    titles: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # lang -> title
    artist: Mapped[str] = mapped_column(String(500), default="")
    album: Mapped[str] = mapped_column(String(500), default="")
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    tags: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    descriptions: Mapped[dict[str, str]] = mapped_column(  # lang -> description
        JSON, default=dict, server_default="{}"
    )
    search_text: Mapped[str] = mapped_column(Text, default="")  # casefolded titles and artist

    original_name: Mapped[str] = mapped_column(String(255))
    storage_key: Mapped[str] = mapped_column(String(300))
    size_bytes: Mapped[int] = mapped_column(BigInteger)

    container: Mapped[str] = mapped_column(String(100), default="")
    audio_codec: Mapped[str | None] = mapped_column(String(50), nullable=True)
    video_codec: Mapped[str | None] = mapped_column(String(50), nullable=True)
    duration_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    channels: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sample_rate: Mapped[int | None] = mapped_column(Integer, nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    frame_rate: Mapped[float | None] = mapped_column(Float, nullable=True)
    bit_rate: Mapped[int | None] = mapped_column(Integer, nullable=True)

    loudness_lufs: Mapped[float | None] = mapped_column(Float, nullable=True)
    loudness_range_lu: Mapped[float | None] = mapped_column(Float, nullable=True)
    true_peak_dbtp: Mapped[float | None] = mapped_column(Float, nullable=True)
    cue_in_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cue_out_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    artwork_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    package_status: Mapped[str] = mapped_column(
        String(16), index=True, default=PACKAGE_NONE, server_default=PACKAGE_NONE
    )
    package_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The live publication: its prefix (hls/assets/<id>/<token>), since when, and when the
    # on-demand windows keeper last found it given out (schedules/vod_windows.py).
    package_prefix: Mapped[str | None] = mapped_column(String(300), nullable=True)
    package_published_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    package_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    subtitles: Mapped[list[SubtitleRow]] = relationship(
        back_populates="media", cascade="all, delete-orphan", order_by="SubtitleRow.lang"
    )


class SubtitleRow(Base):
    __tablename__ = "media_subtitles"
    __table_args__ = (UniqueConstraint("media_id", "lang"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media_items.id", ondelete="CASCADE"))
    lang: Mapped[str] = mapped_column(String(16))
    storage_key: Mapped[str] = mapped_column(String(300))
    media: Mapped[MediaRow] = relationship(back_populates="subtitles")


@dataclass(frozen=True, slots=True)
class Subtitle:
    lang: str
    storage_key: str


@dataclass(frozen=True, slots=True)
class MediaItem:
    id: int
    sha256: str
    kind: str
    status: str
    error: str | None
    title: str
    titles: dict[str, str]
    artist: str
    album: str
    languages: list[str]
    tags: dict[str, str]
    descriptions: dict[str, str]
    original_name: str
    storage_key: str
    size_bytes: int
    container: str
    audio_codec: str | None
    video_codec: str | None
    duration_ms: int | None
    channels: int | None
    sample_rate: int | None
    width: int | None
    height: int | None
    frame_rate: float | None
    bit_rate: int | None
    loudness_lufs: float | None
    loudness_range_lu: float | None
    true_peak_dbtp: float | None
    cue_in_ms: int | None
    cue_out_ms: int | None
    artwork_key: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    subtitles: tuple[Subtitle, ...] = field(default=())
    package_status: str = PACKAGE_NONE
    package_error: str | None = None

    @property
    def etag(self) -> str:
        return f'"m{self.id}v{self.version}"'

    @classmethod
    def of(cls, row: MediaRow) -> MediaItem:
        values: dict[str, Any] = {
            f: getattr(row, f) for f in cls.__dataclass_fields__ if f != "subtitles"
        }
        values["titles"] = dict(row.titles or {})
        values["languages"] = list(row.languages or [])
        values["tags"] = dict(row.tags or {})
        values["descriptions"] = dict(row.descriptions or {})
        return cls(
            **values,
            subtitles=tuple(Subtitle(s.lang, s.storage_key) for s in row.subtitles),
        )


def search_text(*parts: str | None) -> str:
    return " ".join(p.casefold() for p in parts if p)
