"""The FastAPI application, built around already-constructed station services."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from api import problems
from api.routes import (
    channels,
    epg,
    files,
    health,
    jobs,
    live,
    manage,
    media,
    nowplaying,
    vod,
)
from api.services import Services

STATIC = Path(__file__).parent / "static"
DESCRIPTION = """
The API of Diaspor.FM and Diaspor TV: the media library (editors), and, as the station grows,
schedules, now-playing and the on-demand catalogue for web and mobile players.

Errors are `application/problem+json`. Editor routes need `Authorization: Bearer <token>`
(create one with `diaspor token create`).
"""


def create_app(svc: Services) -> FastAPI:
    app = FastAPI(
        title="Diaspor.FM / Diaspor TV API",
        version="0.1.0",
        description=DESCRIPTION,
    )
    app.state.services = svc
    problems.install(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=svc.settings.cors_origins,
        allow_methods=["GET", "HEAD", "OPTIONS", "POST", "PATCH", "PUT", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "If-Match", "If-None-Match"],
        expose_headers=["ETag", "Location"],
    )
    routers = (health, channels, nowplaying, epg, media, manage, jobs, live, files, vod)
    for module in routers:
        app.include_router(module.router)
    # The player's own files and vendored browser code (hls.js): no CDN at run time.
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
