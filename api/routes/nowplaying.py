"""Public: what is on air now, as JSON and as a stream of Server-Sent Events."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cached_property
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response, StreamingResponse

from api.auth import ServicesDep
from api.follow import Follower
from api.lang import LangDep
from api.names import Names
from api.paging import Pages, paged
from api.problems import problems
from api.schemas import NowPlayingOut, NowPlayingPage
from api.services import Services
from playout.asrun import AsRunLog
from playout.nowplaying import Inbox, NowPlaying, now_playing, progress
from schedules.plan import to_ms

router = APIRouter(tags=["now-playing"])
log = logging.getLogger(__name__)
HEARTBEAT_S = 15.0


def current(svc: Services, slug: str) -> NowPlaying:
    """From the engine on air if there is one; otherwise from the timeline itself."""
    svc.schedules.channel(slug)  # 404 for an unknown channel
    now = svc.clock.now()
    latest = svc.now_playing.latest.get(slug)
    if latest and (latest.live or (latest.current and latest.current.ends_at > now)):
        return latest
    items = svc.schedules.timeline(slug, now - timedelta(hours=1), now + timedelta(hours=2))
    return now_playing(slug, items, to_ms(now), seq=latest.seq if latest else 0)


HISTORY = 5
AIRED = ("played", "cut-short", "live")


def history(svc: Services, slug: str, np: NowPlaying, names: Names) -> list[dict[str, Any]]:
    """What played before the current item, the latest first, from the as-run log; titles
    in the language where the library has them."""
    before = np.current.started_at if np.current else svc.clock.now()
    rows = AsRunLog(svc.db, slug).recent(HISTORY + 5)
    out = []
    for r in rows:
        if r.planned_start >= before or r.actual_start > svc.clock.now() or r.kind == "slate":
            continue
        if r.outcome not in AIRED and not r.outcome.startswith("played"):
            continue
        out.append(
            {
                "title": names.title(r.media_id, r.title),
                "artist": r.artist,
                "kind": r.kind,
                "media_id": r.media_id,
                "started_at": r.actual_start.isoformat(),
                "outcome": r.outcome,
            }
        )
    return out[:HISTORY]


def listeners(svc: Services, slug: str, follower: Follower | None = None) -> int | None:
    """Listeners across the channel's mounts: counted in this process when the built-in relay
    runs here (`demo`: the composition hands the API a `listeners(slug)` callable), else as
    the playout process elsewhere last reported them (relay or icecast2); None if unknown."""
    count = getattr(svc, "listeners", None)
    value = count(slug) if callable(count) else None
    if value is None and follower is not None:
        value = follower.listeners(slug)
    return value if isinstance(value, int) else None


FRESH_S = 1.0  # a body is made again at most once a second: history and listeners move


@dataclass(frozen=True)
class Made:
    """One channel's now-playing body as last made, shared by every reader and subscriber
    until the item on air changes or it is FRESH_S old. Only the current item's progress is
    the reader's own (`at`)."""

    np: NowPlaying
    body: dict[str, Any]
    etag: str
    made: float  # time.monotonic()
    data: bytes  # the SSE event's data, progress as at `made`: made once for every subscriber

    @cached_property
    def event(self) -> bytes:
        """The channel's own stream's event: its id is the channel's change number."""
        return b"id: %d\nevent: now-playing\ndata: %s\n\n" % (self.np.seq, self.data)

    def at(self, now: datetime) -> dict[str, Any]:
        if self.np.current is None or self.body["current"] is None:
            return self.body
        elapsed, remaining = progress(self.np.current, now)
        return {
            **self.body,
            "current": {**self.body["current"], "elapsed_ms": elapsed, "remaining_ms": remaining},
        }


Key = tuple[str, str]  # a channel's slug and the language of its body


