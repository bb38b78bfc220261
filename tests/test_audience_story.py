"""A simulated audience whose true figures are known, on a station on air in real time.

Diaspor.FM plays "Vətən uzaqda deyil" for the first 20 s of every minute and music for the
rest. Around one boundary from the programme to the music, listeners arrive from known public
addresses (test-only, named through the trusted proxy's X-Forwarded-For) with scripted
durations: two on the built-in relay, one radio HLS player through the API, and a podcast app
that downloads the episode. The editors' report, read through the API as an editor reads it,
gives every figure the script implies: sessions and seconds per surface and per country,
unique listeners, and the relay's listening split between the programme and the music at the
boundary. (icecast2's listeners are shown in tests/test_audience_icecast.py, with a real
icecast2.)"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import m3u8
import pytest
from lxml import etree
from sqlalchemy import select

from accounts.tokens import create_token
from api.app import create_app
from audience.models import SessionRow
from diaspor import migrate
from diaspor.compose import Station, build_station
from media.binaries import Tools
from media.library import IngestOptions
from tests.conftest import settings_for
from tests.radio_support import Playout, wait_for_mount
from tests.support import free_port, run, serve_app, tone

pytestmark = [pytest.mark.slow, pytest.mark.runs(seconds=110)]

BAKU, BERLIN, TORONTO, ISTANBUL = "85.132.1.1", "80.130.1.1", "99.230.1.1", "88.230.1.1"
VLC = "VLC/3.0.18 LibVLC/3.0.18"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
HLS_JS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
PODCASTS = "Podcasts/1555.2.1 CFNetwork/1410.0.3 Darwin/22.6.0"
PROGRAMME_S = 20  # the programme's part of every minute; music for the rest
AZ_BEFORE_S, AZ_S = 8, 15  # Baku on the relay: from 8 s before the boundary, for 15 s
DE_AFTER_S, DE_S = 2, 6  # Berlin on the relay: from 2 s after it, for 6 s
HLS_S = 12  # Toronto's player asks from 6 s before the boundary for this long


def on_air_station(tmp_path: Path, tools: Tools) -> Station:
    config = settings_for(
        tmp_path,
        f"sqlite:///{tmp_path / 'station.db'}",
        port=free_port(),
        relay_port=free_port(),
        hls_segment_s=2,
    )
    migrate.upgrade(config.database_url)
    st = build_station(config, tools=tools)
    sch = st.schedules
    ids = []
    for i, title in enumerate(["Sarı gəlin", "Ayrılıq"]):
        f = tone(tools.ffmpeg, tmp_path / f"{i}.mp3", seconds=5, freq=330 + 110 * i, volume=0.3)
        item = run(st.library.ingest(f, options=IngestOptions(kind="music", title=title)))
        ids.append(item.item.id)
    show = tone(tools.ffmpeg, tmp_path / "show.mp3", seconds=PROGRAMME_S, freq=250, volume=0.3)
    episode_media = run(
        st.library.ingest(show, options=IngestOptions(kind="programme", title="Bakı"))
    ).item.id
    run(st.worker().drain())
    music = sch.create("playlist", {"name": "Musiqi", "media_ids": ids}, "test")
    channel = sch.create(
        "channel",
        {
            "slug": "diaspor-fm",
            "kind": "radio",
            "names": {"az": "Diaspor.FM"},
            "filler_playlist_id": music.id,
            "freeze_horizon_s": 0,
        },
        "test",
    )
    programme = sch.create(
        "programme", {"slug": "veten-uzaqda-deyil", "titles": {"az": "Vətən uzaqda deyil"}}, "test"
    )
    episode = sch.create(
        "episode",
        {
            "programme_id": programme.id,
            "number": 1,
            "titles": {"az": "Bakı"},
            "media_id": episode_media,
        },
        "test",
    )
    every_minute = {"channel_id": channel.id, "rrule": "FREQ=MINUTELY"}
    sch.create(
        "entry",
        {
            **every_minute,
            "target_type": "programme",
            "target_id": programme.id,
            "episode_id": episode.id,
            "start_local": datetime(2026, 1, 1),
        },
        "test",
    )
    sch.create(
        "entry",
        {
            **every_minute,
            "target_type": "playlist",
            "target_id": music.id,
            "start_local": datetime(2026, 1, 1, 0, 0, PROGRAMME_S),
            "duration_ms": (60 - PROGRAMME_S) * 1000,
        },
        "test",
    )
    return st


@dataclass
class Script:
    """Listeners on a timeline: each does its part in a thread; `errors` says what failed."""

    errors: list[str] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)

    def at(self, when: float, fn: Any, *args: Any) -> None:
        def part() -> None:
            time.sleep(max(0.0, when - time.time()))
            try:
                fn(*args)
            except Exception as exc:  # told to the test, which fails with it
                self.errors.append(f"{fn.__name__}: {type(exc).__name__}: {exc}")

        t = threading.Thread(target=part, daemon=True)
        t.start()
        self.threads.append(t)

    def wait(self, timeout: float) -> None:
        for t in self.threads:
            t.join(timeout)
        assert not any(t.is_alive() for t in self.threads), "a listener did not finish"
        assert not self.errors, self.errors


def relay_listener(port: int, mount: str, address: str, agent: str, seconds: float) -> None:
    """An Icecast client on the relay, behind the station's proxy, for `seconds`."""
    headers = {"X-Forwarded-For": address, "User-Agent": agent}
    with httpx.stream("GET", f"http://127.0.0.1:{port}{mount}", headers=headers, timeout=10) as r:
        assert r.status_code == 200, r.status_code
        end = time.monotonic() + seconds
        for _ in r.iter_bytes():
            if time.monotonic() >= end:
                break


