"""Guides made once per version of the schedule, not once per request.

A day of a busy channel is thousands of guide blocks: building and serialising them costs far
more than sending them. The schedule, iCalendar and XMLTV answers are kept, as bytes, under a
key of what the request asked (channel, window, language …) and the schedule's `version()`
(the database fingerprint: any edit, in any process, makes a new key). Each key is made once
even when many requests ask for it at the same moment.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from fastapi import Request

from api.services import Services, public_file_url
from schedules.cache import Memo

KEPT = 64  # answers kept (a few windows × languages × channels)


def rendered(request: Request, key: tuple[Hashable, ...], make: Callable[[], bytes]) -> bytes:
    state = request.app.state
    memo: Memo[bytes] | None = getattr(state, "rendered", None)
    if memo is None:
        memo = state.rendered = Memo(KEPT)
    svc: Services = state.services
    return memo.get((request.url.path, svc.schedules.version(), *key), make)


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
