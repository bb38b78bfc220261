"""Public: the on-demand catalogue (programmes → seasons → episodes), for web and mobile.

The rules live in schedules/vod.py; here they are parsed, called and mapped. The as-run log
(playout's) is read by `playout.airings.AsRunAirings` and handed to the catalogue, which may
not import it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from api.auth import ServicesDep
from api.lang import LangDep
from api.links import EpisodeLinks, episode_links, programme_links
from api.paging import Pages, paged
from api.problems import problems
from api.services import Services, public_file_url
from api.vod_schemas import (
    AiredOut,
    AvailabilityOut,
    EpisodeDetailOut,
    EpisodePage,
    EpisodeSummary,
    NextAiringOut,
    ProgrammeCard,
    ProgrammeDetail,
    ProgrammePage,
    SeasonOut,
    SubtitleTrackOut,
)
from playout.airings import AsRunAirings
from schedules.guide import pick
from schedules.vod import Catalogue, EpisodeInfo, ProgrammeInfo

router = APIRouter(tags=["on-demand"])

RULE = """
**When an episode is on demand.** Its media must be packaged into HLS (the package the TV
channel plays: no second encode), else `reason` is `not-packaged`. From `available_until` on
it is `expired`. With `available_from` set by editors it is on demand from then (`not-yet`
before); without it, once it has aired: its first airing in the as-run log (catch-up), or the
start of its `air_date` in the channel's zone (Asia/Baku when no channel schedules it),
whichever is first.

Texts are in `?lang=` (else `Accept-Language`, else Azerbaijani), field by field: a text
missing in that language is given in Azerbaijani.
"""
NOT_FOUND = problems(404, why={404: "no such programme or episode"})


async def catalogue(svc: ServicesDep) -> Catalogue:
    return Catalogue(svc.db, svc.clock, svc.library, svc.schedules, AsRunAirings(svc.db))


CatalogueDep = Annotated[Catalogue, Depends(catalogue)]


def public(response: Response, lang: str) -> None:
    """Cacheable for a minute: availability changes with time, not with each request. (Vary:
    Accept-Language where the header chose the language: api/lang.py.)"""
    response.headers["Content-Language"] = lang
    response.headers["Cache-Control"] = "public, max-age=60"


def url(svc: Services, key: str | None) -> str | None:
    return public_file_url(svc.settings, key)


def programme_card(svc: Services, p: ProgrammeInfo, lang: str) -> ProgrammeCard:
    return ProgrammeCard(
        slug=p.slug,
        title=pick(p.titles, lang),
        description=pick(p.descriptions, lang) or None,
        titles=dict(p.titles),
        descriptions=dict(p.descriptions),
        categories=list(p.categories),
        presenters=list(p.presenters),
        artwork=url(svc, p.artwork_key),
        episodes=p.episodes,
        episodes_on_demand=p.episodes_on_demand,
        links=programme_links(svc.settings.base_url, p.slug),
    )


def summary_fields(svc: Services, e: EpisodeInfo, lang: str) -> dict[str, object]:
    a = e.availability
    return {
        "id": e.id,
        "programme": e.programme_slug,
        "season": e.season,
        "number": e.number,
        "title": pick(e.titles, lang) or e.media_title,
        "description": pick(e.descriptions, lang) or None,
        "duration_ms": e.duration_ms,
        "air_date": e.air_date,
        "image": url(svc, e.artwork_key),
        "links": episode_links(svc.settings.base_url, e.id, e.programme_slug),
        "availability": AvailabilityOut(
            on_demand=a.on_demand,
            reason=a.reason,
            available_from=a.start,
            available_until=a.until,
        ),
    }


def summary(svc: Services, e: EpisodeInfo, lang: str) -> EpisodeSummary:
    return EpisodeSummary.model_validate(summary_fields(svc, e, lang))


@router.get(
    "/api/v1/programmes",
    response_model=ProgrammePage,
    summary="Every programme (by slug), with how many of its episodes are on demand",
    description=RULE,
)
def list_programmes(
    svc: ServicesDep,
    cat: CatalogueDep,
    lang: LangDep,
    response: Response,
    pages: Annotated[Pages, paged("programmes", 100)],
) -> ProgrammePage:
    page = pages.whole(cat.programmes(), lambda p: (p.slug,), (str,))
    public(response, lang)
    return pages.answer(ProgrammePage, page, lambda p: programme_card(svc, p, lang))


@router.get(
    "/api/v1/programmes/{slug}",
    response_model=ProgrammeDetail,
    summary="A programme, its seasons and their episodes (on demand or not, each says)",
    description=RULE,
    responses=NOT_FOUND,
)
def get_programme(
    slug: str, svc: ServicesDep, cat: CatalogueDep, lang: LangDep, response: Response
) -> ProgrammeDetail:
    info, seasons = cat.programme(slug)
    public(response, lang)
    card = programme_card(svc, info, lang)
    return ProgrammeDetail(
        **card.model_dump(),
        seasons=[
            SeasonOut(season=x.number, episodes=[summary(svc, e, lang) for e in x.episodes])
            for x in seasons
        ],
    )


@router.get(
    "/api/v1/programmes/{slug}/episodes",
    response_model=EpisodePage,
    summary="A programme's episodes by season and number, a page at a time",
    description=RULE,
    responses=NOT_FOUND,
)
def list_programme_episodes(
    slug: str,
    svc: ServicesDep,
    cat: CatalogueDep,
    lang: LangDep,
    response: Response,
    pages: Annotated[Pages, paged("programme-episodes", 20)],
    season: Annotated[int | None, Query(ge=1, description="only this season")] = None,
) -> EpisodePage:
    page = cat.episodes(slug, season=season, after=pages.after_ints(3), limit=pages.limit)
    public(response, lang)
    return pages.answer(EpisodePage, page, lambda e: summary(svc, e, lang))


@router.get(
    "/api/v1/episodes",
    response_model=EpisodePage,
    summary="Find episodes by title, in any language (the latest added first)",
    description=RULE
    + """
