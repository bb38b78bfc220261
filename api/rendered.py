"""Guides made once per version of the schedule, not once per request.

A day of a busy channel is thousands of guide blocks: building and serialising them costs far
more than sending them. The schedule, iCalendar and XMLTV answers are kept, as bytes (and
gzipped, once), under a key of what the request asked (channel, window, language …) and the
schedule's `version()` (the database fingerprint: any edit, in any process, makes a new key).
Each key is made once even when many requests ask for it at the same moment.

The version is read afresh for every request, so an answer is never older than the last
edit committed before the request came. On a SQLite file that costs microseconds (the
fingerprint is read again only when `PRAGMA data_version` says something was committed) and
is done on the event loop. On PostgreSQL it is a round trip (one small query; the fingerprint
itself only when `pg_current_snapshot()` says something was committed), made in a worker
thread; a read begun before a request arrived may have missed an edit, so requests that arrive
while one is under way wait for the next: under load one read serves a batch of requests. A
kept answer is sent from the event loop; only making one goes to a worker thread. The route
also hands `api/replay.py` a check of whether its answer still holds, so the next request for
exactly the same answer is sent it without going through the framework again.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from fastapi import Request, Response

from api.http import GZIP_MINIMUM, GZIP_SUFFIX, strong_etag
from api.services import Services
from schedules.cache import Memo

KEPT = 64  # answers kept (a few windows × languages × channels)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Made:
    """What a route makes: the body, and for an answer about "today" (no date asked) the
    span of time it holds for (the day, in the channel's zone)."""

    body: bytes
    during: tuple[datetime, datetime] | None = None


@dataclass
class Rendered:
    """One answer's bytes, its tag, and (made on first asking) its gzip form: a busy day's
    guide is half a megabyte, and hashing and compressing it again for every request would
    cost more than all the rest of the request."""

    body: bytes
    etag: str
    during: tuple[datetime, datetime] | None = None
    _gzipped: list[bytes] = field(default_factory=list)

    def holds(self, now: datetime) -> bool:
        return self.during is None or self.during[0] <= now < self.during[1]

    @property
    def is_gzipped(self) -> bool:
        return bool(self._gzipped)

    def gzipped(self) -> bytes:
        if not self._gzipped:
            self._gzipped.append(gzip.compress(self.body, compresslevel=6, mtime=0))
        return self._gzipped[0]


class FreshRead(Generic[T]):
    """A value read in a worker thread, never by a read begun before the caller asked: callers
    that ask while a read is under way share the next one."""

    def __init__(self, read: Callable[[], T]) -> None:
        self._read = read
        self._next: asyncio.Future[T] | None = None
        self._reader: asyncio.Task[None] | None = None

    async def get(self) -> T:
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        waiting = self._next
        if self._reader is None:
            self._reader = asyncio.create_task(self._reads())
        # Shielded: a caller that goes away must not cancel the read the others wait for.
        return await asyncio.shield(waiting)

    async def _reads(self) -> None:
        try:
            while self._next is not None:
                waiting, self._next = self._next, None  # later callers wait for the next read
                try:
                    waiting.set_result(await asyncio.to_thread(self._read))
                except Exception as exc:  # the database away: every waiter gets the error
                    waiting.set_exception(exc)
                    waiting.exception()  # retrieved: no "never retrieved" log if all left
                except asyncio.CancelledError:
                    waiting.cancel()
                    raise
        finally:
            self._reader = None
            if self._next is not None:
                self._next.cancel()
                self._next = None


class Renderings:
    """The app's kept answers, each under what was asked and the schedule's version."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.memo: Memo[Rendered] = Memo(KEPT)
        self.version = FreshRead(svc.schedules.version)
        self.version_on_loop = svc.db.watches_commits
        self.made = 0  # answers made (the rest were sent as kept)

    async def _version(self) -> Hashable:
        # A SQLite file tells in microseconds whether anything was committed (and the version
        # is read again only then): cheaper than a trip to a worker thread. A database server
        # is a round trip away: a worker thread, shared by the requests that wait for it.
        if self.version_on_loop:
            return self.svc.schedules.version()
        return await self.version.get()

    async def get(
        self, key: tuple[Hashable, ...], make: Callable[[], Made]
    ) -> tuple[Rendered, Callable[[], Awaitable[bool]]]:
        """The answer, and a check of whether it is still the one `get` would give now (the
        schedule's version unchanged, and the span it is about not over)."""
        version = await self._version()
        key = (*key, version)

        def holds(r: Rendered) -> bool:
            return r.holds(self.svc.clock.now())

        kept = self.memo.peek(key, holds)
        if kept is None:

            def made() -> Rendered:
                m = make()
                self.made += 1
                return Rendered(m.body, strong_etag(m.body), m.during)

            kept = await asyncio.to_thread(self.memo.get, key, made, holds)
        answer = kept

        async def still() -> bool:
            return holds(answer) and await self._version() == version

        return answer, still


async def rendered(
    request: Request,
    key: tuple[Hashable, ...],
    make: Callable[[], Made],
    media_type: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The answer kept under `key` and the schedule's version (made with `make` if there is
    none), compressed when the client takes gzip. The ETag names the uncompressed body, with
    the `-gzip` suffix on the compressed one, as `api/http.py` does for other answers; it
    answers If-None-Match with 304 for both."""
    renderings: Renderings = request.app.state.renderings
    r, still = await renderings.get((request.url.path, *key), make)
    request.state.replay = still  # sent again as it is while it holds (`api/replay.py`)
    out = dict(headers or {})
    if "gzip" in request.headers.get("accept-encoding", "") and len(r.body) >= GZIP_MINIMUM:
        out |= {
            "Content-Encoding": "gzip",
            "ETag": r.etag[:-1] + GZIP_SUFFIX + '"',
            "Vary": "Accept-Encoding",
        }
        body = r.gzipped() if r.is_gzipped else await asyncio.to_thread(r.gzipped)
        return Response(body, media_type=media_type, headers=out)
    return Response(r.body, media_type=media_type, headers={**out, "ETag": r.etag})
