"""Now playing: the item on air and the next ones, from the engine or from the timeline."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

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
        hub.publish(NowPlaying("diaspor-tv", None))  # not followed
        got = await slow.get()
        return got.seq, slow.qsize(), hub.latest["diaspor-fm"].seq

    assert asyncio.run(go()) == (5, 0, 5)


def test_a_subscriber_to_every_channel_holds_the_newest_of_each_in_the_order_they_came() -> None:
    async def go() -> list[tuple[str, int]]:
        hub = NowPlayingHub()
        every = hub.subscribe(None)
        for channel in ("diaspor-fm", "diaspor-tv", "diaspor-fm", "diaspor-fm"):
            hub.publish(NowPlaying(channel, None))
        got = [await every.get(), await every.get()]
        hub.unsubscribe(every)
        hub.publish(NowPlaying("diaspor-tv", None))
        assert every.qsize() == 0  # gone: nothing more arrives
        return [(e.channel, e.seq) for e in got]

    assert asyncio.run(go()) == [("diaspor-tv", 1), ("diaspor-fm", 3)]


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


def on_air_at(desk: Desk, at: datetime, slug: str = "diaspor-fm") -> Any:
    items = desk.station.schedules.timeline(slug, at - timedelta(hours=2), at + timedelta(hours=2))
    return next(i for i in items if i.start_ms <= to_ms(at) < i.end_ms)


def test_now_playing_and_its_history_are_in_the_language_asked_for(desk: Desk) -> None:
    week = build_radio_week(desk)
    # Editors give the songs English titles; "Ayrılıq" played an hour ago.
    english = {"song1": "Song of the Caspian", "song2": "Separation", "song3": "Spring"}
    for name, title in english.items():
        path = f"/api/v1/media/{desk.media[name]}"
        tag = desk.client.get(path).headers["etag"]
        r = desk.client.patch(path, json={"titles": {"en": title}}, headers={"If-Match": tag})
        assert r.status_code == 200, r.text
    desk.played_before([1])
    desk.clock.advance(3 * 86_400)  # Sunday 29 November, 12:00 Baku: the music clock
    item = on_air_at(desk, desk.clock.now())
    path = "/api/v1/channels/diaspor-fm/now-playing"
    az = desk.client.get(path).json()
    en = desk.client.get(path, params={"lang": "en"})
    assert en.headers["content-language"] == "en"
    assert az["lang"] == "az" and en.json()["lang"] == "en"
    assert az["current"]["title"] == item.title  # as imported
    by_id = {desk.media[n]: t for n, t in english.items()}
    if item.media_id in by_id:
        assert en.json()["current"]["title"] == by_id[item.media_id]
    assert en.json()["history"][0]["title"] == "Separation"
    assert az["history"][0]["title"] == "Ayrılıq"
    ru = desk.client.get(path, headers={"Accept-Language": "ru"}).json()
    assert ru["history"][0]["title"] == "Ayrılıq"  # no Russian title: as imported
    # At 20:00 the monthly programme: its episode, and the programme, named in the language.
    desk.clock.advance(8 * 3600 + 60)
    show = on_air_at(desk, desk.clock.now())
    assert show.programme_id == week["programme"]["id"]
    cur = desk.client.get(path, params={"lang": "ru"}).json()["current"]
    assert cur["programme"] == "veten-uzaqda-deyil"
    assert cur["programme_title"] == "Родина недалеко"
    assert cur["episode_id"] == show.episode_id
    en_cur = desk.client.get(path, params={"lang": "en"}).json()["current"]
    assert en_cur["programme_title"] == "Homeland Is Not Far"
    if show.episode_id is not None:
        assert en_cur["title"] == "Berlin"


def test_every_channel_in_one_answer(desk: Desk) -> None:
    build_radio_week(desk)
    desk.post("channels", {"slug": "diaspor-tv", "kind": "tv", "names": {"az": "Diaspor TV"}})
    desk.clock.advance(3 * 86_400)
    r = desk.client.get("/api/v1/now-playing", params={"lang": "en"})
    assert r.status_code == 200 and r.headers["content-language"] == "en"
    body = r.json()
    assert [np["channel"] for np in body["items"]] == ["diaspor-fm", "diaspor-tv"]
    assert body["next"] is None and body["limit"] == 100
    one = desk.client.get("/api/v1/channels/diaspor-fm/now-playing", params={"lang": "en"})
    assert body["items"][0]["current"] == one.json()["current"]
    assert body["items"][1]["current"] is None  # nothing scheduled on the new channel
    tag = r.headers["etag"]
    again = desk.client.get("/api/v1/now-playing?lang=en", headers={"If-None-Match": tag})
    assert again.status_code == 304
    desk.station.now_playing.publish(NowPlaying("diaspor-tv", None, live=True, presenter="Nigar"))
    changed = desk.client.get("/api/v1/now-playing?lang=en", headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.json()["items"][1]["presenter"] == "Nigar"


def test_one_event_stream_for_every_channel_resumes_where_the_client_was(desk: Desk) -> None:
    """The app's one connection: each channel's change comes with the channel's name, and
    the event id holds every channel's number, so a client that reconnects is sent only what
    changed while it was away."""
    build_radio_week(desk)
    desk.post("channels", {"slug": "diaspor-tv", "kind": "tv", "names": {"az": "Diaspor TV"}})
    hub = desk.station.now_playing
    path = "/api/v1/now-playing/events"

    def events(headers: dict[str, str], count: int, publish: Any = None) -> list[Any]:
        out: list[Any] = []
        with desk.client.stream("GET", path, headers=headers, timeout=20) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            lines = r.iter_lines()
            if count == 0:
                return [next(lines)]
            event: dict[str, Any] = {}
            for line in lines:
                if line.startswith(("id: ", "event: ")):
                    event[line.split(":")[0]] = line.split(": ", 1)[1]
                elif line.startswith("data: "):
                    event["data"] = json.loads(line[6:])
                    out.append(event)
                    event = {}
                    if len(out) == count:
                        return out
                    if publish is not None and len(out) == 2:
                        publish()

        return out

    first = events({"Accept-Language": "en"}, 2)
    assert [e["data"]["channel"] for e in first] == ["diaspor-fm", "diaspor-tv"]
    assert all(e["event"] == "now-playing" and e["data"]["lang"] == "en" for e in first)
    assert first[1]["id"] == "diaspor-fm:0,diaspor-tv:0"
    # Nothing changed since: only a comment, no event sent again.
    assert events({"Last-Event-ID": first[1]["id"]}, 0) == [": resumed"]
    # The TV changed meanwhile: only it is sent.
    hub.publish(NowPlaying("diaspor-tv", None, live=True, presenter="Nigar"))
    resumed = events({"Last-Event-ID": first[1]["id"]}, 1)
    assert resumed[0]["data"]["channel"] == "diaspor-tv"
    assert resumed[0]["data"]["presenter"] == "Nigar"
    assert resumed[0]["id"] == "diaspor-fm:0,diaspor-tv:1"
    # A change while connected comes at once.
    live = events({}, 3, lambda: hub.publish(NowPlaying("diaspor-fm", None, live=True)))
    assert live[2]["data"]["channel"] == "diaspor-fm" and live[2]["data"]["live"] is True
    assert live[2]["id"] == "diaspor-fm:1,diaspor-tv:1"
