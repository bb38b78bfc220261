"""Public: what is on air now, as JSON and as a stream of Server-Sent Events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api.auth import ServicesDep
from api.services import Services
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


@router.get("/api/v1/channels/{slug}/now-playing", summary="What is on air, and what is next")
def get_now_playing(slug: str, svc: ServicesDep) -> dict[str, Any]:
    return current(svc, slug).to_json()


@router.get(
    "/api/v1/channels/{slug}/now-playing/events",
    summary="Now-playing changes as Server-Sent Events (one `now-playing` event per change)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
async def now_playing_events(slug: str, request: Request, svc: ServicesDep) -> StreamingResponse:
    first = await asyncio.to_thread(current, svc, slug)
    queue = svc.now_playing.subscribe(slug)

    def event(np: NowPlaying) -> str:
        body = json.dumps(np.to_json(), ensure_ascii=False)
        return f"id: {np.seq}\nevent: now-playing\ndata: {body}\n\n"

    async def stream() -> AsyncIterator[str]:
        try:
            yield event(first)
            while not await request.is_disconnected():
                try:
                    np = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
                except TimeoutError:
                    yield ": heartbeat\n\n"
                    continue
                yield event(np)
        finally:
            svc.now_playing.unsubscribe(slug, queue)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})  # fmt: skip