def hls_player(base: str, address: str, agent: str, seconds: float, took: list[float]) -> None:
    """A player on the radio's HLS: the playlist every second, each new segment once; the
    EXTINF durations of what it fetched go into `took`."""
    url = f"{base}/files/hls/radio/diaspor-fm/index.m3u8"
    headers = {"X-Forwarded-For": address, "User-Agent": agent}
    seen: set[str] = set()
    end = time.monotonic() + seconds
    with httpx.Client(headers=headers, timeout=10) as c:
        while time.monotonic() < end:
            playlist = m3u8.loads(c.get(url).text)
            fresh = [s for s in playlist.segments if s.uri not in seen]
            for s in fresh[-3:] if not seen else fresh:  # a player joins near the live edge
                assert c.get(urljoin(url, s.uri)).status_code == 200
                seen.add(s.uri)
                took.append(float(s.duration))
            time.sleep(1)


def podcast_app(base: str, address: str, agent: str) -> None:
    """A podcast app reads the feed and downloads the episode whole."""
    headers = {"X-Forwarded-For": address, "User-Agent": agent}
    with httpx.Client(headers=headers, timeout=10) as c:
        feed = c.get(f"{base}/api/v1/programmes/veten-uzaqda-deyil/podcast.xml")
        assert feed.status_code == 200, feed.status_code
        enclosure = etree.fromstring(feed.content).find("channel/item/enclosure")
        assert enclosure is not None, "no episode in the feed"
        got = c.get(f"{base}{urlsplit(enclosure.get('url')).path}")
        assert got.status_code == 200 and len(got.content) == int(enclosure.get("length"))


def sessions(st: Station) -> list[SessionRow]:
    with st.db.session() as s:
        return list(s.execute(select(SessionRow)).scalars())


@pytest.fixture
def station(tmp_path: Path, tools: Tools) -> Iterator[Station]:
    st = on_air_station(tmp_path, tools)
    yield st
    st.close()