Every word of `q` must appear in the episode's titles or its programme's, in any language,
ignoring case and accents: `veten` and `vətən` both find "Vətən uzaqda deyil", `родина`
finds "Родина недалеко". Only episodes on demand, unless `all=true`.
""",
)
def list_episodes(
    svc: ServicesDep,
    cat: CatalogueDep,
    lang: LangDep,
    response: Response,
    pages: Annotated[Pages, paged("episodes", 20)],
    q: Annotated[str | None, Query(max_length=200, description="words of a title")] = None,
    everything: Annotated[
        bool, Query(alias="all", description="also episodes not on demand")
    ] = False,
) -> EpisodePage:
    before = pages.after_ints(1)
    page = cat.search(
        q, everything=everything, before_id=before[0] if before else None, limit=pages.limit
    )
    public(response, lang)
    return pages.answer(EpisodePage, page, lambda e: summary(svc, e, lang))


@router.get(
    "/api/v1/episodes/{episode_id}",
    response_model=EpisodeDetailOut,
    summary="One episode: texts, airings, availability and, when on demand, what to play",
    description=RULE
    + """
When on demand: `hls` (the master playlist: video renditions, the audio-only rendition and
the WebVTT subtitles), `audio` (the audio-only playlist), `audio_file` (the same sound in
one M4A file, for podcast apps and downloads), `subtitles`,
`poster` and `thumbnails`. Past airings come from the as-run log; the next airings from the
guide of every channel, for 14 days.

These URLs are the only way to the files: they lie under an unguessable prefix, handed out
only while the episode is on demand, and they stop working (404) shortly after its window
closes (the package moves to a new prefix within `DIASPOR_VOD_WINDOWS_EVERY_S` plus
`DIASPOR_PACKAGE_RETIRE_S`), or when the media is packaged again. Keep the episode's id,
not the URLs: ask again for the current ones.
""",
    responses=problems(404, 503, why={503: "its package cannot be read from storage now"}),
)
def get_episode(
    episode_id: int, svc: ServicesDep, cat: CatalogueDep, lang: LangDep, response: Response
) -> EpisodeDetailOut:
    d = cat.episode(episode_id)
    e, st = d.episode, d.streams
    public(response, lang)
    fields = summary_fields(svc, e, lang)
    vtt = {t.lang: url(svc, t.file_key) for t in (st.subtitles if st else ())}
    links = EpisodeLinks(
        **episode_links(svc.settings.base_url, e.id, e.programme_slug).model_dump(),
        master=url(svc, st.master) if st else None,
        audio_file=url(svc, st.audio_file) if st else None,
        poster=url(svc, st.poster) if st else None,
        subtitles={code: u for code, u in vtt.items() if u},
    )
    return EpisodeDetailOut.model_validate(
        {
            **fields,
            "links": links,
            "titles": dict(e.titles),
            "descriptions": dict(e.descriptions),
            "programme_title": pick(e.programme_titles, lang),
            "aired": [AiredOut(channel=a.channel, started_at=a.start) for a in d.aired],
            "next_airings": [
                NextAiringOut(channel=a.channel, start=a.start, end=a.end)
                for a in d.upcoming
                if a.end is not None
            ],
            "hls": url(svc, st.master) if st else None,
            "audio": url(svc, st.audio) if st else None,
            "audio_file": url(svc, st.audio_file) if st else None,
            "subtitles": [
                SubtitleTrackOut(
                    lang=t.lang,
                    name=t.name,
                    url=url(svc, t.playlist_key) or "",
                    vtt=url(svc, t.file_key),
                )
                for t in (st.subtitles if st else ())
            ],
            "poster": url(svc, st.poster) if st else None,
            "thumbnails": url(svc, st.thumbnails) if st else None,
        }
    )