class Bodies:
    """The now-playing bodies of a process: made once for everyone, not per request. At a
    thousand requests a second, or five thousand subscribers woken by one change, the work
    (the timeline, titles, artwork, the as-run log) is done once per channel and language,
    and each reader adds its progress."""

    def __init__(self, svc: Services, follower: Follower | None = None) -> None:
        self.svc = svc
        self.follower = follower
        self._made: dict[Key, Made] = {}
        self._locks: dict[Key, asyncio.Lock] = {}
        self._renewing: dict[Key, asyncio.Task[None]] = {}
        self._failed: dict[Key, float] = {}  # when a renewal last failed (time.monotonic())

    def _usable(self, key: Key, *, aged: bool = False) -> Made | None:
        """The body kept for the item on air now; with `aged`, also one over FRESH_S old
        (its history and listeners may have moved, its item has not)."""
        slug = key[0]
        made = self._made.get(key)
        if made is None or (not aged and time.monotonic() - made.made >= FRESH_S):
            return None
        latest = self.svc.now_playing.latest.get(slug)
        if latest is not None and latest.seq != made.np.seq:
            return None  # a change was published since
        cur = made.np.current
        if cur is not None and cur.ends_at <= self.svc.clock.now():
            return None  # the item on air has ended
        return made

    def current(self, slug: str, lang: str) -> Made | None:
        """The body in use now, if there is one that still holds (never makes one)."""
        return self._usable((slug, lang))

    async def get(self, slug: str, lang: str) -> Made:
        key = (slug, lang)
        made = self._usable(key)
        if made is not None:
            return made
        aged = self._usable(key, aged=True)
        if aged is not None:
            # Only its age: readers get it while a new one is made beside them, rather than
            # all waiting for the database once a second.
            self._renew(key)
            return aged
        try:
            async with self._locks.setdefault(key, asyncio.Lock()):
                made = self._usable(key)  # made by whoever held the lock before
                if made is None:
                    made = await asyncio.to_thread(self._make, key)
                    self._made[key] = made
                return made
        finally:
            if key not in self._made:  # no such channel (or it failed): nothing is kept
                lock = self._locks.get(key)
                if lock is not None and not lock.locked():
                    del self._locks[key]

    def _renew(self, key: Key) -> None:
        """Make the channel's body again in the background: one at a time, and not again
        within FRESH_S of one that failed (the database away: the last body goes on)."""
        if key in self._renewing or time.monotonic() - self._failed.get(key, -FRESH_S) < FRESH_S:
            return
        self._renewing[key] = asyncio.get_running_loop().create_task(self._renewal(key))

    async def _renewal(self, key: Key) -> None:
        try:
            async with self._locks.setdefault(key, asyncio.Lock()):
                if self._usable(key) is None:
                    self._made[key] = await asyncio.to_thread(self._make, key)
        except Exception as exc:
            self._failed[key] = time.monotonic()
            log.warning(
                "now-playing could not be made again; the last one is sent meanwhile",
                extra={"channel": key[0], "error": str(exc)},
            )
        finally:
            self._renewing.pop(key, None)

    def _make(self, key: Key) -> Made:
        slug, lang = key
        np = current(self.svc, slug)
        names = Names(self.svc, lang)
        body = np.to_json(None)
        body["current"] = names.track(body["current"])
        body["next"] = [names.track(t) for t in body["next"]]
        body["lang"] = lang
        body["history"] = history(self.svc, slug, np, names)
        body["listeners"] = listeners(self.svc, slug, self.follower)
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:24]
        made = Made(np, body, f'W/"{digest}"', time.monotonic(), b"")
        data = json.dumps(made.at(self.svc.clock.now()), ensure_ascii=False)
        return replace(made, data=data.encode())


def bodies(request: Request) -> Bodies:
    """The app's one `Bodies`, made on first use."""
    state = request.app.state
    if not hasattr(state, "now_playing_bodies"):
        state.now_playing_bodies = Bodies(state.services, getattr(state, "follower", None))
    made: Bodies = state.now_playing_bodies
    return made


BODY = """The current item (title, artist, kind, the programme it is part of, artwork, started_at,
ends_at, elapsed_ms and remaining_ms at the moment of the request), the next items, the last
few played (`history`, from the as-run log), `live` and `presenter`, and `listeners` (null
when this process cannot count them). Titles are in the language asked for where the
metadata has one (an episode's titles, a media item's), else as imported. The body is made
at most once a second; its ETag is weak and leaves out the progress, so a client
revalidating within one item gets 304 and advances elapsed_ms from started_at itself."""


@router.get(
    "/api/v1/channels/{slug}/now-playing",
    summary="What is on air on a channel, and what is next",
    description=BODY,
    response_model=NowPlayingOut,
    responses=problems(404),
)
async def get_channel_now_playing(slug: str, request: Request, lang: LangDep) -> Response:
    kept = bodies(request)
    made = await kept.get(slug, lang)
    clock = request.app.state.services.clock

    def body() -> bytes:
        return json_body(made.at(clock.now()))

    # Sent again (`api/replay.py`) while this body is the one in use, each reader's progress
    # its own.
    request.state.replay = lambda: kept.current(slug, lang) is made
    request.state.replay_body = body
    headers = {"ETag": made.etag, "Content-Language": lang}
    return Response(body(), media_type="application/json", headers=headers)


@router.get(
    "/api/v1/now-playing",
    summary="What is on air on every channel, in one answer (the app's home screen)",
    description=BODY.replace("The current item", "For each channel, the current item"),
    response_model=NowPlayingPage,
)
async def list_now_playing(
    request: Request,
    svc: ServicesDep,
    lang: LangDep,
    pages: Annotated[Pages, paged("now-playing", 100)],
) -> Response:
    page = pages.whole(svc.schedules.find("channel"), lambda c: (c.id,))
    kept = bodies(request)
    made = {c.id: await kept.get(c.data["slug"], lang) for c in page.items}
    now = svc.clock.now()
    # As the channel's own answer writes it (made once a second), not through the model.
    answer = {"items": [made[c.id].at(now) for c in page.items], **pages.about(page)}
    etag = hashlib.sha256("".join(m.etag for m in made.values()).encode()).hexdigest()[:24]
    headers = {"ETag": f'W/"{etag}"', "Content-Language": lang}
    if "link" in pages.response.headers:
        headers["Link"] = pages.response.headers["link"]
    return Response(json_body(answer), media_type="application/json", headers=headers)


