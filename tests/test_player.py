"""The web player at `/`, end to end in Debian's headless Chromium on a phone-sized screen: a
station with Diaspor.FM (two five-second songs with Azerbaijani titles) and Diaspor TV (three
short episodes of "Vətən uzaqda deyil") on air, both from `run_playout`, with the API under a
real uvicorn. The listener presses play and sees the title change with the track, the TV
plays, and switching to English changes the titles."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from diaspor.compose import Station
from media.binaries import Tools
from tests.radio_support import SONGS
from tests.support import need, need_program
from tests.tv_support import radio_and_tv_on_air, radio_and_tv_station

pytestmark = [pytest.mark.slow, pytest.mark.browser]
PHONE = {"width": 375, "height": 740}
TITLES = {title for _, title in SONGS}
SONG_TITLES = str(sorted(TITLES))  # a JavaScript array literal
RADIO_TITLE = "document.getElementById('radio-title').textContent"


@dataclass
class OnAir:
    station: Station
    base: str


@pytest.fixture(scope="module")
def on_air(tmp_path_factory: pytest.TempPathFactory, tools: Tools) -> Iterator[OnAir]:
    st = radio_and_tv_station(tmp_path_factory.mktemp("player"), tools)
    try:
        with radio_and_tv_on_air(st) as base:
            yield OnAir(st, base)
    finally:
        st.close()


def wait_for(page: Any, what: str, seconds: float) -> Any:
    """Poll a JavaScript expression until it is truthy; fail with its last value."""
    end = time.monotonic() + seconds
    value = None
    while time.monotonic() < end:
        value = page.evaluate(what)
        if value:
            return value
        time.sleep(0.25)
    timings = page.evaluate(
        "performance.getEntriesByType('resource').filter(e => e.name.includes('/api/'))"
        ".map(e => [e.name.split('/api/v1/')[1], Math.round(e.startTime), Math.round(e.duration)])"
    )
    pytest.fail(f"{what} stayed {value!r} for {seconds} s; requests: {timings}")


def test_the_page_is_served_at_the_root_with_its_files(on_air: OnAir) -> None:
    page = httpx.get(on_air.base + "/", timeout=5)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "/static/vendor/hls.js-1.7.4/hls.min.js" in page.text
    assert "cdn" not in page.text.lower()
    for f in ("player.js", "player.css", "i18n.js"):
        assert httpx.get(f"{on_air.base}/static/player/{f}", timeout=5).status_code == 200
    strings = httpx.get(f"{on_air.base}/static/player/i18n.js", timeout=5).text
    assert "Bu günün proqramı" in strings and "Программа на сегодня" in strings


def test_a_listener_on_a_phone_hears_the_radio_sees_the_titles_and_watches_tv(
    on_air: OnAir,
) -> None:
    chromium = need_program("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - a test dependency
        need(False, "playwright is not installed (pip install -e .[test])")
        raise
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
        )
        try:
            # A listener in Canada: the guide in their time, Baku's beside it.
            context = browser.new_context(
                viewport=PHONE, is_mobile=True, has_touch=True, timezone_id="America/Toronto"
            )
            page = context.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(on_air.base + "/")

            # Loaded, in Azerbaijani by default, with the channels and today's schedule.
            assert page.evaluate("document.documentElement.lang") == "az"
            wait_for(page, "document.getElementById('radio-name').textContent", 10)
            assert page.text_content("#radio-name") == "Diaspor.FM"
            assert page.text_content("#schedule-heading") == "Bu günün proqramı"
            wait_for(
                page,
                "document.getElementById('schedule').textContent.includes('Vətən uzaqda deyil')",
                15,
            )
            assert "Sizin vaxtınız: America/Toronto" in page.text_content("#schedule h3")
            first_time = page.eval_on_selector(
                "#schedule time.at",
                "t => [t.dateTime, t.firstChild.textContent, t.lastChild.textContent]",
            )
            at = datetime.fromisoformat(first_time[0])
            assert first_time[1] == at.astimezone(ZoneInfo("America/Toronto")).strftime("%H:%M")
            baku = at.astimezone(ZoneInfo("Asia/Baku")).strftime("%H:%M")
            assert first_time[2] == f"{baku} Bakı vaxtı"

            # The radio: play, then the title follows the track on air (songs of 5 s).
            play = page.get_by_role("button", name="Dinlə", exact=True)
            play.click()
            assert page.get_attribute("#radio-play", "aria-pressed") == "true"
            first = wait_for(page, f"(t => {SONG_TITLES}.includes(t) && t)({RADIO_TITLE})", 15)
            changed = wait_for(
                page, f"(t => t !== {first!r} && {SONG_TITLES}.includes(t) && t)({RADIO_TITLE})", 15
            )
            assert {first, changed} == TITLES
            # ...and the stream itself plays in the <audio> element.
            wait_for(page, "document.getElementById('radio-audio').currentTime > 1", 15)
            assert page.evaluate("document.getElementById('radio-audio').paused") is False

            # The TV plays: currentTime advances with the wall clock.
            t0 = wait_for(
                page,
                "(v => v.currentTime > 0 && v.currentTime)(document.getElementById('tv-video'))",
                30,
            )
            time.sleep(3)
            t1 = page.evaluate("document.getElementById('tv-video').currentTime")
            assert t1 > t0 + 1.5, (t0, t1)
            assert page.evaluate("window.player.fatal") is None

            # Nothing is wider than the phone.
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

            # English: the programme's title, the page's own words, the URL and the choice kept.
            page.get_by_role("button", name="EN", exact=True).click()
            wait_for(
                page,
                "document.getElementById('schedule').textContent.includes('Homeland Is Not Far')",
                20,
            )
            assert "Vətən uzaqda deyil" not in page.text_content("#schedule")
            assert page.text_content("#schedule-heading") == "Today's schedule"
            assert page.evaluate("document.documentElement.lang") == "en"
            assert page.get_attribute("#radio-play", "aria-label") == "Pause"
            assert "lang=en" in page.url
            assert page.evaluate("localStorage.getItem('diaspor.lang')") == "en"

            # Pause stops the radio.
            page.get_by_role("button", name="Pause", exact=True).click()
            assert page.evaluate("document.getElementById('radio-audio').paused") is True
            assert page.get_attribute("#radio-play", "aria-pressed") == "false"

            # Coming back without ?lang= keeps English; Russian from the switch.
            page.goto(on_air.base + "/")
            wait_for(
                page,
                "document.getElementById('schedule').textContent.includes('Homeland Is Not Far')",
                20,
            )
            page.get_by_role("button", name="RU", exact=True).click()
            wait_for(
                page,
                "document.getElementById('schedule').textContent.includes('Родина недалеко')",
                20,
            )
            assert page.text_content("#episodes-heading") == "Новые выпуски"
        finally:
            browser.close()
    assert not problems, problems
