"""Public: the station's pages that the API's resources link to, as HTML made on the server
from the on-demand catalogue: a programme (`/programmes/{slug}`) and an episode's page to
share (`/episodes/{episode_id}`, with its link card for social media).

The same catalogue calls as `api/routes/vod.py`, in `?lang=` (else `Accept-Language`, else
Azerbaijani); the documents themselves are pure (`api/pages/documents.py`). A programme or
episode that is not there is a page too (404, text/html), not a problem+json.
"""

from __future__ import annotations

from urllib.parse import quote, urljoin

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.auth import ServicesDep
from api.lang import LangDep
from api.pages.answers import html_answers, not_found_page, page_headers
from api.pages.documents import (
    EpisodeLink,
    EpisodePage,
    ProgrammePage,
    episode_document,
    programme_document,
)
from api.routes.vod import CatalogueDep, url
from api.services import Services
from schedules.guide import pick
from station.errors import NotFound

router = APIRouter(tags=["pages"])


def absolute(request: Request, link: str | None) -> str | None:
    """A link card needs whole URLs; stored files' URLs usually are already."""
    return urljoin(str(request.base_url), link) if link else None


def page_url(request: Request) -> str:
    """This page's URL without its query: the language is added per link."""
    return str(request.url.replace(query=""))


@router.get(
    "/programmes/{slug}",
    response_class=HTMLResponse,
    summary="A programme's public page: its episodes on demand, its podcast and air times",
    responses=html_answers("the programme's page", "no such programme: a page saying so"),
)
def get_programme_page(
    slug: str, request: Request, svc: ServicesDep, cat: CatalogueDep, lang: LangDep
) -> HTMLResponse:
    try:
        info, seasons = cat.programme(slug)
    except NotFound:
        return not_found_page(lang, "noProgramme")
    episodes = tuple(
        EpisodeLink(
            id=e.id,
            title=pick(e.titles, lang) or e.media_title,
            season=e.season,
            number=e.number,
            duration_ms=e.duration_ms,
            image=url(svc, e.artwork_key),
        )
        for season in seasons
        for e in season.episodes
        if e.availability.on_demand
    )
    page = ProgrammePage(
        url=page_url(request),
        title=pick(info.titles, lang),
        description=pick(info.descriptions, lang),
        artwork=absolute(request, url(svc, info.artwork_key)),
        episodes=episodes,
        podcast=f"/api/v1/programmes/{quote(info.slug)}/podcast.xml",
        calendar=f"/api/v1/programmes/{quote(info.slug)}/schedule.ics",
    )
    return HTMLResponse(programme_document(page, lang), headers=page_headers(lang))


def poster(svc: Services, request: Request, key: str | None, artwork_key: str | None) -> str | None:
    """The package's poster frame, else the media's artwork."""
    return absolute(request, url(svc, key) or url(svc, artwork_key))


@router.get(
    "/episodes/{episode_id}",
    response_class=HTMLResponse,
    summary="An episode's page to share: it plays the episode while on demand, else says why not",
    description="With Open Graph and Twitter card tags, so that a link to it shared on social "
    "media shows the episode's title, description and poster.",
    responses=html_answers("the episode's page", "no such episode: a page saying so"),
)
def get_episode_page(
    episode_id: int, request: Request, svc: ServicesDep, cat: CatalogueDep, lang: LangDep
) -> HTMLResponse:
    try:
        d = cat.episode(episode_id)
    except NotFound:
        return not_found_page(lang, "noEpisode")
    e, st = d.episode, d.streams
    page = EpisodePage(
        url=page_url(request),
        title=pick(e.titles, lang) or e.media_title,
        programme_title=pick(e.programme_titles, lang),
        programme_url=f"/programmes/{quote(e.programme_slug)}",
        description=pick(e.descriptions, lang),
        poster=poster(svc, request, st.poster if st else None, e.artwork_key),
        hls=url(svc, st.master) if st else None,
        season=e.season,
        number=e.number,
        duration_ms=e.duration_ms,
        availability=e.availability,
    )
    return HTMLResponse(episode_document(page, lang), headers=page_headers(lang))
