"""Public: the web player page at `/` (radio, TV, today's schedule, the latest episodes).

The page is plain HTML, CSS and JavaScript under `api/static/player/` (no build step, no
framework, no CDN: hls.js is vendored); it reads the same public API as any other player.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse

from api.auth import ServicesDep
from api.deprecation import Deprecated
from api.problems import problems

router = APIRouter(tags=["player"])
STATIC = Path(__file__).resolve().parent.parent / "static"
PAGE = STATIC / "player" / "index.html"
HTML: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {"schema": {"type": "string"}}}}
}
TV_PAGE = Deprecated(
    since=datetime(2026, 12, 3, tzinfo=UTC),
    sunset=datetime(2027, 6, 1, tzinfo=UTC),
    successor="/embed/tv/{slug}",
    why="The embeddable TV player (themable, in az/en/ru, with now-playing) replaces it.",
)


@router.get(
    "/",
    response_class=FileResponse,
    summary="The web player: radio, TV, today's schedule and the latest episodes (az/en/ru)",
    responses=HTML,
)
def get_player_page() -> FileResponse:
    return static_page(PAGE)


def static_page(path: Path) -> FileResponse:
    """A page of the station's own (the player, the console): revalidated on each visit, so
    a new release of it is seen at once."""
    return FileResponse(
        path, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"}
    )


@router.get(
    "/static/tv.html",
    response_class=FileResponse,
    summary="The first embeddable TV player, for an HLS master playlist (?src=)",
    description=TV_PAGE.description(),
    deprecated=True,
    responses={**HTML, **problems(410)},
)
def get_tv_page(svc: ServicesDep) -> FileResponse:
    tv = next((c for c in svc.schedules.find("channel") if c.data["kind"] == "tv"), None)
    successor = TV_PAGE.successor.format(slug=tv.data["slug"]) if tv else "/"
    headers = TV_PAGE.answer(svc.clock.now(), svc.settings.base_url, successor)
    return FileResponse(STATIC / "tv.html", media_type="text/html; charset=utf-8", headers=headers)
