"""The as-run table: one row per item as it started on a channel (see playout/asrun.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from station.db import Base, UtcDateTime


class AsRunRow(Base):
    __tablename__ = "as_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(64), index=True)
    planned_start: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    actual_start: Mapped[datetime] = mapped_column(UtcDateTime)
    planned_ms: Mapped[int] = mapped_column(Integer)  # length on the schedule
    kind: Mapped[str] = mapped_column(String(16))
    media_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    entry_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    title: Mapped[str] = mapped_column(String(500), default="")
    artist: Mapped[str] = mapped_column(String(500), default="")
    outcome: Mapped[str] = mapped_column(String(24))
    # TV: the HLS media-sequence numbers of its segments (slate fill included)
    first_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
