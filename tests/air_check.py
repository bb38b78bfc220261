"""Title timing as a listener meets it: when does the title change, against when the music
changes in the decoded audio?

A listener on a mount keeps the audio bytes it receives and the audio byte at which each
title arrived in the ICY stream. The bytes are cut into frames (MPEG audio or ADTS headers),
so a byte is a moment of the stream: the frames before it, each 1152 (MP3) or 1024 (AAC)
samples. The stream is decoded, and the moments where one item's tone gives way to the next
are found in it; each title change is then so many seconds before (negative) or after the
change it names. A player reading the HLS audio and now-playing's Server-Sent Events does the
same with wall clocks: the program-date-time of the segments says when their audio is on air,
the events' arrival when the title changed; it follows every rung the master playlist lists.
Used by tests/test_title_timing.py and by bench/radio.py, which prints the distribution."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import numpy as np
import uvicorn

from api.app import create_app
from diaspor.compose import Station
from diaspor.playout import run_radio
from media.binaries import Tools
from streamer.icy import IcyReader, parse_response_head
from tests.radio_support import SONGS, Playout, icecast_station, music_station, wait_for_mount
from tests.support import free_port, run
from tests.test_icecast_conformance import icecast2_running

RATE = 48_000
WINDOW_S = 0.1  # a window of decoded audio, classified by its strongest known tone
HOP_S = 0.02


@dataclass
class Heard:
    """What a listener on one mount received: the audio, and (audio byte, title) changes."""

    mount: str
    audio: bytearray = field(default_factory=bytearray)
    titles: list[tuple[int, str]] = field(default_factory=list)
    arrivals: list[tuple[float, int]] = field(default_factory=list)  # (monotonic s, bytes so far)

    def keeping_up(self, skip_s: float) -> float:
        """Seconds of audio received per second of wall time, from skip_s after the first
        bytes to the last: 1.0 when the stream keeps real time, without the burst a server
        sends a new listener at once (the frames say how long the audio is, whatever its
        bit rate)."""
        if not self.arrivals:
            return 0.0
        t0 = self.arrivals[0][0] + skip_s
        later = [(t, n) for t, n in self.arrivals if t >= t0]
        if len(later) < 2 or later[-1][0] <= later[0][0]:
            return 0.0
        f = frames(bytes(self.audio))
        audio_s = f.seconds_at(later[-1][1]) - f.seconds_at(later[0][1])
        return audio_s / (later[-1][0] - later[0][0])


async def listen(port: int, mount: str, stop: asyncio.Event, heard: Heard | None = None) -> Heard:
    """A classic ICY listener on 127.0.0.1:port until stop is set. A title is placed at the
    audio byte it arrived before (the block sits between two runs of audio)."""
    heard = heard or Heard(mount)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {mount} HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n".encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        icy = IcyReader.from_headers(parse_response_head(head).headers)
        assert icy.metaint, f"{mount}: the server sent no icy-metaint"
        while not stop.is_set():
            try:
                data = await asyncio.wait_for(reader.read(65536), timeout=0.5)
            except TimeoutError:
                continue
            assert data, f"the server closed the listener on {mount}"
            # One metadata block at most per slice: a title lands on its own byte.
            for k in range(0, len(data), icy.metaint):
                got = icy.feed(data[k : k + icy.metaint])
                for title in got.titles:
                    if title and (not heard.titles or heard.titles[-1][1] != title):
                        heard.titles.append((len(heard.audio), title))
                heard.audio += got.audio
            heard.arrivals.append((time.monotonic(), len(heard.audio)))
    finally:
        writer.close()
        await writer.wait_closed()
    return heard


async def listen_for(port: int, mount: str, seconds: float) -> tuple[list[str], int]:
    """A listener for `seconds`: the titles it saw change, and how many audio bytes came."""
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, stop.set)
    heard = await listen(port, mount, stop)
    return [t for _, t in heard.titles], len(heard.audio)


async def listen_to_each(
    port: int, mounts: Sequence[str], seconds: float
) -> list[tuple[list[str], int]]:
    """`listen_for` on each mount at once."""
    return list(await asyncio.gather(*(listen_for(port, m, seconds) for m in mounts)))


# --- bytes into moments ------------------------------------------------------------------

_MP3_KBPS = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_MP3_RATES = (44100, 48000, 32000)
_AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)


def _mp3_frame(b: bytes, i: int) -> tuple[int, int, int] | None:
    """(length, samples, rate) of an MPEG-1 Layer III frame header at i, or None."""
    if i + 4 > len(b) or b[i] != 0xFF or (b[i + 1] & 0xFE) != 0xFA:
        return None
    kbps_i, rate_i, pad = b[i + 2] >> 4, (b[i + 2] >> 2) & 3, (b[i + 2] >> 1) & 1
    if not 0 < kbps_i < 15 or rate_i == 3:
        return None
    rate = _MP3_RATES[rate_i]
    return 144_000 * _MP3_KBPS[kbps_i] // rate + pad, 1152, rate


def _adts_frame(b: bytes, i: int) -> tuple[int, int, int] | None:
    """(length, samples, rate) of an ADTS frame header at i, or None."""
    if i + 7 > len(b) or b[i] != 0xFF or (b[i + 1] & 0xF6) != 0xF0:
        return None
    rate_i = (b[i + 2] >> 2) & 0xF
    length = ((b[i + 3] & 3) << 11) | (b[i + 4] << 3) | (b[i + 5] >> 5)
    blocks = (b[i + 6] & 3) + 1
    if rate_i >= len(_AAC_RATES) or length < 7:
        return None
    return length, 1024 * blocks, _AAC_RATES[rate_i]


@dataclass(frozen=True, slots=True)
class Frames:
    """Where each frame of a received stream starts, from the first frame on."""

    first: int  # the byte the first whole frame starts at
    starts: list[int]  # byte offsets of frame starts (and the end of the last frame)
    samples: int  # per frame
    rate: int

    def seconds_at(self, byte: int) -> float:
        """The stream time of audio byte `byte`: the frames wholly before it."""
        whole = int(np.searchsorted(self.starts, byte, side="right")) - 1
        return max(0, whole) * self.samples / self.rate


def frames(audio: bytes) -> Frames:
    """Cut a received MP3 or ADTS stream into frames: the first header whose next frame is a
    header too is the start (a listener may join mid-frame)."""
    for parse in (_mp3_frame, _adts_frame):
        for i in range(min(len(audio), 8192)):
            f = parse(audio, i)
            if f and parse(audio, i + f[0]):
                starts, pos = [i], i
                while (f := parse(audio, pos)) is not None:
                    pos += f[0]
                    starts.append(pos)
                first = parse(audio, i)
                assert first is not None
                return Frames(i, starts, first[1], first[2])
    raise AssertionError("no MPEG audio or ADTS frames in the stream")


def decode(ffmpeg: str, data: bytes) -> np.ndarray:
    """Mono float PCM at 48 kHz of a stream (MP3, ADTS or MPEG-TS), as a player decodes it."""
    out = subprocess.run(
        [ffmpeg, "-v", "error", "-i", "pipe:0", "-ac", "1", "-ar", str(RATE), "-f", "f32le", "-"],
        input=data,
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(out, dtype="<f4")


# --- the changes in the music ----------------------------------------------------------


def tone_changes(pcm: np.ndarray, tones: dict[str, float]) -> list[tuple[float, str]]:
    """(seconds, title) where the strongest of the items' tones becomes another's and stays
    so for half a second: the moment a listener hears the next item take over (the middle
    of a crossfade). The first entry is the item at the start."""
    win, hop = round(WINDOW_S * RATE), round(HOP_S * RATE)
    if len(pcm) < win:
        return []
    t = np.arange(win) / RATE
    names = list(tones)
    probes = np.array([np.exp(-2j * np.pi * tones[n] * t) for n in names]) * np.hanning(win)
    starts = np.arange(0, len(pcm) - win, hop)
    frames_ = np.lib.stride_tricks.sliding_window_view(pcm, win)[starts]
    power = np.abs(frames_ @ probes.T)  # windows × tones
    loud = power.max(axis=1) > 0.01 * win
    strongest = np.where(loud, power.argmax(axis=1), -1)
    hold = round(0.5 / HOP_S)
    changes: list[tuple[float, str]] = []
    current = -1
    for k in range(len(strongest) - hold):
        s = strongest[k]
        if s >= 0 and s != current and np.all(strongest[k : k + hold] == s):
            # The window's middle: where it tips from one tone to the other.
            changes.append(((starts[k] + win / 2) / RATE, names[s]))
            current = s
    return changes


@dataclass(frozen=True, slots=True)
class Timing:
    """One item change as heard, and its title change: offset > 0 is a late title."""

    title: str
    heard_s: float
    offset_s: float | None  # None: no title change named it


def match(
    changes: Sequence[tuple[float, str]],
    titles: Sequence[tuple[float, str]],
    heard: tuple[float, float],
    *,
    margin_s: float = 3.0,
) -> list[Timing]:
    """Each change in the music after the first item, inside `heard` (from, to) less margin_s
    at each end (where its title may fall outside what was heard), paired with the nearest
    title change naming the same item."""
    out = []
    for at, title in changes[1:]:
        if not heard[0] + margin_s <= at <= heard[1] - margin_s:
            continue
        named = [t for t, name in titles if name == title]
        nearest = min(named, key=lambda t: abs(t - at), default=None)
        out.append(Timing(title, at, None if nearest is None else nearest - at))
    return out


def icy_timings(ffmpeg: str, heard: Heard, tones: dict[str, float]) -> list[Timing]:
    """Title changes in an ICY stream against the changes in its decoded audio."""
    audio = bytes(heard.audio)
    f = frames(audio)
    pcm = decode(ffmpeg, audio[f.first :])
    titles = [(f.seconds_at(b), t) for b, t in heard.titles]
    return match(tone_changes(pcm, tones), titles, (0.0, len(pcm) / RATE))


# --- HLS and Server-Sent Events -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HlsSegment:
    number: int  # its media sequence number
    pdt: float  # its program-date-time, epoch seconds
    duration: str  # its EXTINF, as written
    data: bytes


@dataclass
class HlsHeard:
    """Segments of a live HLS audio playlist as a player fetched them, in order."""

    segments: list[HlsSegment] = field(default_factory=list)


async def follow_hls(base: str, playlist: str, stop: asyncio.Event, heard: HlsHeard) -> None:
    """Poll a live media playlist every second, fetching each new segment once, with the
    program-date-time, duration and number the playlist gives it."""
    seen: set[str] = set()
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        while not stop.is_set():
            r = await client.get(playlist)
            if r.status_code == 200:
                number = 0
                pdt: float | None = None
                duration = ""
                for line in r.text.splitlines():
                    if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
                        number = int(line.split(":", 1)[1])
                    elif line.startswith("#EXTINF:"):
                        duration = line[len("#EXTINF:") :].rstrip(",")
                    elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
                        pdt = datetime.fromisoformat(line.split(":", 1)[1]).timestamp()
                    elif line and not line.startswith("#"):
                        if line not in seen and pdt is not None:
                            seen.add(line)
                            uri = playlist.rsplit("/", 1)[0] + "/" + line
                            seg = await client.get(uri)
                            if seg.status_code == 200:
                                heard.segments.append(
                                    HlsSegment(number, pdt, duration, seg.content)
                                )
                        number += 1
                        pdt = None
            await asyncio.sleep(1.0)


def master_variants(text: str) -> list[tuple[dict[str, str], str]]:
    """(attributes, URI) of each variant a master playlist lists, in its order."""
    lines = text.splitlines()
    out = []
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:"):
            attrs = re.findall(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', line.split(":", 1)[1])
            out.append(({k: v.strip('"') for k, v in attrs}, lines[i + 1].strip()))
    return out


async def variants_of(base: str, master: str, timeout_s: float = 30) -> str:
    """The master playlist's text, once it is there (written when every rung has begun)."""
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            r = await client.get(master)
            if r.status_code == 200:
                return r.text
            assert loop.time() < deadline, f"{master}: {r.status_code} for {timeout_s} s"
            await asyncio.sleep(0.5)


