"""Public: the players partner sites embed (docs/embed.md): `/embed/radio/{slug}` and
`/embed/tv/{slug}` for an iframe, and `/embed.js`, the snippet that writes the iframe.

The page is one static file for both kinds (`api/static/embed/`: plain HTML, CSS and JS, no
build step): its script reads the channel from the public API and the reader's choices
(lang, theme, accent) from the query, which the route checks first. The route answers only
for a channel of that kind; the page may be framed by any site, and sets no cookie.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, HTMLResponse, Response

from api.auth import ServicesDep
from api.lang import Lang, LangDep
from api.pages.answers import html_answers, not_found_page
from api.services import Services
from station.errors import NotFound

router = APIRouter(tags=["embeds"])
EMBED = Path(__file__).resolve().parent.parent / "static" / "embed"
# Any site may frame the page; what the page itself loads stays with the station, but for
# the streams, logos and storage, which may live on other hosts (icecast2, a CDN).
FRAMEABLE = {
    "Content-Security-Policy": "default-src 'self'; img-src * data:; media-src * blob:; "
    "connect-src *; worker-src 'self' blob:; frame-ancestors *",
    "Cache-Control": "public, max-age=300",
}
Route = TypeVar("Route", bound=Callable[..., Any])
ACCENT = r"^#?([0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})$"


async def looks(
    theme: Annotated[
        Literal["light", "dark"] | None, Query(description="the colours: light (default) or dark")
    ] = None,
    accent: Annotated[
        str | None,
        Query(pattern=ACCENT, description="the play button's colour in hex: c0392b, %23c0392b"),
    ] = None,
) -> None:
    """The page's looks, checked here (422 if not one of these) and applied by its script."""


def embed_page(kind: str, slug: str, svc: Services, lang: Lang) -> Response:
    try:
        channel = svc.schedules.channel(slug)
    except NotFound:
        return not_found_page(lang, "noChannel", FRAMEABLE)
    if channel.data["kind"] != kind:
        return not_found_page(lang, "noChannel", FRAMEABLE)
    return FileResponse(
        EMBED / "player.html", media_type="text/html; charset=utf-8", headers=FRAMEABLE
    )


def embed_route(kind: str, name: str) -> Callable[[Route], Route]:
    return router.get(
        f"/embed/{kind}/{{slug}}",
        response_class=HTMLResponse,
        dependencies=[Depends(looks)],
        summary=f"The embeddable player of a {name} channel (an HTML page for an iframe)",
        description="An HTML page made to be framed by any site: play and pause, the "
        "channel's name and logo, the title on air (kept current over Server-Sent Events), "
        "in `lang` (else the browser's language, else Azerbaijani). No cookies. "
        "See docs/embed.md.",
        responses=html_answers("the player page", f"no {name} channel of that name: a page"),
    )


@embed_route("radio", "radio")
def get_radio_embed(slug: str, svc: ServicesDep, lang: LangDep) -> Response:
    return embed_page("radio", slug, svc, lang)


@embed_route("tv", "TV")
def get_tv_embed(slug: str, svc: ServicesDep, lang: LangDep) -> Response:
    return embed_page("tv", slug, svc, lang)


@router.get(
    "/embed.js",
    response_class=FileResponse,
    summary="The snippet a site pastes to embed a player: it writes the iframe (docs/embed.md)",
    responses={200: {"content": {"text/javascript": {"schema": {"type": "string"}}}}},
)
def get_embed_script() -> FileResponse:
    return FileResponse(
        EMBED / "embed.js",
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=3600"},
    )
