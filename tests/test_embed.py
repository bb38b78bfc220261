"""The players partner sites embed, and the public pages the API links to.

Without a browser: the embeds' files within their budget, every message catalogue complete
in az/en/ru, the pages frameable by any site and without cookies, the looks in the query
checked (and never written back), and the programme and episode pages (their link cards,
their escaping, their languages, their 404 pages) on the schedule desk's radio week.

In Debian's headless Chromium, with Diaspor.FM and Diaspor TV on air from `run_playout` (as
tests/test_player.py puts them), a partner's page on another site holds the radio player as
an iframe and the TV player from the `/embed.js` snippet: a listener presses play in each;
the radio sounds and shows the title on air, the TV shows frames, each in the language and
the colours asked for. The episode page plays its episode.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.pages.documents import why_not
from api.pages.messages import MESSAGES
from diaspor.compose import Station
from media.binaries import Tools
from schedules.vod import EXPIRED, NOT_PACKAGED, NOT_YET, Availability
from tests.radio_support import SONGS
from tests.schedule_support import NOW, Desk, build_radio_week
from tests.support import need, need_program
from tests.tv_support import radio_and_tv_on_air, radio_and_tv_station

ROOT = Path(__file__).resolve().parent.parent
EMBED = ROOT / "api" / "static" / "embed"
PAGE_FILES = ("player.html", "player.js", "messages.js", "embed.css")
PAGE_BUDGET = 12 * 1024  # the player page with its script, words and styles
SNIPPET_BUDGET = 4 * 1024
PROBLEM = "application/problem+json"
EVIL = "Vətən <script>alert(\"x\")</script> & 'dırnaq'"
SONG_TITLES = json.dumps(sorted(title for _, title in SONGS))  # a JavaScript array
# A browser with no HLS of its own, as Firefox is (Chromium has its own since version 141):
# the TV player must then fetch hls.js and play the channel with it.
NO_NATIVE_HLS = """
const canPlayType = HTMLMediaElement.prototype.canPlayType;
HTMLMediaElement.prototype.canPlayType = function (type) {
  return /mpegurl/i.test(type) ? "" : canPlayType.call(this, type);
};
"""


def js_object(path: Path, name: str) -> Any:
    """The JSON object literal assigned to `name` in a script."""
    text = path.read_text()
    start = text.index("{", text.index(f"{name} ="))
    value, _ = json.JSONDecoder().raw_decode(text, start)
    return value


# --- the files, without a server ----------------------------------------------------------------


def test_every_message_catalogue_has_every_key_in_az_en_ru() -> None:
    catalogues = {
        "api/static/embed/messages.js": js_object(
            EMBED / "messages.js", "window.DIASPOR_EMBED_MESSAGES"
        ),
        "api/static/embed/embed.js": js_object(EMBED / "embed.js", "const TITLES"),
        "api/pages/messages.py": MESSAGES,
    }
    for where, catalogue in catalogues.items():
        assert set(catalogue) == {"az", "en", "ru"}, where
        keys = set(catalogue["az"])
        for lang, words in catalogue.items():
            assert set(words) == keys, (where, lang, sorted(keys ^ set(words)))
            assert all(isinstance(w, str) and w.strip() for w in words.values()), (where, lang)

    # ...and every key the markup and the code ask for is in its catalogue.
    page = (EMBED / "player.html").read_text()
    script = (EMBED / "player.js").read_text()
    asked = set(re.findall(r'data-i18n="(\w+)"', page))
    asked |= set(re.findall(r'\b(?:say|stop)\("(\w+)"\)', script))
    asked |= {"listen", "watch", "pause"}  # the play button's label, by kind and state
    assert asked <= set(catalogues["api/static/embed/messages.js"]["az"]), asked
    code = "".join(
        (ROOT / f).read_text()
        for f in ("api/pages/documents.py", "api/routes/pages.py", "api/routes/embeds.py")
    )
    asked = set(re.findall(r'\bw\["(\w+)"\]', code))
    asked |= set(re.findall(r'not_found_page\(lang, "(\w+)"', code))
    asked |= {"noChannel", "noProgramme", "noEpisode"}
    assert asked <= set(MESSAGES["az"]), asked - set(MESSAGES["az"])


def test_the_player_page_and_the_snippet_stay_small() -> None:
    page = (EMBED / "player.html").read_text()
    loaded = set(re.findall(r'(?:src|href)="/static/([^"]+)"', page))
    assert loaded == {f"embed/{f}" for f in PAGE_FILES if f != "player.html"}  # all counted
    size = sum((EMBED / f).stat().st_size for f in PAGE_FILES)
    assert size <= PAGE_BUDGET, f"the player page and its files weigh {size} bytes"
    snippet = (EMBED / "embed.js").stat().st_size
    assert snippet <= SNIPPET_BUDGET, f"embed.js weighs {snippet} bytes"
    assert "hls" not in page  # hls.js is fetched by the script, for TV only


@pytest.mark.parametrize(
    ("reason", "start", "words"),
    [
        (NOT_PACKAGED, None, "cannot be watched online"),
        (NOT_YET, None, "has not aired yet"),
        (NOT_YET, NOW + timedelta(days=2), "from 2026-11-28 12:00 (Baku time)"),
        (EXPIRED, NOW - timedelta(days=9), "no longer available"),
    ],
)
def test_an_episode_page_says_why_it_cannot_be_watched(reason: str, start: Any, words: str) -> None:
    assert words in why_not("en", Availability(False, reason, start, None))


# --- the pages, served -----------------------------------------------------------------------


class Page(HTMLParser):
    """What a test reads of a page: its meta tags, heading, scripts, links and all its text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.scripts: list[str | None] = []
        self.links: list[str] = []
        self.heading = ""
        self._text: list[str] = []
        self._in_h1 = False
        self.feed(text)
        self.close()
        self.all_text = " ".join(" ".join(self._text).split())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        key = a.get("property") or a.get("name")
        if tag == "meta" and key:
            self.meta[key] = a.get("content") or ""
        elif tag == "script":
            self.scripts.append(a.get("src"))
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")
        self._in_h1 = self._in_h1 or tag == "h1"

    def handle_endtag(self, tag: str) -> None:
        if tag == "h1":
            self._in_h1 = False

    def handle_data(self, data: str) -> None:
        self._text.append(data)
        if self._in_h1:
            self.heading += data