def test_every_figure_of_the_report_is_the_simulated_audiences_truth(
    station: Station, tools: Tools
) -> None:
    air = station
    api = build_station(air.settings, tools=tools)  # as `diaspor serve` beside playout
    token = create_token(api.db, api.clock, "test editor", "editor")
    playout = Playout(air)
    took: list[float] = []
    try:
        port = air.settings.relay_port
        wait_for_mount(port, "/diaspor-fm.mp3", 30)
        with serve_app(create_app(api), lifespan="on") as base:
            # The next boundary from the programme to the music with time to get ready.
            now = time.time()
            boundary = (now // 60) * 60 + PROGRAMME_S
            while boundary - now < AZ_BEFORE_S + 4:
                boundary += 60
            script = Script()
            # Each arrives a little after its mark, so that its whole second is the mark's.
            az_at = boundary - AZ_BEFORE_S + 0.1
            script.at(az_at, relay_listener, port, "/diaspor-fm.mp3", BAKU, VLC, AZ_S)
            de_at = boundary + DE_AFTER_S + 0.1
            script.at(de_at, relay_listener, port, "/diaspor-fm.aac", BERLIN, IPHONE, DE_S)
            script.at(boundary - 6, hls_player, base, TORONTO, HLS_JS, HLS_S, took)
            script.at(boundary, podcast_app, base, ISTANBUL, PODCASTS)
            script.wait(120)
            # The HLS player has stopped asking: its session ends after its silence.
            deadline = time.monotonic() + 60
            while len([r for r in sessions(air) if r.ended_at is not None]) < 4:
                assert time.monotonic() < deadline, [(r.surface, r.ended_at) for r in sessions(air)]
                time.sleep(0.5)
            first = datetime.fromtimestamp(boundary - 60, UTC).replace(minute=0, second=0)
            period = {
                "from": first.isoformat(),
                "to": (first + timedelta(hours=2)).isoformat(),
            }
            with httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
            ) as editor:

                def report(group_by: str, **filters: str) -> dict[str, dict[str, Any]]:
                    r = editor.get(
                        "/api/v1/reports/audience",
                        params={**period, "group_by": group_by, **filters},
                    )
                    assert r.status_code == 200, r.text
                    return {row["key"]: row for row in r.json()["rows"]}

                by_surface = report("surface")
                by_country = report("country")
                total = report("total")
                relay_programmes = report("programme", surface="relay")
                csv_text = editor.get(
                    "/api/v1/reports/audience",
                    params={**period, "group_by": "country", "format": "csv"},
                ).text
    finally:
        playout.close()
        api.close()

    hls_s = round(sum(took))
    assert hls_s >= HLS_S - 2, took
    # Per surface: sessions and seconds, to the second.
    assert {k: (v["sessions"], v["seconds"]) for k, v in by_surface.items()} == {
        "relay": (2, AZ_S + DE_S),
        "radio-hls": (1, hls_s),
        "podcast": (1, PROGRAMME_S),
    }
    # Per country: who came from where.
    assert {k: (v["sessions"], v["seconds"]) for k, v in by_country.items()} == {
        "AZ": (1, AZ_S),
        "DE": (1, DE_S),
        "CA": (1, hls_s),
        "TR": (1, PROGRAMME_S),
    }
    [all_of_it] = total.values()
    assert all_of_it["unique_listeners"] == 4 and all_of_it["sessions"] == 4
    # On the relay, Baku heard the programme's last 8 s, then music with Berlin.
    programme_ids = [k for k, v in relay_programmes.items() if v["label"] == "Vətən uzaqda deyil"]
    assert len(programme_ids) == 1, relay_programmes
    assert relay_programmes[programme_ids[0]]["seconds"] == AZ_BEFORE_S
    assert sum(v["seconds"] for v in relay_programmes.values()) == AZ_S + DE_S
    # The export says the same, and no address is in it.
    rows = {r["key"]: r for r in csv.DictReader(io.StringIO(csv_text))}
    assert int(rows["AZ"]["seconds"]) == AZ_S
    assert not any(a in csv_text for a in (BAKU, BERLIN, TORONTO, ISTANBUL))