def json_body(content: Any) -> bytes:
    """JSON as FastAPI's JSONResponse writes it."""
    return json.dumps(
        content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


EVENTS = """Each event is `event: now-playing` with, as `data`, the JSON body of
`getChannelNowPlaying` (the `NowPlaying` schema: elapsed_ms as at the change; a client
advances it from started_at). A comment (`: heartbeat`) every 15 s keeps proxies open. A
reconnecting client sends the last id it saw (`Last-Event-ID`, as EventSource does): what it
has already seen is not sent again; otherwise the current state comes first. `?lang=` as for
the JSON."""
LastEventId = Annotated[
    str | None, Header(alias="Last-Event-ID", description="the id of the last event seen")
]
SSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}
}


def event_stream(body: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(
        body, media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


async def waiting(inbox: Inbox) -> NowPlaying | None:
    """The next change, or None after HEARTBEAT_S without one."""
    try:
        async with asyncio.timeout(HEARTBEAT_S):
            return await inbox.get()
    except TimeoutError:
        return None


@router.get(
    "/api/v1/channels/{slug}/now-playing/events",
    summary="A channel's now-playing changes as Server-Sent Events",
    description=EVENTS + " Each event's id is the channel's change number (`seq`).",
    response_class=StreamingResponse,
    responses={**SSE, **problems(404)},
)
async def stream_channel_now_playing(
    slug: str,
    request: Request,
    svc: ServicesDep,
    lang: LangDep,
    last_event_id: LastEventId = None,
) -> StreamingResponse:
    made = bodies(request)
    first = await made.get(slug, lang)
    inbox = svc.now_playing.subscribe(slug)

    async def stream() -> AsyncIterator[bytes]:
        # Per subscriber and change: one wake-up and one write of bytes made once. A client
        # gone is seen by the server (the response ends, or the next write fails).
        try:
            if last_event_id is None or last_event_id.strip() != str(first.np.seq):
                yield first.event
            else:
                yield b": resumed\n\n"  # headers and a first byte, so the client knows
            while True:
                if await waiting(inbox) is None:
                    yield b": heartbeat\n\n"
                    continue
                yield (await made.get(slug, lang)).event
        finally:
            svc.now_playing.unsubscribe(inbox)

    return event_stream(stream())


def seen(last_event_id: str | None) -> dict[str, int]:
    """The changes a client of the all-channel stream has seen: `slug:seq` pairs."""
    out: dict[str, int] = {}
    for pair in (last_event_id or "").split(","):
        slug, _, seq = pair.strip().rpartition(":")
        if slug and seq.isdigit():
            out[slug] = int(seq)
    return out


@router.get(
    "/api/v1/now-playing/events",
    summary="Every channel's now-playing changes, as one stream of Server-Sent Events",
    description=EVENTS
    + """ Events of every channel come on this one stream; the body's `channel` says whose.
Each event's id lists the change number of every channel sent so far (`diaspor-fm:12,
diaspor-tv:4`), so a reconnecting client is sent only the channels that changed meanwhile.""",
    response_class=StreamingResponse,
    responses=SSE,
)
async def stream_now_playing(
    request: Request,
    svc: ServicesDep,
    lang: LangDep,
    last_event_id: LastEventId = None,
) -> StreamingResponse:
    made = bodies(request)
    inbox = svc.now_playing.subscribe(None)
    slugs = [c.data["slug"] for c in svc.schedules.find("channel")]
    sent = seen(last_event_id)
    first = [await made.get(slug, lang) for slug in slugs]

    def event(m: Made) -> bytes:
        sent[m.np.channel] = m.np.seq
        ids = ",".join(f"{slug}:{seq}" for slug, seq in sent.items())
        return b"id: %s\nevent: now-playing\ndata: %s\n\n" % (ids.encode(), m.data)

    async def stream() -> AsyncIterator[bytes]:
        try:
            fresh = [m for m in first if sent.get(m.np.channel) != m.np.seq]
            for m in fresh:
                yield event(m)
            if not fresh:
                yield b": resumed\n\n"
            while True:
                change = await waiting(inbox)
                if change is None:
                    yield b": heartbeat\n\n"
                    continue
                m = await made.get(change.channel, lang)
                if sent.get(m.np.channel) != m.np.seq:
                    yield event(m)
        finally:
            svc.now_playing.unsubscribe(inbox)

    return event_stream(stream())
