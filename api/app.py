"""The FastAPI application, built around already-constructed station services."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

from api import openapi, problems
from api.audience_watch import AudienceWatch
from api.follow import Follower
from api.http import GZIP_MINIMUM, HttpCache
from api.lang import VaryByLanguage
from api.proxies import TrustedProxies
from api.rendered import Renderings
from api.replay import Kept, Replays
from api.request_log import RequestLog
from api.routes import (
    asrun,
    audience,
    auth,
    channels,
    console,
    embeds,
    epg,
    files,
    health,
    jobs,
    live,
    manage,
    media,
    metrics,
    nowplaying,
    onair,
    pages,
    player,
    podcast,
    problem_pages,
    reports,
    slots,
    stream_keys,
    uploads,
    vod,
)
from api.services import Services
from api.tus import EXPOSED_HEADERS, REQUEST_HEADERS, TusResumable
from audience.downloads import Downloads
from audience.hls import HlsViews, keep_swept

STATIC = Path(__file__).parent / "static"
DESCRIPTION = """
The API of Diaspor.FM and Diaspor TV. Public, for web and mobile players: channels and their
streams, now-playing (JSON and Server-Sent Events), the schedule and EPG (JSON, XMLTV, M3U,
iCalendar), the on-demand catalogue and podcasts, in az/en/ru (`?lang=` or
`Accept-Language`). For editors: the media library, schedules, users and API keys.

Errors are `application/problem+json`. Editor routes need `Authorization: Bearer <token>`:
an access token from `POST /api/v1/auth/token` (OAuth2 password flow), or an API key
(`diaspor token create`, or `/api/v1/auth/keys`).
"""


def create_app(svc: Services) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        """While serving: follow playout processes elsewhere (`api/follow.py`), on PostgreSQL
        told at once of each now-playing change."""
        stop = asyncio.Event()
        sweep = keep_swept(views, svc.clock, stop)
        tasks = [asyncio.create_task(sweep, name="audience: hls views")]
        if svc.settings.now_playing_follow_s > 0:
            follower = app.state.follower = Follower(svc, svc.settings.now_playing_follow_s)
            tasks.append(asyncio.create_task(follower.run(stop), name="follow playout"))
            if svc.db.is_postgresql:
                tasks.append(asyncio.create_task(follower.listen(stop), name="now-playing notices"))
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            views.flush(svc.clock.now())  # a player that goes on is continued after a restart
            await svc.audience.aclose()

    app = FastAPI(
        title="Diaspor.FM / Diaspor TV API",
        version="1.5.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=openapi.operation_id,
        openapi_tags=openapi.TAGS,
    )
    app.state.services = svc
    app.state.renderings = Renderings(svc)  # guides kept per schedule version
    app.state.replays = Kept()  # answers sent again as they went out (`api/replay.py`)
    views = app.state.hls_views = HlsViews(svc.audience)  # HLS players, for the ledger
    problems.install(app)
    openapi.install(app)
    # Innermost first: the cache sees the identity body; gzip compresses what it lets by;
    # replays keep what went out; CORS answers preflights and labels every answer, 304s and
    # replays included; the request log gives every answer its request id and times it,
    # replays and preflights included (`api/request_log.py`); outermost, the trusted proxies
    # (`api/proxies.py`) say who the client is.
    app.add_middleware(HttpCache, gzip_excluded=DEFAULT_EXCLUDED_CONTENT_TYPES)
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM, compresslevel=6)
    # Kept answers (the schedule, live playlists, now-playing) sent again as they went out.
    app.add_middleware(Replays, kept=app.state.replays)
    app.add_middleware(VaryByLanguage)
    app.add_middleware(TusResumable)  # every answer under /api/v1/uploads says its protocol
    app.add_middleware(
        CORSMiddleware,
        allow_origins=svc.settings.cors_origins,
        allow_methods=["GET", "HEAD", "OPTIONS", "POST", "PATCH", "PUT", "DELETE"],
        allow_headers=[
            "Authorization",
            "Content-Type",
            "If-Match",
            "If-None-Match",
            "Range",
            "Last-Event-ID",
            "X-Request-ID",
            *REQUEST_HEADERS,
        ],
        expose_headers=[
            "ETag",
            "Location",
            "Content-Range",
            "Accept-Ranges",
            "Content-Length",
            "Content-Language",
            "X-Request-ID",
            *EXPOSED_HEADERS,
        ],
        max_age=600,
    )
    app.add_middleware(RequestLog, metrics=svc.metrics)
    # Who fetches /files/ (HLS players, episode downloads), for the audience ledger: every
    # request, replays included, with the client's address as the trusted proxies gave it.
    downloads = Downloads(svc.audience)
    app.add_middleware(AudienceWatch, views=views, downloads=downloads, clock=svc.clock)
    # Outside the request log, which logs the client's address: the one place that decides
    # whether the peer is a trusted proxy, and takes the client from it if so.
    app.add_middleware(TrustedProxies, trusted=svc.settings.forwarded_allow_ips)
    # Routes are matched in order: the busiest (players' playlist reloads under /files/,
    # now-playing, the schedule) first, so they are not tried against every other route first.
    routers = (
        files,
        nowplaying,
        channels,
        health,
        metrics,
        auth,
        epg,
        media,
        uploads,
        manage,
        asrun,
        onair,
        reports,
        jobs,
        live,
        audience,
        stream_keys,
        slots,
        vod,
        podcast,
        player,
        console,
        problem_pages,
        embeds,
        pages,
    )
    for module in routers:
        app.include_router(module.router)
    # The player's own files and vendored browser code (hls.js): no CDN at run time.
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
