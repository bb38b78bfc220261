"""In production nginx serves /files/ from the bucket and tells `diaspor worker` of each request
over syslog (deploy/nginx.conf): the worker's receiver (audience/edge_log.py) reads nginx's
lines — and nothing else — and counts HLS players and podcast downloads as the API counts the
requests it serves itself, from real datagrams on a real UDP socket."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from audience.downloads import span
from audience.edge_log import message_of, parse
from audience.models import SessionRow
from diaspor.compose import Station, build_station, run_background
from media.binaries import Tools
from station.clock import SimulatedClock
from tests.audience_support import episode_of_media
from tests.conftest import settings_for

NOON = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
BERLIN, TORONTO = "80.130.1.1", "99.230.1.1"
EXOPLAYER = "ExoPlayerLib/2.19.1 (Linux; Android 14) diaspor-app/1.0"
APPLE_PODCASTS = "Podcasts/1555.2.1 CFNetwork/1410.0.3 Darwin/22.6.0"
PLAYLIST = "hls/radio/diaspor-fm/128k.m3u8"
ENCLOSURE = "originals/ab/veten-7.mp3"

# What nginx 1.22 sent for `curl -r 1-3` of /files/a.mp3 with the User-Agent `Ab"c\ ə<0x01>x`
# (deploy/nginx.conf's log format and syslog target, captured from a real run).
CAPTURED = (
    b'<190>Dec  4 17:31:43 diaspor_audience: {"msec":1796405503.545,"addr":"127.0.0.1",'
    b'"method":"GET","uri":"/files/a.mp3","status":206,"sent":3,"range":"bytes 1-3/6",'
    b'"length":"3","agent":"Ab\\"c\\\\ \xc9\x99\\u0001x"}'
)


def nginx_line(
    at: datetime,
    address: str,
    uri: str,
    status: int,
    sent: int,
    agent: str,
    *,
    method: str = "GET",
    content_range: str = "",
    length: str = "",
) -> bytes:
    """A datagram as nginx sends it (RFC 3164 without a hostname, the message one object)."""
    fields = {
        "msec": round(at.timestamp(), 3),
        "addr": address,
        "method": method,
        "uri": uri,
        "status": status,
        "sent": sent,
        "range": content_range,
        "length": length,
        "agent": agent,
    }
    stamp = f"{at:%b} {at.day:2d} {at:%H:%M:%S}"
    message = json.dumps(fields, separators=(",", ":"), ensure_ascii=False)
    return f"<190>{stamp} diaspor_audience: {message}".encode()


# --- the parser ------------------------------------------------------------------------------


def test_a_line_nginx_sent_is_read_as_the_request_it_served() -> None:
    fetch = parse(CAPTURED)
    assert fetch is not None
    assert fetch.key == "a.mp3"
    assert fetch.address == "127.0.0.1"
    assert (fetch.method, fetch.status, fetch.sent, fetch.start, fetch.size) == (
        "GET",
        206,
        3,
        1,
        6,
    )
    assert fetch.agent == 'Ab"c\\ ə\x01x'
    assert fetch.at == datetime(2026, 12, 4, 17, 31, 43, 545000, tzinfo=UTC)


def test_the_same_message_is_read_with_a_hostname_a_pid_or_in_rfc_5424() -> None:
    message = CAPTURED.split(b": ", 1)[1]
    for head in (
        b"<190>Dec  4 17:31:43 edge-1 diaspor_audience: ",
        b"<190>Dec  4 17:31:43 diaspor_audience[42]: ",
        b"<190>1 2026-12-04T17:31:43.545Z edge-1 diaspor_audience - - - ",
        b'<190>1 2026-12-04T17:31:43Z edge-1 diaspor_audience 42 - [x@1 a="b"] ',
    ):
        assert parse(head + message) == parse(CAPTURED), head


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"hello",
        b"<190>Dec  4 17:31:43 sshd: Accepted publickey",
        b'<190>Dec  4 17:31:43 other_tag: {"msec":1,"addr":"1.2.3.4"}',
        b"<190>Dec  4 17:31:43 diaspor_audience: not json",
        b'<190>Dec  4 17:31:43 diaspor_audience: {"msec":1,"addr":"-","uri":"/files/a",'
        b'"status":200,"sent":1}',
        b'<190>Dec  4 17:31:43 diaspor_audience: {"msec":1,"addr":"1.2.3.4","uri":"/api/v1/x",'
        b'"status":200,"sent":1}',
        b'<190>Dec  4 17:31:43 diaspor_audience: {"msec":1,"addr":"1.2.3.4","uri":"/files/a"}',
        b'<190>Dec  4 17:31:43 diaspor_audience: ["a"]',
        b"<190>1 2026-12-04T17:31:43Z edge-1 diaspor_audience - - [x@1 a=b",
    ],
)
def test_a_line_that_is_not_ours_is_none(line: bytes) -> None:
    assert parse(line) is None


def test_only_the_tagged_message_is_taken_from_a_syslog_line() -> None:
    assert message_of("<14>Dec 24 09:00:00 diaspor_audience: {}") == "{}"
    assert message_of("<14>Dec 24 09:00:00 host diaspor_audiences: {}") is None
    assert message_of("Dec 24 09:00:00 diaspor_audience: {}") is None


def test_where_an_answers_bytes_begin_and_how_large_the_file_is() -> None:
    assert span("bytes 100-199/1000", "100", 206) == (100, 1000)
    assert span("", "1000", 200) == (0, 1000)
    assert span("", "", 200) == (0, 0)
    assert span("bytes */1000", "", 416) == (0, 1000)
    assert span("nonsense", "x", 200) == (0, 0)


# --- the receiver, on a real socket ---------------------------------------------------------


class HandClock(SimulatedClock):
    """Time moves only when the test says (the worker's other parts sleep for real)."""

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@pytest.fixture
def clock() -> SimulatedClock:
    return HandClock(NOON)


@pytest.fixture
def edge_station(
    tmp_path: Path, db_url: str, tools: Tools, clock: SimulatedClock
) -> Iterator[Station]:
    settings = settings_for(tmp_path, db_url, audience_syslog_port=free_udp_port())
    st = build_station(settings, tools=tools, clock=clock)
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:6", "#EXT-X-MEDIA-SEQUENCE:0"]
    for n in range(3):
        lines += ["#EXTINF:6.000,", f"128k_{n:05d}.aac"]
    st.storage.put_bytes(PLAYLIST, ("\n".join(lines) + "\n").encode(), "audio/x-mpegurl")
    yield st
    st.close()


def lines(st: Station, outcome: str) -> float:
    """The worker's count of nginx's datagrams with this outcome (its /metrics)."""
    found = st.metrics.registry.get_sample_value(
        "diaspor_audience_edge_lines_total", {"outcome": outcome}
    )
    return found or 0.0


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sessions(st: Station) -> dict[str, SessionRow]:
    with st.db.session() as s:
        return {r.surface: r for r in s.execute(select(SessionRow)).scalars()}


async def until_async(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + 10
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, what


async def until(condition: object, what: str, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.05)


def test_nginx_reports_a_radio_player_and_a_podcast_download_to_the_worker(
    edge_station: Station, clock: SimulatedClock
) -> None:
    """`diaspor worker`'s background parts, the receiver among them on its UDP port."""
    st = edge_station
    # Episode 7's enclosure: two minutes of audio in 960,000 bytes (a minute is 480,000).
    episode_id = episode_of_media(
        st.db, 7, ENCLOSURE, 960_000, NOON, duration_ms=120_000, number=7, title="Toronto"
    )
    t = NOON
    radio = [
        nginx_line(t, BERLIN, f"/files/{PLAYLIST}", 200, 310, EXOPLAYER),
        *(
            nginx_line(
                t, BERLIN, f"/files/hls/radio/diaspor-fm/128k_{n:05d}.aac", 200, 96_000, EXOPLAYER
            )
            for n in range(3)
        ),
        nginx_line(t, BERLIN, f"/files/{PLAYLIST}", 304, 0, EXOPLAYER),
    ]
    download = [
        # A podcast app's first range request (0.2 s of it), then the rest of its minute.
        nginx_line(
            t,
            TORONTO,
            f"/files/{ENCLOSURE}",
            206,
            2,
            APPLE_PODCASTS,
            content_range="bytes 0-1/960000",
            length="2",
        ),
        nginx_line(
            t + timedelta(seconds=1),
            TORONTO,
            f"/files/{ENCLOSURE}",
            206,
            500_000,
            APPLE_PODCASTS,
            content_range="bytes 0-499999/960000",
            length="500000",
        ),
    ]
    not_ours = [
        b"\x00\xffgarbage",
        b'<190>Dec  4 12:00:00 diaspor_audience: {"msec":',
        nginx_line(t, "not-an-address", f"/files/{PLAYLIST}", 200, 310, EXOPLAYER),
    ]
    # Counted by no one: a HEAD, and a request answered 404.
    ignored = [
        nginx_line(t, TORONTO, f"/files/{ENCLOSURE}", 200, 0, APPLE_PODCASTS, method="HEAD"),
        nginx_line(t, TORONTO, "/files/originals/gone.mp3", 404, 120, APPLE_PODCASTS),
    ]

    async def story() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(run_background(st, stop))
        worker = (st.settings.host, st.settings.audience_syslog_port)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            # Until the worker listens, what is sent is lost (UDP): a line of no one's first.
            async def heard() -> bool:
                udp.sendto(b"<190>Dec  4 12:00:00 sshd: hello", worker)
                await asyncio.sleep(0.05)
                return lines(st, "bad") > 0

            await until_async(heard, "the worker listens")
            before = lines(st, "bad")
            for line in radio + not_ours + download + ignored:
                udp.sendto(line, worker)
        await until(lambda: lines(st, "counted") == 9, "every request of ours handled")
        assert lines(st, "bad") - before == 3
        assert lines(st, "dropped") == 0
        await until(lambda: set(sessions(st)) == {"radio-hls", "podcast"}, "both in the ledger")
        clock.advance(30)  # the player stopped asking: its session ends at its last request
        await until(lambda: sessions(st)["radio-hls"].ended_at is not None, "the player ends")
        stop.set()
        await running

    asyncio.run(story())
    found = sessions(st)
    player = found["radio-hls"]
    assert (player.channel, player.country, player.seconds) == ("diaspor-fm", "DE", 18)
    assert player.ended_at == NOON and player.player == "Android"
    podcast = found["podcast"]
    assert (podcast.episode_id, podcast.country, podcast.bytes) == (episode_id, "CA", 500_000)
    assert podcast.seconds == 62  # 500,000 of 960,000 bytes of two minutes
    assert podcast.player != "Other"
    assert len(found) == 2  # the HEAD and the 404 counted nothing
    parts = [name for name, *_ in st.health.snapshot()]
    assert "audience-edge" in parts  # a part the worker's health shows
