"""Production's shape: `diaspor serve` and `diaspor playout` as separate processes sharing
only the database and storage. Here the playout side is `run_radio` on one `Station`, and the
API another `Station` built from the same settings (its own hub, its own on-air list, no relay
of its own) served by uvicorn with its background work on: what players see of the radio must
come to it through storage."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.follow import Follower
from diaspor.compose import Station, build_station
from media.binaries import Tools
from playout.status import OnAirStatus, nowplaying_key, onair_key, read_file, write_status
from tests.radio_support import SONGS, Playout, music_station
from tests.support import Samples, metric, parse_metrics, serve_app

SLUG = "diaspor-fm"


def wait_for(what: str, check, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.2)


@pytest.mark.slow
def test_an_api_process_follows_playout_running_elsewhere(tmp_path: Path, tools: Tools) -> None:
    playout_side = music_station(tmp_path, tools, onair_status_s=1.0)
    api_side = build_station(playout_side.settings, tools=tools)
    titles = {t for _, t in SONGS}
    playout = Playout(playout_side)
    try:
        with (
            serve_app(create_app(api_side), lifespan="on") as base,
            httpx.Client(base_url=base, timeout=10) as c,
        ):
            # The streams playout has on air are listed by the API that does not run them:
            # every format and bit rate, the low AAC mount for phones, the HLS master.
            def listed() -> dict[tuple[str, int], str]:
                ch = c.get("/api/v1/channels/diaspor-fm").json()
                return {(s["format"], s["bitrate"]): s["url"] for s in ch["streams"]}

            listing = wait_for("streams listed", listed)
            radio = playout_side.settings.radio_public_url
            files = f"{playout_side.settings.base_url}/files"
            assert listing == {
                ("mp3", 128): f"{radio}/diaspor-fm.mp3",
                ("aac", 128): f"{radio}/diaspor-fm.aac",
                ("aac", 64): f"{radio}/diaspor-fm-64.aac",
                ("hls", 128): f"{files}/hls/radio/diaspor-fm/master.m3u8",
            }
            urls = {fmt: url for (fmt, _), url in listing.items()}
            # A listener on playout's relay is counted in the API's now-playing, and on its
            # mount in playout's metrics.
            wait_for("the mount up", lambda: httpx.head(urls["mp3"]).status_code == 200)
            with listening(urls["mp3"]):

                def counted() -> bool:
                    body = c.get("/api/v1/channels/diaspor-fm/now-playing").json()
                    return body["listeners"] == 1

                wait_for("the listener counted", counted)
                told = playout_metrics(playout_side, playout)
                listeners = "diaspor_listeners"
                assert metric(told, listeners, channel=SLUG, mount="/diaspor-fm.mp3") == 1
                assert metric(told, listeners, channel=SLUG, mount="/diaspor-fm.aac") == 0
            # Each track change reaches the API's SSE subscribers, numbered as playout
            # numbered it, with the title playout put on air.
            events = asyncio.run(two_changes(base))
            assert [e["current"]["title"] in titles for e in events] == [True, True]
            assert events[0]["current"]["title"] != events[1]["current"]["title"]
            assert events[1]["seq"] == events[0]["seq"] + 1
            on_disk = json.loads(
                read_file(playout_side.storage, nowplaying_key("diaspor-fm")) or ""
            )
            assert on_disk["seq"] >= events[1]["seq"]
            # Playout's metrics: each boundary at its scheduled sample (the engine is
            # exact; the item it joined on starting is not a boundary), the parts up, the
            # encoder never restarted.
            told = playout_metrics(playout_side, playout)
            offsets = "diaspor_boundary_offset_seconds"
            count = metric(told, f"{offsets}_count", channel=SLUG) or 0
            on_time = (metric(told, f"{offsets}_bucket", channel=SLUG, le="0.005") or 0) - (
                metric(told, f"{offsets}_bucket", channel=SLUG, le="-0.005") or 0
            )
            assert count >= 2 and on_time == count, (count, on_time)
            up = "diaspor_part_up"
            assert metric(told, up, part=f"{SLUG}/engine", channel=SLUG) == 1
            assert metric(told, "diaspor_encoder_restarts_total", channel=SLUG) == 0
            assert metric(told, "diaspor_dead_air_seconds_total", channel=SLUG) is None
    finally:
        playout.close()
    # Off air: playout removed its status, so an API would list no stream for it.
    assert not playout_side.storage.exists(onair_key("diaspor-fm"))
    api_side.close()
    playout_side.close()


def playout_metrics(station: Station, playout: Playout) -> Samples:
    """Playout's metrics, rendered on its own event loop, as its metrics port would."""
    text = asyncio.run_coroutine_threadsafe(station.metrics.render(), playout.loop).result(10)
    return parse_metrics(text.decode())


