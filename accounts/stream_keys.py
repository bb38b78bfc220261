"""Stream keys: what a presenter's source client (BUTT, Mixxx, ffmpeg) sends to go live.

Each person who may go live has at most one key: random, 32 bytes, shown once when it is
made, stored only as its SHA-256 (a key is as strong as a random token, so a fast hash is
enough and a check costs microseconds, not the argon2 of a password). Making a new one
replaces the old (rotation); revoking deletes it. The source client sends the username as
its user and the key as its password; the account password is never a source credential,
so a leaked key opens the live mount and nothing else.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from accounts.users import User, UserRow, user_of
from station.clock import Clock
from station.credentials import same_secret
from station.db import Base, Database, UtcDateTime

PREFIX = "dsk_"
MAX_KEY = 200  # far above a real key (48 characters); a longer "key" is not looked up


class StreamKeyRow(Base):
    __tablename__ = "stream_keys"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(8))  # the key's last characters, to tell keys apart
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


@dataclass(frozen=True, slots=True)
class StreamKeyInfo:
    """What may be shown of a key after it was made: never the key."""

    hint: str
    created_at: datetime


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class StreamKeys:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def issue(self, user_id: int) -> tuple[str, StreamKeyInfo]:
        """A new key for this person, replacing any old one in the same transaction."""
        key = PREFIX + secrets.token_urlsafe(32)
        info = StreamKeyInfo(key[-4:], self.clock.now())
        with self.db.session() as s:
            s.execute(delete(StreamKeyRow).where(StreamKeyRow.user_id == user_id))
            s.add(
                StreamKeyRow(
                    user_id=user_id,
                    key_sha256=_digest(key),
                    hint=info.hint,
                    created_at=info.created_at,
                )
            )
        return key, info

    def info(self, user_id: int) -> StreamKeyInfo | None:
        with self.db.session() as s:
            row = s.get(StreamKeyRow, user_id)
            return StreamKeyInfo(row.hint, row.created_at) if row else None

    def revoke(self, user_id: int) -> bool:
        """Forget this person's key; False if they had none."""
        with self.db.session() as s:
            gone = s.execute(delete(StreamKeyRow).where(StreamKeyRow.user_id == user_id))
            return bool(getattr(gone, "rowcount", 0))

    def verify(self, username: str, key: str) -> User | None:
        """The enabled user this key belongs to, if `username` is theirs; else None."""
        if not key.startswith(PREFIX) or len(key) > MAX_KEY:
            return None
        with self.db.session() as s:
            found = s.execute(
                select(StreamKeyRow, UserRow)
                .join(UserRow, UserRow.id == StreamKeyRow.user_id)
                .where(StreamKeyRow.key_sha256 == _digest(key))
            ).first()
            if found is None:
                return None
            user = found[1]
            if user.disabled or not same_secret(user.username, username):
                return None
            return user_of(user)
