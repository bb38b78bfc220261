"""The public pages as HTML documents, from plain values: a programme with its episodes on
demand, an episode (its player, or why it cannot be watched), a page not found. Pure: the
route reads the catalogue and resolves the URLs; every text is escaped by `markup`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby

from api.lang import SUPPORTED, Lang
from api.pages.markup import Child, Html, el
from api.pages.messages import MESSAGES
from schedules.vod import EXPIRED, NOT_YET, STATION_ZONE, Availability

HLS_JS = "/static/vendor/hls.js-1.7.4/hls.min.js"
OG_LOCALES: dict[Lang, str] = {"az": "az_AZ", "en": "en_GB", "ru": "ru_RU"}


@dataclass(frozen=True, slots=True)
class Card:
    """What a page says of itself: the browser tab's title, and the card a link to it shows
    on social media (Open Graph, Twitter). URLs absolute; `url` None for a page not found."""

    title: str
    description: str
    url: str | None
    image: str | None = None
    type: str = "website"


@dataclass(frozen=True, slots=True)
class EpisodeLink:
    id: int
    title: str
    season: int | None
    number: int | None
    duration_ms: int | None
    image: str | None


@dataclass(frozen=True, slots=True)
class ProgrammePage:
    url: str  # this page, absolute, without the query
    title: str
    description: str
    artwork: str | None
    episodes: tuple[EpisodeLink, ...]  # those on demand, by season and number
    podcast: str
    calendar: str


@dataclass(frozen=True, slots=True)
class EpisodePage:
    url: str
    title: str
    programme_title: str
    programme_url: str
    description: str
    poster: str | None
    hls: str | None  # the master playlist, while on demand
    season: int | None
    number: int | None
    duration_ms: int | None
    availability: Availability


def document(
    lang: Lang, card: Card, main: Child, *, head: Child = None, scripts: Sequence[str] = ()
) -> str:
    """The page around `main`: its head with the link card, a header (the station, the
    languages), a footer."""
    w = MESSAGES[lang]
    alternates = []
    if card.url is not None:
        alternates = [
            el("link", rel="alternate", hreflang=code, href=f"{card.url}?lang={code}")
            for code in SUPPORTED
        ]
    meta = [
        el("meta", charset="utf-8"),
        el("meta", name="viewport", content="width=device-width, initial-scale=1"),
        el("meta", name="color-scheme", content="light dark"),
        el("title", f"{card.title} · {w['site']}"),
        el("meta", name="description", content=card.description),
        el("meta", name="robots", content="noindex") if card.url is None else None,
        el("link", rel="canonical", href=f"{card.url}?lang={lang}") if card.url else None,
        alternates,
        el("meta", property="og:type", content=card.type),
        el("meta", property="og:title", content=card.title),
        el("meta", property="og:description", content=card.description),
        el("meta", property="og:url", content=f"{card.url}?lang={lang}") if card.url else None,
        el("meta", property="og:image", content=card.image) if card.image else None,
        el("meta", property="og:site_name", content=w["site"]),
        el("meta", property="og:locale", content=OG_LOCALES[lang]),
        el("meta", name="twitter:card", content="summary_large_image" if card.image else "summary"),
        el("meta", name="twitter:title", content=card.title),
        el("meta", name="twitter:description", content=card.description),
        el("meta", name="twitter:image", content=card.image) if card.image else None,
        el("link", rel="icon", href="data:,"),
        el("link", rel="stylesheet", href="/static/pages/page.css"),
        head,
    ]
    languages = el(
        "nav",
        [
            el(
                "a",
                code.upper(),
                href=f"?lang={code}",
                hreflang=code,
                lang=code,
                aria_current="true" if code == lang else None,
            )
            for code in SUPPORTED
        ],
        class_="langs",
        aria_label=w["language"],
    )
    top = el(
        "header",
        el("a", w["site"], href=f"/?lang={lang}", class_="brand"),
        el("a", w["live"], href=f"/?lang={lang}", class_="pill"),
        languages,
        class_="top",
    )
    body = el(
        "body",
        top,
        el("main", main),
        el("footer", el("p", w["tagline"]), class_="foot"),
        [el("script", src=src, defer=True) for src in scripts],
    )
    return "<!doctype html>\n" + el("html", el("head", meta), body, lang=lang) + "\n"


def facts(lang: Lang, season: int | None, number: int | None, duration_ms: int | None) -> str:
    """ "Season 1 · Episode 3 · 20 min", as far as known."""
    w = MESSAGES[lang]
    out = []
    if season:
        out.append(f"{w['season']} {season}")
    if number:
        out.append(f"{w['episode']} {number}")
    if duration_ms:
        out.append(f"{max(1, round(duration_ms / 60000))} {w['minutes']}")
    return " · ".join(out)


def programme_document(p: ProgrammePage, lang: Lang) -> str:
    w = MESSAGES[lang]
    episodes: list[Html] = [el("h2", w["episodes"])]
    if not p.episodes:
        episodes.append(el("p", w["noEpisodes"], class_="muted"))
    for season, group in groupby(p.episodes, key=lambda e: e.season):
        if season is not None:
            episodes.append(el("h3", f"{w['season']} {season}"))
        items = [
            el(
                "li",
                el(
                    "a",
                    el(
                        "span",
                        el("img", src=e.image, alt="", loading="lazy") if e.image else None,
                        class_="thumb",
                    ),
                    el("span", e.title, class_="title"),
                    el("span", facts(lang, None, e.number, e.duration_ms), class_="muted"),
                    href=f"/episodes/{e.id}?lang={lang}",
                ),
            )
            for e in group
        ]
        episodes.append(el("ol", items, class_="episodes"))
    main = [
        el(
            "div",
            el("img", src=p.artwork, alt="", class_="art") if p.artwork else None,
            el(
                "div",
                el("h1", p.title),
                el("p", p.description, class_="description") if p.description else None,
            ),
            class_="hero",
        ),
        el("section", episodes),
        el(
            "section",
            el("h2", w["follow"]),
            el(
                "ul",
                el("li", el("a", w["podcast"], href=p.podcast, type="application/rss+xml")),
                el("li", el("a", w["calendar"], href=p.calendar, type="text/calendar")),
                class_="follow",
            ),
        ),
    ]
    card = Card(p.title, p.description or w["tagline"], p.url, p.artwork)
    feed = el("link", rel="alternate", type="application/rss+xml", title=p.title, href=p.podcast)
    return document(lang, card, main, head=feed)


def why_not(lang: Lang, a: Availability) -> str:
    """Why an episode cannot be watched now, in words."""
    w = MESSAGES[lang]
    if a.reason == EXPIRED:
        return w["expired"]
    if a.reason == NOT_YET:
        if a.start is None:
            return w["notYet"]
        when = a.start.astimezone(STATION_ZONE).strftime("%Y-%m-%d %H:%M")
        return w["notYetFrom"].format(when=f"{when} ({w['bakuTime']})")
    return w["notPackaged"]


def episode_document(p: EpisodePage, lang: Lang) -> str:
    w = MESSAGES[lang]
    about = facts(lang, p.season, p.number, p.duration_ms)
    if p.hls is not None:
        screen = el(
            "div",
            el(
                "video",
                el("p", w["noHls"]),
                id="player",
                controls=True,
                playsinline=True,
                preload="none",
                poster=p.poster,
                data_hls=p.hls,
                data_no_hls=w["noHls"],
            ),
            el("p", id="player-note", class_="muted", role="status"),
            class_="screen",
        )
    else:
        screen = el(
            "div",
            el("img", src=p.poster, alt="", class_="poster") if p.poster else None,
            el("p", why_not(lang, p.availability), class_="why"),
            class_="screen",
        )
    main = [
        el("p", el("a", p.programme_title, href=f"{p.programme_url}?lang={lang}"), class_="kicker"),
        el("h1", p.title),
        el("p", about, class_="muted") if about else None,
        screen,
        el("p", p.description, class_="description") if p.description else None,
    ]
    title = f"{p.programme_title}: {p.title}" if p.programme_title else p.title
    description = p.description or w["episodeOf"].format(programme=p.programme_title)
    card = Card(title, description, p.url, p.poster, "video.episode" if p.hls else "website")
    scripts = (HLS_JS, "/static/pages/episode.js") if p.hls else ()
    return document(lang, card, main, scripts=scripts)


def not_found_document(lang: Lang, what: str) -> str:
    """A page saying that `what` (a message's key: noChannel, noProgramme, noEpisode) is not
    here, with the way home."""
    w = MESSAGES[lang]
    main = [
        el("h1", w["notFound"]),
        el("p", w[what]),
        el("p", el("a", w["home"], href=f"/?lang={lang}")),
    ]
    return document(lang, Card(w["notFound"], w[what], None), main)
