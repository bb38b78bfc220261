"""Radio benchmark: the station chain on air beside Liquidsoap, render speed, relay capacity,
title timing at the listener; every part judged PASS/FAIL against DESIGN.md's number.

    .venv/bin/python bench/radio.py [--minutes 3] [--listeners 1000,4000,10000]
                                    [--relay-seconds 30] [--skip-relay] [--skip-liquidsoap]
                                    [--only-render] [--only-relay] [--timing-minutes 10]
                                    [--only-timing] [--keep]

The default run takes about 40 minutes (estimated from shorter runs on a shared 2-core
machine): part 1 three times --minutes and a minute, part 2 about 9, part 3 about 9 (icecast2
takes over two minutes to let 10,000 listeners in), part 4 --timing-minutes and a minute.

Every side does the same job: the same ten files, the same crossfades and gains, the same
outputs (MP3 128k at LAME quality 2, the quality Liquidsoap's %mp3 uses, and AAC 128k with
ffmpeg's fast coder; the encoder settings of streamer/outputs.py, which both engines and the
floor use, printed in the table). The files are music-like, not sines: ten MP3s made with
ffmpeg from tests/support.py's MATERIAL (drums, noise bursts, wide dynamics, a hot master,
sparse hits), loud and quiet on purpose, half at 44.1 kHz and half at 48 kHz, so every side
resamples to its 48 kHz line; analysed once (EBU R128, true peak), as ingest does.

Part 1, on air in real time for --minutes, one side after another on one relay. Our engine
(`RadioEngine.run` on the system clock, 3 s crossfades, loudness gain, limiter, ICY titles
through the admin API) feeds one `Encoder` with MP3 + AAC mounts. The chain runs in a child
process of this script; its CPU is the `getrusage` delta of that process (RUSAGE_SELF: the
Python engine) plus its reaped children (RUSAGE_CHILDREN: decoders and the encoder), from
just before the engine starts to after everything has exited, so interpreter start-up and
imports are shown apart. Then Liquidsoap runs the project's own script
(`streamer.liquidsoap_script.render_script`: request.queue, per-request amplify, 3 s
crossfade) with the same files pushed as annotated requests, to the same two mounts at 48 kHz;
its CPU is its rusage once reaped, minus what it used until its server answered. Then the
floor: one ffmpeg encoding the mixer's own line (rendered to a WAV beforehand, read with -re)
to the same two mounts with the encoder's own arguments, alone. PASS: the chain's CPU per
minute of audio ≤ 0.8× Liquidsoap's and ≤ 1.1× the floor's, its peak PSS (Python and its
ffmpegs, summed) ≤ 0.5× Liquidsoap's. The relay is a separate process, so no figure includes
the fan-out; a listener in this process follows every mount to check that ~128 kbit/s really
arrived. (Our chain writes HLS as well in production; no side does here.)

Part 2, render mode: `RadioEngine.render` of an hour of the same playlist into a null sink
(the mixer alone) and into the `Encoder` with MP3 + AAC file outputs; Liquidsoap renders the
same hour with the same encoders and a clock that does not sync to real time
(`clock.assign_new(sync="none")`), start-up taken off by subtracting a one-track run; ffmpeg
encodes the same line (looped to an hour) to both formats as the floor. One after another.
PASS: both encoders ≥ 1.5× Liquidsoap's speed; the mixer alone ≥ 400× real time.

Part 3, relay capacity, at each --listeners count: one 128 kbit/s MP3 source (ffmpeg -re)
into our relay, N listeners (asyncio clients in another process, connecting 64 at a time,
every second one asking for ICY metadata, each woken per 4 KiB received) held for
--relay-seconds; then the same against icecast2 started as `nobody`
from a copy of deploy/icecast.xml. This script raises its file-descriptor limit first, so the
relay, icecast2 and the listeners all run with the same one (shown). A listener is "behind"
when it received under 90 % of 128 kbit/s over the window; "dropped" when its connection
ended before the window did. Server CPU is read from /proc over the window. PASS: all N held,
none behind, at no more CPU than icecast2's beside it. A count the file-descriptor limit does
not allow is a FAIL that says so; when icecast2 does not keep them all either, the table says
this machine may not reach that count (the listeners share its cores).

Part 4, title timing at the listener (--timing-minutes, 10 by default): the check of
tests/test_title_timing.py, for longer. `diaspor playout` on the built-in relay with the API
beside it, and a second station on icecast2 (deploy/icecast.xml), each alternating two songs
of their own tones with 3 s crossfades; an MP3 and an AAC listener on each server find every
change of song in the decoded audio and the title change in the ICY stream (placed by audio
bytes); a player follows the relay station's HLS audio and now-playing events, the change
dated by the segments' program-date-time, the event by its arrival. The distribution of title
minus music, in seconds (negative: the title came first), is printed for each listener;
PASS when every change has its title within ±1 s.

Only 127.0.0.1 is used. Every process this script starts is stopped and reaped, and the
temporary folder removed (unless --keep). This is a bench: it exits 0 whatever the figures
are (1 only if a part could not run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import common
from common import (
    Child,
    Listener,
    MemoryPeak,
    Reaped,
    Report,
    bench_console,
    clean_up,
    find_ffmpeg,
    free_port,
    icecast_credentials,
    mib,
    mount_listeners,
    proc_cpu_s,
    proc_nofile,
    proc_status_kib,
    raise_nofile,
    ratio,
    role_args,
    rusage_cpu,
    script_main,
    start_icecast2,
    stop_on_signals,
    tail_of,
    verdict,
    write_result,
)

from media.analysis import analyse
from media.binaries import find_tools
from media.loudness import gain_db
from playout.radio import Playable, RadioEngine, WavSink
from schedules.plan import (
    Catalogue,
    ChannelSpec,
    EntrySpec,
    MediaRef,
    PlaylistSpec,
    TimelineItem,
    to_ms,
)
from schedules.timeline import resolve
from streamer.encoder import Encoder, FileOutput, Output, encoder_args
from streamer.liquidsoap_script import amplify_db, annotate, encoder_format, liq_string
from streamer.outputs import IcecastOutput

REPO = Path(__file__).resolve().parents[1]
BAKU = ZoneInfo("Asia/Baku")
RENDER_START = datetime(2026, 12, 1, 19, 0, tzinfo=BAKU)
RATE = 48_000
CROSSFADE_MS = 3000
CHANNEL = ChannelSpec(1, "diaspor-fm", "radio", crossfade_ms=CROSSFADE_MS)
SOURCE_PASSWORD = "diaspor-bench-source"
ADMIN_PASSWORD = "diaspor-bench-admin"

# The design's numbers (DESIGN.md, "Numbers this design is built to reach"): each is a verdict
# against a reference measured in this run, on the same job.
CHAIN_CPU_VS_LIQUIDSOAP = 0.8  # the station chain's CPU, at most this × Liquidsoap's
CHAIN_CPU_VS_FLOOR = 1.1  # ... and this × one ffmpeg encoding the same line alone
CHAIN_MEMORY_VS_LIQUIDSOAP = 0.5  # its memory, at most this × Liquidsoap's
RENDER_VS_LIQUIDSOAP = 1.5  # render mode with both encoders, at least this × Liquidsoap's speed
TARGET_MIXER_X = 400  # the mixer alone, × real time
RELAY_COUNTS = (1000, 4000, 10000)  # listeners, each none behind at ≤ icecast2's CPU beside it
STREAM_KBPS = 128
BEHIND = 0.9  # a listener is behind below this share of STREAM_KBPS over the window
# Design figures shown beside ours, never judged against: Liquidsoap's memory here, and
# icecast2's CPU per 1,000 listeners.
REF_LS_RSS_MB = 240
REF_ICECAST_PCT_PER_1000 = 7.0

# (title, artist, seconds, tests/support.py MATERIAL index, gain dB, sample rate): music-like,
# loud and quiet on purpose, half at 44.1 kHz (so every side resamples to 48 kHz).
TRACKS = [
    ("Sarı gəlin", "Rəşid Behbudov", 34, 0, 0, 44100),
    ("Ayrılıq", "Zeynəb Xanlarova", 41, 1, -24, 48000),
    ("Qarabağ şikəstəsi", "Xan Şuşinski", 52, 2, -8, 44100),
    ("Azərbaycan", "Müslüm Maqomayev", 30, 3, 0, 48000),
    ("Bakı gecələri", "Flora Kərimova", 58, 4, -12, 44100),
    ("Çahargah", "Alim Qasımov", 45, 0, -6, 48000),
    ("Ölkəm", "Şövkət Ələkbərova", 37, 1, -2, 44100),
    ("Laçın", "Yaqub Məmmədov", 60, 2, -20, 48000),
    ("Gözəl yar", "Nərmin Kərimbəyova", 48, 3, -10, 44100),
    ("Vətən uzaqda deyil", "Aygün Kazımova", 55, 4, -4, 48000),
]

console = bench_console(150)


# --- small helpers (any process) ------------------------------------------------------------


def lame_quality(args: list[str]) -> str:
    """The LAME quality an ffmpeg command line asks of its MP3 output (the first)."""
    if "libmp3lame" not in args:
        return "no MP3"
    rest = args[args.index("libmp3lame") :]
    mine = rest[: rest.index("-map")] if "-map" in rest else rest
    if "-compression_level" not in mine:
        return "5 (ffmpeg's default)"
    return mine[mine.index("-compression_level") + 1]


def liquidsoap_lame_quality(script: str) -> str:
    """The LAME quality of a Liquidsoap script's %mp3 encoders (2 when it names none)."""
    found = set(re.findall(r"%mp3\([^)]*internal_quality=(\d)", script))
    if not found:
        return "2 (Liquidsoap's default)" if "%mp3" in script else "no MP3"
    return ", ".join(sorted(found))