@contextlib.contextmanager
def listening(url: str) -> Iterator[None]:
    """A listener that keeps reading the stream, in a thread, until the block ends."""
    done = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", url, timeout=10) as r:
            assert r.status_code == 200
            for _ in r.iter_bytes():
                if done.is_set():
                    return

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    try:
        yield
    finally:
        done.set()
        t.join(10)


async def two_changes(base: str) -> list[dict[str, object]]:
    """The first two now-playing events after the one a new subscriber is sent at once."""
    out: list[dict[str, object]] = []
    path = "/api/v1/channels/diaspor-fm/now-playing/events"
    async with httpx.AsyncClient(base_url=base, timeout=30) as c, c.stream("GET", path) as r:
        first = True
        async for line in r.aiter_lines():
            if not line.startswith("data:"):
                continue
            if first:
                first = False
                continue
            out.append(json.loads(line.removeprefix("data:")))
            if len(out) == 2:
                return out
    return out


def test_a_status_playout_stopped_rewriting_is_not_believed(station: Station) -> None:
    station.schedules.create(
        "channel", {"slug": "diaspor-fm", "kind": "radio", "names": {"az": "Diaspor.FM"}}, "test"
    )
    follower = Follower(station, every_s=1.0)
    mp3 = {"url": "http://radio.example/diaspor-fm.mp3", "format": "mp3", "bitrate": 128}
    now = station.clock.now()

    def told(updated_at: datetime) -> None:
        write_status(station.storage, OnAirStatus("diaspor-fm", (mp3,), 3, updated_at, 5.0))

    told(now - timedelta(seconds=60))  # playout was killed a minute ago, status left behind
    asyncio.run(follower.follow_once())
    assert "diaspor-fm" not in station.on_air and follower.listeners("diaspor-fm") is None
    told(now)
    asyncio.run(follower.follow_once())
    assert station.on_air["diaspor-fm"] == [mp3] and follower.listeners("diaspor-fm") == 3
    station.storage.put_bytes(onair_key("diaspor-fm"), b'{"channel": "diaspor-fm"')  # torn
    asyncio.run(follower.follow_once())  # not believed, and the follower goes on
    assert "diaspor-fm" not in station.on_air
    told(now)
    asyncio.run(follower.follow_once())
    assert station.on_air["diaspor-fm"] == [mp3]
    station.storage.delete(onair_key("diaspor-fm"))  # playout went off air
    asyncio.run(follower.follow_once())
    assert "diaspor-fm" not in station.on_air and follower.listeners("diaspor-fm") is None
    # A channel made after the follower started is followed from its next turn.
    station.schedules.create(
        "channel", {"slug": "diaspor-tv", "kind": "tv", "names": {"az": "Diaspor TV"}}, "test"
    )
    hls = {"url": "http://tv.example/master.m3u8", "format": "hls", "bitrate": 800}
    write_status(station.storage, OnAirStatus("diaspor-tv", (hls,), 0, now, 5.0))
    asyncio.run(follower.follow_once())
    assert station.on_air["diaspor-tv"] == [hls]
