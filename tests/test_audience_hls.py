"""HLS players of the live channels as sessions in the audience ledger, seen through the API's
`/files/` as a player uses it (real HTTP through a served app, behind a trusted proxy that
names the client): one session per player and channel, its seconds the durations of the
distinct segments it fetched, its country from its address, ended when it stops asking, and
continued — not counted again — by the API that comes back after a restart."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from audience.models import SessionRow
from diaspor.compose import Station, build_station
from media.binaries import Tools
from media.storage import LocalStorage
from station.clock import SimulatedClock
from tests.conftest import settings_for
from tests.support import serve_app

pytestmark = [pytest.mark.slow, pytest.mark.runs(seconds=15)]

NOON = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
BAKU, BERLIN, TORONTO = "85.132.1.1", "80.130.1.1", "99.230.1.1"
HLS_JS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
EXOPLAYER = "ExoPlayerLib/2.19.1 (Linux; Android 14) diaspor-app/1.0"


def radio_playlist(first: int, count: int = 3) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:6"]
    lines.append(f"#EXT-X-MEDIA-SEQUENCE:{first}")
    for n in range(first, first + count):
        lines += ["#EXTINF:6.000,", f"128k_{n:05d}.aac"]
    return "\n".join(lines) + "\n"


def tv_playlist(first: int, count: int = 3) -> str:
    """A TV channel's live playlist lists the packaged asset's own segments, elsewhere."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-TARGETDURATION:6"]
    lines.append(f"#EXT-X-MEDIA-SEQUENCE:{first}")
    for n in range(first, first + count):
        lines += ["#EXTINF:5.760,", f"../../assets/7/c0ffee/360p/seg_{n:05d}.ts"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(NOON)


@pytest.fixture
def hls_station(
    tmp_path: Path, db_url: str, tools: Tools, clock: SimulatedClock
) -> Iterator[Station]:
    st = build_station(settings_for(tmp_path, db_url), tools=tools, clock=clock)
    assert isinstance(st.storage, LocalStorage)
    for n in range(0, 40):
        st.storage.put_bytes(
            f"hls/radio/diaspor-fm/128k_{n:05d}.aac", b"\xff\xf1" * 100, "audio/aac"
        )
        st.storage.put_bytes(f"hls/assets/7/c0ffee/360p/seg_{n:05d}.ts", b"G" * 188, "video/mp2t")
    yield st
    st.close()


def put_playlists(st: Station, first: int) -> None:
    st.storage.put_bytes("hls/radio/diaspor-fm/128k.m3u8", radio_playlist(first).encode(), "x")
    st.storage.put_bytes("hls/tv/diaspor-tv/360p.m3u8", tv_playlist(first).encode(), "x")


class Player:
    """A player behind the trusted proxy (the test's own address, 127.0.0.1), which names
    the listener's address in X-Forwarded-For: reloads the playlist, fetches new segments."""

    def __init__(self, base: str, address: str, agent: str, playlist: str) -> None:
        self.http = httpx.Client(
            base_url=base, headers={"X-Forwarded-For": address, "User-Agent": agent}, timeout=10
        )
        self.playlist = playlist
        self.fetched: set[str] = set()

    def tick(self) -> None:
        r = self.http.get(f"/files/{self.playlist}", headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200
        folder = self.playlist.rsplit("/", 1)[0]
        for line in r.text.splitlines():
            if line and not line.startswith("#") and line not in self.fetched:
                assert self.http.get(f"/files/{folder}/{line}").status_code == 200
                self.fetched.add(line)

    def close(self) -> None:
        self.http.close()


def rows(st: Station) -> list[SessionRow]:
    with st.db.session() as s:
        return list(s.execute(select(SessionRow).order_by(SessionRow.id)).scalars())


def wait_for(condition: object, what: str, timeout: float = 10) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_radio_and_tv_players_are_one_session_each_with_the_seconds_they_fetched(
    hls_station: Station, clock: SimulatedClock
) -> None:
    from api.app import create_app

    st = hls_station
    with serve_app(create_app(st), lifespan="on") as base:
        radio = Player(base, BAKU, HLS_JS, "hls/radio/diaspor-fm/128k.m3u8")
        tv = Player(base, BERLIN, EXOPLAYER, "hls/tv/diaspor-tv/360p.m3u8")
        put_playlists(st, 0)
        for step in range(5):  # five reloads, 6 s apart: segments 0..6 fetched, each once
            radio.tick()
            tv.tick()
            clock.advance(6)
            put_playlists(st, step + 1)
        # The session is in the ledger while it goes on.
        wait_for(lambda: len(rows(st)) == 2, "both sessions opened")
        assert {r.ended_at for r in rows(st)} == {None}
        # They stop asking: after three target durations (at least 20 s), both end.
        clock.advance(30)
        wait_for(lambda: all(r.ended_at for r in rows(st)), "both sessions ended")
        radio.close()
        tv.close()
    r, t = sorted(rows(st), key=lambda row: row.surface)
    assert (r.surface, r.channel, r.country, r.seconds) == ("radio-hls", "diaspor-fm", "AZ", 42)
    assert (t.surface, t.channel, t.country, t.seconds) == ("tv-hls", "diaspor-tv", "DE", 40)
    assert t.os == "Android" and r.player == "Chrome"
    # Each ended at its last request, 24 s after its first.
    assert r.started_at == NOON and r.ended_at == NOON + timedelta(seconds=24)


def test_a_player_that_goes_on_across_an_api_restart_is_one_session(
    hls_station: Station, clock: SimulatedClock
) -> None:
    from api.app import create_app

    st = hls_station
    put_playlists(st, 0)
    with serve_app(create_app(st), lifespan="on") as base:
        player = Player(base, TORONTO, HLS_JS, "hls/radio/diaspor-fm/128k.m3u8")
        for step in range(3):
            player.tick()
            clock.advance(6)
            put_playlists(st, step + 1)
        player.close()
    # The API stopped: the open session was brought up to date, not ended.
    [row] = rows(st)
    assert (row.ended_at, row.seconds) == (None, 30)
    clock.advance(6)  # a restart's few seconds; the player keeps trying
    with serve_app(create_app(st), lifespan="on") as base:
        player = Player(base, TORONTO, HLS_JS, "hls/radio/diaspor-fm/128k.m3u8")
        player.fetched = {f"128k_{n:05d}.aac" for n in range(5)}  # what it has already
        for step in range(3, 6):  # it had segments 0-4: now 5, 6 and 7
            player.tick()
            clock.advance(6)
            put_playlists(st, step + 1)
        clock.advance(30)
        wait_for(lambda: rows(st)[0].ended_at is not None, "the session ended")
        player.close()
    [row] = rows(st)  # one session, with the seconds of both halves
    assert row.country == "CA"
    assert row.seconds == 30 + 18
    assert row.ended_at == NOON + timedelta(seconds=36)


def vod_playlist(count: int = 4) -> str:
    """The asset's own on-demand playlist: the same segments a TV channel's playlist lists."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-TARGETDURATION:6"]
    lines += ["#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-MEDIA-SEQUENCE:0"]
    for n in range(count):
        lines += ["#EXTINF:5.760,", f"360p/seg_{n:05d}.ts"]
    return "\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n"


def test_an_on_demand_play_is_a_session_of_its_episode_and_a_tv_viewer_stays_on_tv(
    hls_station: Station, clock: SimulatedClock
) -> None:
    """Asset 7 is episode "Bakı" on demand, and on air on Diaspor TV at the same time: the
    same segments, listed by both. Each player's segments count where it is watching."""
    from api.app import create_app
    from tests.audience_support import episode_of_media

    st = hls_station
    episode_id = episode_of_media(st.db, 7, "media/7/baki.mp4", 1000, NOON)
    st.storage.put_bytes("hls/assets/7/c0ffee/360p.m3u8", vod_playlist().encode(), "x")
    put_playlists(st, 0)
    with serve_app(create_app(st), lifespan="on") as base:
        tv = Player(base, BERLIN, EXOPLAYER, "hls/tv/diaspor-tv/360p.m3u8")
        tv.tick()  # segments 0, 1 and 2 on the channel
        vod = Player(base, BAKU, HLS_JS, "hls/assets/7/c0ffee/360p.m3u8")
        vod.tick()  # all four, from the start: the asset's own playlist listed them last
        clock.advance(6)
        put_playlists(st, 1)
        tv.tick()  # segment 3, through the channel's playlist
        clock.advance(30)
        wait_for(lambda: len(rows(st)) == 2 and all(r.ended_at for r in rows(st)), "both ended")
        tv.close()
        vod.close()
    t, v = sorted(rows(st), key=lambda row: row.surface)
    assert (t.surface, t.channel, t.episode_id, t.country) == ("tv-hls", "diaspor-tv", None, "DE")
    assert (v.surface, v.channel, v.episode_id, v.country) == ("vod", None, episode_id, "AZ")
    assert round(4 * 5.76) == t.seconds == v.seconds