def hls_changes(
    ffmpeg: str, heard: HlsHeard, tones: dict[str, float]
) -> tuple[list[tuple[float, str]], tuple[float, float]]:
    """The changes in the music, as epoch seconds by the segments' program-date-time (each
    segment decoded alone and laid at its own date), and the span the segments cover."""
    if not heard.segments:
        return [], (0.0, 0.0)
    first = heard.segments[0].pdt
    length = heard.segments[-1].pdt - first + 30
    line = np.zeros(round(length * RATE), dtype=np.float32)
    end = first
    for seg in heard.segments:
        pcm = decode(ffmpeg, seg.data)
        at = round((seg.pdt - first) * RATE)
        line[at : at + len(pcm)] = pcm[: len(line) - at]
        end = max(end, seg.pdt + len(pcm) / RATE)
    changes = [(first + t, title) for t, title in tone_changes(line, tones)]
    return changes, (first, end)


async def follow_events(
    base: str, slug: str, stop: asyncio.Event, got: list[tuple[float, str]]
) -> None:
    """Now-playing's Server-Sent Events: (arrival, epoch seconds; "artist - title")."""
    url = f"{base}/api/v1/channels/{slug}/now-playing/events"

    async def read() -> None:
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(10, read=None)) as client,
            client.stream("GET", url) as r,
        ):
            assert r.status_code == 200, r.status_code
            async for line in r.aiter_lines():
                if line.startswith("data:"):
                    current = json.loads(line[5:])["current"]
                    if current is not None:
                        got.append((time.time(), current["title"]))

    reading = asyncio.create_task(read())
    await asyncio.wait([reading, asyncio.create_task(stop.wait())], return_when="FIRST_COMPLETED")
    reading.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reading


