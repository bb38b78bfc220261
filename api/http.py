"""HTTP caching for public GETs: ETag and 304, Cache-Control by resource, and gzip's place.

A pure ASGI middleware (not BaseHTTPMiddleware): it buffers only a small body of known type
(JSON, XML, playlists, calendars, up to `MAX_BODY`) to hash it; streams (`text/event-stream`),
files and anything larger pass through message by message, unbuffered. Starlette's
GZipMiddleware runs outside it (it already leaves `text/event-stream`, audio, video, images and
206 partial responses alone), so the ETag is the hash of the identity body; when gzip will
compress the answer, the tag gets a `-gzip` suffix (as Apache does), because a strong ETag
names one exact representation, and If-None-Match compares without the suffix.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 1024 * 1024
GZIP_MINIMUM = 1024
GZIP_SUFFIX = "-gzip"
HASHED_TYPES = (
    "application/json",
    "application/problem+json",
    "application/xml",
    "text/xml",
    "application/rss+xml",
    "application/xmltv+xml",
    "application/vnd.apple.mpegurl",
    "application/x-mpegurl",
    "audio/mpegurl",
    "audio/x-mpegurl",
    "text/calendar",
    "text/plain",
    "text/html",
    "text/css",
    "text/javascript",
    "application/javascript",
    "text/vtt",
)
YEAR = "public, max-age=31536000, immutable"
DAY = "public, max-age=86400, immutable"
# The radio's live segments: named anew at every encoder start, but an encoder restarting
# must never leave a cache holding old audio under a name for long. About a playlist window.
LIVE_SEGMENT = "public, max-age=60"

# (path pattern, Cache-Control), first match wins; a route's own header is kept.
CACHE_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), v)
    for p, v in (
        (r"^/api/v1/(channels/[^/]+/)?now-playing/events$", "no-cache"),
        (r"^/api/v1/(channels/[^/]+/)?now-playing$", "public, max-age=5"),
        (r"^/api/v1/channels/[^/]+/schedule(\.ics)?$", "public, max-age=60"),
        (r"^/epg(\.xml|\.json)?$|^/api/v1/epg", "public, max-age=60"),
        (r"^/channels\.m3u$", "public, max-age=60"),
        (r"\.m3u8?$", "public, max-age=2"),  # live playlists change every segment
        (r"^/files/(nowplaying|onair)/", "public, max-age=1"),  # rewritten every item
        (r"^/files/hls/radio/.*\.(ts|m4s|aac)$", LIVE_SEGMENT),
        (r"^/files/.*\.(ts|m4s|aac|vtt|jpg|jpeg|png|webp)$", DAY),  # segments, art: new key
        (r"^/files/originals/", DAY),  # named by their SHA-256
        (r"^/static/vendor/", YEAR),
        (r"^/static/", "public, max-age=300"),
        (r"^/api/v1/(channels|programmes|episodes)", "public, max-age=60"),
        (r"^/files/", "public, max-age=3600"),
        (r"^/health", "no-store"),
        (r"^/api/v1/reports/", "private, no-cache"),  # editors' figures: no shared cache
    )
)


def cache_control_for(path: str) -> str | None:
    """The Cache-Control a public GET of this path gets when its route sets none."""
    return next((v for pattern, v in CACHE_RULES if pattern.search(path)), None)


def strong_etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def etag_matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 weak comparison for If-None-Match, ignoring the gzip suffix on either side."""
    if if_none_match.strip() == "*":
        return True

    def bare(tag: str) -> str:
        tag = tag.strip()
        tag = tag.removeprefix("W/")
        return tag.replace(GZIP_SUFFIX + '"', '"')

    return bare(etag) in {bare(t) for t in if_none_match.split(",")}


def _media_type(headers: Headers) -> str:
    return headers.get("content-type", "").partition(";")[0].strip().lower()


def will_gzip(request: Headers, response: Headers, size: int, excluded: Sequence[str]) -> bool:
    """Whether GZipMiddleware (outside us) is going to compress this body."""
    if "gzip" not in request.get("accept-encoding", "") or size < GZIP_MINIMUM:
        return False
    if "content-encoding" in response:
        return False
    media = _media_type(response)
    return not {media, media.partition("/")[0] + "/*"} & set(excluded)


def not_modified(start: Message) -> Message:
    """A 304 carrying the headers RFC 9110 asks to repeat, and no body."""
    keep = {
        "cache-control",
        "etag",
        "vary",
        "content-language",
        "expires",
        "date",
        "content-location",
    }
    raw = [(k, v) for k, v in start["headers"] if k.decode("latin-1").lower() in keep]
    return {"type": "http.response.start", "status": 304, "headers": raw}


class HttpCache:
    """ETag / If-None-Match → 304 and Cache-Control for GET and HEAD answers of status 200."""

    def __init__(
        self, app: ASGIApp, *, gzip_excluded: Sequence[str] = (), max_body: int = MAX_BODY
    ) -> None:
        self.app = app
        self.gzip_excluded = tuple(gzip_excluded)
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        request = Headers(scope=scope)
        path: str = scope["path"]
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0
        passing = False  # not ours to hash: forward as it comes
        swallow = False  # answered 304 already: the rest of the body goes nowhere

        async def forward(message: Message) -> None:
            nonlocal start, size, passing, swallow
            if swallow:
                return
            if passing:
                await send(message)
                return
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if message["status"] == 200 and "cache-control" not in headers:
                    cc = cache_control_for(path)
                    if cc:
                        headers["Cache-Control"] = cc
                if not self._hashable(message, headers, scope["method"]):
                    passing = True
                    etag, inm = headers.get("etag"), request.get("if-none-match")
                    if message["status"] == 200 and etag and inm and etag_matches(inm, etag):
                        swallow = True  # the route's own tag (a file's): 304, body dropped
                        await send(not_modified(message))
                        await send({"type": "http.response.body", "body": b""})
                        return
                    await send(message)
                    return
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            body = message.get("body", b"")
            chunks.append(body)
            size += len(body)
            if size > self.max_body:  # larger than announced: give up hashing, stream on
                passing = True
                await send(start)
                await send(
                    {
                        "type": "http.response.body",
                        "body": b"".join(chunks),
                        "more_body": message.get("more_body", False),
                    }
                )
                return
            if message.get("more_body", False):
                return
            await self._finish(request, start, b"".join(chunks), send)

        await self.app(scope, receive, forward)

    def _hashable(self, start: Message, headers: MutableHeaders, method: str) -> bool:
        if method != "GET" or start["status"] != 200 or "content-encoding" in headers:
            return False
        length = headers.get("content-length")
        if length is None or not length.isdigit() or int(length) > self.max_body:
            return False  # streams (SSE) and large files
        return _media_type(Headers(raw=start["headers"])) in HASHED_TYPES

    async def _finish(self, request: Headers, start: Message, body: bytes, send: Send) -> None:
        headers = MutableHeaders(scope=start)
        etag = headers.get("etag")
        if etag is None:
            etag = strong_etag(body)
            if will_gzip(request, headers, len(body), self.gzip_excluded):
                etag = etag[:-1] + GZIP_SUFFIX + '"'
            headers["ETag"] = etag
        headers.add_vary_header("Accept-Encoding")
        inm = request.get("if-none-match")
        if inm and etag_matches(inm, etag):
            await send(not_modified(start))
            await send({"type": "http.response.body", "body": b""})
            return
        await send(start)
        await send({"type": "http.response.body", "body": body})
