"""Answers sent again as they were, while what they were made from has not changed.

The busiest public GETs (a channel's schedule, asked by every player's guide; a live
playlist, reloaded by every viewer every few seconds) are the same bytes for everyone between
two changes. Going through the framework for each (routing, parameters, dependencies, the
caching and gzip middlewares, a response object) costs several times what sending them does.

A route whose answer can be sent again says so: it puts a `Still` in `request.state.replay`,
a check of whether the answer it made is still the one it would make now (for the schedule:
the schedule's version is the same and the day it describes has not ended; for a playlist:
the file holds the same bytes; for now-playing: the body made for the item on air is still
the one in use). An answer with a part of its own for each reader (now-playing's progress)
also leaves `request.state.replay_body`, which makes the body as the route would, and only
the headers and tag are kept. This middleware, outside the caching and gzip middlewares (so it
keeps exactly what the client received: headers, ETag, Cache-Control, gzip or not) and inside
CORS (which labels a replayed answer as any other), keeps the answer under everything the
route could have read from the request: method, path, query string, whether gzip is
accepted, Accept-Language and If-None-Match. The next request with the same key is answered
from what was kept, after the check: a 304 as a 304 (clients revalidating with the tag they
hold), a 200 as a 200.

A kept answer is dropped when its check fails; only 200 answers of at most `MAX_BODY` bytes
(and 304s) are kept, at most `KEPT` of them (the least recently used go first).
"""

from __future__ import annotations

import gzip
import inspect
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

KEPT = 256
MAX_BODY = 1024 * 1024

Still = Callable[[], bool | Awaitable[bool]]
Key = tuple[str, str, bytes, bool, str, str]


@dataclass(frozen=True, slots=True)
class Answer:
    start: Message
    body: bytes
    still: Still
    # An answer with a part of its own per request (now-playing's progress): its body made
    # again, as the route makes it, for each request; the rest (headers, tag) is kept.
    render: Callable[[], bytes] | None = None
    # The route that made it: put back in the scope of each request it answers, so that the
    # request log outside names that route (`api/request_log.py`).
    route: Any = None

    async def holds(self) -> bool:
        answer = self.still()
        return bool(await answer) if inspect.isawaitable(answer) else bool(answer)


class Kept:
    """The kept answers, the least recently used first, and how many were sent again."""

    def __init__(self, size: int = KEPT) -> None:
        self.size = size
        self.answers: OrderedDict[Key, Answer] = OrderedDict()
        self.replayed = 0

    def keep(self, key: Key, kept: Answer) -> None:
        self.answers[key] = kept
        self.answers.move_to_end(key)
        while len(self.answers) > self.size:
            self.answers.popitem(last=False)


def key_of(scope: Scope) -> Key:
    headers = Headers(scope=scope)
    gzip = "gzip" in headers.get("accept-encoding", "")
    return (
        scope["method"],
        scope["path"],
        scope.get("query_string", b""),
        gzip,
        headers.get("accept-language", ""),
        headers.get("if-none-match", ""),
    )


class Replays:
    """The middleware that keeps answers and sends them again; `kept` is the app's table
    (`app.state.replays`), so that the app and its tests can see it."""

    def __init__(self, app: ASGIApp, *, kept: Kept | None = None) -> None:
        self.app = app
        self.table = kept if kept is not None else Kept()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        key = key_of(scope)
        kept = self.table.answers.get(key)
        if kept is not None:
            if await kept.holds():
                self.table.answers.move_to_end(key)
                self.table.replayed += 1
                if kept.route is not None:
                    scope["route"] = kept.route
                await self._send(scope, kept, send)
                return
            if self.table.answers.get(key) is kept:  # (not one kept meanwhile)
                del self.table.answers[key]
        await self._through(scope, receive, send, key)

    async def _send(self, scope: Scope, kept: Answer, send: Send) -> None:
        # A copy each time: the middlewares outside (CORS) add to the headers they are sent.
        start = {**kept.start, "headers": list(kept.start["headers"])}
        body = kept.body
        if kept.render is not None:
            body = kept.render()
            headers = MutableHeaders(scope=start)
            if headers.get("content-encoding") == "gzip":
                body = gzip.compress(body, compresslevel=6, mtime=0)
            headers["content-length"] = str(len(body))
        await send(start)
        await send({"type": "http.response.body", "body": body})

    async def _through(self, scope: Scope, receive: Receive, send: Send, key: Key) -> None:
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0
        keeping = True

        async def watch(message: Message) -> None:
            nonlocal start, size, keeping
            if keeping and message["type"] == "http.response.start":
                keeping = message["status"] in (200, 304)
                start = {**message, "headers": list(message.get("headers", []))}  # as sent
            await send(message)
            if not keeping:
                return
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                keeping = size <= MAX_BODY

        await self.app(scope, receive, watch)
        still = scope.get("state", {}).get("replay")
        if not keeping or start is None or still is None:
            return
        render = scope["state"].get("replay_body") if start["status"] == 200 else None
        answer = Answer(start, b"".join(chunks), still, render, scope.get("route"))
        self.table.keep(key, answer)
