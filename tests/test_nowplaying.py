"""Now playing: the item on air and the next ones, from the engine or from the timeline."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import httpx

from api.app import create_app
from diaspor import migrate
from diaspor.compose import build_station
from playout.nowplaying import NowPlaying, NowPlayingHub, now_playing
from schedules.plan import TimelineItem, to_ms
from tests.conftest import settings_for
from tests.schedule_support import BAKU, Desk, build_radio_week
from tests.support import serve_app


def item(start: int, end: int, title: str, kind: str = "music") -> TimelineItem:
    return TimelineItem(start, end, kind, 1, 0, end - start, title=title, artist="Aşıq")


def test_now_playing_is_the_item_on_air_and_the_next_ones_without_slates() -> None:
    items = [
        item(0, 10, "Bir"),
        item(10, 20, "İki"),
        item(20, 25, "", "slate"),
        item(25, 40, "Üç"),
        item(40, 50, "Dörd"),
        item(50, 60, "Beş"),
    ]
    np = now_playing("diaspor-fm", items, 12)
    assert np.current is not None and np.current.title == "İki"
    assert [t.title for t in np.next] == ["Üç", "Dörd", "Beş"]
    assert now_playing("diaspor-fm", items, 22).current is None  # a slate is not announced


def test_a_slow_subscriber_only_ever_holds_the_newest_event() -> None:
    async def go() -> tuple[int, int, int]:
        hub = NowPlayingHub()
        slow = hub.subscribe("diaspor-fm")
        for _ in range(5):
            hub.publish(NowPlaying("diaspor-fm", None))
        got = await slow.get()
        return got.seq, slow.qsize(), hub.latest["diaspor-fm"].seq

    assert asyncio.run(go()) == (5, 0, 5)


def test_the_api_says_what_the_timeline_has_on_air_now(desk: Desk) -> None:
    build_radio_week(desk)
    desk.clock.advance(3 * 86_400)  # Sunday 29 November, 12:00 Baku
    r = desk.client.get("/api/v1/channels/diaspor-fm/now-playing")
    assert r.status_code == 200
    body = r.json()
    now = desk.clock.now()
    items = desk.station.schedules.timeline("diaspor-fm", now.replace(hour=0), now.replace(hour=23))
    on_air = next(i for i in items if i.start_ms <= to_ms(now) < i.end_ms)
    assert body["current"]["title"] == on_air.title
    assert datetime.fromisoformat(body["current"]["started_at"]) == on_air.start
    assert len(body["next"]) == 3 and body["live"] is False
    assert desk.client.get("/api/v1/channels/no-such/now-playing").status_code == 404
    assert now.tzinfo is not None and now.astimezone(BAKU).hour == 12


def test_asking_for_channels_that_do_not_exist_leaves_nothing_behind(tmp_path: Path) -> None:
    """A stranger walking made-up channel names gets 404s and costs the server no memory."""
    settings = settings_for(tmp_path, f"sqlite:///{tmp_path / 'np.db'}")
    migrate.upgrade(settings.database_url)
    st = build_station(settings)
    app = create_app(st)
    try:
        with serve_app(app) as base, httpx.Client(base_url=base) as client:
            for n in range(300):
                r = client.get(f"/api/v1/channels/kanal-{n}/now-playing")
                assert r.status_code == 404
            bodies = app.state.now_playing_bodies
            assert bodies._locks == {} and bodies._made == {}
    finally:
        st.close()
