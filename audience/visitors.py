"""Visitors without addresses: a session is tied to its listener by a keyed hash of address and
player (HMAC-SHA-256) under a random key of the day it began. The same listener is one visitor
all that day, so uniques and IAB-style de-duplication work; the key is deleted once the day is
over, after which nobody, the station included, can tell whose address a hash was. No address
is written anywhere: the hash is made as the session arrives."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from datetime import date, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from audience.models import DayKeyRow
from station.db import Database, affected

KEEP_DAYS = 2  # today's key and yesterday's (a process whose clock is behind by a little)


def visitor_hash(key: bytes, address: str, user_agent: str) -> str:
    """The visitor's id: 32 hex digits, the same for the same address and player that day."""
    mac = hmac.new(key, f"{address}\n{user_agent}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


class DayKeys:
    """The keys of the days, shared by every process through the database; cached here."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._keys: dict[date, bytes] = {}
        self._lock = threading.Lock()

    def key(self, day: date) -> bytes:
        with self._lock:
            found = self._keys.get(day)
            if found is not None:
                return found
            found = self._load_or_make(day)
            self._keys = {d: k for d, k in self._keys.items() if d >= day - timedelta(KEEP_DAYS)}
            self._keys[day] = found
            return found

    def _load_or_make(self, day: date) -> bytes:
        with self.db.session() as s:
            row = s.get(DayKeyRow, day)
            if row is not None:
                return row.key
        try:
            with self.db.session() as s:
                s.add(DayKeyRow(day=day, key=secrets.token_bytes(32)))
        except IntegrityError:  # another process made it first: theirs is the day's
            pass
        with self.db.session() as s:
            return s.execute(select(DayKeyRow.key).where(DayKeyRow.day == day)).scalar_one()

    def forget_before(self, day: date) -> int:
        """Delete the keys of days before `day`: their hashes can no longer be recomputed."""
        with self.db.session() as s:
            gone = affected(s.execute(delete(DayKeyRow).where(DayKeyRow.day < day)))
        with self._lock:
            self._keys = {d: k for d, k in self._keys.items() if d >= day}
        return gone
