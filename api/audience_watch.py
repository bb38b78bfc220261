"""Who fetches the stored files the API serves (`/files/`, the embedded mode): HLS players of
the live channels (audience/hls.py) and downloads of episodes' enclosures
(audience/downloads.py), for the audience ledger.

A pure ASGI middleware just inside the trusted proxies (`api/proxies.py`, which has set the
client's address by then), outside the replay table, so that it sees every request, those
answered again from kept answers included (players reload a live playlist every few seconds,
and most of those answers are replays). It reads what went out: a playlist's text (gunzipped
if it was sent gzipped; a playlist is a few KB), or how many bytes of a file, from where
(Content-Range). Nothing here waits on the database.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import zlib
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import unquote

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from audience.downloads import Downloads, span
from audience.hls import HlsViews, channel_of
from station.clock import Clock

log = logging.getLogger(__name__)
PREFIX = "/files/"
MAX_PLAYLIST = 1024 * 1024


@contextlib.contextmanager
def counting() -> Iterator[None]:
    """The answer has gone out: a fault in counting it is logged, never the client's."""
    try:
        yield
    except Exception:
        log.exception("a request of /files/ could not be counted for the audience")


class AudienceWatch:
    def __init__(self, app: ASGIApp, *, views: HlsViews, downloads: Downloads, clock: Clock):
        self.app = app
        self.views = views
        self.downloads = downloads
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(PREFIX) or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        key = unquote(path[len(PREFIX) :])
        client = scope.get("client")
        address = str(client[0]) if client else ""
        agent = Headers(scope=scope).get("user-agent", "")
        at = self.clock.now()
        if key.endswith(".m3u8") and channel_of(key) is not None:
            await self._playlist(scope, receive, send, key, address, agent, at)
            return
        status, sent, headers = 0, 0, Headers()

        async def watch(message: Message) -> None:
            nonlocal status, sent, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = Headers(raw=message.get("headers", []))
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            if status in (200, 206):
                with counting():
                    self.views.segment(key, address, agent, at)
                    got = headers.get("content-range", ""), headers.get("content-length", "")
                    start, size = span(*got, status)
                    now = self.clock.now()
                    self.downloads.delivered(key, address, agent, now, start, sent, size)

    async def _playlist(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        key: str,
        address: str,
        agent: str,
        at: datetime,
    ) -> None:
        status, zipped, chunks = 0, False, bytearray()

        async def watch(message: Message) -> None:
            nonlocal status, zipped
            if message["type"] == "http.response.start":
                status = message["status"]
                zipped = Headers(raw=message.get("headers", [])).get("content-encoding") == "gzip"
            elif message["type"] == "http.response.body" and len(chunks) < MAX_PLAYLIST:
                chunks.extend(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, watch)
        if status == 304:
            with counting():
                self.views.playlist(key, None, address, agent, at)
        elif status == 200:
            body = bytes(chunks)
            try:
                text = (gzip.decompress(body) if zipped else body).decode("utf-8", "replace")
            except (OSError, EOFError, zlib.error):
                return
            with counting():
                self.views.playlist(key, text, address, agent, at)