def file_outputs(mp3: Path, aac: Path) -> list[Output]:
    """Render mode's outputs, ours and the floor's: the mounts' codecs, to files."""
    return [FileOutput(mp3, "libmp3lame", STREAM_KBPS), FileOutput(aac, "aac", STREAM_KBPS)]


# --- the station: tracks, timeline, engine (shared by the roles) ----------------------------


def catalogue(tracks: list[dict[str, Any]]) -> tuple[Catalogue, dict[int, Playable]]:
    media = {
        t["id"]: MediaRef(
            t["id"],
            "music",
            t["title"],
            t["artist"],
            t["duration_ms"],
            t["cue_in_ms"],
            t["cue_out_ms"],
        )
        for t in tracks
    }
    playable = {t["id"]: Playable(t["path"], t["lufs"], t["peak"]) for t in tracks}
    cat = Catalogue(media=media, playlists={1: PlaylistSpec(1, "Musiqi", tuple(sorted(media)))})
    return cat, playable


def playlist_entry(start: datetime, seconds: float) -> EntrySpec:
    local = start.astimezone(BAKU).replace(tzinfo=None)
    return EntrySpec(1, "playlist", 1, local, duration_ms=round(seconds * 1000), hard=True)


def timeline_of(cat: Catalogue, entry: EntrySpec) -> Callable[[int, int], list[TimelineItem]]:
    def timeline(a: int, b: int) -> list[TimelineItem]:
        return resolve(
            CHANNEL,
            [entry],
            cat,
            datetime.fromtimestamp(a / 1000, UTC),
            datetime.fromtimestamp(b / 1000, UTC),
        )

    return timeline


def build_engine(
    tracks: list[dict[str, Any]], ffmpeg: str, start: datetime, seconds: float
) -> RadioEngine:
    cat, playable = catalogue(tracks)
    return RadioEngine(
        ffmpeg=ffmpeg,
        timeline=timeline_of(cat, playlist_entry(start, seconds)),
        playable=playable.get,
        origin_ms=to_ms(start),
    )


def play_order(tracks: list[dict[str, Any]], start: datetime, seconds: float) -> list[int]:
    """The media ids our timeline plays over `seconds`, in order: what Liquidsoap is given."""
    cat, _ = catalogue(tracks)
    end = start + timedelta(seconds=seconds)
    items = resolve(CHANNEL, [playlist_entry(start, seconds)], cat, start, end)
    return [i.media_id for i in items if i.media_id is not None]


def track_gain_db(t: dict[str, Any]) -> float:
    return gain_db(t["lufs"], t["peak"])


class NullSink:
    """Takes the PCM and forgets it: the mixer alone."""

    def __init__(self) -> None:
        self.bytes = 0

    async def write(self, data: bytes) -> None:
        self.bytes += len(data)

    async def close(self) -> None:
        return None


# --- child roles: each runs in its own process, started by this script -----------------------


async def role_relay(cfg: dict[str, Any]) -> None:
    """Our relay alone in a process, until SIGTERM; prints its port as a JSON line."""
    from streamer.relay import Relay

    raise_nofile()
    relay = Relay(
        "127.0.0.1",
        0,
        source_password=cfg["source_password"],
        admin_user=cfg.get("admin_user", "admin"),
        admin_password=cfg["admin_password"],
        source_grace=1.0,
        # Every bench listener comes from 127.0.0.1: the per-address cap is for the internet.
        max_listeners=1_000_000,
        max_listeners_per_address=1_000_000,
    )
    stop = asyncio.Event()
    stop_on_signals(stop)
    await relay.start()
    try:
        print(json.dumps({"port": relay.port}), flush=True)
        await asyncio.wait_for(stop.wait(), timeout=cfg.get("max_seconds", 7200))
    except TimeoutError:
        pass
    finally:
        await relay.stop()


async def role_chain(cfg: dict[str, Any]) -> None:
    """Our station chain on air: engine -> encoder -> MP3 + AAC on the relay."""
    import httpx

    from playout.onair import title_hook
    from station.clock import SystemClock
    from streamer.icecast_admin import update_title

    seconds = float(cfg["seconds"])
    port = int(cfg["relay_port"])
    ffmpeg = cfg["ffmpeg"]
    mounts = ["/ours.mp3", "/ours.aac"]
    outputs: list[Output] = [
        IcecastOutput(mounts[0], SOURCE_PASSWORD, port=port, codec="mp3", name="Diaspor.FM"),
        IcecastOutput(mounts[1], SOURCE_PASSWORD, port=port, codec="aac", name="Diaspor.FM"),
    ]
    start = datetime.now(UTC).replace(microsecond=0)
    engine = build_engine(cfg["tracks"], ffmpeg, start, seconds + 120)
    encoder = Encoder(ffmpeg, outputs)
    client = httpx.AsyncClient(timeout=5)
    base = f"http://127.0.0.1:{port}"

    async def set_title(mount: str, title: str) -> None:
        await update_title(base, mount, title, "source", SOURCE_PASSWORD, client=client)

    engine.stream_hooks.append(title_hook(mounts, set_title))
    stop = asyncio.Event()
    stop_on_signals(stop)

    self0 = resource.getrusage(resource.RUSAGE_SELF)
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    air = asyncio.create_task(engine.run(SystemClock(), encoder, stop))
    enc_cpu = enc_hwm = None
    try:
        done, _ = await asyncio.wait({air}, timeout=seconds)
        if done:
            air.result()  # the engine stopped by itself: say why
    finally:
        stop.set()
        await asyncio.gather(air, return_exceptions=True)
        on_air_s = time.monotonic() - t0
        if encoder.proc is not None:
            enc_cpu = proc_cpu_s(encoder.proc.pid)
            enc_hwm = proc_status_kib(encoder.proc.pid, "VmHWM")
        await encoder.close()
        await client.aclose()
    self1 = resource.getrusage(resource.RUSAGE_SELF)
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    write_result(
        cfg,
        {
            "audio_s": engine.position / RATE,
            "on_air_s": on_air_s,
            "cpu_self": rusage_cpu(self1) - rusage_cpu(self0),
            "cpu_children": rusage_cpu(kids1) - rusage_cpu(kids0),
            "cpu_encoder": enc_cpu,
            "rss_self_kib": self1.ru_maxrss,
            "rss_encoder_kib": enc_hwm,
            "rss_children_max_kib": kids1.ru_maxrss,
            "items": len(engine.boundaries),
            "outcomes": dict(Counter(b.outcome for b in engine.boundaries)),
            "dropped_bytes": encoder.dropped_bytes,
            "restarts": encoder.restarts,
            "lame_quality": lame_quality(encoder.args),
        },
    )


