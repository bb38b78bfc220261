"""Staff: the editors' console at `/console` (library, on air, schedule, presenters, admin).

Like the web player it is plain HTML, CSS and JavaScript modules under `api/static/console/`
(no build step, no framework, nothing from a CDN) and uses only the public and editor API,
signed in with the same OAuth2 password flow as any other client. The page itself is public:
it holds no data, and each role sees only what its permissions let it do.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from api.routes.player import HTML, STATIC, static_page

router = APIRouter(tags=["player"])
PAGE = STATIC / "console" / "index.html"


@router.get(
    "/console",
    response_class=FileResponse,
    summary="The editors' console: library, on air, schedule, presenters and admin (az/en/ru)",
    responses=HTML,
)
def get_console_page() -> FileResponse:
    return static_page(PAGE)
