"""PostgreSQL notifications (LISTEN/NOTIFY): a short word from one process to every process
listening on the same database, delivered within milliseconds.

A notice here is news that something changed, never the change itself: the sender has already
written the change where readers find it (storage, a table) and each reader also looks there
by itself now and then. A notice lost — nobody listening at that moment, the database away —
costs only the delay until the reader looks anyway; so neither end may hold up the work it
tells about. Both ends use connections of their own, outside the pool, that give up on a
server gone quiet in seconds (`station.db.PG_ALIVE`). The sender (`Notifier`) is called from a
worker thread and, after a failure, does not try again for a moment (the one back-off policy),
so a database that is away costs it one timeout per step rather than one per notice. The
listener (`Listener`) waits on an asyncio connection (no thread to own, and stopping is the
event loop's business); when its connection drops it opens another with the back-off policy,
and each time it is listening again it says so to its owner, who catches up on what it may
have missed meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from psycopg import sql

from station.backoff import Attempts, Backoff
from station.clock import SystemClock, pause
from station.db import psycopg_conninfo
from station.errors import StationError

log = logging.getLogger(__name__)
# After a failed notice the next is not tried for 1 s, then 1, 2, 4 … 30 s while it fails.
NOTIFY_RETRY = Backoff(base_s=1.0, max_s=30.0, first_s=1.0)
# A listening connection lost is opened again at once, then after 0.5, 1, 2 … 10 s.
LISTEN_RETRY = Backoff(base_s=0.5, max_s=10.0)
STOP_CHECK_S = 1.0  # how soon a listener notices that it is asked to stop


class NotifyFailed(StationError):
    reason = "notify-failed"


class Notifier:
    """Sends notices on one connection of its own, opened on first use and again after a
    failure. Its calls block: make them from a worker thread."""

    def __init__(
        self,
        url: str,
        application_name: str,
        *,
        policy: Backoff = NOTIFY_RETRY,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._conninfo = psycopg_conninfo(url, application_name=application_name)
        self._conn: psycopg.Connection[Any] | None = None
        self._lock = threading.Lock()  # one notice at a time on the connection
        self._attempts = Attempts(policy, now)
        self._quiet_until = 0.0

    def send(self, channel: str, payload: str) -> None:
        """NOTIFY `channel` with `payload` (at most 8000 bytes), delivered at once
        (autocommit). Raises NotifyFailed when the database cannot be reached, or was not a
        moment ago (not tried again until the back-off has passed)."""
        with self._lock:
            wait = self._quiet_until - self._attempts.now()
            if wait > 0:
                raise NotifyFailed(
                    f"not sent on {channel}: the database could not be reached a moment ago "
                    f"(tried again in {wait:.1f} s)"
                )
            self._attempts.started()
            try:
                self._send(channel, payload)
            except psycopg.Error as exc:
                self._quiet_until = self._attempts.now() + self._attempts.failed()
                raise NotifyFailed(f"not sent on {channel}: {exc}") from exc
            self._attempts.succeeded()

    def _send(self, channel: str, payload: str) -> None:
        # A connection the server has ended since the last notice (a restart, an idle
        # timeout) fails at once: the notice is tried once more on a new one.
        for fresh in (self._conn is None, True):
            try:
                if self._conn is None:
                    self._conn = psycopg.connect(self._conninfo, autocommit=True)
                self._conn.execute("SELECT pg_notify(%s, %s)", (channel, payload))
                return
            except psycopg.Error:
                self._close()
                if fresh:
                    raise

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def close(self) -> None:
        with self._lock:
            self._close()


class Listener:
    """Listens on one channel until stopped, on a connection that is opened again whenever
    it is lost. `about` says in the log what the notices are for, `meanwhile` what stands in
    for them while the connection is down."""

    def __init__(
        self,
        url: str,
        channel: str,
        *,
        application_name: str,
        about: str,
        meanwhile: str,
        policy: Backoff = LISTEN_RETRY,
    ) -> None:
        self.channel = channel
        self._conninfo = psycopg_conninfo(url, application_name=application_name)
        self._about = about
        self._meanwhile = meanwhile
        self._policy = policy

    async def run(
        self,
        stop: asyncio.Event,
        notice: Callable[[str], Awaitable[None]],
        listening: Callable[[], Awaitable[None]],
    ) -> None:
        """Each notice's payload to `notice`, in order; `listening` each time the listener
        starts listening (the first time, and after every reconnection), for the owner to
        catch up on notices it may have missed. Neither may raise."""
        attempts = Attempts(self._policy)
        clock = SystemClock()
        down_since: float | None = None
        while not stop.is_set():
            attempts.started()
            try:
                conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
            except psycopg.Error as exc:
                down_since = down_since or time.monotonic()
                wait = attempts.failed()
                log.warning(
                    "cannot reach the database to listen for notifications; trying again",
                    extra=self._context(error=str(exc).strip(), retry_in_s=wait),
                )
                await pause(clock, stop, wait)
                continue
            lost: psycopg.Error | None = None
            try:
                await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                if down_since is None:
                    log.info("listening for notifications", extra=self._context())
                else:
                    down_s = round(time.monotonic() - down_since, 1)
                    again = self._context(down_s=down_s)
                    log.info("listening for notifications again", extra=again)
                    down_since = None
                await listening()
                while not stop.is_set():
                    async for n in conn.notifies(timeout=STOP_CHECK_S):
                        await notice(n.payload)
            except psycopg.Error as exc:
                lost = exc
            finally:
                await conn.close()
            if lost is not None:
                down_since = time.monotonic()
                wait = attempts.failed()
                log.warning(
                    "lost the connection listening for notifications; opening another",
                    extra=self._context(error=str(lost).strip(), retry_in_s=wait),
                )
                await pause(clock, stop, wait)

    def _context(self, **more: Any) -> dict[str, Any]:
        context = {"notify_channel": self.channel, "for": self._about}
        if more.get("error") is not None:
            context["meanwhile"] = self._meanwhile
        return {**context, **more}
