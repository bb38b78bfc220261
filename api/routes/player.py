"""Public: the web player page at `/` (radio, TV, today's schedule, the latest episodes).

The page is plain HTML, CSS and JavaScript under `api/static/player/` (no build step, no
framework, no CDN: hls.js is vendored); it reads the same public API as any other player.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

router = APIRouter(tags=["player"])
PAGE = Path(__file__).resolve().parent.parent / "static" / "player" / "index.html"


@router.get(
    "/",
    response_class=FileResponse,
    summary="The web player: radio, TV, today's schedule and the latest episodes (az/en/ru)",
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}},
)
def get_player_page() -> FileResponse:
    # Revalidated on each visit, so a new release of the page is seen at once.
    return FileResponse(
        PAGE, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"}
    )
