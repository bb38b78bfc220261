"""Public: what is on air now, as JSON and as a stream of Server-Sent Events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse

from api.auth import ServicesDep
from api.services import Services, public_file_url
from playout.asrun import AsRunLog
from playout.nowplaying import NowPlaying, now_playing
from schedules.plan import to_ms

router = APIRouter(tags=["now-playing"])
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
        out.append({"title": r.title, "artist": r.artist, "kind": r.kind,
                    "media_id": r.media_id, "started_at": r.actual_start.isoformat(),
                    "outcome": r.outcome})  # fmt: skip
    return out[:HISTORY]


def listeners(svc: Services, slug: str) -> int | None:
    """Listeners across the channel's mounts, when this process can count them: the
    composition may hand the API a `listeners(slug)` callable (the built-in relay runs in the
    same process in `demo`); with icecast2 or a separate playout process it is unknown."""
    count = getattr(svc, "listeners", None)
    if not callable(count):
        return None
    value = count(slug)
    return value if isinstance(value, int) else None


def document(svc: Services, slug: str, np: NowPlaying) -> dict[str, Any]:
    """The now-playing body for one reader, at this moment."""
    body = np.to_json(svc.clock.now(), artwork_urls(svc, np))
    body["history"] = history(svc, slug, np)
    body["listeners"] = listeners(svc, slug)
    return body


@router.get("/api/v1/channels/{slug}/now-playing", summary="What is on air, and what is next",
            description="The current item (title, artist, kind, artwork, started_at, ends_at, "
            "elapsed_ms and remaining_ms at the moment of the request), the next items, the "
            "last few played (`history`, from the as-run log), `live` and `presenter`, and "
            "`listeners` (null when this process cannot count them).")  # fmt: skip
def get_now_playing(slug: str, svc: ServicesDep) -> dict[str, Any]:
    return document(svc, slug, current(svc, slug))


@router.get(
    "/api/v1/channels/{slug}/now-playing/events",
    summary="Now-playing changes as Server-Sent Events (one `now-playing` event per change)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
async def now_playing_events(
    slug: str,
    request: Request,
    svc: ServicesDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """A reconnecting client sends the last id it saw: if that is the current event it is not
    sent again; otherwise the current one comes first. A comment every 15 s keeps proxies open."""
    first = await asyncio.to_thread(current, svc, slug)
    queue = svc.now_playing.subscribe(slug)

    async def event(np: NowPlaying) -> str:
        body = json.dumps(await asyncio.to_thread(document, svc, slug, np), ensure_ascii=False)
        return f"id: {np.seq}\nevent: now-playing\ndata: {body}\n\n"

    async def stream() -> AsyncIterator[str]:
        try:
            if last_event_id is None or last_event_id.strip() != str(first.seq):
                yield await event(first)
            else:
                yield ": resumed\n\n"  # headers and a first byte, so the client knows
            while not await request.is_disconnected():
                try:
                    np = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
                except TimeoutError:
                    yield ": heartbeat\n\n"
                    continue
                yield await event(np)
        finally:
            svc.now_playing.unsubscribe(slug, queue)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})  # fmt: skip
