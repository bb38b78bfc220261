"""Public: a podcast feed per programme (RSS 2.0 with the iTunes namespace).

What is in the feed follows the on-demand rule of schedules/vod.py, with one reading of it for
sound: an audio-only episode (a radio show) needs no HLS package to be listened to, so for it
"not packaged" does not count; its window (available from/until, or first aired) still does.
The enclosure of a radio show is its stored original; that of a TV episode is the M4A file of
its sound that packaging makes beside the HLS package (for a package made before that file
existed, the audio-only HLS playlist: apps that take HLS play it; package it again for a file).
A TV episode's enclosure lives under its package's unguessable prefix and stops working when
its window closes (the package moves: schedules/vod_windows.py); a radio show's original stays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Response

from api.auth import ServicesDep
from api.lang import LangDep
from api.problems import problems
from api.routes.vod import CatalogueDep, url
from api.services import Services
from media.storage import content_type
from schedules.guide import pick
from schedules.vod import NOT_PACKAGED, Catalogue, EpisodeInfo

router = APIRouter(tags=["on-demand"])
ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
RSS = "application/rss+xml"
HLS = "application/vnd.apple.mpegurl"


@dataclass(frozen=True, slots=True)
class FeedItem:
    guid: str
    title: str
    description: str
    url: str
    mime: str
    length: int
    duration_ms: int | None
    published: datetime | None
    image: str | None
    season: int | None
    number: int | None


@dataclass(frozen=True, slots=True)
class Feed:
    title: str
    description: str
    link: str
    lang: str
    image: str | None
    categories: tuple[str, ...]
    author: str
    items: tuple[FeedItem, ...]


def duration(ms: int) -> str:
    s = ms // 1000
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def render(feed: Feed) -> bytes:
    """The feed as RSS 2.0 + iTunes tags: pure, from plain data."""
    ET.register_namespace("itunes", ITUNES)

    def it(tag: str) -> str:
        return f"{{{ITUNES}}}{tag}"

    rss = ET.Element("rss", {"version": "2.0"})
    ch = ET.SubElement(rss, "channel")
    for tag, text in (
        ("title", feed.title),
        ("link", feed.link),
        ("description", feed.description or feed.title),
        ("language", feed.lang),
        (it("author"), feed.author),
        (it("explicit"), "false"),
    ):
        ET.SubElement(ch, tag).text = text
    if feed.image:
        ET.SubElement(ch, it("image"), {"href": feed.image})
        img = ET.SubElement(ch, "image")
        for tag, text in (("url", feed.image), ("title", feed.title), ("link", feed.link)):
            ET.SubElement(img, tag).text = text
    for c in feed.categories:
        ET.SubElement(ch, it("category"), {"text": c})
    for i in feed.items:
        el = ET.SubElement(ch, "item")
        ET.SubElement(el, "title").text = i.title
        ET.SubElement(el, "description").text = i.description or i.title
        ET.SubElement(el, "guid", {"isPermaLink": "false"}).text = i.guid
        ET.SubElement(el, "enclosure", {"url": i.url, "type": i.mime, "length": str(i.length)})
        if i.published is not None:
            ET.SubElement(el, "pubDate").text = format_datetime(i.published)
        if i.duration_ms is not None:
            ET.SubElement(el, it("duration")).text = duration(i.duration_ms)
        if i.image:
            ET.SubElement(el, it("image"), {"href": i.image})
        if i.season is not None:
            ET.SubElement(el, it("season")).text = str(i.season)
        if i.number is not None:
            ET.SubElement(el, it("episode")).text = str(i.number)
    body: bytes = ET.tostring(rss, encoding="utf-8", xml_declaration=True)
    return body


def listenable(e: EpisodeInfo, audio_only: bool, now: datetime) -> bool:
    """On demand; or, for sound alone, on demand but for the package it does not need."""
    a = e.availability
    if a.on_demand:
        return True
    if a.reason != NOT_PACKAGED or not audio_only or a.start is None or now < a.start:
        return False
    return a.until is None or now < a.until


def feed_items(
    svc: Services, cat: Catalogue, episodes: Sequence[EpisodeInfo], lang: str
) -> list[FeedItem]:
    now = svc.clock.now()
    out = []
    for e in episodes:
        if e.media_id is None:
            continue
        media = svc.library.get(e.media_id)
        audio_only = media.video_codec is None
        if not listenable(e, audio_only, now):
            continue
        if audio_only:
            href, mime, length = (
                url(svc, media.storage_key),
                content_type(media.storage_key),
                (media.size_bytes),
            )
        else:
            streams = cat.episode(e.id, upcoming=False).streams
            if streams is None:
                continue
            if streams.audio_file is not None:
                href, mime, length = (
                    url(svc, streams.audio_file),
                    "audio/mp4",
                    streams.audio_file_bytes,
                )
            elif streams.audio is not None:  # packaged before the M4A was made
                href, mime, length = url(svc, streams.audio), HLS, 0
            else:
                continue
        if href is None:
            continue
        title = pick(e.titles, lang) or e.media_title
        out.append(
            FeedItem(
                guid=f"diaspor:{e.programme_slug}:episode:{e.id}",
                title=title,
                description=pick(e.descriptions, lang),
                url=href,
                mime=mime,
                length=length,
                duration_ms=e.duration_ms,
                published=e.availability.start,
                image=url(svc, e.artwork_key),
                season=e.season,
                number=e.number,
            )
        )
    out.sort(key=lambda i: (i.published is None, -(i.published.timestamp() if i.published else 0)))
    return out


@router.get(
    "/api/v1/programmes/{slug}/podcast.xml",
    response_class=Response,
    responses={200: {"content": {RSS: {"schema": {"type": "string"}}}}, **problems(404, 503)},
    summary="The programme as a podcast (RSS 2.0 + iTunes): its episodes on demand",
    description=__doc__,
)
def get_podcast_feed(slug: str, svc: ServicesDep, cat: CatalogueDep, lang: LangDep) -> Response:
    info, seasons = cat.programme(slug)
    episodes = [e for s in seasons for e in s.episodes]
    feed = Feed(
        title=pick(info.titles, lang),
        description=pick(info.descriptions, lang),
        link=f"{svc.settings.base_url}/api/v1/programmes/{slug}",
        lang=lang,
        image=url(svc, info.artwork_key),
        categories=info.categories,
        author=", ".join(info.presenters) or "Diaspor.FM",
        items=tuple(feed_items(svc, cat, episodes, lang)),
    )
    headers = {
        "Content-Language": lang,  # and Vary: Accept-Language where it chose (api/lang.py)
        "Cache-Control": "public, max-age=300",
    }
    return Response(render(feed), media_type=f"{RSS}; charset=utf-8", headers=headers)