@pytest.fixture
def desk_pages(desk: Desk) -> Iterator[tuple[httpx.Client, dict[str, Any]]]:
    """The radio week, a TV channel, and a programme whose texts would be markup if they
    were not escaped; an anonymous client."""
    week = build_radio_week(desk)
    desk.post("channels", {"slug": "diaspor-tv", "kind": "tv", "names": {"az": "Diaspor TV"}})
    evil = desk.post(
        "programmes",
        {
            "slug": "tehluke",
            "titles": {"az": EVIL, "en": f"{EVIL} (en)"},
            "descriptions": {"az": f"{EVIL}\nikinci sətir"},
        },
    )
    episode = desk.post(
        "episodes",
        {
            "programme_id": evil["id"],
            "season": 2,
            "number": 5,
            "titles": {"az": f"Buraxılış {EVIL}"},
            "descriptions": {"az": f"Haqqında {EVIL}"},
            "media_id": desk.media["show"],
            "air_date": "2026-11-01",
        },
    )
    ids = {"week": week, "evil": evil, "evil_episode": episode}
    with httpx.Client(base_url=str(desk.client.base_url), timeout=30) as anonymous:
        yield anonymous, ids


def test_the_players_may_be_framed_by_any_site_and_set_no_cookie(
    desk_pages: tuple[httpx.Client, dict[str, Any]],
) -> None:
    client, _ = desk_pages
    page = (EMBED / "player.html").read_bytes()
    for path in (
        "/embed/radio/diaspor-fm",
        "/embed/tv/diaspor-tv?lang=en&theme=dark&accent=%23c0392b",
        "/embed/radio/diaspor-fm?theme=light&accent=C03",
    ):
        r = client.get(path)
        assert r.status_code == 200, (path, r.text)
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        policy = [p.strip() for p in r.headers["content-security-policy"].split(";")]
        assert "frame-ancestors *" in policy
        assert "x-frame-options" not in r.headers
        assert "set-cookie" not in r.headers
        assert r.content == page  # the looks are the script's to apply: nothing written back
    snippet = client.get("/embed.js")
    assert snippet.status_code == 200
    assert snippet.headers["content-type"] == "text/javascript; charset=utf-8"
    assert snippet.content == (EMBED / "embed.js").read_bytes()
    assert "set-cookie" not in snippet.headers
    for f in PAGE_FILES[1:]:
        assert client.get(f"/static/embed/{f}").content == (EMBED / f).read_bytes()


