"""Who was last let onto each channel's live mount, and until when: the record playout keeps
the live feed to.

The live desk writes a grant each time it lets a source in, wherever it is asked (icecast2's
URL authentication in the API process, or the built-in relay in playout); the live feed reads
the channel's grant when a source appears and while it airs. icecast2 itself never ends a
source at a time, so this is how a presenter's slot end holds on icecast2 as it does on the
relay: past `until`, the feed goes off air and the source is removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from station.clock import from_ms, to_ms
from station.db import Base, Database, UtcDateTime


class LiveGrantRow(Base):
    __tablename__ = "live_grants"

    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime)


@dataclass(frozen=True, slots=True)
class Granted:
    """The latest source let onto a channel's live mount."""

    channel: str
    username: str
    until_ms: int | None  # the end of their slot plus the margin; None: no limit (staff)
    granted_ms: int

    def over(self, now_ms: int) -> bool:
        return self.until_ms is not None and now_ms >= self.until_ms


class LiveGrants:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, granted: Granted) -> None:
        until = None if granted.until_ms is None else from_ms(granted.until_ms)
        with self.db.session() as s:
            row = s.get(LiveGrantRow, granted.channel)
            if row is None:
                row = LiveGrantRow(channel=granted.channel)
                s.add(row)
            row.username = granted.username
            row.until = until
            row.granted_at = from_ms(granted.granted_ms)

    def latest(self, channel: str) -> Granted | None:
        with self.db.session() as s:
            row = s.get(LiveGrantRow, channel)
            if row is None:
                return None
            until = None if row.until is None else to_ms(row.until)
            return Granted(channel, row.username, until, to_ms(row.granted_at))
