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
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response, StreamingResponse

from api.auth import ServicesDep
from api.follow import Follower
from api.problems import problems
from api.schemas import NowPlayingOut
from api.services import Services, public_file_url
from playout.asrun import AsRunLog
from playout.nowplaying import NowPlaying, now_playing, progress
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


def artwork_urls(svc: Services, np: NowPlaying) -> dict[int, str | None]:
    """The artwork (or poster frame) URL of each media item named, from the library."""
    ids = {t.media_id for t in (np.current, *np.next) if t is not None and t.media_id is not None}
    out: dict[int, str | None] = {}
    for mid in ids:
        try:
            out[mid] = public_file_url(svc.settings, svc.library.get(mid).artwork_key)
        except LookupError:
            out[mid] = None
    return out


def history(svc: Services, slug: str, np: NowPlaying) -> list[dict[str, Any]]:
    """What played before the current item, the latest first, from the as-run log."""
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
                "title": r.title,
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
    event: bytes  # the SSE event, progress as at `made`: written once for every subscriber

    def at(self, now: datetime) -> dict[str, Any]:
        if self.np.current is None or self.body["current"] is None:
            return self.body
        elapsed, remaining = progress(self.np.current, now)
        return {
            **self.body,
            "current": {**self.body["current"], "elapsed_ms": elapsed, "remaining_ms": remaining},
        }


class Bodies:
    """The now-playing bodies of a process: made once for everyone, not per request. At a
    thousand requests a second, or five thousand subscribers woken by one change, the work
    (the timeline, artwork, the as-run log) is done once and each reader adds its progress."""

    def __init__(self, svc: Services, follower: Follower | None = None) -> None:
        self.svc = svc
        self.follower = follower
        self._made: dict[str, Made] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._renewing: dict[str, asyncio.Task[None]] = {}
        self._failed: dict[str, float] = {}  # when a renewal last failed (time.monotonic())

    def _usable(self, slug: str, *, aged: bool = False) -> Made | None:
        """The body kept for the item on air now; with `aged`, also one over FRESH_S old
        (its history and listeners may have moved, its item has not)."""
        made = self._made.get(slug)
        if made is None or (not aged and time.monotonic() - made.made >= FRESH_S):
            return None
        latest = self.svc.now_playing.latest.get(slug)
        if latest is not None and latest.seq != made.np.seq:
            return None  # a change was published since
        cur = made.np.current
        if cur is not None and cur.ends_at <= self.svc.clock.now():
            return None  # the item on air has ended
        return made

    def current(self, slug: str) -> Made | None:
        """The body in use now, if there is one that still holds (never makes one)."""
        return self._usable(slug)

    async def get(self, slug: str) -> Made:
        made = self._usable(slug)
        if made is not None:
            return made
        aged = self._usable(slug, aged=True)
        if aged is not None:
            # Only its age: readers get it while a new one is made beside them, rather than
            # all waiting for the database once a second.
            self._renew(slug)
            return aged
        try:
            async with self._locks.setdefault(slug, asyncio.Lock()):
                made = self._usable(slug)  # made by whoever held the lock before
                if made is None:
                    made = await asyncio.to_thread(self._make, slug)
                    self._made[slug] = made
                return made
        finally:
            if slug not in self._made:  # no such channel (or it failed): nothing is kept
                lock = self._locks.get(slug)
                if lock is not None and not lock.locked():
                    del self._locks[slug]

    def _renew(self, slug: str) -> None:
        """Make the channel's body again in the background: one at a time, and not again
        within FRESH_S of one that failed (the database away: the last body goes on)."""
        if slug in self._renewing or time.monotonic() - self._failed.get(slug, -FRESH_S) < FRESH_S:
            return
        self._renewing[slug] = asyncio.get_running_loop().create_task(self._renewal(slug))

    async def _renewal(self, slug: str) -> None:
        try:
            async with self._locks.setdefault(slug, asyncio.Lock()):
                if self._usable(slug) is None:
                    self._made[slug] = await asyncio.to_thread(self._make, slug)
        except Exception as exc:
            self._failed[slug] = time.monotonic()
            log.warning(
                "now-playing could not be made again; the last one is sent meanwhile",
                extra={"channel": slug, "error": str(exc)},
            )
        finally:
            self._renewing.pop(slug, None)

    def _make(self, slug: str) -> Made:
        np = current(self.svc, slug)
        body = np.to_json(None, artwork_urls(self.svc, np))
        body["history"] = history(self.svc, slug, np)
        body["listeners"] = listeners(self.svc, slug, self.follower)
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:24]
        made = Made(np, body, f'W/"{digest}"', time.monotonic(), b"")
        data = json.dumps(made.at(self.svc.clock.now()), ensure_ascii=False)
        event = f"id: {np.seq}\nevent: now-playing\ndata: {data}\n\n"
        return replace(made, event=event.encode())