def test_looks_that_are_not_a_theme_or_a_colour_are_refused_and_never_written_back(
    desk_pages: tuple[httpx.Client, dict[str, Any]],
) -> None:
    client, _ = desk_pages
    for query in (
        {"accent": "red;}</style><script>alert(1)</script>"},
        {"accent": "#12345"},
        {"theme": "<b>dark</b>"},
        {"lang": "<i>de</i>"},
    ):
        r = client.get("/embed/radio/diaspor-fm", params=query)
        assert r.status_code == 422, (query, r.text)
        assert r.headers["content-type"] == PROBLEM
        assert next(iter(query.values())) not in r.text
        assert not re.search(r"<(script|b|i)>", r.text)


def test_a_player_of_a_channel_not_there_is_a_page_saying_so(
    desk_pages: tuple[httpx.Client, dict[str, Any]],
) -> None:
    client, _ = desk_pages
    for path, lang, words in (
        ("/embed/radio/yoxdur", "az", "Belə kanal yoxdur."),
        ("/embed/tv/diaspor-fm", "az", "Belə kanal yoxdur."),  # a radio channel, not TV
        ("/embed/radio/diaspor-tv?lang=ru", "ru", "Такого канала нет."),
    ):
        r = client.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        assert r.headers["content-language"] == lang
        assert words in Page(r.text).all_text
        assert "frame-ancestors *" in r.headers["content-security-policy"]  # seen in the frame
    english = client.get("/embed/tv/nope", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert "There is no such channel." in english.text


def test_the_programme_page_shows_its_texts_escaped_and_links_its_feeds(
    desk_pages: tuple[httpx.Client, dict[str, Any]],
) -> None:
    client, _ = desk_pages
    r = client.get("/programmes/tehluke")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["content-language"] == "az"
    assert r.headers["cache-control"] == "public, max-age=60"
    assert "Accept-Language" in r.headers["vary"]
    assert "<script>alert" not in r.text and "&lt;script&gt;alert" in r.text
    page = Page(r.text)
    assert page.heading == EVIL
    assert page.meta["og:title"] == EVIL  # the attribute holds the title exactly
    assert page.meta["og:description"] == f"{EVIL}\nikinci sətir"
    assert page.meta["og:url"] == f"{client.base_url}/programmes/tehluke?lang=az"
    assert all(src and src.startswith("/static/") for src in page.scripts)  # none inline
    assert "/api/v1/programmes/tehluke/podcast.xml" in page.links
    assert "/api/v1/programmes/tehluke/schedule.ics" in page.links
    assert "Hələ baxmaq olan buraxılış yoxdur." in page.all_text  # its episode is not packaged
    for feed in ("podcast.xml", "schedule.ics"):
        assert client.get(f"/api/v1/programmes/tehluke/{feed}").status_code == 200

    english = client.get("/programmes/tehluke?lang=en")
    assert english.headers["content-language"] == "en"
    assert Page(english.text).heading == f"{EVIL} (en)"
    assert "No episodes to watch yet." in Page(english.text).all_text
    russian = client.get("/programmes/veten-uzaqda-deyil", headers={"Accept-Language": "ru"})
    assert russian.headers["content-language"] == "ru"
    assert Page(russian.text).heading == "Родина недалеко"
    assert "Подкаст (RSS)" in Page(russian.text).all_text


def test_the_episode_page_has_a_link_card_and_says_why_it_cannot_be_watched(
    desk_pages: tuple[httpx.Client, dict[str, Any]],
) -> None:
    client, ids = desk_pages
    eid = ids["evil_episode"]["id"]
    r = client.get(f"/episodes/{eid}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["content-language"] == "az"
    assert r.headers["cache-control"] == "public, max-age=60"
    assert "<script>alert" not in r.text
    page = Page(r.text)
    assert page.heading == f"Buraxılış {EVIL}"
    card = page.meta
    assert card["og:title"] == f"{EVIL}: Buraxılış {EVIL}"
    assert card["og:description"] == f"Haqqında {EVIL}"
    assert card["og:url"] == f"{client.base_url}/episodes/{eid}?lang=az"
    assert card["og:type"] == "website"  # nothing to watch
    assert card["twitter:title"] == card["og:title"]
    assert card["twitter:card"] in ("summary", "summary_large_image")
    assert "Bu buraxılışa onlayn baxmaq mümkün deyil." in page.all_text  # audio: no package
    assert "Mövsüm 2 · Buraxılış 5" in page.all_text
    assert "/programmes/tehluke?lang=az" in page.links
    assert page.scripts == []  # no player to load

    week = ids["week"]["episode"]["id"]
    english = Page(client.get(f"/episodes/{week}?lang=en").text)
    assert english.heading == "Berlin"
    assert english.meta["og:title"] == "Homeland Is Not Far: Berlin"
    assert english.meta["og:locale"] == "en_GB"
    assert "This episode cannot be watched online." in english.all_text


def test_a_programme_or_episode_not_there_is_a_page_saying_so(
    desk_pages: tuple[httpx.Client, dict[str, Any]],
) -> None:
    client, _ = desk_pages
    for path, words in (
        ("/programmes/yoxdur", "Belə veriliş yoxdur."),
        ("/episodes/999999", "Belə buraxılış yoxdur."),
        ("/episodes/999999?lang=en", "There is no such episode."),
    ):
        r = client.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        page = Page(r.text)
        assert words in page.all_text
        assert page.meta["robots"] == "noindex"
    assert client.get("/episodes/abc").headers["content-type"] == PROBLEM  # not an id: 422


# --- on air, in Chromium ----------------------------------------------------------------------


@dataclass
class OnAir:
    station: Station
    base: str
    episode_id: int  # an episode on demand, of "Sərhədsiz"


@pytest.fixture(scope="module")
def on_air(tmp_path_factory: pytest.TempPathFactory, tools: Tools) -> Iterator[OnAir]:
    """Diaspor.FM and Diaspor TV on air (as in tests/test_player.py); the radio's logo is a
    poster of the TV's, and a second programme has an episode on demand (aired two days ago,
    its media packaged for the TV)."""
    st = radio_and_tv_station(tmp_path_factory.mktemp("embed"), tools)
    try:
        sch = st.schedules
        media_id = sch.find("episode")[0].data["media_id"]
        poster = st.library.get(media_id).artwork_key
        radio = sch.channel("diaspor-fm")
        logo = f"{st.settings.base_url}/files/{poster}"
        sch.update("channel", radio.id, radio.version, {"logo_url": logo}, "test")
        programme = sch.create(
            "programme",
            {"slug": "serhedsiz", "titles": {"az": "Sərhədsiz", "en": "Borderless"}},
            "test",
        )
        episode = sch.create(
            "episode",
            {
                "programme_id": programme.id,
                "season": 1,
                "number": 1,
                "titles": {"az": "Bakıdan salam", "en": "Hello from Baku"},
                "descriptions": {"az": "Şəhərin səsləri"},
                "media_id": media_id,
                "air_date": (st.clock.now() - timedelta(days=2)).date(),
            },
            "test",
        )
        with radio_and_tv_on_air(st) as base:
            yield OnAir(st, base, episode.id)
    finally:
        st.close()


@pytest.fixture(scope="module")
def partner(tmp_path_factory: pytest.TempPathFactory, on_air: OnAir) -> Iterator[str]:
    """A partner organisation's page on another site (localhost, not 127.0.0.1, on a port of
    its own): the radio as an iframe, the TV from the snippet."""
    folder = tmp_path_factory.mktemp("partner")
    (folder / "index.html").write_text(
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Azərbaycan evi</title>
<link rel="icon" href="data:,"></head>
<body>
<h1>Azərbaycan evi, Berlin</h1>
<iframe id="radio" src="{on_air.base}/embed/radio/diaspor-fm?lang=en" title="Diaspor.FM"
        style="width:100%;max-width:480px;height:96px;border:0" allow="autoplay"></iframe>
<div data-diaspor-player="tv" data-channel="diaspor-tv" data-lang="ru" data-theme="dark"
     data-accent="#c0392b"></div>
<p>In the sidebar:</p>
<div data-diaspor-player="radio" data-channel="diaspor-fm" data-width="300"></div>
<script src="{on_air.base}/embed.js" async></script>
</body></html>
""",
        encoding="utf-8",
    )

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def wait_for(where: Any, what: str, seconds: float) -> Any:
    """Until a JavaScript expression in a page or frame is truthy; its value."""
    predicate = f"() => ({what})"  # a function: the players' policy forbids eval
    return where.wait_for_function(predicate, polling=250, timeout=seconds * 1000).json_value()


@pytest.fixture
def browser() -> Iterator[Any]:
    chromium = need_program("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - a test dependency
        need(False, "playwright is not installed (pip install -e .[test])")
        raise
    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
        )
        try:
            yield launched
        finally:
            launched.close()


def watch_problems(page: Any) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def frame_of(page: Any, selector: str) -> Any:
    """The frame of that iframe, once its script has run."""
    frame = page.wait_for_selector(selector).content_frame()
    wait_for(frame, "!!document.getElementById('media')", 15)
    return frame


@pytest.mark.slow
@pytest.mark.browser
def test_a_partner_site_plays_the_radio_and_the_tv_in_their_languages_and_colours(
    on_air: OnAir, partner: str, browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 800, "height": 900})
    context.add_init_script(NO_NATIVE_HLS)
    page = context.new_page()
    problems = watch_problems(page)
    page.goto(partner)

    # The snippet wrote an iframe back to the station, titled for screen readers, in
    # Russian as asked, 16:11 (the video and the bar under it).
    tv_frame = page.locator("iframe[src*='/embed/tv/']")
    tv_frame.wait_for()
    src = tv_frame.get_attribute("src")
    assert src == f"{on_air.base}/embed/tv/diaspor-tv?lang=ru&theme=dark&accent=%23c0392b"
    assert tv_frame.get_attribute("title") == "ТВ-плеер: diaspor-tv"
    box = tv_frame.bounding_box()
    assert box["width"] == 640 and abs(box["height"] - 440) <= 1, box
    assert page.locator("[data-diaspor-player]").count() == 0
    # Without options: the page's language, the width asked for, the radio's height.
    sidebar = page.locator(
        f"iframe:not(#radio)[src='{on_air.base}/embed/radio/diaspor-fm?lang=en']"
    )
    assert sidebar.get_attribute("title") == "Radio player: diaspor-fm"
    assert sidebar.bounding_box()["width"] == 300 and sidebar.bounding_box()["height"] == 96

    # The radio, in English, light: press play; it sounds and shows the song on air.
    radio = frame_of(page, "#radio")
    assert radio.evaluate("document.documentElement.lang") == "en"
    assert radio.text_content("[data-i18n=onAir]") == "On air"
    wait_for(radio, "document.getElementById('name').textContent === 'Diaspor.FM'", 10)
    assert radio.evaluate("document.getElementById('logo').naturalWidth") > 0
    page.frame_locator("#radio").get_by_role("button", name="Listen", exact=True).click()
    wait_for(radio, "document.getElementById('media').currentTime > 1", 20)
    title = f"{SONG_TITLES}.some(t => document.getElementById('title').textContent.startsWith(t))"
    wait_for(radio, title, 15)
    assert radio.get_attribute("#play", "aria-label") == "Pause"
    assert radio.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"
    assert radio.evaluate("typeof Hls") == "undefined"  # hls.js only where it is needed
    assert radio.evaluate("document.cookie") == ""

    # The TV, in Russian, dark, with the partner's colour: press play; frames are shown.
    tv = frame_of(page, "iframe[src*='/embed/tv/']")
    assert tv.evaluate("document.documentElement.lang") == "ru"
    assert tv.text_content("[data-i18n=onAir]") == "Сейчас в эфире"
    assert tv.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(21, 23, 28)"
    assert tv.evaluate("getComputedStyle(document.getElementById('play')).backgroundColor") == (
        "rgb(192, 57, 43)"
    )
    page.frame_locator("iframe[src*='/embed/tv/']").get_by_role(
        "button", name="Смотреть", exact=True
    ).click()
    video = "document.getElementById('media')"
    t0 = wait_for(tv, f"{video}.currentTime > 0 && {video}.currentTime", 30)
    f0 = tv.evaluate(f"{video}.getVideoPlaybackQuality().totalVideoFrames")
    wait_for(tv, f"{video}.currentTime > {t0} + 2", 20)
    assert tv.evaluate(f"{video}.getVideoPlaybackQuality().totalVideoFrames") > f0
    wait_for(tv, "document.getElementById('title').textContent.length > 1", 10)
    assert tv.evaluate("typeof Hls") == "function"  # fetched at the press of play

    # Pause lets go of the radio's stream.
    page.frame_locator("#radio").get_by_role("button", name="Pause", exact=True).click()
    assert radio.evaluate("document.getElementById('media').paused") is True
    assert radio.evaluate("document.getElementById('media').hasAttribute('src')") is False
    assert radio.get_attribute("#play", "aria-pressed") == "false"
    assert not problems, problems


@pytest.mark.slow
def test_an_episode_on_demand_is_on_its_programme_page_with_a_poster_for_its_card(
    on_air: OnAir,
) -> None:
    programme = httpx.get(f"{on_air.base}/programmes/serhedsiz?lang=en", timeout=10)
    page = Page(programme.text)
    assert page.heading == "Borderless"
    assert f"/episodes/{on_air.episode_id}?lang=en" in page.links
    assert "Hello from Baku" in page.all_text
    episode = Page(httpx.get(f"{on_air.base}/episodes/{on_air.episode_id}", timeout=10).text)
    assert episode.meta["og:type"] == "video.episode"
    image = httpx.get(episode.meta["og:image"], timeout=10)  # whole, and there
    assert image.status_code == 200 and image.headers["content-type"].startswith("image/")
    assert episode.meta["twitter:card"] == "summary_large_image"
    assert episode.scripts == ["/static/vendor/hls.js-1.7.4/hls.min.js", "/static/pages/episode.js"]


@pytest.mark.slow
@pytest.mark.browser
def test_the_episode_page_plays_the_episode(on_air: OnAir, browser: Any) -> None:
    page = browser.new_page()
    problems = watch_problems(page)
    page.goto(f"{on_air.base}/episodes/{on_air.episode_id}?lang=en")
    assert page.text_content("h1") == "Hello from Baku"
    page.evaluate("document.getElementById('player').play()")  # as its own button does
    player = "document.getElementById('player')"
    wait_for(page, f"{player}.currentTime > 1", 20)
    assert page.evaluate(f"{player}.getVideoPlaybackQuality().totalVideoFrames") > 0
    if page.evaluate(f"{player}.canPlayType('application/vnd.apple.mpegurl')"):
        assert page.evaluate("window.episodeHls") is None  # the browser's own HLS
    assert not problems, problems
