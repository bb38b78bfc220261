"""The audience ledger's tables: one row per listening or viewing session, and the day keys
that make visitors countable within a day and nothing more (see audience/visitors.py)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from station.db import Base, UtcDateTime


class SessionRow(Base):
    __tablename__ = "audience_sessions"
    __table_args__ = (UniqueConstraint("source_key", name="uq_audience_sessions_source_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Who reported it and its own name for it (a relay's listener, icecast2's client id, a
    # player's HLS session): a second report of the same session is the same row.
    source_key: Mapped[str] = mapped_column(String(200))
    surface: Mapped[str] = mapped_column(String(16), index=True)  # audience.ledger.Surface
    channel: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    mount: Mapped[str] = mapped_column(String(200), default="")
    episode_id: Mapped[int | None] = mapped_column(Integer, index=True, nullable=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    # Until the session ends: the last moment it was known to be going on.
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True, nullable=True)
    seconds: Mapped[int] = mapped_column(Integer, default=0)  # listened or delivered
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    visitor: Mapped[str] = mapped_column(String(32), index=True)  # keyed hash, rotated daily
    country: Mapped[str] = mapped_column(String(2), default="ZZ")  # ISO 3166-1; ZZ unknown
    player: Mapped[str] = mapped_column(String(64), default="Other")
    device: Mapped[str] = mapped_column(String(64), default="Other")
    os: Mapped[str] = mapped_column(String(64), default="Other")


class DayKeyRow(Base):
    """A random key per UTC day; deleted once its day is over and its sessions are closed."""

    __tablename__ = "audience_day_keys"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    key: Mapped[bytes] = mapped_column(LargeBinary(32))