# --- the whole check: two stations on air, every kind of listener -------------------------

SONG_S = 9  # with a 3 s crossfade: a change every 6 s
CROSSFADE_MS = 3000
WITHIN_S = 1.0  # the title changes within a second of the music
MOUNTS = ("/diaspor-fm.mp3", "/diaspor-fm.aac", "/diaspor-fm-64.aac")  # the last for phones
MASTER = "/files/hls/radio/diaspor-fm/master.m3u8"
TONES = {title: 330.0 + 110 * i for i, (_, title) in enumerate(SONGS)}
ICY_TONES = {f"{artist} - {title}": TONES[title] for artist, title in SONGS}


@contextmanager
def on_air(st: Station, api_port: int | None = None) -> Iterator[None]:
    """Playout on its own loop; with api_port, the API served on the same loop, as `diaspor
    demo` runs them (one process: its now-playing events are first-hand)."""

    async def radio_and_api(station: Station, stop: asyncio.Event) -> None:
        config = uvicorn.Config(
            create_app(station), host="127.0.0.1", port=api_port or 0, log_config=None
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        try:
            await run_radio(station, stop)
        finally:
            server.should_exit = True
            await serving

    playout = Playout(st, radio_and_api) if api_port else Playout(st)
    try:
        yield
    finally:
        playout.close()
        st.close()


def wait_for_health(base: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"{base} never answered /health")


@dataclass
class OnAir:
    """What the listeners of `title_timings` heard."""

    timings: dict[str, list[Timing]]  # every change of song heard, with its title: by listener
    master: str  # the relay station's HLS master playlist
    hls: dict[str, HlsHeard]  # each of its rungs, by the URI the master gives it


async def hear(
    relay_port: int, icecast_port: int, base: str, seconds: float
) -> tuple[list[Heard], str, dict[str, HlsHeard], list[tuple[float, str]]]:
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, stop.set)
    heard = [Heard(m) for m in MOUNTS] + [Heard(m) for m in MOUNTS]
    events: list[tuple[float, str]] = []
    # The ICY listeners first: joined early, their burst holds little old audio (whose
    # title would be the one of now).
    tasks = [
        *(listen(relay_port, h.mount, stop, h) for h in heard[: len(MOUNTS)]),
        *(listen(icecast_port, h.mount, stop, h) for h in heard[len(MOUNTS) :]),
        follow_events(base, "diaspor-fm", stop, events),
    ]
    running = [asyncio.create_task(t) for t in tasks]
    master = await variants_of(base, MASTER)
    folder = MASTER.rsplit("/", 1)[0]
    hls = {uri: HlsHeard() for _, uri in master_variants(master)}
    running += [
        asyncio.create_task(follow_hls(base, f"{folder}/{uri}", stop, rung))
        for uri, rung in hls.items()
    ]
    await asyncio.gather(*running)
    return heard, master, hls, events


