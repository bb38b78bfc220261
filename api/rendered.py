"""Guides made once per version of the schedule, not once per request.

A day of a busy channel is thousands of guide blocks: building and serialising them costs far
more than sending them. The schedule, iCalendar and XMLTV answers are kept, as bytes (and
gzipped, once), under a
key of what the request asked (channel, window, language …) and the schedule's `version()`
(the database fingerprint: any edit, in any process, makes a new key). Each key is made once
even when many requests ask for it at the same moment.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field

from fastapi import Request, Response

from api.http import GZIP_MINIMUM, GZIP_SUFFIX, strong_etag
from api.services import Services, public_file_url
from schedules.cache import Memo

KEPT = 64  # answers kept (a few windows × languages × channels)


@dataclass
class Rendered:
    """One answer's bytes, its tag, and (made on first asking) its gzip form: a busy day's
    guide is half a megabyte, and hashing and compressing it again for every request would
    cost more than all the rest of the request."""

    body: bytes
    etag: str
    _gzipped: list[bytes] = field(default_factory=list)

    def gzipped(self) -> bytes:
        if not self._gzipped:
            self._gzipped.append(gzip.compress(self.body, compresslevel=6, mtime=0))
        return self._gzipped[0]


def rendered(
    request: Request,
    key: tuple[Hashable, ...],
    make: Callable[[], bytes],
    media_type: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The answer kept under `key` and the schedule's version (made with `make` if there is
    none), compressed when the client takes gzip. The ETag names the uncompressed body, with
    the `-gzip` suffix on the compressed one, as `api/http.py` does for other answers; it
    answers If-None-Match with 304 for both."""
    state = request.app.state
    memo: Memo[Rendered] | None = getattr(state, "rendered", None)
    if memo is None:
        memo = state.rendered = Memo(KEPT)
    svc: Services = state.services

    def made() -> Rendered:
        body = make()
        return Rendered(body, strong_etag(body))

    r = memo.get((request.url.path, svc.schedules.version(), *key), made)
    out = dict(headers or {})
    if "gzip" in request.headers.get("accept-encoding", "") and len(r.body) >= GZIP_MINIMUM:
        out |= {
            "Content-Encoding": "gzip",
            "ETag": r.etag[:-1] + GZIP_SUFFIX + '"',
            "Vary": "Accept-Encoding",
        }
        return Response(r.gzipped(), media_type=media_type, headers=out)
    return Response(r.body, media_type=media_type, headers={**out, "ETag": r.etag})


class Artwork:
    """Artwork URLs by media id, each looked up once (a guide names the same few often)."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self._urls: dict[int, str | None] = {}

    def url(self, media_id: int | None) -> str | None:
        if media_id is None:
            return None
        if media_id not in self._urls:
            try:
                key = self.svc.library.get(media_id).artwork_key
                self._urls[media_id] = public_file_url(self.svc.settings, key)
            except LookupError:
                self._urls[media_id] = None
        return self._urls[media_id]