async def role_render(cfg: dict[str, Any]) -> None:
    """Render mode: the engine from RENDER_START for `seconds`, into one sink."""
    seconds = float(cfg["seconds"])
    ffmpeg = cfg["ffmpeg"]
    engine = build_engine(cfg["tracks"], ffmpeg, RENDER_START, seconds)
    kind = cfg["sink"]
    sink: NullSink | WavSink | Encoder
    if kind == "null":
        sink = NullSink()
    elif kind == "wav":
        sink = WavSink(Path(cfg["wav"]))
    else:
        sink = Encoder(ffmpeg, file_outputs(Path(cfg["mp3"]), Path(cfg["aac"])), restart=False)
    self0 = resource.getrusage(resource.RUSAGE_SELF)
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    try:
        await engine.render(to_ms(RENDER_START) + round(seconds * 1000), sink)
    finally:
        await sink.close()
    wall = time.perf_counter() - t0
    self1 = resource.getrusage(resource.RUSAGE_SELF)
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    write_result(
        cfg,
        {
            "wall_s": wall,
            "audio_s": engine.position / RATE,
            "cpu_self": rusage_cpu(self1) - rusage_cpu(self0),
            "cpu_children": rusage_cpu(kids1) - rusage_cpu(kids0),
            "rss_self_kib": self1.ru_maxrss,
            "items": len(engine.boundaries),
            "outcomes": dict(Counter(b.outcome for b in engine.boundaries)),
        },
    )


async def role_liquidsoap(cfg: dict[str, Any]) -> None:
    """Liquidsoap on air with the project's script; its CPU is read once it is reaped.

    This process starts nothing else, so RUSAGE_CHILDREN after the stop is Liquidsoap's own.
    """
    from streamer.liquidsoap_process import LiquidsoapProcess
    from streamer.liquidsoap_script import LiquidsoapConfig, render_script
    from streamer.outputs import IcecastOutput as Mount

    seconds = float(cfg["seconds"])
    port = int(cfg["relay_port"])
    tracks = {t["id"]: t for t in cfg["tracks"]}
    outputs = (
        Mount("/ls.mp3", SOURCE_PASSWORD, port=port, codec="mp3", name="Diaspor.FM"),
        Mount("/ls.aac", SOURCE_PASSWORD, port=port, codec="aac", name="Diaspor.FM"),
    )
    lcfg = LiquidsoapConfig(
        outputs=outputs,
        port=free_port(),
        crossfade_seconds=3.0,
        samplerate=RATE,
        allow_root=os.geteuid() == 0,
    )
    lq = LiquidsoapProcess(
        lcfg, binary=cfg["liquidsoap"], script_path=Path(cfg["dir"]) / "radio.liq"
    )
    stop = asyncio.Event()
    stop_on_signals(stop)
    await lq.start()
    pid = lq.pid
    assert pid is not None
    cpu_ready = proc_cpu_s(pid) or 0.0
    t_ready = time.monotonic()
    tracks_started = 0
    try:
        for mid in cfg["order"]:
            t = tracks[mid]
            uri = annotate(
                t["path"],
                title=t["title"],
                artist=t["artist"],
                liq_amplify=amplify_db(track_gain_db(t)),
            )
            await lq.client.push("schedule", uri)
        deadline = t_ready + seconds
        while not stop.is_set() and lq.returncode is None and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), min(2.0, max(0.0, deadline - time.monotonic())))
            while not lq.tracks.empty():
                lq.tracks.get_nowait()
                tracks_started += 1
        on_air_s = time.monotonic() - t_ready
        died = lq.returncode
    finally:
        returncode = await lq.stop()
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    write_result(
        cfg,
        {
            "cpu_total": rusage_cpu(kids),
            "cpu_ready": cpu_ready,
            "on_air_s": on_air_s,
            "rss_kib": kids.ru_maxrss,
            "tracks": tracks_started,
            "pushed": len(cfg["order"]),
            "died": died,
            "returncode": returncode,
            "tail": lq.recent_output()[-5:],
            "lame_quality": liquidsoap_lame_quality(render_script(lcfg)),
        },
    )


async def role_listeners(cfg: dict[str, Any]) -> None:
    """N listeners on one mount. Prints {"ready"} once connected, then waits for "mark" and
    "end" lines on stdin, counting each listener's bytes between the two: one that received
    under BEHIND × STREAM_KBPS over that window is behind."""
    raise_nofile(int(cfg["n"]) + 100)
    loop = asyncio.get_running_loop()
    n, port, mount = int(cfg["n"]), int(cfg["port"]), cfg["mount"]
    budget = float(cfg.get("connect_budget", 120))
    clients: list[Listener] = []
    # icecast2 answers a new listener ~170 ms after it connects, so listeners connect many at
    # a time; not too many, as it listens with a backlog of 5 and what overflows it waits for
    # TCP to try again (measured here: 64 at a time, ~70-100 a second; 256, under 10).
    in_flight = asyncio.Semaphore(64)

    async def connect(i: int) -> None:
        icy = "Icy-MetaData: 1\r\n" if i % 2 else ""
        request = f"GET {mount} HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: bench/{i}\r\n{icy}\r\n"
        client = Listener(request.encode(), loop.create_future())
        clients.append(client)
        try:
            async with in_flight, asyncio.timeout(15):
                if loop.time() - t0 > budget:
                    raise TimeoutError
                await loop.create_connection(lambda: client, "127.0.0.1", port)
                await client.head
        except (OSError, TimeoutError):
            client.ok = False
            if client.transport is not None:
                client.transport.abort()

    t0 = loop.time()
    await asyncio.gather(*(connect(i) for i in range(n)))
    connect_s = loop.time() - t0
    ok = [c for c in clients if c.ok and not c.closed]
    print(json.dumps({"ready": len(ok), "connect_s": connect_s}), flush=True)

    async def line() -> str:
        try:
            text: str = await asyncio.wait_for(loop.run_in_executor(None, sys.stdin.readline), 600)
        except TimeoutError:
            return ""
        return text.strip()

    await line()  # "mark"
    at_mark = [c for c in clients if c.ok and not c.closed]
    before = [c.bytes for c in at_mark]
    ru0, m0 = resource.getrusage(resource.RUSAGE_SELF), loop.time()
    await line()  # "end"
    window = loop.time() - m0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    got = [c.bytes - b for c, b in zip(at_mark, before, strict=True)]
    open_got = [g for c, g in zip(at_mark, got, strict=True) if not c.closed]
    median = statistics.median(open_got) if open_got else 0.0
    enough = BEHIND * STREAM_KBPS * 1000 / 8 * window
    behind = sum(1 for g in open_got if g < enough)
    result = {
        "asked": n,
        "connected": len(ok),
        "failed": n - len(ok),
        "connect_s": connect_s,
        "at_mark": len(at_mark),
        "held": len(open_got),
        "dropped": len(at_mark) - len(open_got),
        "behind": behind,
        "window_s": window,
        "min_kbps": (min(open_got) * 8 / 1000 / window) if open_got else 0.0,
        "median_kbps": median * 8 / 1000 / window if window else 0.0,
        "cpu_s": rusage_cpu(ru1) - rusage_cpu(ru0),
        "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
    }
    print(json.dumps(result), flush=True)
    for c in clients:
        if c.transport is not None:
            c.transport.abort()
    await asyncio.sleep(0.1)


ROLES = {
    "_relay": role_relay,
    "_chain": role_chain,
    "_render": role_render,
    "_liquidsoap": role_liquidsoap,
    "_listeners": role_listeners,
}


# --- the parent: starting, timing and reaping children ---------------------------------------


def run_role(
    role: str, cfg: dict[str, Any], root: Path, timeout: float, memory: MemoryPeak | None = None
) -> tuple[Reaped, dict[str, Any]]:
    """Run a role of this script to completion; its rusage (wait4) and the result it wrote."""
    return common.run_role(__file__, role, cfg, root, timeout, memory=memory)


def start_relay(root: Path, **creds: str) -> tuple[Child, int]:
    cfg = {"source_password": SOURCE_PASSWORD, "admin_password": ADMIN_PASSWORD, **creds}
    child = Child(role_args(__file__, "_relay", cfg, root), log=root / "relay.log", pipes=True)
    line = child.read_line(20)
    if not line:
        child.stop()
        raise RuntimeError(f"the relay did not start:\n{tail_of(root / 'relay.log')}")
    return child, int(json.loads(line)["port"])


class Tap(threading.Thread):
    """A plain listener on one mount in this process: how many kbit/s really arrived."""

    def __init__(self, port: int, mount: str, deadline: float) -> None:
        super().__init__(name=f"tap{mount}", daemon=True)
        self.port, self.mount, self.deadline = port, mount, deadline
        self.halt = threading.Event()
        self.bytes = 0
        self.t_from = 0.0
        self.t_last = 0.0
        self.connects = 0

    def run(self) -> None:
        while not self.halt.is_set() and time.monotonic() < self.deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    self._listen(s)
            except OSError:
                pass
            self.halt.wait(0.2)

    def _listen(self, s: socket.socket) -> None:
        s.sendall(f"GET {self.mount} HTTP/1.0\r\nUser-Agent: bench-tap\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 16384:
            chunk = s.recv(4096)
            if not chunk:
                return
            head += chunk
        if b" 200" not in head.split(b"\r\n", 1)[0]:
            return
        self.connects += 1
        since = time.monotonic()
        s.settimeout(0.5)
        while not self.halt.is_set() and time.monotonic() < self.deadline:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                return
            now = time.monotonic()
            if now - since < 3.0:  # the burst a server sends on connect is not the rate
                continue
            if not self.t_from:
                self.t_from = now
            else:
                self.bytes += len(chunk)
            self.t_last = now

    @property
    def kbps(self) -> float | None:
        span = self.t_last - self.t_from
        return self.bytes * 8 / 1000 / span if self.t_from and span > 1 else None

    def finish(self) -> float | None:
        self.halt.set()
        self.join(5)
        return self.kbps


@contextlib.contextmanager
def tapped(port: int, mounts: list[str], seconds: float) -> Any:
    taps = [Tap(port, m, time.monotonic() + seconds) for m in mounts]
    for t in taps:
        t.start()
    try:
        yield taps
    finally:
        for t in taps:
            t.finish()


# --- report ----------------------------------------------------------------------------------


def per_min(cpu: float | None, audio_s: float) -> float | None:
    return None if cpu is None or audio_s <= 0 else cpu / (audio_s / 60)


def cpm(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f} CPU-s/min"


def kbps(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1f} kbit/s"


# --- setup: the tracks -----------------------------------------------------------------------


def make_tracks(folder: Path, ffmpeg: str) -> list[dict[str, Any]]:
    """The ten TRACKS as 128 kbit/s MP3 files at their own sample rates, tagged."""
    from tests.support import make_media, music_like_input

    tools = find_tools(ffmpeg)
    paths = [
        make_media(
            ffmpeg,
            folder / f"{i:02d}.mp3",
            *music_like_input(material, secs, rate=rate, gain_db=gain),
            *("-c:a", "libmp3lame", "-b:a", "128k"),
            *("-metadata", f"title={title}", "-metadata", f"artist={artist}"),
        )
        for i, (title, artist, secs, material, gain, rate) in enumerate(TRACKS, 1)
    ]

    async def measure() -> list[dict[str, Any]]:
        out = []
        for i, ((title, artist, *_), path) in enumerate(zip(TRACKS, paths, strict=True), 1):
            a = await analyse(tools, path, has_audio=True, probed_ms=None)
            out.append(
                {
                    "id": i,
                    "title": title,
                    "artist": artist,
                    "path": str(path),
                    "duration_ms": a.duration_ms,
                    "cue_in_ms": a.cue_in_ms,
                    "cue_out_ms": a.cue_out_ms,
                    "lufs": a.loudness_lufs,
                    "peak": a.true_peak_dbtp,
                    "rate": TRACKS[i - 1][5],
                }
            )
        return out

    return asyncio.run(measure())


def probe_duration(ffmpeg: str, path: Path) -> float | None:
    """Seconds of audio in a file, by decoding it (exact for ADTS, which has no index)."""
    res = subprocess.run(
        [
            ffmpeg,
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-i",
            str(path),
            "-f",
            "null",
            "-",
            "-progress",
            "pipe:1",
        ],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    found = re.findall(r"out_time_us=(\d+)", res.stdout)
    return int(found[-1]) / 1e6 if found else None


def kbit_per_s(path: Path, seconds: float | None) -> float | None:
    if not seconds or not path.exists():
        return None
    return path.stat().st_size * 8 / 1000 / seconds


def floor_args(ffmpeg: str, outputs: list[Output], inputs: list[str]) -> list[str]:
    """The station encoder's own command (encoder_args), reading `inputs` instead of stdin."""
    args = encoder_args(ffmpeg, outputs, start_ms=time.time_ns() // 1_000_000)
    first = args.index("-f")
    last = args.index("pipe:0")
    return [*args[:first], *inputs, *args[last + 1 :]]


# --- part 1: on air ----------------------------------------------------------------------------


@dataclass
class OnAir:
    ours: dict[str, Any] | None = None
    ours_reaped: Reaped | None = None
    ours_kbps: list[float | None] = field(default_factory=list)
    ours_memory: MemoryPeak = field(default_factory=lambda: MemoryPeak(with_root=True))
    ls: dict[str, Any] | None = None
    ls_memory: MemoryPeak = field(default_factory=lambda: MemoryPeak(with_root=False))
    ls_kbps: list[float | None] = field(default_factory=list)
    floor: Reaped | None = None
    floor_kbps: list[float | None] = field(default_factory=list)
    floor_lame: str = ""
    errors: list[tuple[str, BaseException]] = field(default_factory=list)


def bench_on_air(
    root: Path, tracks: list[dict[str, Any]], ffmpeg: str, minutes: float, liquidsoap: str | None
) -> OnAir:
    seconds = minutes * 60
    res = OnAir()
    console.print(f"rendering {minutes:g} min of the line to a WAV for the ffmpeg floor …")
    line = root / "line.wav"
    run_role(
        "_render",
        {"tracks": tracks, "ffmpeg": ffmpeg, "seconds": seconds, "sink": "wav", "wav": str(line)},
        root,
        timeout=600,
    )
    relay, port = start_relay(root)
    try:
        console.print(f"ours on air for {minutes:g} min (engine → encoder → relay :{port}) …")
        try:
            with tapped(port, ["/ours.mp3", "/ours.aac"], seconds + 60) as taps:
                cfg = {"tracks": tracks, "ffmpeg": ffmpeg, "seconds": seconds, "relay_port": port}
                res.ours_reaped, res.ours = run_role(
                    "_chain", cfg, root, timeout=seconds + 180, memory=res.ours_memory
                )
            res.ours_kbps = [t.kbps for t in taps]
        except Exception as exc:
            res.errors.append(("our chain on air", exc))

        if liquidsoap:
            console.print(f"Liquidsoap on air for {minutes:g} min (same files, same relay) …")
            try:
                order = play_order(tracks, RENDER_START, seconds + 120)
                with tapped(port, ["/ls.mp3", "/ls.aac"], seconds + 60) as taps:
                    cfg = {
                        "tracks": tracks,
                        "order": order,
                        "seconds": seconds,
                        "relay_port": port,
                        "liquidsoap": liquidsoap,
                        "dir": str(root),
                    }
                    _, res.ls = run_role(
                        "_liquidsoap", cfg, root, timeout=seconds + 180, memory=res.ls_memory
                    )
                res.ls_kbps = [t.kbps for t in taps]
            except Exception as exc:
                res.errors.append(("Liquidsoap on air", exc))

        console.print(f"ffmpeg floor for {minutes:g} min (the line to MP3 + AAC, alone) …")
        try:
            outs: list[Output] = [
                IcecastOutput("/floor.mp3", SOURCE_PASSWORD, port=port, codec="mp3"),
                IcecastOutput("/floor.aac", SOURCE_PASSWORD, port=port, codec="aac"),
            ]
            args = floor_args(ffmpeg, outs, ["-re", "-i", str(line)])
            res.floor_lame = lame_quality(args)
            with tapped(port, ["/floor.mp3", "/floor.aac"], seconds + 60) as taps:
                res.floor = Child(args, log=root / "floor.log").wait(seconds + 120)
            res.floor_kbps = [t.kbps for t in taps]
            if res.floor.returncode != 0:
                raise RuntimeError(
                    f"the floor exited {res.floor.returncode}: {tail_of(root / 'floor.log', 3)}"
                )
        except Exception as exc:
            res.errors.append(("ffmpeg floor", exc))
    finally:
        relay.stop()
    return res


def at_most(ours: float | None, ref: float | None, share: float) -> str:
    """The verdict on ours ≤ share × ref; none when either was not measured."""
    return "" if ours is None or ref is None else verdict(ours <= share * ref)


def report_on_air(rep: Report, res: OnAir, minutes: float, tracks: list[dict[str, Any]]) -> None:
    rep.section(
        f"1. On air, {minutes:g} min in real time: 10 music-like tracks, 3 s crossfades, "
        "MP3 128k + AAC 128k to a relay, on each side"
    )
    for what, exc in res.errors:
        rep.error(what, exc)
    ours, ls = res.ours, res.ls
    rates = Counter(t["rate"] for t in tracks)
    rep.add(
        "input: MP3 files (drums, noise bursts, wide dynamics, hot, sparse hits)",
        ", ".join(f"{n} at {r / 1000:g} kHz" for r, n in sorted(rates.items())),
        "the same files; every side resamples to 48 kHz",
    )
    sides = {
        "ours": ours["lame_quality"] if ours else None,
        "floor": res.floor_lame or None,
        "Liquidsoap": ls["lame_quality"] if ls else None,
    }
    heard = {k: v for k, v in sides.items() if v is not None}
    rep.add(
        "MP3 encoder: LAME quality (ffmpeg -compression_level, Liquidsoap internal_quality)",
        sides["ours"] or "n/a",
        ", ".join(f"{v} {k}" for k, v in heard.items() if k != "ours"),
        "",
        verdict(len(set(heard.values())) == 1) if len(heard) > 1 else "",
    )
    o_min = l_min = f_min = None
    if ours:
        o_min = per_min(ours["cpu_self"] + ours["cpu_children"], ours["audio_s"])
    if ls:
        l_min = per_min(ls["cpu_total"] - ls["cpu_ready"], ls["on_air_s"])
    if res.floor is not None and res.floor.returncode == 0:
        f_min = per_min(res.floor.cpu_s, minutes * 60)
    rep.add(
        f"station chain CPU per minute of audio (design: ≤ {CHAIN_CPU_VS_LIQUIDSOAP}× Liquidsoap)",
        cpm(o_min),
        f"{cpm(l_min)} Liquidsoap" if ls else "Liquidsoap not run",
        ratio(o_min, l_min),
        at_most(o_min, l_min, CHAIN_CPU_VS_LIQUIDSOAP),
    )
    rep.add(
        f"  vs one ffmpeg encoding the line to MP3 + AAC alone (design: ≤ {CHAIN_CPU_VS_FLOOR}×)",
        cpm(o_min),
        f"{cpm(f_min)} floor",
        ratio(o_min, f_min),
        at_most(o_min, f_min, CHAIN_CPU_VS_FLOOR),
    )
    rep.add(
        "  projected per hour of air",
        "n/a" if o_min is None else f"{o_min * 60:.0f} CPU-s/h",
        "" if l_min is None else f"{l_min * 60:.0f} CPU-s/h Liquidsoap",
        ratio(o_min, l_min),
    )
    if ours:
        audio_min = ours["audio_s"] / 60
        enc = ours["cpu_encoder"]
        dec = ours["cpu_children"] - enc if enc is not None else None
        rep.add(
            "  split: Python (engine, mixer, limiter, titles)", cpm(ours["cpu_self"] / audio_min)
        )
        rep.add(
            "  split: encoder ffmpeg (MP3 + AAC)",
            cpm(None if enc is None else enc / audio_min),
            f"{cpm(f_min)} floor" if f_min is not None else "",
            ratio(None if enc is None else enc / audio_min, f_min),
        )
        rep.add(
            "  split: decoders (one ffmpeg per item)", cpm(None if dec is None else dec / audio_min)
        )
        reaped = res.ours_reaped
        if reaped is not None:
            startup = reaped.cpu_s - ours["cpu_self"] - ours["cpu_children"]
            ls_start = f"{ls['cpu_ready']:.2f} CPU-s Liquidsoap" if ls else ""
            rep.add(
                "start-up CPU, not in the figures above (interpreter, imports / script check)",
                f"{startup:.2f} CPU-s",
                ls_start,
            )
    ls_pss = res.ls_memory.pss_kib if ls else None
    if ours:
        o_mem = res.ours_memory
        rep.add(
            f"peak PSS, whole chain: Python + its ffmpegs, summed, sampled every 2 s "
            f"(design: ≤ {CHAIN_MEMORY_VS_LIQUIDSOAP}× Liquidsoap)",
            mib(o_mem.pss_kib),
            f"{mib(ls_pss)} Liquidsoap" if ls else "Liquidsoap not run",
            ratio(o_mem.pss_kib, ls_pss),
            at_most(o_mem.pss_kib or None, ls_pss or None, CHAIN_MEMORY_VS_LIQUIDSOAP),
        )
        ls_rss = ls["rss_kib"] if ls else None
        ls_ref = f"{mib(ls_rss)} Liquidsoap" if ls_rss else f"≈{REF_LS_RSS_MB} MB (design)"
        rep.add(
            "peak RSS, whole chain (summed: shared libraries counted in each)",
            mib(o_mem.rss_kib),
            ls_ref,
            ratio(o_mem.rss_kib, ls_rss),
        )
        rep.add("  peak RSS, the Python process (ru_maxrss)", mib(ours["rss_self_kib"]))
        rep.add("  peak RSS, the encoder ffmpeg (VmHWM)", mib(ours["rss_encoder_kib"]))
    if ours or ls or res.floor_kbps:
        o_k = res.ours_kbps or [None, None]
        l_k = res.ls_kbps or [None, None]
        f_k = res.floor_kbps or [None, None]
        for i, mount in enumerate(("MP3", "AAC")):
            rep.add(
                f"heard on the relay: {mount} mount",
                kbps(o_k[i]),
                f"{kbps(l_k[i])} Liquidsoap, {kbps(f_k[i])} floor",
            )
    if ours:
        outcomes = ", ".join(f"{k} {v}" for k, v in ours["outcomes"].items())
        rep.add(
            "items started on air",
            f"{ours['items']} ({outcomes})",
            f"{ls['tracks']} tracks Liquidsoap" if ls else "",
        )
        rep.add(
            "audio laid on the line / wall time on air",
            f"{ours['audio_s']:.1f} s / {ours['on_air_s']:.1f} s",
            f"{ls['on_air_s']:.1f} s Liquidsoap" if ls else "",
        )
        rep.add("encoder restarts, PCM dropped", f"{ours['restarts']}, {ours['dropped_bytes']} B")
    if ls and (ls["died"] is not None):
        rep.add(
            "[red]Liquidsoap stopped by itself[/red]",
            f"exit {ls['died']}",
            " | ".join(ls["tail"])[:200],
        )


# --- part 2: render mode -----------------------------------------------------------------------


LIQ_RENDER = """\
{root}settings.frame.audio.samplerate.set({rate})
settings.log.stdout.set(true)
settings.log.level.set(3)
settings.log.file.set(false)
radio = playlist(id="hour", mode="normal", loop=false, reload_mode="never", {playlist})
radio = amplify(id="track_gain", override="liq_amplify", 1., radio)
radio = crossfade(id="crossfade", duration=3.000, fade_in=3.000, fade_out=3.000, radio)
clock.assign_new(sync="none", [radio])
output.file(id="mp3", {mp3_format}, fallible=true, on_stop=shutdown, {mp3}, radio)
output.file(id="aac", {aac_format}, fallible=true, {aac}, radio)
"""


def liquidsoap_render(
    root: Path, tracks: list[dict[str, Any]], order: list[int], name: str, binary: str
) -> tuple[Reaped, Path, Path]:
    by_id = {t["id"]: t for t in tracks}
    playlist = root / f"{name}.m3u"
    playlist.write_text(
        "".join(
            annotate(
                by_id[m]["path"],
                title=by_id[m]["title"],
                artist=by_id[m]["artist"],
                liq_amplify=amplify_db(track_gain_db(by_id[m])),
            )
            + "\n"
            for m in order
        ),
        encoding="utf-8",
    )
    mp3, aac = root / f"{name}.mp3", root / f"{name}.aac"
    script = root / f"{name}.liq"
    script.write_text(
        LIQ_RENDER.format(
            root="settings.init.allow_root.set(true)\n" if os.geteuid() == 0 else "",
            rate=RATE,
            playlist=liq_string(str(playlist)),
            mp3=liq_string(str(mp3)),
            aac=liq_string(str(aac)),
            mp3_format=encoder_format("mp3", STREAM_KBPS),
            aac_format=encoder_format("aac", STREAM_KBPS),
        ),
        encoding="utf-8",
    )
    child = Child([binary, str(script)], log=root / f"{name}.log")
    reaped = child.wait(1800)
    if reaped.timed_out or reaped.returncode != 0:
        raise RuntimeError(
            f"liquidsoap render exited {reaped.returncode}:\n{tail_of(root / f'{name}.log')}"
        )
    return reaped, mp3, aac


def bench_render(
    rep: Report, root: Path, tracks: list[dict[str, Any]], ffmpeg: str, liquidsoap: str | None
) -> None:
    hour = 3600.0
    rep.section("2. Render mode: one hour of the same playlist, as fast as it goes")
    line = root / "line.wav"
    if not line.exists():  # --only-render: part 1 did not write the floor's input
        console.print("rendering 3 min of the line to a WAV for the ffmpeg floor …")
        try:
            run_role(
                "_render",
                {
                    "tracks": tracks,
                    "ffmpeg": ffmpeg,
                    "seconds": 180.0,
                    "sink": "wav",
                    "wav": str(line),
                },
                root,
                timeout=600,
            )
        except Exception as exc:
            rep.error("render of the floor's WAV", exc)
    console.print("render: the mixer alone into a null sink, an hour …")
    try:
        reaped, r = run_role(
            "_render",
            {"tracks": tracks, "ffmpeg": ffmpeg, "seconds": hour, "sink": "null"},
            root,
            timeout=1800,
        )
        x = r["audio_s"] / r["wall_s"]
        rep.add(
            f"mixer alone (decoders + mixer, to a null sink): × real time (design: ≥ "
            f"{TARGET_MIXER_X}×)",
            f"{x:.0f}×",
            f"{TARGET_MIXER_X}×",
            ratio(x, TARGET_MIXER_X),
            verdict(x >= TARGET_MIXER_X),
        )
        rep.add(
            "  wall time; CPU (Python + decoders)",
            f"{r['wall_s']:.1f} s; {r['cpu_self']:.1f} + {r['cpu_children']:.1f} CPU-s",
        )
        rep.add(
            "  whole process, start-up included (wait4)",
            f"{r['audio_s'] / reaped.wall_s:.0f}×, {reaped.cpu_s:.1f} CPU-s",
        )
    except Exception as exc:
        rep.error("render into a null sink", exc)

    console.print("render: the mixer into the encoder, MP3 + AAC files, an hour …")
    ours: dict[str, Any] | None = None
    mp3, aac = root / "render-ours.mp3", root / "render-ours.aac"
    try:
        _, ours = run_role(
            "_render",
            {
                "tracks": tracks,
                "ffmpeg": ffmpeg,
                "seconds": hour,
                "sink": "encode",
                "mp3": str(mp3),
                "aac": str(aac),
            },
            root,
            timeout=3600,
        )
    except Exception as exc:
        rep.error("render into the encoder", exc)

    floor_x: float | None = None
    console.print("render: ffmpeg encoding the same line, looped to an hour, to MP3 + AAC …")
    try:
        fm, fa = root / "render-floor.mp3", root / "render-floor.aac"
        inputs = ["-stream_loop", "-1", "-t", f"{hour:.0f}", "-i", str(line)]
        args = floor_args(ffmpeg, file_outputs(fm, fa), inputs)
        fr = Child(args, log=root / "render-floor.log").wait(1800)
        if fr.returncode != 0:
            raise RuntimeError(
                f"ffmpeg exited {fr.returncode}: {tail_of(root / 'render-floor.log', 3)}"
            )
        floor_x = hour / fr.wall_s
    except Exception as exc:
        rep.error("ffmpeg render floor", exc)

    ls_x: float | None = None
    ls_cpu_h: float | None = None
    ls_note: tuple[float, Reaped, Reaped] | None = None
    if liquidsoap:
        console.print("render: Liquidsoap with an unsynchronised clock, an hour …")
        try:
            order = play_order(tracks, RENDER_START, hour)
            big, b_mp3, _ = liquidsoap_render(root, tracks, order, "ls-hour", liquidsoap)
            shortest = min(tracks, key=lambda t: t["duration_ms"])["id"]
            small, s_mp3, _ = liquidsoap_render(root, tracks, [shortest], "ls-one", liquidsoap)
            a_big, a_small = probe_duration(ffmpeg, b_mp3), probe_duration(ffmpeg, s_mp3)
            if not a_big or a_small is None:
                raise RuntimeError("Liquidsoap's render output could not be decoded")
            ls_x = (a_big - a_small) / (big.wall_s - small.wall_s)
            ls_cpu_h = (big.cpu_s - small.cpu_s) / (a_big - a_small) * hour
            ls_note = (a_big, big, small)
        except Exception as exc:
            rep.error("Liquidsoap render", exc)

    if ours is not None:
        ours_x = ours["audio_s"] / ours["wall_s"]
        rep.add(
            f"mixer + encoder, MP3 + AAC files: × real time (design: ≥ {RENDER_VS_LIQUIDSOAP}× "
            "Liquidsoap)",
            f"{ours_x:.1f}×",
            f"{ls_x:.1f}× Liquidsoap" if ls_x is not None else "Liquidsoap not run",
            ratio(ours_x, ls_x),
            "" if ls_x is None else verdict(ours_x >= RENDER_VS_LIQUIDSOAP * ls_x),
        )
        if floor_x is not None:
            rep.add(
                "  vs ffmpeg encoding both alone (floor)",
                f"{ours_x:.1f}×",
                f"{floor_x:.1f}× floor",
                ratio(ours_x, floor_x),
            )
        cpu_h = (ours["cpu_self"] + ours["cpu_children"]) / ours["audio_s"] * hour
        rep.add(
            "  CPU per hour rendered",
            f"{cpu_h:.0f} CPU-s",
            f"{ls_cpu_h:.0f} CPU-s Liquidsoap" if ls_cpu_h is not None else "",
            ratio(cpu_h, ls_cpu_h),
        )
        d_mp3, d_aac = probe_duration(ffmpeg, mp3), probe_duration(ffmpeg, aac)
        rep.add(
            "  files: MP3, AAC (decoded length; bit rate)",
            f"{d_mp3 or 0:.1f} s, {d_aac or 0:.1f} s; "
            f"{kbps(kbit_per_s(mp3, d_mp3))}, {kbps(kbit_per_s(aac, d_aac))}",
        )
        outcomes = ", ".join(f"{k} {v}" for k, v in ours["outcomes"].items())
        rep.add("  items started", f"{ours['items']} ({outcomes})")
    elif floor_x is not None:
        rep.add("ffmpeg encoding both alone: × real time", "", f"{floor_x:.1f}×")
    if ls_note is not None:
        a_big, big, small = ls_note
        rep.add(
            "  Liquidsoap: audio, wall (start-up taken off by a one-track run)",
            f"{a_big:.0f} s audio in {big.wall_s:.1f} s",
            f"one track: {small.wall_s:.1f} s",
        )


# --- part 3: relay capacity ------------------------------------------------------------------


def relay_capacity(kind: str, root: Path, ffmpeg: str, n: int, seconds: float) -> dict[str, Any]:
    creds = icecast_credentials()
    work = root / f"capacity-{kind}-{n}"
    work.mkdir()
    mount = "/bench.mp3"
    if kind == "relay":
        server, port = start_relay(work, **creds)
    else:
        server, port = start_icecast2(work, n + 100)
    source = listeners = None
    try:
        url = f"icecast://source:{creds['source_password']}@127.0.0.1:{port}{mount}"
        source = Child(
            [
                ffmpeg,
                "-hide_banner",
                "-nostdin",
                "-v",
                "error",
                "-re",
                "-f",
                "lavfi",
                "-i",
                "sine=f=440:sample_rate=44100",
                "-t",
                f"{seconds + 300:.0f}",
                "-ac",
                "2",
                "-c:a",
                "libmp3lame",
                "-b:a",
                "128k",
                "-content_type",
                "audio/mpeg",
                "-ice_name",
                "Diaspor.FM",
                "-f",
                "mp3",
                url,
            ],
            log=work / "source.log",
        )
        deadline = time.monotonic() + 15
        while mount_listeners(port, mount) is None:
            if source.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the source never appeared on {kind}: {tail_of(work / 'source.log', 3)}"
                )
            time.sleep(0.1)
        time.sleep(2.0)  # let the burst buffer fill
        cfg = {"n": n, "port": port, "mount": mount, "connect_budget": 60 + n / 20}
        listeners = Child(
            role_args(__file__, "_listeners", cfg, work), log=work / "listeners.log", pipes=True
        )
        ready_line = listeners.read_line(cfg["connect_budget"] + 60)
        if not ready_line:
            raise RuntimeError(f"the listeners never got ready:\n{tail_of(work / 'listeners.log')}")
        ready = json.loads(ready_line)
        time.sleep(2.0)
        cpu0, t0 = proc_cpu_s(server.pid), time.monotonic()
        listeners.send("mark\n")
        time.sleep(seconds)
        counted = mount_listeners(port, mount)  # before "end": then the listeners hang up
        listeners.send("end\n")
        cpu1, t1 = proc_cpu_s(server.pid), time.monotonic()
        busy = os.getloadavg()[0]
        rss = proc_status_kib(server.pid, "VmRSS")
        out_line = listeners.read_line(60)
        if not out_line:
            raise RuntimeError(f"the listeners gave no result:\n{tail_of(work / 'listeners.log')}")
        result: dict[str, Any] = json.loads(out_line)
        result.update(
            ready=ready["ready"],
            server_cpu_pct=(
                None if cpu0 is None or cpu1 is None else (cpu1 - cpu0) / (t1 - t0) * 100
            ),
            server_rss_kib=rss,
            load=busy,
            server_says=counted,
            server_nofile=proc_nofile(server.pid),
            source_alive=source.poll() is None,
        )
        listeners.wait(15)
        return result
    finally:
        for child in (listeners, source, server):
            if child is not None:
                child.stop()


def bench_relay(
    rep: Report, root: Path, ffmpeg: str, counts: list[int], seconds: float, nofile: int
) -> None:
    rep.section(
        f"3. Relay capacity: listeners of one 128 kbit/s MP3 mount for {seconds:g} s (every "
        f"second one asks for ICY metadata), each count on ours and then on icecast2; behind: "
        f"under {BEHIND:.0%} of {STREAM_KBPS} kbit/s over the window"
    )
    for n in counts:
        results: dict[str, dict[str, Any]] = {}
        errors: dict[str, BaseException] = {}
        if n + 100 > nofile:
            rep.add(
                f"[red]{n:,} listeners cannot be reached on this machine[/red]",
                f"file-descriptor limit {nofile:,} (needs {n + 100:,}; raise it as root)",
                "",
                "",
                verdict(False),
            )
            continue
        for kind in ("relay", "icecast2"):
            console.print(f"relay capacity: {n} listeners on {kind} for {seconds:g} s …")
            try:
                results[kind] = relay_capacity(kind, root, ffmpeg, n, seconds)
            except Exception as exc:
                errors[kind] = exc
        report_relay(rep, n, results, errors)


def report_relay(
    rep: Report, n: int, results: dict[str, dict[str, Any]], errors: dict[str, BaseException]
) -> None:
    ours, ice = results.get("relay"), results.get("icecast2")

    def cell(r: dict[str, Any] | None, key: str, fmt: str = "{}") -> str:
        return "n/a" if r is None or r.get(key) is None else fmt.format(r[key])

    def num(r: dict[str, Any] | None, key: str) -> float | None:
        return None if r is None or r.get(key) is None else float(r[key])

    def all_heard(r: dict[str, Any] | None) -> bool:
        return r is not None and r["held"] == n and r["behind"] == 0 and r["source_alive"]

    ours_pct, ice_pct = num(ours, "server_cpu_pct"), num(ice, "server_cpu_pct")
    cheap = ours_pct is not None and ice_pct is not None and ours_pct <= ice_pct
    rep.add(
        f"[bold]{n:,} listeners[/bold]: all held, none behind, CPU ≤ icecast2's beside it",
        f"{cell(ours, 'held')} held, {cell(ours, 'behind')} behind, "
        + cell(ours, "server_cpu_pct", "{:.1f} %"),
        f"{cell(ice, 'held')} held, {cell(ice, 'behind')} behind, "
        + cell(ice, "server_cpu_pct", "{:.1f} %")
        + " icecast2",
        ratio(ours_pct, ice_pct),
        verdict(all_heard(ours) and cheap),
    )
    if ice is not None and not all_heard(ice):
        rep.add(
            f"[yellow]icecast2 did not keep all {n:,} either: this machine (the listeners' "
            "client shares its cores) may not reach this count[/yellow]",
            "",
        )
    for kind, exc in errors.items():
        rep.error(f"relay capacity, {n} listeners on {kind}", exc)
    rep.add(
        "  server CPU, % of one core",
        cell(ours, "server_cpu_pct", "{:.1f} %"),
        cell(ice, "server_cpu_pct", "{:.1f} %")
        + f" icecast2 (design ≈{REF_ICECAST_PCT_PER_1000 * n / 1000:.0f} %)",
        ratio(ours_pct, ice_pct),
    )
    rep.add(
        "  connected, at the window's start / asked",
        f"{cell(ours, 'at_mark')}/{n}",
        f"{cell(ice, 'at_mark')}/{n} icecast2",
    )
    rep.add(
        "  dropped during the window, could not connect",
        f"{cell(ours, 'dropped')}, {cell(ours, 'failed')}",
        f"{cell(ice, 'dropped')}, {cell(ice, 'failed')} icecast2",
    )
    rep.add(
        "  listener rate: median, slowest",
        f"{cell(ours, 'median_kbps', '{:.1f}')}, {cell(ours, 'min_kbps', '{:.1f}')} kbit/s",
        f"{cell(ice, 'median_kbps', '{:.1f}')}, {cell(ice, 'min_kbps', '{:.1f}')} kbit/s icecast2",
    )
    rep.add(
        "  server RSS at the end",
        mib(num(ours, "server_rss_kib")),
        mib(num(ice, "server_rss_kib")) + " icecast2",
        ratio(num(ours, "server_rss_kib"), num(ice, "server_rss_kib")),
    )
    rep.add(
        "  listeners on the server's status page at the end",
        cell(ours, "server_says"),
        cell(ice, "server_says") + " icecast2",
    )
    rep.add(
        "  time to connect them all",
        cell(ours, "connect_s", "{:.1f} s"),
        cell(ice, "connect_s", "{:.1f} s") + " icecast2",
    )
    rep.add(
        "  the listeners' own process: CPU over the window; load average after",
        f"{cell(ours, 'cpu_s', '{:.1f} CPU-s')}; {cell(ours, 'load', '{:.1f}')}",
        f"{cell(ice, 'cpu_s', '{:.1f} CPU-s')}; {cell(ice, 'load', '{:.1f}')} icecast2",
    )
    rep.add(
        "  file-descriptor limit: server, listeners",
        f"{cell(ours, 'server_nofile')}, {cell(ours, 'nofile')}",
        f"{cell(ice, 'server_nofile')}, {cell(ice, 'nofile')} icecast2",
    )
    for kind, r in results.items():
        if not r.get("source_alive"):
            rep.add(f"[red]the source on {kind} stopped during the window[/red]", "")


# --- main ------------------------------------------------------------------------------------


def bench_title_timing(rep: Report, root: Path, minutes: float) -> None:
    """Part 4: the test's own check (tests/air_check.py: `diaspor playout` on the relay and
    on icecast2, MP3 and AAC listeners, the HLS player and now-playing events), for longer."""
    from tests.air_check import WITHIN_S, title_timings

    folder = root / "title-timing"
    folder.mkdir()
    console.print(f"title timing: {minutes:g} min on air, on the relay and on icecast2 …")
    rep.section(f"Part 4: title timing at the listener ({minutes:g} min on air)")
    report = title_timings(folder, find_tools(), minutes * 60).timings
    for name, timings in report.items():
        offsets = sorted(t.offset_s for t in timings if t.offset_s is not None)
        unnamed = sum(t.offset_s is None for t in timings)
        if not offsets:
            rep.add(name, "no change heard", f"±{WITHIN_S:g} s", "", verdict(False))
            continue
        q = statistics.quantiles(offsets, n=20) if len(offsets) > 1 else [offsets[0]] * 19
        good = unnamed == 0 and max(abs(offsets[0]), abs(offsets[-1])) <= WITHIN_S
        rep.add(
            name,
            f"{len(timings)} changes: min {offsets[0]:+.2f} s, 5% {q[0]:+.2f}, "
            f"median {statistics.median(offsets):+.2f}, 95% {q[-1]:+.2f}, "
            f"max {offsets[-1]:+.2f}" + (f"; {unnamed} without a title" if unnamed else ""),
            f"every one within ±{WITHIN_S:g} s",
            "",
            verdict(good),
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument(
        "--minutes",
        type=float,
        default=3.0,
        help="minutes on air in real time, for ours and for Liquidsoap (default 3)",
    )
    ap.add_argument(
        "--listeners",
        default=",".join(str(n) for n in RELAY_COUNTS),
        help="listener counts in the relay test, comma-separated "
        f"(default {','.join(str(n) for n in RELAY_COUNTS)})",
    )
    ap.add_argument(
        "--relay-seconds",
        type=float,
        default=30.0,
        help="how long the listeners are held (default 30)",
    )
    ap.add_argument("--skip-relay", action="store_true", help="no relay capacity test")
    ap.add_argument("--skip-liquidsoap", action="store_true", help="no Liquidsoap runs")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument(
        "--only-render", action="store_true", help="only part 2 (render mode): no on-air, no relay"
    )
    ap.add_argument(
        "--only-relay", action="store_true", help="only part 3 (relay capacity): no tracks made"
    )
    ap.add_argument(
        "--timing-minutes",
        type=float,
        default=10.0,
        help="minutes on air for part 4, title timing at the listener (default 10; 0 skips)",
    )
    ap.add_argument("--only-timing", action="store_true", help="only part 4 (title timing)")
    args = ap.parse_args()
    if not 0 < args.minutes <= 120:
        ap.error("--minutes must be in (0, 120]")
    try:
        counts = [int(n) for n in args.listeners.split(",")]
    except ValueError:
        ap.error("--listeners takes counts separated by commas")
    if not all(1 <= n <= 20000 for n in counts):
        ap.error("--listeners: each count in [1, 20000]")
    if not 1 <= args.relay_seconds <= 600:
        ap.error("--relay-seconds must be in [1, 600]")
    if args.only_relay and (args.only_render or args.skip_relay):
        ap.error("--only-relay excludes --only-render and --skip-relay")

    sys.path.insert(0, str(REPO))  # tests/: the tracks' material, part 4's check
    # Every server and client this script starts inherits this limit: the relay and icecast2
    # get the same one.
    nofile = raise_nofile(max(counts) + 100)
    ffmpeg = find_ffmpeg()
    liquidsoap = None if args.skip_liquidsoap else shutil.which("liquidsoap")
    root = Path(tempfile.mkdtemp(prefix="diaspor-radio-bench-"))
    version = subprocess.run([ffmpeg, "-version"], capture_output=True, text=True, check=False)
    lsv = ""
    if liquidsoap:
        v = subprocess.run([liquidsoap, "--version"], capture_output=True, text=True, check=False)
        lsv = "; " + (v.stdout.splitlines()[0] if v.stdout else "liquidsoap")
    console.print(
        f"{version.stdout.splitlines()[0] if version.stdout else ffmpeg}{lsv}; "
        f"Python {sys.version.split()[0]}; {os.cpu_count()} CPUs; work dir {root}"
    )
    rep = Report(
        "Diaspor radio bench",
        "ratio = ours ÷ reference (CPU, memory: below 1 is better; "
        "speed, listeners held: above 1 is better)",
        console,
    )
    try:
        timing = args.only_timing or (
            args.timing_minutes > 0 and not (args.only_render or args.only_relay)
        )
        if args.only_timing:
            args.only_relay = args.skip_relay = True
        chain = not args.only_relay  # parts 1 and 2, which share the tracks
        if chain:
            console.print("making and analysing 10 tracks …")
        tracks = make_tracks(root / "tracks", ffmpeg) if chain else []
        if chain and not args.skip_liquidsoap and liquidsoap is None:
            rep.add(
                "[yellow]liquidsoap is not installed: its columns show the design's "
                "figures[/yellow]",
                "",
            )
        if chain and not args.only_render:
            try:
                on_air = bench_on_air(root, tracks, ffmpeg, args.minutes, liquidsoap)
                report_on_air(rep, on_air, args.minutes, tracks)
            except Exception as exc:
                rep.error("on-air bench", exc)
        if chain:
            bench_render(rep, root, tracks, ffmpeg, liquidsoap)
        if not args.skip_relay and not args.only_render:
            bench_relay(rep, root, ffmpeg, counts, args.relay_seconds, nofile)
        if timing:
            try:
                bench_title_timing(rep, root, args.timing_minutes or 10.0)
            except Exception as exc:
                rep.error("title timing", exc)
    except Exception as exc:
        rep.error("radio bench", exc)
    finally:
        clean_up(root, args.keep, console)
    rep.print()
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(script_main(ROLES, main))