def title_timings(folder: Path, tools: Tools, seconds: float) -> OnAir:
    """`diaspor playout` on the built-in relay (with the API beside it) and a second station
    on icecast2 (from deploy/icecast.xml), two songs of their own tones alternating with 3 s
    crossfades, heard for `seconds` by an MP3, an AAC and a low-bitrate AAC listener on each
    server, and by a player following each rung of the relay station's HLS audio and
    now-playing events."""
    icecast_port = free_port()
    for side in ("relay", "icecast"):
        (folder / side).mkdir()
    relay_side = music_station(
        folder / "relay", tools, seconds=SONG_S, crossfade_ms=CROSSFADE_MS, relay_port=free_port()
    )
    icecast_side = icecast_station(
        folder / "icecast", tools, icecast_port, seconds=SONG_S, crossfade_ms=CROSSFADE_MS
    )
    with ExitStack() as stack:
        stack.enter_context(icecast2_running(folder / "icecast.log", port=icecast_port))
        api_port = free_port()
        stack.enter_context(on_air(relay_side, api_port))
        stack.enter_context(on_air(icecast_side))
        base = f"http://127.0.0.1:{api_port}"
        wait_for_health(base)
        wait_for_mount(icecast_port, MOUNTS[0], 20)
        for mount in MOUNTS[1:]:
            wait_for_mount(icecast_port, mount, 5)
        relay_port = relay_side.settings.relay_port
        heard, master, hls, events = run(hear(relay_port, icecast_port, base, seconds))
    report = {}
    servers = ["relay"] * len(MOUNTS) + ["icecast2"] * len(MOUNTS)
    for where, h in zip(servers, heard, strict=True):
        report[f"{where} {h.mount} (ICY)"] = icy_timings(tools.ffmpeg, h, ICY_TONES)
    for uri, rung in hls.items():
        changes, (start, end) = hls_changes(tools.ffmpeg, rung, TONES)
        # The playlist reaches back a minute; the events begin when the player connected.
        span = (max(start, events[0][0]) if events else end, end)
        report[f"relay now-playing events vs HLS dates ({uri})"] = match(changes, events, span)
    return OnAir(report, master, hls)