def bodies(request: Request) -> Bodies:
    """The app's one `Bodies`, made on first use."""
    state = request.app.state
    if not hasattr(state, "now_playing_bodies"):
        state.now_playing_bodies = Bodies(state.services, getattr(state, "follower", None))
    made: Bodies = state.now_playing_bodies
    return made


@router.get(
    "/api/v1/channels/{slug}/now-playing",
    summary="What is on air, and what is next",
    description="The current item (title, artist, kind, artwork, started_at, ends_at, "
    "elapsed_ms and remaining_ms at the moment of the request), the next items, the "
    "last few played (`history`, from the as-run log), `live` and `presenter`, and "
    "`listeners` (null when this process cannot count them). The body is made at most "
    "once a second; its ETag is weak and leaves out the progress, so a client "
    "revalidating within one item gets 304 and advances elapsed_ms from started_at "
    "itself.",
    response_model=NowPlayingOut,
    responses=problems(404),
)
async def get_channel_now_playing(slug: str, request: Request) -> Response:
    kept = bodies(request)
    made = await kept.get(slug)
    clock = request.app.state.services.clock

    def body() -> bytes:
        return json_body(made.at(clock.now()))

    # Sent again (`api/replay.py`) while this body is the one in use, each reader's progress
    # its own.
    request.state.replay = lambda: kept.current(slug) is made
    request.state.replay_body = body
    return Response(body(), media_type="application/json", headers={"ETag": made.etag})


def json_body(content: Any) -> bytes:
    """JSON as FastAPI's JSONResponse writes it."""
    return json.dumps(
        content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


@router.get(
    "/api/v1/channels/{slug}/now-playing/events",
    summary="Now-playing changes as Server-Sent Events (one `now-playing` event per change)",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}},
        **problems(404),
    },
)
async def stream_channel_now_playing(
    slug: str,
    request: Request,
    svc: ServicesDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """A reconnecting client sends the last id it saw: if that is the current event it is not
    sent again; otherwise the current one comes first. A comment every 15 s keeps proxies open.
    Each change is made into its event once, for every subscriber (elapsed_ms as at that
    moment; a client advances it from started_at)."""
    made = bodies(request)
    first = await made.get(slug)
    queue = svc.now_playing.subscribe(slug)

    async def stream() -> AsyncIterator[bytes]:
        # Per subscriber and change: one wake-up and one write of bytes made once. A client
        # gone is seen by the server (the response ends, or the next write fails).
        try:
            if last_event_id is None or last_event_id.strip() != str(first.np.seq):
                yield first.event
            else:
                yield b": resumed\n\n"  # headers and a first byte, so the client knows
            while True:
                try:
                    async with asyncio.timeout(HEARTBEAT_S):
                        await queue.get()
                except TimeoutError:
                    yield b": heartbeat\n\n"
                    continue
                yield (await made.get(slug)).event
        finally:
            svc.now_playing.unsubscribe(slug, queue)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )
