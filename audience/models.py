"""The audience ledger's tables: one row per listening or viewing session, the day keys that
make visitors countable within a day and nothing more (see audience/visitors.py), and the
rollups the reports read (see audience/rollups.py)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from station.db import Base, UtcDateTime

# What makes a rollup row one cell: its unique key, and what a rollup adds to on a conflict.
HOUR_CELL = (
    "hour",
    "surface",
    "channel",
    "country",
    "player",
    "device",
    "os",
    "programme_id",
    "episode_id",
)
DAY_VISITOR_CELL = ("day", "visitor", "surface", "channel", "programme_id", "episode_id")


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
    # Counted in the rollups (audience/rollups.py): set once, when the closed session's
    # figures are added there, in the same transaction.
    rolled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), index=True)


class DayKeyRow(Base):
    """A random key per UTC day; deleted once its day is over and its sessions are closed."""

    __tablename__ = "audience_day_keys"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    key: Mapped[bytes] = mapped_column(LargeBinary(32))


# --- rollups: what closed sessions add up to, by hour (audience/rollups.py) ----------------
# None is stored as "" (a channel) and 0 (a programme, an episode) so that each cell is one
# row under its unique key.


class HourRow(Base):
    """Per UTC hour and cell: sessions begun, sessions that joined the cell's programme and
    episode (their first second of it), seconds listened within the hour, and sessions going
    on at the hour's first instant."""

    __tablename__ = "audience_hours"
    __table_args__ = (UniqueConstraint(*HOUR_CELL, name="uq_audience_hours_cell"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hour: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    surface: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(64))
    country: Mapped[str] = mapped_column(String(2))
    player: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(64))
    os: Mapped[str] = mapped_column(String(64))
    programme_id: Mapped[int] = mapped_column(Integer)
    episode_id: Mapped[int] = mapped_column(Integer)
    sessions: Mapped[int] = mapped_column(Integer)
    joined: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[int] = mapped_column(BigInteger)
    on_at_start: Mapped[int] = mapped_column(Integer)


class DayVisitorRow(Base):
    """A visitor heard something on a UTC day: where (surface, channel, programme, episode),
    who (their country and player, fixed by the hash), and in which hours of the day (a bit
    per UTC hour, 1 << hour). Unique listeners are counted from here; deleted with the
    sessions at the end of the retention."""

    __tablename__ = "audience_day_visitors"
    __table_args__ = (UniqueConstraint(*DAY_VISITOR_CELL, name="uq_audience_day_visitors_cell"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    visitor: Mapped[str] = mapped_column(String(32))
    surface: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(64))
    programme_id: Mapped[int] = mapped_column(Integer)
    episode_id: Mapped[int] = mapped_column(Integer)
    country: Mapped[str] = mapped_column(String(2))
    player: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(64))
    os: Mapped[str] = mapped_column(String(64))
    hours: Mapped[int] = mapped_column(Integer)


class MinuteRow(Base):
    """Per minute mark, surface and channel: sessions that began since the previous mark less
    those that ended, so that the sessions going on at each mark (and the peak) follow from
    the hour's `on_at_start` by a running sum."""

    __tablename__ = "audience_minutes"
    __table_args__ = (
        UniqueConstraint("mark", "surface", "channel", name="uq_audience_minutes_cell"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mark: Mapped[int] = mapped_column(BigInteger, index=True)  # epoch seconds, a minute's
    surface: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(64))
    delta: Mapped[int] = mapped_column(Integer)
