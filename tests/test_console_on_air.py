"""The console against a station on the air: `diaspor playout` on the built-in relay with the
API beside it, as the demo runs them. An editor signs in, opens "On air" and presses skip on
the song playing; a listener of the MP3 mount hears the other song take over within seconds,
and the console's as-run log and the audit log say who skipped what."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from accounts.tokens import create_token
from media.binaries import Tools
from media.library import IngestOptions
from tests.air_check import Heard, decode, frames, listen, on_air, tone_changes, wait_for_health
from tests.console_support import NAMES, PASSWORDS, open_page, sign_in
from tests.radio_support import SONGS, music_station
from tests.support import free_port, run, tone
from tests.test_console_schedule import new_entry

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.runs(seconds=60)]
MOUNT = "/diaspor-fm.mp3"
SONG_S = 90  # long enough that no song ends of itself around the skip
TONES = {SONGS[0][1]: 330.0, SONGS[1][1]: 440.0}  # add_radio_channel's tones


class Listener:
    """An ICY listener on the relay in a thread of its own, until stopped."""

    def __init__(self, port: int) -> None:
        self.heard = Heard(MOUNT)
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        self.thread = threading.Thread(target=self._run, args=(port,), daemon=True)
        self.thread.start()

    def _run(self, port: int) -> None:
        self.loop.run_until_complete(self._listen(port))

    async def _listen(self, port: int) -> None:
        """Until the mount is on the air (playout starting), connecting again."""
        while not self.stop.is_set():
            try:
                await listen(port, MOUNT, self.stop, self.heard)
            except (AssertionError, OSError, ValueError):
                if self.heard.audio:
                    raise  # dropped once heard: the test is to fail on it
                await asyncio.sleep(0.5)

    def bytes_now(self) -> int:
        return len(self.heard.audio)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(10)
        self.loop.close()


def now_playing(base: str) -> dict[str, Any]:
    r = httpx.get(f"{base}/api/v1/channels/diaspor-fm/now-playing", timeout=10)
    r.raise_for_status()
    body: dict[str, Any] = r.json()
    return body


def test_an_editor_puts_a_playlist_in_the_calendar_a_minute_ahead_and_it_airs_at_its_time(
    tmp_path: Path, tools: Tools, request: pytest.FixtureRequest
) -> None:
    """The slot is made in the console's calendar form (its own minute, a hard start), and the
    listener hears the news tone take over at that minute of the stream."""
    st = music_station(tmp_path, tools, seconds=SONG_S, relay_port=free_port())
    st.users.create("editor", NAMES["editor"], "editor", PASSWORDS["editor"])
    news = tone(tools.ffmpeg, tmp_path / "xeberler.mp3", seconds=40, freq=990.0, volume=0.3)
    item = run(st.library.ingest(news, options=IngestOptions(kind="music", title="Xəbərlər")))
    run(st.worker().drain())
    st.schedules.create("playlist", {"name": "Təcili xəbərlər", "media_ids": [item.item.id]}, "t")
    browser = request.getfixturevalue("browser")  # after: Playwright holds this thread's loop
    api_port = free_port()
    base = f"http://127.0.0.1:{api_port}"
    context = browser.new_context(viewport={"width": 1280, "height": 800}, timezone_id="Asia/Baku")
    clock: list[tuple[float, int]] = []  # (wall time, audio bytes heard by then)
    with on_air(st, api_port):
        wait_for_health(base, 60)
        listener = Listener(st.settings.relay_port)
        try:
            page = context.new_page()
            sign_in(page, base, "editor")
            open_page(page, "schedule")
            baku = st.clock.now().astimezone(ZoneInfo("Asia/Baku"))
            slot = (baku + timedelta(minutes=2)).replace(second=0, microsecond=0)
            if (slot - baku).total_seconds() > 110:  # a minute ahead or a little more
                slot -= timedelta(minutes=1)
            dialog = new_entry(
                page, "playlist", "Təcili xəbərlər", slot.date(), slot.strftime("%H:%M"), 1
            )
            dialog.locator("button[type=submit]").click()
            dialog.wait_for(state="detached")
            with httpx.Client(base_url=base) as c:
                guide = c.get(
                    "/api/v1/channels/diaspor-fm/schedule",
                    params={
                        "from": slot.isoformat(),
                        "to": (slot + timedelta(minutes=1)).isoformat(),
                    },
                ).json()
            assert "Təcili xəbərlər" in str(guide) or "Xəbərlər" in str(guide), guide
            starts = slot.timestamp()
            while time.time() < starts + 15:
                clock.append((time.time(), listener.bytes_now()))
                time.sleep(0.2)
            heard = bytes(listener.heard.audio)
        finally:
            listener.close()
            context.close()

    # The news tone is heard from the slot's second of the stream (the stream runs a little
    # behind the wall: the relay's burst and the encoder, which the bound allows for).
    at_start = next(n for t, n in clock if t >= starts)
    slot_s = frames(heard).seconds_at(at_start)
    changes = tone_changes(decode(tools.ffmpeg, heard), {**TONES, "Xəbərlər": 990.0})
    news_at = [s for s, name in changes if name == "Xəbərlər"]
    assert news_at, changes
    assert -1.0 < news_at[0] - slot_s < 6.0, (news_at[0], slot_s, changes)


def test_an_editor_skips_the_song_on_air_and_the_listener_hears_the_next(
    tmp_path: Path, tools: Tools, request: pytest.FixtureRequest
) -> None:
    st = music_station(tmp_path, tools, seconds=SONG_S, relay_port=free_port())
    browser = request.getfixturevalue("browser")  # after: Playwright holds this thread's loop
    st.users.create("editor", NAMES["editor"], "editor", PASSWORDS["editor"])
    admin = create_token(st.db, st.clock, "console test (admin)", "admin")
    api_port = free_port()
    base = f"http://127.0.0.1:{api_port}"
    context = browser.new_context(viewport={"width": 1280, "height": 800}, timezone_id="Asia/Baku")
    with on_air(st, api_port):
        wait_for_health(base, 60)
        listener = Listener(st.settings.relay_port)
        try:
            deadline = time.monotonic() + 60
            while listener.bytes_now() < 64_000 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert listener.bytes_now() >= 64_000, "the radio did not come on air on the relay"
            # Not near a song's own end: the change heard must be the skip's.
            while True:
                current = now_playing(base)["current"]
                left = datetime.fromisoformat(current["ends_at"]) - st.clock.now()
                if left.total_seconds() > 30:
                    break
                time.sleep(1)
            skipped_title = current["title"]

            page = context.new_page()
            sign_in(page, base, "editor")
            open_page(page, "on-air")
            card = page.locator("article.channel[data-slug='diaspor-fm']")
            card.locator("button[data-action=skip]").click()
            page.locator("dialog[open] button.primary").click()
            pressed_at = listener.bytes_now()
            page.wait_for_selector("text=Keçildi.", timeout=15_000)
            time.sleep(12)  # the action's lead (3 s), the mixer's next look, the encoder
            heard = bytes(listener.heard.audio)

            # The console's as-run log says so, in the editor's words.
            row = page.locator("td[data-outcome='skipped-by-operator']").first
            row.wait_for(timeout=30_000)
            assert skipped_title in row.locator("xpath=..").inner_text()

            # The audit log names the editor and the action; the as-run the skipped song.
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin}"}) as c:
                audit = c.get("/api/v1/manage/audit", params={"resource": "action"}).json()
                asrun = c.get(
                    "/api/v1/manage/asrun",
                    params={"channel": "diaspor-fm", "outcome": "skipped-by-operator"},
                ).json()
            assert [(a["actor"].split()[0], a["action"]) for a in audit["items"]] == [
                ("editor", "skip")
            ]
            assert [r["title"] for r in asrun["items"]] == [skipped_title]
        finally:
            listener.close()
            context.close()

    # At the listener: the skipped song's tone gives way to the other's within seconds.
    f = frames(heard)
    pressed_s = f.seconds_at(pressed_at)
    changes = tone_changes(decode(tools.ffmpeg, heard), TONES)
    before = [name for s, name in changes if s < pressed_s]
    after = [(s, name) for s, name in changes if s >= pressed_s]
    assert before and before[-1] == skipped_title, changes
    assert after, f"no change heard after the skip at {pressed_s:.1f} s: {changes}"
    took, next_song = after[0][0] - pressed_s, after[0][1]
    assert next_song != skipped_title
    assert took < 10, f"the next song took {took:.1f} s after the skip to be heard"
