"""Production on real parts, end to end: docker-compose.yml's topology run natively
(tests/topology.py) from the very files compose mounts, and used only through nginx's HTTPS
port, as listeners, viewers and apps use it.

- HTTP redirects to HTTPS; the player, its files, the guide, the channel list, a podcast feed
  and the API answer there; what is for the compose network only is refused; caching says
  what the station means.
- /listen/<mount> is the radio from the icecast2 relay, with its ICY titles, decoding to
  sound; HLS audio and video decode.
- A now-playing change reaches subscribers of both API processes, within a second of each
  other.
- The player page plays the radio and the TV in Chromium, with nothing refused as insecure.
- A TV viewer's HLS requests, served by nginx from the bucket, are told to the worker over
  syslog and counted as a session of the channel with its seconds.
- The leading playout is killed: a listener on the relay keeps its one connection and hears
  audio again within seconds (the fallback loop, then the standby's programme), and the TV's
  sequence numbers continue.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import socket
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from media.binaries import Tools
from streamer.icy import IcyReader
from tests.air_check import decode
from tests.support import need, need_program
from tests.topology import HOSTS, Stack, native_stack, role, why_not

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.runs(seconds=330)]
RADIO = "diaspor-fm"
MP3 = f"/listen/{RADIO}.mp3"
MP3_BYTES_PER_S = 128_000 // 8
AUDIBLE = 10 ** (-50 / 20)  # RMS of full scale: quieter than -50 dBFS is silence


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    reason = why_not(ports=False)  # the ports are checked once another run has ended
    need(reason is None, f"the production topology cannot run here: {reason}")
    with native_stack(tmp_path_factory.mktemp("edge")) as running:
        yield running


@pytest.fixture
def web(stack: Stack) -> Iterator[httpx.Client]:
    with stack.client(timeout=10) as c:
        yield c


# --- the edge ------------------------------------------------------------------------------


def test_http_is_redirected_to_https_and_answers_certbots_challenge_there_only(
    stack: Stack,
) -> None:
    r = httpx.get("http://localhost/epg.xml?x=1", follow_redirects=False, timeout=5)
    assert r.status_code == 301
    assert r.headers["location"] == "https://localhost/epg.xml?x=1"
    # The challenge path is served from the webroot, not redirected (absent here: 404).
    r = httpx.get("http://localhost/.well-known/acme-challenge/none", timeout=5)
    assert r.status_code == 404
    with stack.client(timeout=5) as c:
        r = c.get("/health")
        assert r.status_code == 200
        assert "max-age=" in r.headers["strict-transport-security"]


def test_the_player_its_files_the_guide_the_channel_list_and_a_podcast_are_served(
    web: httpx.Client,
) -> None:
    page = web.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    scripts = re.findall(r'src="(/static/[^"]+)"', page.text)
    assert scripts, "the player page loads no scripts"
    for src in scripts:
        assert web.get(src).status_code == 200, src

    epg = web.get("/epg.xml")
    assert epg.status_code == 200
    tv = ET.fromstring(epg.content)
    assert {c.get("id") for c in tv.findall("channel")} >= {RADIO, "diaspor-tv"}
    assert tv.findall("programme"), "the guide lists no programmes"

    m3u = web.get("/channels.m3u").text
    assert m3u.startswith("#EXTM3U")
    urls = [line for line in m3u.splitlines() if line and not line.startswith("#")]
    assert f"https://localhost{MP3}" in urls
    assert all(u.startswith("https://localhost/") for u in urls), urls

    programmes = web.get("/api/v1/programmes").json()["items"]
    feeds = [p["links"]["podcast"] for p in programmes if p["links"].get("podcast")]
    assert feeds, "no programme has a podcast feed"
    feed = web.get(httpx.URL(feeds[0]).path)
    assert feed.status_code == 200
    rss = ET.fromstring(feed.content)
    assert rss.tag == "rss" and rss.findtext("channel/title")


def test_what_is_for_the_compose_network_only_is_refused(web: httpx.Client) -> None:
    for path in (
        "/metrics",
        "/api/v1/live/icecast-auth",
        "/api/v1/audience/icecast",
        f"/listen/{RADIO}-fallback.mp3",
        f"/listen/{RADIO}-live",
        "/listen/admin/stats",
        "/files/",
    ):
        assert web.get(path).status_code == 404, path
    assert web.post(MP3).status_code == 405


def test_live_files_are_cached_briefly_and_packaged_segments_for_good(
    stack: Stack, web: httpx.Client
) -> None:
    now = web.get(f"/files/nowplaying/{RADIO}.json")
    assert now.status_code == 200
    assert re.search(r"max-age=[0-2]\b", now.headers["cache-control"]), now.headers
    master = web.get(stack.tv_master_playlist)
    assert re.search(r"max-age=[0-9]\b", master.headers["cache-control"])
    # nginx keeps a stored file a second: the same playlist asked for at once is not asked
    # of the bucket again.
    again = [web.get(stack.tv_master_playlist).headers.get("x-cache-status") for _ in range(3)]
    assert "HIT" in again, again
    variant, segment = first_segment(web, stack.tv_master_playlist)
    got = web.get(segment)
    assert got.status_code == 200, segment
    assert "immutable" in got.headers["cache-control"], (segment, got.headers)
    assert web.get(variant).headers["content-type"] in (
        "application/vnd.apple.mpegurl",
        "audio/x-mpegurl",
        "application/x-mpegurl",
    )


# --- listening and watching ---------------------------------------------------------------


def first_segment(web: httpx.Client, master: str, lowest: bool = True) -> tuple[str, str]:
    """(variant playlist, its newest segment) paths of an HLS master playlist."""
    base = httpx.URL(f"https://localhost{master}")
    text = web.get(master).text
    variants = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert variants, text
    variant = base.join(variants[-1] if lowest else variants[0])
    lines = web.get(variant.path).text.splitlines()
    segments = [ln for ln in lines if ln and not ln.startswith("#")]
    assert segments, lines
    return variant.path, variant.join(segments[-1]).path


def probe(tools: Tools, data: bytes) -> set[str]:
    out = subprocess.run(
        [
            tools.ffprobe,
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type",
            "-of",
            "csv=p=0",
            "pipe:0",
        ],
        input=data,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return set(out.split())


def test_listen_gives_the_relays_stream_with_its_titles_and_it_sounds(
    stack: Stack, web: httpx.Client, tools: Tools
) -> None:
    titles: list[str] = []
    audio = bytearray()
    with web.stream("GET", MP3, headers={"Icy-MetaData": "1"}) as r:
        assert r.status_code == 200 and r.headers["content-type"] == "audio/mpeg"
        reader = IcyReader.from_headers(r.headers)
        assert reader.metaint, "no icy-metaint: titles would not reach the listener"
        end = time.monotonic() + 8
        for chunk in r.iter_bytes():
            got = reader.feed(chunk)
            audio += got.audio
            titles += got.titles
            if time.monotonic() > end and titles:
                break
    # The title in the stream is the one on air ("artist - title").
    assert [t for t in titles if t.strip()], "no title in the stream"
    assert on_air_title(web) in titles[-1], (titles, on_air_title(web))
    pcm = decode(tools.ffmpeg, bytes(audio))
    assert len(pcm) > 48_000 * 4
    assert float(np.sqrt(np.mean(pcm**2))) > AUDIBLE, "the stream is silent"
    # It came from the relay: its one listener is there, the master only serves the relay.
    relay = httpx.get(f"{stack.relay_url}/status-json.xsl", timeout=3).json()
    assert "source" in relay["icestats"]


def test_hls_video_and_audio_through_nginx_decode(
    stack: Stack, web: httpx.Client, tools: Tools
) -> None:
    _, tv_segment = first_segment(web, stack.tv_master_playlist, lowest=False)
    assert probe(tools, web.get(tv_segment).content) >= {"video", "audio"}
    _, radio_segment = first_segment(web, f"/files/hls/radio/{RADIO}/master.m3u8")
    data = web.get(radio_segment).content
    assert "audio" in probe(tools, data)
    assert float(np.sqrt(np.mean(decode(tools.ffmpeg, data) ** 2))) > AUDIBLE


# --- now-playing on every API process -----------------------------------------------------


def established_to(address: str, port: int) -> int:
    """Open TCP connections to address:port on this machine (Linux's /proc/net/tcp)."""
    want = f"{socket.inet_aton(address)[::-1].hex().upper()}:{port:04X}"
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == want and fields[3] == "01":
            count += 1
    return count


@dataclass
class Subscriber:
    thread: threading.Thread
    events: list[tuple[float, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)


def subscribe(stack: Stack, path: str) -> Subscriber:
    sub = Subscriber(threading.Thread(target=lambda: None))

    def run() -> None:
        with (
            contextlib.suppress(httpx.HTTPError),
            stack.client(timeout=httpx.Timeout(5, read=60)) as c,
            c.stream("GET", path) as r,
        ):
            for line in r.iter_lines():
                if line.startswith("data:"):
                    sub.events.append((time.monotonic(), line[5:].strip()))
                if sub.stop.is_set():
                    return

    sub.thread = threading.Thread(target=run, daemon=True)
    sub.thread.start()
    return sub


def current_id(data: str) -> Any:
    current = json.loads(data).get("current") or {}
    return (current.get("title"), current.get("started_at"))


def on_air_title(web: httpx.Client) -> str:
    current = web.get(f"/api/v1/channels/{RADIO}/now-playing").json().get("current") or {}
    title = current.get("title")
    assert title, "nothing on air on the radio"
    return str(title)


def test_a_now_playing_change_reaches_subscribers_on_both_api_processes(stack: Stack) -> None:
    path = f"/api/v1/channels/{RADIO}/now-playing/events"
    apis = HOSTS["api"]
    before = {a: established_to(a, 8000) for a in apis}
    subs: list[Subscriber] = []
    # nginx spreads requests over both replicas (the name answers with both): subscribe
    # until each replica holds at least one of them.
    while len(subs) < 24:
        subs.append(subscribe(stack, path))
        time.sleep(0.3)
        if all(established_to(a, 8000) > before[a] for a in apis) and len(subs) >= 2:
            break
    held = {a: established_to(a, 8000) - before[a] for a in apis}
    assert all(n > 0 for n in held.values()), f"subscribers per API process: {held}"
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not all(s.events for s in subs):
            time.sleep(0.1)
        assert all(s.events for s in subs), "a subscriber got no first event"
        # A track may have changed while they subscribed, one after another: they agree on
        # what is on now once each has heard of it.
        deadline = time.monotonic() + 10
        while len({current_id(s.events[-1][1]) for s in subs}) > 1:
            assert time.monotonic() < deadline, [[current_id(d) for _, d in s.events] for s in subs]
            time.sleep(0.1)
        agreed = {id(s): len(s.events) for s in subs}
        first = {current_id(subs[0].events[-1][1])}

        # Wait for the next track: every subscriber gets it, within a second of each other.
        def changed(s: Subscriber) -> float | None:
            for t, data in s.events[agreed[id(s)] :]:
                if current_id(data) not in first:
                    return t
            return None

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all(changed(s) for s in subs):
            time.sleep(0.2)
        times = [changed(s) for s in subs]
        assert all(times), f"{times.count(None)} of {len(subs)} subscribers missed the change"
        arrived = [t for t in times if t is not None]
        assert max(arrived) - min(arrived) < 1.0, arrived
    finally:
        for s in subs:
            s.stop.set()


# --- in a browser -------------------------------------------------------------------------


def test_the_player_page_plays_the_radio_and_the_tv_in_chromium(stack: Stack) -> None:
    chromium = need_program("chromium")
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
        )
        try:
            # The certificate is self-signed: the browser is told to accept it, nothing more.
            context = browser.new_context(ignore_https_errors=True)
            page = context.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(f"{stack.public_url}/")
            page.wait_for_function(
                "document.getElementById('radio-name').textContent", timeout=15_000
            )
            page.get_by_role("button", name="Dinlə", exact=True).click()
            page.wait_for_function(
                "document.getElementById('radio-audio').currentTime > 1", timeout=20_000
            )
            src = page.evaluate("document.getElementById('radio-audio').currentSrc")
            assert src.startswith("https://localhost/"), src
            t0 = page.wait_for_function(
                "(v => v.currentTime > 0 && v.currentTime)(document.getElementById('tv-video'))",
                timeout=60_000,
            ).json_value()
            time.sleep(3)
            t1 = page.evaluate("document.getElementById('tv-video').currentTime")
            assert t1 > t0 + 1.5, (t0, t1)
            assert page.evaluate("window.player.fatal") is None
        finally:
            browser.close()
    assert not problems, problems


# --- the leader dies ----------------------------------------------------------------------


@dataclass
class Listener:
    """One connection to /listen/<mount> through nginx, read on a thread: its audio, when
    each part arrived, its titles, and whether the connection ever ended."""

    stack: Stack
    audio: bytearray = field(default_factory=bytearray)
    arrivals: list[tuple[float, int]] = field(default_factory=list)
    titles: list[tuple[float, str]] = field(default_factory=list)
    ended: str | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        try:
            with (
                self.stack.client(timeout=httpx.Timeout(5, read=20)) as c,
                c.stream("GET", MP3, headers={"Icy-MetaData": "1"}) as r,
            ):
                reader = IcyReader.from_headers(r.headers)
                for chunk in r.iter_bytes():
                    got = reader.feed(chunk)
                    now = time.monotonic()
                    self.audio += got.audio
                    self.arrivals.append((now, len(self.audio)))
                    self.titles += [(now, t) for t in got.titles]
                    if self.stop.is_set():
                        return
            self.ended = "the server ended the stream"
        except httpx.HTTPError as e:
            self.ended = f"{type(e).__name__}: {e}"

    def audible_at(self, tools: Tools) -> list[tuple[float, bool]]:
        """(arrival time, audible) for each half second of what was received."""
        pcm = decode(tools.ffmpeg, bytes(self.audio))
        half = 48_000 // 2
        out = []
        for i in range(len(pcm) // half):
            byte = int((i + 1) * 0.5 * MP3_BYTES_PER_S)
            when = next((t for t, n in self.arrivals if n >= byte), self.arrivals[-1][0])
            chunk = pcm[i * half : (i + 1) * half]
            out.append((when, float(np.sqrt(np.mean(chunk**2))) > AUDIBLE))
        return out


def tv_numbers(web: httpx.Client, master: str) -> tuple[int, int]:
    variant, _ = first_segment(web, master)
    text = web.get(variant).text
    media = re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text)
    disc = re.search(r"#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)", text)
    assert media, text
    return int(media.group(1)), int(disc.group(1)) if disc else 0


def test_the_leader_is_killed_and_listeners_and_viewers_carry_on(
    stack: Stack, web: httpx.Client, tools: Tools
) -> None:
    listener = Listener(stack)
    thread = threading.Thread(target=listener.run, daemon=True)
    thread.start()
    tv_before = tv_numbers(web, stack.tv_master_playlist)
    time.sleep(6)
    assert listener.audio and listener.ended is None, listener.ended

    killed_at = time.monotonic()
    stack.kill("playout")
    stack.wait("the standby to lead", lambda: role(stack, "playout-standby") == "leader", 15)
    took_over_s = time.monotonic() - killed_at

    # The TV: its numbers never go back, and go on.
    seen = [tv_before]
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        seen.append(tv_numbers(web, stack.tv_master_playlist))
        if seen[-1][0] > tv_before[0] + 1:
            break
        time.sleep(1)
    for a, b in itertools.pairwise(seen):
        assert b[0] >= a[0] and b[1] >= a[1], f"the TV's numbers went back: {a} -> {b}"
    assert seen[-1][0] > tv_before[0], f"the TV's media sequence stopped at {tv_before}"

    # The radio: the same connection throughout, sound again within seconds of the kill, and
    # the programme's titles back once the standby is on air.
    time.sleep(12)
    listener.stop.set()
    thread.join(25)
    assert listener.ended is None, f"the listener's connection ended: {listener.ended}"
    heard = listener.audible_at(tools)
    after = [(t, ok) for t, ok in heard if t >= killed_at]
    assert after, "nothing arrived after the kill"
    silent_from = None
    longest = 0.0
    for t, ok in after:
        if not ok:
            silent_from = silent_from if silent_from is not None else t
            longest = max(longest, t - silent_from)
        else:
            silent_from = None
    assert longest < 4.0, f"{longest:.1f} s of silence after the kill"
    received_s = (
        listener.arrivals[-1][1] - next(n for t, n in listener.arrivals if t >= killed_at)
    ) / MP3_BYTES_PER_S
    waited_s = listener.arrivals[-1][0] - killed_at
    assert received_s > waited_s - 4, f"{received_s:.1f} s of audio in {waited_s:.1f} s"
    later = [t for when, t in listener.titles if when > killed_at + took_over_s]
    assert later and on_air_title(web) in later[-1], (later, on_air_title(web))


# --- the audience (the last story: it stops the API) ---------------------------------------


def listen_through_nginx(stack: Stack, seconds: float, address: str) -> int:
    """A listener of the radio for `seconds`, behind a proxy that names its `address` to
    nginx; the bytes it got."""
    got = 0
    headers = {"X-Forwarded-For": address, "User-Agent": "VLC/3.0.18 LibVLC/3.0.18"}
    with (
        stack.client(timeout=httpx.Timeout(5, read=20)) as c,
        c.stream("GET", MP3, headers=headers) as r,
    ):
        assert r.status_code == 200
        end = time.monotonic() + seconds
        for chunk in r.iter_bytes():
            got += len(chunk)
            if time.monotonic() > end:
                break
    return got


def test_a_tv_viewer_through_nginx_is_counted_by_the_worker(stack: Stack) -> None:
    """nginx serves /files/ from the bucket and tells the worker of each request over syslog:
    a player of the TV's HLS is one session, its seconds the durations of the segments it
    fetched. (Its address here is the loopback's, of no country: "ZZ".)"""
    from sqlalchemy import select

    from audience.hls import read_playlist
    from audience.models import SessionRow
    from station.db import Database

    vlc = {"User-Agent": "VLC/3.0.18 LibVLC/3.0.18"}  # no other story's TV player
    with stack.client(timeout=10, headers=vlc) as player:
        variant, _ = first_segment(player, stack.tv_master_playlist)
        key = variant.removeprefix("/files/")
        newest = read_playlist(key, player.get(variant).text).segments[-2:]
        for segment, _ in newest:
            assert player.get(f"/files/{segment}").status_code == 200
    seconds = round(sum(ms for _, ms in newest) / 1000)

    db = Database(stack.secrets["database_url"])
    try:

        def ended() -> list[SessionRow]:
            with db.session() as s:
                rows = s.execute(
                    select(SessionRow).where(
                        SessionRow.surface == "tv-hls", SessionRow.player == "VLC"
                    )
                )
                return [r for r in rows.scalars() if r.ended_at is not None]

        # It ends when it has asked nothing for three target durations (at least 20 s).
        stack.wait("the viewer's session ends in the ledger", ended, 60)
        [session] = ended()
        assert (session.channel, session.country, session.seconds) == (
            "diaspor-tv",
            "ZZ",
            seconds,
        )
    finally:
        db.dispose()
    worker = f"http://{HOSTS['worker'][0]}:9100/metrics"
    metrics = httpx.get(worker, timeout=5).text
    assert re.search(r'diaspor_part_up\{[^}]*part="audience-edge"[^}]*\} 1\.0', metrics)
    assert re.search(r'diaspor_audience_edge_lines_total\{outcome="counted"\} [1-9]', metrics)


def test_radio_listeners_are_counted_and_let_in_even_when_no_api_answers(stack: Stack) -> None:
    from sqlalchemy import select

    from audience.models import SessionRow
    from station.db import Database

    db = Database(stack.secrets["database_url"])
    try:

        def counted() -> dict[int, SessionRow]:
            """The icecast2 listeners' ended sessions, by id (earlier stories' among them)."""
            with db.session() as s:
                rows = s.execute(select(SessionRow).where(SessionRow.surface == "icecast"))
                return {r.id: r for r in rows.scalars() if r.ended_at is not None}

        def new_vlc() -> list[SessionRow]:
            """Ours: ended since, with VLC's User-Agent (an earlier story's listener, ending
            now, is httpx)."""
            return [r for i, r in counted().items() if i not in before and r.player == "VLC"]

        before = counted()
        assert listen_through_nginx(stack, 3, "85.132.1.1") > 3 * MP3_BYTES_PER_S * 0.7
        stack.wait("the listener in the ledger", new_vlc, 15)
        [session] = new_vlc()
        assert (session.mount, session.channel, session.country) == (
            f"/{RADIO}.mp3",
            RADIO,
            "AZ",
        )
        assert session.seconds in (3, 4)
        # No API answers: nginx answers icecast2's hook itself, and the listener is let in.
        stack.kill("api-1")
        stack.kill("api-2")
        assert listen_through_nginx(stack, 2, "80.130.1.1") > 2 * MP3_BYTES_PER_S * 0.7
    finally:
        db.dispose()
