"""The whole station under its audience at once: radio listeners through the icecast2 relay,
TV viewers through nginx and API requests, on this machine's loopback; nobody behind, CPU and
memory per component, printed beside icecast2 alone and nginx alone measured in the same run.

    .venv/bin/python bench/e2e.py [--listeners 2000] [--viewers 1000] [--rps 1000]
                                  [--seconds 60] [--phase all|icecast,nginx,stack]
                                  [--via-nginx 100] [--keep]

One run is three phases, one after another, each measured over the same --seconds window
once its clients are all connected:

1. icecast2 alone: the Debian `icecast2` with a copy of deploy/icecast.xml (as `nobody` when
   root, as bench/radio.py starts it), one ffmpeg source (a lavfi sine, MP3 128 kbit/s, `-re`)
   on the station's mount /diaspor-fm.mp3, and --listeners listeners connected to it directly.
2. nginx alone: the Debian `nginx` with a minimal configuration (HTTPS with a self-signed
   certificate, as the station's edge; workers as many as cores) serving a folder of HLS that
   ffmpeg makes once in the shape of the station's lowest TV rung (360p at 700 kbit/s and
   128 kbit/s AAC, 6 s MPEG-TS segments: DIASPOR_TV_LADDER, DIASPOR_TV_SEGMENT_S), whose live
   playlist this script slides every segment duration over a window of DIASPOR_TV_WINDOW
   segments, the ten segments reused in a loop. --viewers viewers follow it.
3. The whole station: `tests.topology.native_stack` (nginx with TLS in front of two `diaspor
   serve`, a worker, two playouts on an icecast2 master, an icecast2 relay pulling from it,
   PostgreSQL and S3). Once it is on air, it is measured for 30 s with nobody listening (the
   table's last column: what each component costs by itself), then with at once --listeners
   listeners on its MP3 mount (--via-nginx of them through nginx's /listen/, the others on
   the relay directly, as regional listeners are), --viewers viewers of the TV channel through
   nginx (the lowest rung of its master playlist) and --rps API requests a second through
   nginx. When the stack cannot run here (not importable, or its `why_not()` gives a reason),
   the phase prints why and the other two still run (while another stack runs on the
   machine, tests/test_edge.py's, its ports are taken and the phase says so).

The clients. Each kind runs in a process of its own (a role of this script), so that its CPU
is not counted with a component's and is shown apart ("load generator"). Listeners: asyncio
protocols on raw sockets (HTTP/1.0, every second one asking for ICY metadata), reading and
discarding; one is "behind" when it received under 90 % of 128 kbit/s × the window, or its
connection ended during the window. Viewers: players on one HTTP/1.1 keep-alive connection
each (HTTPS), started over one segment duration; each fetches the master playlist, picks its
lowest video rung, then reloads that playlist every target duration (half of it when nothing
was new, as hls.js does), fetching each new segment once, the first three from the live edge.
A viewer plays a segment from the moment the previous one ends, the first as soon as it has
arrived; one is "behind" when a segment arrived after its turn to play (a stall), the playlist
slid past a segment it never fetched, or a request failed, during the window. API: an
open-loop client (request i due at t0 + i/rate whatever happened to the others, latency from
its due time) over a pool of keep-alive HTTPS connections, asking in turn for
/api/v1/channels, /api/v1/now-playing, /api/v1/channels/diaspor-fm/schedule and /epg.xml with
`Accept-Encoding: gzip`, paced from the window's opening (its connections opened before); a
request is behind when it failed, was not answered with 2xx/304, or was answered more than
1 s after it was due, and is given up, as a client would, 10 s after it was due.

The figures. Per component, CPU % of one core over the window (utime + stime from
/proc/PID/stat, summed over the component's processes, children included; a process that
appears during the window counts from its start) and peak RSS (VmRSS summed over them,
sampled every second: a page they share is counted in each). PostgreSQL is the machine's
own server (tests/topology.py makes a scratch database there), not among the components, as
it may serve others. The machine has the cores it has: the clients share them with the
servers, so the load generators' CPU is printed too, and this script's own. Each phase also
shows, from /proc/stat, the kernel's interrupt time (on loopback most of the network's
work, counted in no process) and the time spent in other processes: whatever else ran
meanwhile, near zero when the figures are the run's alone. Two differences from production
that the figures carry: S3 is moto's server (Python) where compose runs MinIO (nginx keeps
each stored file a second, so the bucket sees about one request a second per file); and the
clients speak HTTP/1.1 where browsers would take nginx's HTTP/2.

This script raises its file-descriptor limit first (every server and client it starts
inherits it) and stops if it cannot reach what the run needs. Every process it starts is
stopped and reaped, the temporary folder removed (unless --keep). It exits 0 whatever the
figures are (1 only if a phase could not run for another reason than the machine's).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from common import (
    CLK_TCK,
    REPO,
    Child,
    Listener,
    bench_console,
    find_ffmpeg,
    free_port,
    icecast_credentials,
    mount_listeners,
    proc_cpu_s,
    proc_status_kib,
    raise_nofile,
    role_args,
    rusage_cpu,
    script_main,
    start_icecast2,
    tail_of,
)
from rich.table import Table

# This file's folder comes first on sys.path, where bench/api.py would hide the project's
# `api` package from what tests.topology imports; `common` is imported above.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

MOUNT = "/diaspor-fm.mp3"
STREAM_KBPS = 128  # the mount's rate (DIASPOR_RADIO_BITRATE_KBPS), the source's in phase 1
BEHIND = 0.9  # a listener is behind below this share of STREAM_KBPS over the window
API_PATHS = [
    "/api/v1/channels",
    "/api/v1/now-playing",
    "/api/v1/channels/diaspor-fm/schedule",
    "/epg.xml",
]
API_LATE_S = 1.0  # an API answer later than this after its due time is behind
API_GIVE_UP_S = 10.0  # a client gives a request up this long after it was due
API_CONNECTIONS = 64
# The station's TV defaults (station/settings.py): the lowest rung of the ladder, the segment
# and the live window, which phase 2's folder copies.
RUNG_W, RUNG_H, RUNG_KBPS, AUDIO_KBPS, FPS = 640, 360, 700, 128, 25
SEGMENT_S, WINDOW, SEGMENTS = 6, 10, 10
PROGRESS_EVERY_S = 5.0
TITLES = {
    "icecast": "1. icecast2 alone",
    "nginx": "2. nginx alone",
    "stack": "3. the whole station",
}
# This process: sampling /proc, progress, phase 2's playlist.
ITSELF = "load: this script"
IDLE_S = 30.0  # phase 3: the station on air with no audience, before the clients come
SETTLE_S = 3.0  # after every client is in, before the window opens (bursts, first segments)

console = bench_console(200)


# --- HTTP/1.1 on asyncio streams (the roles) -----------------------------------------------------


@dataclass
class Answer:
    status: int
    size: int
    body: bytes | None


class Connection:
    """One keep-alive HTTP/1.1 connection (TLS or not), opened again when the server closes it."""

    def __init__(self, host: str, port: int, tls: ssl.SSLContext | None, name: str) -> None:
        self.host, self.port, self.tls, self.name = host, port, tls, name
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, headers: str = "", keep: bool = False) -> Answer:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(
                self.host,
                self.port,
                ssl=self.tls,
                server_hostname=self.name if self.tls else None,
                limit=1 << 16,
            )
        assert self.reader is not None
        try:
            self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.name}\r\n{headers}\r\n".encode())
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            fields = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    fields[k.strip().lower()] = v.strip().lower()
            parts: list[bytes] = []
            size = 0
            if "content-length" in fields:
                size = int(fields["content-length"])
                await self._body(size, parts if keep else None)
            elif fields.get("transfer-encoding") == "chunked":
                while True:
                    n = int((await self.reader.readline()).split(b";")[0], 16)
                    await self._body(n + 2, parts if keep else None)
                    size += n
                    if n == 0:
                        break
            if fields.get("connection") == "close":
                self.close()
        except BaseException:
            self.close()
            raise
        # A chunked body kept still holds each chunk's closing CRLF: playlists split lines.
        return Answer(status, size, b"".join(parts) if keep else None)

    async def _body(self, n: int, into: list[bytes] | None) -> None:
        assert self.reader is not None
        while n > 0:
            chunk = await self.reader.read(min(n, 1 << 16))
            if not chunk:
                raise asyncio.IncompleteReadError(b"", n)
            n -= len(chunk)
            if into is not None:
                into.append(chunk)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.transport.abort()
        self.reader = self.writer = None


def tls_context(cfg: dict[str, Any]) -> ssl.SSLContext | None:
    if not cfg.get("tls"):
        return None
    return ssl.create_default_context(cafile=cfg["ca_file"])


# --- roles: the load generators ------------------------------------------------------------------


class Window:
    """The measuring window a role is told on stdin ("mark T0 T1", monotonic seconds, the same
    clock in every process on Linux), and its progress file, rewritten every second."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.progress = Path(cfg["progress"])
        self.t0: float | None = None
        self.t1: float | None = None
        self.marked = asyncio.Event()

    async def listen(self) -> None:
        loop = asyncio.get_running_loop()
        line = await loop.run_in_executor(None, sys.stdin.readline)
        parts = line.split()
        if len(parts) == 3 and parts[0] == "mark":
            self.t0, self.t1 = float(parts[1]), float(parts[2])
        else:  # the parent is gone: end now
            self.t0 = self.t1 = time.monotonic()
        self.marked.set()

    def inside(self, t: float) -> bool:
        return self.t0 is not None and self.t1 is not None and self.t0 <= t <= self.t1

    async def until_end(self) -> None:
        await self.marked.wait()
        assert self.t1 is not None
        await asyncio.sleep(max(0.0, self.t1 - time.monotonic()))

    def write(self, state: dict[str, Any]) -> None:
        tmp = self.progress.with_suffix(".tmp")
        tmp.write_text(json.dumps(state), encoding="utf-8")
        tmp.replace(self.progress)


async def reporting(window: Window, state: Callable[[], dict[str, Any]]) -> None:
    while True:
        window.write(state())
        await asyncio.sleep(1.0)


def write_json(path: str, value: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(value), encoding="utf-8")


async def role_listeners(cfg: dict[str, Any]) -> None:
    """Listeners on one or more targets ({host, port, path, n, tls}); behind: under BEHIND ×
    STREAM_KBPS over the window, or dropped in it."""
    raise_nofile(sum(int(t["n"]) for t in cfg["targets"]) + 100)
    loop = asyncio.get_running_loop()
    window = Window(cfg)
    listeners: list[Listener] = []
    per_s = STREAM_KBPS * 1000 / 8
    # icecast2 answers a new listener ~170 ms after it connects and listens with a backlog of
    # 5: 64 at a time, as bench/radio.py measured (~70-100 a second).
    in_flight = asyncio.Semaphore(64)
    t_start = loop.time()

    async def connect(i: int, target: dict[str, Any], tls: ssl.SSLContext | None) -> None:
        """Listener i, trying again as a player does when the server did not answer (a SYN
        lost to icecast2's short listen backlog waits for TCP to retry), within the budget."""
        icy = "Icy-MetaData: 1\r\n" if i % 2 else ""
        request = (
            f"GET {target['path']} HTTP/1.0\r\nHost: {target['name']}\r\n"
            f"User-Agent: bench-e2e/{i}\r\n{icy}\r\n"
        ).encode()
        while loop.time() - t_start < float(cfg["connect_budget"]):
            client = listeners[i] = Listener(request, loop.create_future())
            try:
                async with in_flight, asyncio.timeout(10):
                    await loop.create_connection(
                        lambda client=client: client,
                        target["host"],
                        target["port"],
                        ssl=tls,
                        server_hostname=target["name"] if tls else None,
                    )
                    if await client.head:
                        return
            except (OSError, TimeoutError, ssl.SSLError):
                pass
            client.ok = False
            if client.transport is not None:
                client.transport.abort()
            await asyncio.sleep(1.0)

    def held(c: Listener) -> bool:
        return c.ok and not c.closed

    def behind_now(now: float) -> int:
        if window.t0 is None or now < window.t0 + 5:
            return sum(1 for c in listeners if c.at_mark >= 0 and c.closed)
        enough = BEHIND * per_s * (now - window.t0)
        return sum(
            1 for c in listeners if c.at_mark >= 0 and (c.closed or c.bytes - c.at_mark < enough)
        )

    ready = False

    def state() -> dict[str, Any]:
        now = time.monotonic()
        return {
            "ready": ready,
            "asked": sum(int(t["n"]) for t in cfg["targets"]),
            "connected": sum(1 for c in listeners if held(c)),
            "behind": behind_now(now),
        }

    reporter = asyncio.create_task(reporting(window, state))
    jobs = []
    for target in cfg["targets"]:
        tls = tls_context(target)
        for _ in range(int(target["n"])):
            jobs.append(connect(len(listeners), target, tls))
            listeners.append(Listener(b"", loop.create_future()))  # its slot, until it tries
    await asyncio.gather(*jobs)
    connect_s = loop.time() - t_start
    ready = True
    await window.listen()
    assert window.t0 is not None
    await asyncio.sleep(max(0.0, window.t0 - time.monotonic()))
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    for c in listeners:
        if held(c):
            c.at_mark = c.bytes
    await window.until_end()
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    assert window.t0 is not None and window.t1 is not None
    seconds = window.t1 - window.t0
    enough = BEHIND * per_s * seconds
    at_mark = [c for c in listeners if c.at_mark >= 0]
    got = [(c.bytes - c.at_mark) for c in at_mark if not c.closed]
    per_target = []
    start = 0
    for target in cfg["targets"]:
        mine = listeners[start : start + int(target["n"])]
        start += int(target["n"])
        per_target.append(
            {
                "path": target["path"],
                "via": target["via"],
                "asked": int(target["n"]),
                "at_mark": sum(1 for c in mine if c.at_mark >= 0),
                "behind": sum(
                    1 for c in mine if c.at_mark >= 0 and (c.closed or c.bytes - c.at_mark < enough)
                ),
            }
        )
    reporter.cancel()
    write_json(
        cfg["result"],
        {
            "asked": len(listeners),
            "at_mark": len(at_mark),
            "never": len(listeners) - len(at_mark),
            "dropped": sum(1 for c in at_mark if c.closed),
            "behind": sum(1 for c in at_mark if c.closed or c.bytes - c.at_mark < enough),
            "median_kbps": statistics.median(got) * 8 / 1000 / seconds if got else 0.0,
            "min_kbps": min(got) * 8 / 1000 / seconds if got else 0.0,
            "connect_s": connect_s,
            "cpu_s": rusage_cpu(ru1) - rusage_cpu(ru0),
            "targets": per_target,
        },
    )
    for c in listeners:
        if c.transport is not None:
            c.transport.abort()
    await asyncio.sleep(0.1)


@dataclass
class Playlist:
    target_s: float
    first: int
    segments: list[tuple[int, str, float]]  # (media sequence number, URI, seconds)


def parse_media_playlist(text: str, base: str) -> Playlist:
    target, first = float(SEGMENT_S), 0
    segments: list[tuple[int, str, float]] = []
    duration = 0.0
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXT-X-TARGETDURATION:"):
            target = float(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            first = int(line.split(":", 1)[1])
        elif line.startswith("#EXTINF:"):
            duration = float(line.split(":", 1)[1].split(",", 1)[0])
        elif line and not line.startswith("#"):
            segments.append((first + len(segments), urljoin(base, line), duration))
    return Playlist(target, first, segments)


def request_target(uri: str) -> str:
    """What to ask a server for: a URL's path and query (a playlist may name its segments
    by absolute URL on the same host), else the path as it is."""
    parts = urlsplit(uri)
    if not parts.scheme:
        return uri
    return parts.path + (f"?{parts.query}" if parts.query else "")


def lowest_rung(text: str, base: str) -> str:
    """The media playlist of a master playlist's lowest video rung (any rung if none says
    its resolution; the playlist itself if it is not a master)."""
    rungs: list[tuple[bool, int, str]] = []
    attrs: str | None = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXT-X-STREAM-INF:"):
            attrs = line.split(":", 1)[1]
        elif line and not line.startswith("#") and attrs is not None:
            bandwidth = 0
            for part in attrs.split(","):
                if part.startswith("BANDWIDTH="):
                    bandwidth = int(part.split("=", 1)[1])
            rungs.append(("RESOLUTION=" not in attrs, bandwidth, urljoin(base, line)))
            attrs = None
    if not rungs:
        return base
    return min(rungs)[2]


@dataclass
class Viewer:
    segments: int = 0
    bytes: int = 0
    playing: bool = False
    stalls: int = 0  # segments that arrived after their turn to play, in the window
    missed: int = 0  # segments the playlist slid past before they were fetched, in the window
    errors: Counter[str] = field(default_factory=Counter)  # in the window
    margin_s: float | None = None  # the least time to spare before a segment's turn
    fetch_s: list[float] = field(default_factory=list)  # each segment's download, in the window

    @property
    def behind(self) -> bool:
        return bool(self.stalls or self.missed or self.errors)


async def watch(
    cfg: dict[str, Any], v: Viewer, window: Window, tls: ssl.SSLContext | None, delay: float
) -> None:
    await asyncio.sleep(delay)
    conn = Connection(cfg["host"], cfg["port"], tls, cfg["name"])
    rung: str | None = None
    last_seq: int | None = None
    next_play: float | None = None

    def fault(what: str) -> None:
        if window.inside(time.monotonic()):
            v.errors[what] += 1

    while True:
        t_reload = time.monotonic()
        new: list[tuple[int, str, float]] = []
        target = float(SEGMENT_S)
        try:
            if rung is None:
                master = await conn.get(cfg["path"], keep=True)
                if master.status != 200 or master.body is None:
                    fault(f"master playlist HTTP {master.status}")
                    await asyncio.sleep(1.0)
                    continue
                rung = lowest_rung(master.body.decode("utf-8", "replace"), cfg["path"])
            answer = await conn.get(rung, keep=True)
            if answer.status != 200 or answer.body is None:
                fault(f"playlist HTTP {answer.status}")
                await asyncio.sleep(1.0)
                continue
            playlist = parse_media_playlist(answer.body.decode("utf-8", "replace"), rung)
            target = playlist.target_s
            if last_seq is None:
                new = playlist.segments[-3:]
            else:
                new = [s for s in playlist.segments if s[0] > last_seq]
                if playlist.segments and playlist.first > last_seq + 1:
                    if window.inside(time.monotonic()):
                        v.missed += playlist.first - last_seq - 1
                    new = playlist.segments[-3:]  # a player starts again at the live edge
                    next_play = None
            for seq, uri, seconds in new:
                last_seq = seq
                asked = time.monotonic()
                got = await conn.get(request_target(uri))
                done = time.monotonic()
                if window.inside(done):
                    v.fetch_s.append(done - asked)
                if got.status != 200:
                    fault(f"segment HTTP {got.status}")
                    continue
                v.segments += 1
                v.bytes += got.size
                if next_play is None:
                    next_play = done + seconds
                    v.playing = True
                    continue
                if window.inside(next_play):
                    spare = next_play - done
                    v.margin_s = spare if v.margin_s is None else min(v.margin_s, spare)
                    if spare < 0:
                        v.stalls += 1
                # After a stall the player rebuffers: it plays this one from when it came.
                next_play = max(next_play, done) + seconds
        except (OSError, asyncio.IncompleteReadError, ValueError, ssl.SSLError) as exc:
            fault(type(exc).__name__)
            conn.close()
            await asyncio.sleep(1.0)
            continue
        wait = target if new else target / 2
        await asyncio.sleep(max(0.0, t_reload + wait - time.monotonic()))


async def role_viewers(cfg: dict[str, Any]) -> None:
    """--viewers HLS players on one master playlist, started over one segment duration."""
    raise_nofile(int(cfg["n"]) + 100)
    window = Window(cfg)
    tls = tls_context(cfg)
    viewers = [Viewer() for _ in range(int(cfg["n"]))]
    spread = float(cfg.get("spread_s", SEGMENT_S))
    tasks = [
        asyncio.create_task(watch(cfg, v, window, tls, spread * i / len(viewers)))
        for i, v in enumerate(viewers)
    ]

    def state() -> dict[str, Any]:
        return {
            "ready": all(v.playing for v in viewers),
            "asked": len(viewers),
            "playing": sum(1 for v in viewers if v.playing),
            "behind": sum(1 for v in viewers if v.behind),
            "segments": sum(v.segments for v in viewers),
        }

    reporter = asyncio.create_task(reporting(window, state))
    listen = asyncio.create_task(window.listen())
    await window.marked.wait()
    assert window.t0 is not None
    await asyncio.sleep(max(0.0, window.t0 - time.monotonic()))
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    segments0, bytes0 = sum(v.segments for v in viewers), sum(v.bytes for v in viewers)
    playing0 = sum(1 for v in viewers if v.playing)
    await window.until_end()
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    for t in (*tasks, reporter, listen):
        t.cancel()
    await asyncio.gather(*tasks, reporter, listen, return_exceptions=True)
    assert window.t0 is not None and window.t1 is not None
    seconds = window.t1 - window.t0
    errors: Counter[str] = Counter()
    for v in viewers:
        errors.update(v.errors)
    margins = [v.margin_s for v in viewers if v.margin_s is not None]
    fetches = sorted(f for v in viewers for f in v.fetch_s)
    write_json(
        cfg["result"],
        {
            "asked": len(viewers),
            "at_mark": playing0,
            "never": sum(1 for v in viewers if not v.playing),
            "behind": sum(1 for v in viewers if v.behind or not v.playing),
            "stalled": sum(1 for v in viewers if v.stalls),
            "missed": sum(1 for v in viewers if v.missed),
            "errors": dict(errors),
            "segments": sum(v.segments for v in viewers) - segments0,
            "mbit_s": (sum(v.bytes for v in viewers) - bytes0) * 8 / 1e6 / seconds,
            "least_margin_s": min(margins) if margins else None,
            "fetch_p99_s": pct(fetches, 0.99) if fetches else None,
            "fetch_max_s": fetches[-1] if fetches else None,
            "cpu_s": rusage_cpu(ru1) - rusage_cpu(ru0),
        },
    )


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of sorted values, nearest rank."""
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, round(q * len(values)) - 1))]


async def role_api(cfg: dict[str, Any]) -> None:
    """Open-loop GETs at cfg["rps"] over a pool of keep-alive connections, paced from the
    window's opening to its end. A request is given up (as a client would) once it is
    API_GIVE_UP_S past its due time, so that an overloaded server is not measured by a queue
    that only grows."""
    window = Window(cfg)
    tls = tls_context(cfg)
    rate = float(cfg["rps"])
    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    done: list[tuple[float, float, int]] = []  # (due, latency, status)
    errors: list[tuple[float, str]] = []
    recent: list[float] = []
    warm: list[bool] = []

    async def worker() -> None:
        conn = Connection(cfg["host"], cfg["port"], tls, cfg["name"])
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, ValueError, ssl.SSLError):
            async with asyncio.timeout(API_GIVE_UP_S):
                await conn.get(API_PATHS[0], "Accept-Encoding: gzip\r\n")  # the pool, open
        warm.append(True)
        while (job := await queue.get()) is not None:
            i, due = job
            left = due + API_GIVE_UP_S - time.monotonic()
            if left <= 0:
                errors.append((due, f"given up after {API_GIVE_UP_S:g} s in the queue"))
                continue
            try:
                async with asyncio.timeout(left):
                    answer = await conn.get(
                        API_PATHS[i % len(API_PATHS)], "Accept-Encoding: gzip\r\n"
                    )
            except TimeoutError:
                errors.append((due, f"no answer within {API_GIVE_UP_S:g} s"))
                conn.close()
                continue
            except (OSError, asyncio.IncompleteReadError, ValueError, ssl.SSLError) as exc:
                errors.append((due, type(exc).__name__))
                continue
            latency = time.monotonic() - due
            done.append((due, latency, answer.status))
            recent.append(latency)
        conn.close()

    connections = int(cfg["connections"])
    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    last = [time.monotonic(), 0]

    def state() -> dict[str, Any]:
        now = time.monotonic()
        lat = sorted(recent)
        recent.clear()
        count, last[1] = len(done) - int(last[1]), len(done)
        rate_now = count / max(1e-3, now - last[0])
        last[0] = now
        return {
            "ready": len(warm) == connections,
            "rate": rate_now,
            "p99_ms": pct(lat, 0.99) * 1000 if lat else None,
            "errors": len(errors),
            "behind": 0,
        }

    reporter = asyncio.create_task(reporting(window, state))
    await window.listen()
    assert window.t0 is not None and window.t1 is not None
    t0 = time.monotonic()  # half a second before the window: the pace is set when it opens
    i = 0
    ru0: resource.struct_rusage | None = None
    while True:
        now = time.monotonic()
        if ru0 is None and now >= window.t0:
            ru0 = resource.getrusage(resource.RUSAGE_SELF)
        if now >= window.t1:
            break
        while t0 + i / rate <= now:
            queue.put_nowait((i, t0 + i / rate))
            i += 1
        await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    for _ in workers:
        queue.put_nowait(None)
    # Every request ends within API_GIVE_UP_S of its due time; a little more for the last.
    _, pending = await asyncio.wait(workers, timeout=API_GIVE_UP_S + 2)
    for w in (*pending, reporter):
        w.cancel()
    seconds = window.t1 - window.t0
    mine = [d for d in done if window.inside(d[0])]
    failed = [e for e in errors if window.inside(e[0])]
    offered = sum(1 for k in range(i) if window.inside(t0 + k / rate))
    lat = sorted(d[1] for d in mine)
    statuses = Counter(d[2] for d in mine)
    bad = sum(n for s, n in statuses.items() if not (200 <= s < 300 or s == 304))
    late = sum(1 for d in mine if d[1] > API_LATE_S)
    write_json(
        cfg["result"],
        {
            "offered": offered,
            "answered": len(mine),
            "rate": len(mine) / seconds,
            "p50_ms": pct(lat, 0.5) * 1000 if lat else None,
            "p99_ms": pct(lat, 0.99) * 1000 if lat else None,
            "statuses": {str(k): v for k, v in statuses.items()},
            "errors": dict(Counter(e[1] for e in failed)),
            "unanswered": offered - len(mine) - len(failed),
            "late": late,
            "behind": bad + late + len(failed) + max(0, offered - len(mine) - len(failed)),
            "cpu_s": rusage_cpu(ru1) - rusage_cpu(ru0 or ru1),
        },
    )


ROLES = {"_listeners": role_listeners, "_viewers": role_viewers, "_api": role_api}


# --- the parent: processes, their CPU and memory ----------------------------------------------


def tree(pid: int) -> list[int]:
    """A process and its descendants, from /proc/PID/task/*/children."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                with open(f"/proc/{p}/task/{t}/children", encoding="ascii") as fh:
                    todo.extend(int(k) for k in fh.read().split())
            except (OSError, ValueError):
                continue
    return out


@dataclass
class Usage:
    cpu_s: float = 0.0
    peak_rss_kib: int = 0
    processes: int = 0


class Sampler:
    """CPU seconds and peak RSS per component over the window, sampled every second: each
    process's CPU counted from the window's start (or its own start, when it appears during
    the window) to its last sample."""

    def __init__(self, components: Callable[[], dict[str, list[int]]]) -> None:
        self.components = components
        self.base: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.owner: dict[int, str] = {}
        self.usage: dict[str, Usage] = {}
        self.t0 = self.t1 = 0.0
        self.machine0 = self.machine1 = (0.0, 0.0)

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.machine0 = machine_busy_s()
        for name, pids in self.components().items():
            self.usage.setdefault(name, Usage())
            for pid in pids:
                cpu = proc_cpu_s(pid)
                if cpu is not None:
                    self.base[pid] = self.last[pid] = cpu
                    self.owner[pid] = name
        self.sample()

    def sample(self) -> dict[str, float]:
        """One sample; the CPU % of each component since the previous sample."""
        now_cpu: dict[str, float] = {}
        for name, pids in self.components().items():
            use = self.usage.setdefault(name, Usage())
            rss = 0
            before = sum(self.last.get(p, 0.0) - self.base.get(p, 0.0) for p in pids)
            for pid in pids:
                cpu = proc_cpu_s(pid)
                if cpu is None:
                    continue
                self.base.setdefault(pid, 0.0)  # new in the window: from its own start
                self.last[pid] = cpu
                self.owner[pid] = name
                rss += proc_status_kib(pid, "VmRSS") or 0
            after = sum(self.last.get(p, 0.0) - self.base.get(p, 0.0) for p in pids)
            now_cpu[name] = after - before
            use.peak_rss_kib = max(use.peak_rss_kib, rss)
            use.processes = max(use.processes, len(pids))
        self.t1 = time.monotonic()
        self.machine1 = machine_busy_s()
        return now_cpu

    def result(self) -> dict[str, Usage]:
        for use in self.usage.values():
            use.cpu_s = 0.0
        for pid, name in self.owner.items():
            self.usage[name].cpu_s += self.last[pid] - self.base[pid]
        return self.usage

    @property
    def seconds(self) -> float:
        return max(1e-3, self.t1 - self.t0)

    @property
    def machine_s(self) -> tuple[float, float]:
        """CPU seconds over the window the machine spent in processes (every one, ours or
        not), and in interrupts (on loopback, most of the network's work)."""
        return (self.machine1[0] - self.machine0[0], self.machine1[1] - self.machine0[1])


def machine_busy_s() -> tuple[float, float]:
    """CPU seconds every core has spent since boot in processes (/proc/stat: user, nice,
    system) and in interrupts (irq, softirq)."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            f = [int(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return (0.0, 0.0)
    return ((f[0] + f[1] + f[2]) / CLK_TCK, (f[5] + f[6]) / CLK_TCK)


@dataclass
class Role:
    name: str
    child: Child
    progress: Path
    result: Path

    def state(self) -> dict[str, Any]:
        try:
            out: dict[str, Any] = json.loads(self.progress.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return out

    def outcome(self, timeout: float) -> dict[str, Any]:
        self.child.wait(timeout)
        if self.result.exists():
            out: dict[str, Any] = json.loads(self.result.read_text(encoding="utf-8"))
            return out
        raise RuntimeError(f"the {self.name} gave no result:\n{tail_of(self.child.log)}")


def start_load(name: str, role: str, cfg: dict[str, Any], root: Path) -> Role:
    stamp = time.monotonic_ns()
    progress, result = root / f"{name}-progress-{stamp}.json", root / f"{name}-result-{stamp}.json"
    args = role_args(
        __file__, role, {**cfg, "progress": str(progress), "result": str(result)}, root
    )
    child = Child(args, log=root / f"{name}.log", pipes=True)
    return Role(name, child, progress, result)


def describe(name: str, s: dict[str, Any]) -> str:
    if not s:
        return f"{name} starting"
    if name == "listeners":
        return f"listeners {s['connected']:,}/{s['asked']:,} connected, {s['behind']:,} behind"
    if name == "viewers":
        return f"viewers {s['playing']:,}/{s['asked']:,} playing, {s['behind']:,} behind"
    p99 = "–" if s.get("p99_ms") is None else f"{s['p99_ms']:.0f} ms"
    return f"API {s['rate']:,.0f} req/s, p99 {p99}, {s['errors']:,} errors"


def run_window(
    roles: list[Role],
    sampler: Sampler,
    seconds: float,
    ready_within: float,
    tick: Callable[[], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Wait until every role has its clients in, open the window for all at once, show
    progress every few seconds, and collect the results."""
    t_start = time.monotonic()
    next_line = t_start + PROGRESS_EVERY_S
    while True:
        states = {r.name: r.state() for r in roles}
        if all(s.get("ready") for s in states.values()):
            break
        for r in roles:
            if r.child.poll() is not None:
                raise RuntimeError(f"the {r.name} ended early:\n{tail_of(r.child.log)}")
        if time.monotonic() - t_start > ready_within:
            console.print(
                "[yellow]not every client is in after "
                f"{ready_within:.0f} s; measuring those that are[/yellow]"
            )
            break
        if time.monotonic() >= next_line:
            console.print(
                f"  {time.monotonic() - t_start:4.0f} s  connecting: "
                + " | ".join(describe(n, s) for n, s in states.items())
            )
            next_line += PROGRESS_EVERY_S
        if tick:
            tick()
        time.sleep(0.2)
    deadline = time.monotonic() + SETTLE_S
    while time.monotonic() < deadline:
        if tick:
            tick()
        time.sleep(0.2)
    t0 = time.monotonic() + 0.5
    t1 = t0 + seconds
    for r in roles:
        r.child.send(f"mark {t0:.6f} {t1:.6f}\n")
    while time.monotonic() < t0:
        time.sleep(0.01)
    sampler.start()
    next_sample, next_line = t0 + 1.0, t0 + PROGRESS_EVERY_S
    cpu_since: Counter[str] = Counter()
    since = t0
    while time.monotonic() < t1:
        now = time.monotonic()
        if now >= next_sample:
            cpu_since.update(sampler.sample())
            next_sample += 1.0
        if now >= next_line:
            span = max(1e-3, now - since)
            cpus = ", ".join(f"{n} {c / span * 100:.0f} %" for n, c in cpu_since.items())
            states = {r.name: r.state() for r in roles}
            console.print(
                f"  {now - t0:4.0f} s  "
                + " | ".join(describe(n, s) for n, s in states.items())
                + f" | CPU: {cpus}"
            )
            cpu_since.clear()
            since = now
            next_line += PROGRESS_EVERY_S
        if tick:
            tick()
        time.sleep(0.05)
    sampler.sample()
    return {r.name: r.outcome(60) for r in roles}


# --- phase 1: icecast2 alone ---------------------------------------------------------------------


def source_args(ffmpeg: str, url: str, seconds: float) -> list[str]:
    """One MP3 128 kbit/s source in real time: a sine from lavfi (as bench/radio.py's)."""
    return [
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
        f"{seconds:.0f}",
        "-ac",
        "2",
        "-c:a",
        "libmp3lame",
        "-b:a",
        f"{STREAM_KBPS}k",
        "-content_type",
        "audio/mpeg",
        "-ice_name",
        "Diaspor.FM",
        "-f",
        "mp3",
        url,
    ]


@dataclass
class Phase:
    """What a phase measured: each component's usage, each kind of client's result."""

    key: str  # icecast, nginx, stack
    title: str
    what: str = ""
    seconds: float = 0.0
    usage: dict[str, Usage] = field(default_factory=dict)
    machine_s: tuple[float, float] = (0.0, 0.0)  # the machine's: in processes, in interrupts
    idle: dict[str, Usage] = field(default_factory=dict)  # phase 3: on air, nobody listening
    idle_seconds: float = 0.0
    clients: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: str | None = None
    failed: str | None = None


def phase_icecast(root: Path, ffmpeg: str, n: int, seconds: float) -> Phase:
    phase = Phase(
        "icecast",
        TITLES["icecast"],
        f"{n:,} listeners of {MOUNT}, MP3 {STREAM_KBPS} kbit/s, directly, {seconds:g} s",
    )
    if shutil.which("icecast2") is None:
        phase.skipped = "icecast2 is not installed (apt-get install icecast2)"
        return phase
    work = root / "icecast"
    work.mkdir()
    creds = icecast_credentials()
    server, port = start_icecast2(work, n + 100)
    source = None
    roles: list[Role] = []
    try:
        url = f"icecast://source:{creds['source_password']}@127.0.0.1:{port}{MOUNT}"
        budget = 60 + n / 20
        source = Child(source_args(ffmpeg, url, budget + seconds + 120), log=work / "source.log")
        deadline = time.monotonic() + 15
        while mount_listeners(port, MOUNT) is None:
            if source.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the source never appeared: {tail_of(work / 'source.log', 3)}")
            time.sleep(0.1)
        time.sleep(2.0)  # the burst buffer fills
        target = {"host": "127.0.0.1", "port": port, "name": "127.0.0.1", "path": MOUNT}
        cfg = {"targets": [{**target, "n": n, "via": "icecast2"}], "connect_budget": budget}
        roles = [start_load("listeners", "_listeners", cfg, work)]
        sampler = Sampler(
            lambda: {
                "icecast2": [server.pid],
                "source (ffmpeg)": [source.pid] if source else [],
                "load: listeners": tree(roles[0].child.pid),
                ITSELF: [os.getpid()],
            }
        )
        phase.clients = run_window(roles, sampler, seconds, budget + 30)
        phase.usage, phase.seconds = sampler.result(), sampler.seconds
        phase.machine_s = sampler.machine_s
        phase.clients["listeners"]["server_says"] = mount_listeners(port, MOUNT)
        return phase
    finally:
        for child in (*(r.child for r in roles), source, server):
            if child is not None:
                child.stop()


# --- phase 2: nginx alone ------------------------------------------------------------------------


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for localhost (ECDSA P-256, as certbot makes by default) and its key."""
    cert, key = folder / "localhost.crt", folder / "localhost.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def make_hls(ffmpeg: str, folder: Path) -> list[float]:
    """SEGMENTS segments in the shape of the station's lowest rung; their durations."""
    folder.mkdir(parents=True)
    gop = SEGMENT_S * FPS
    subprocess.run(
        [
            ffmpeg,
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size={RUNG_W}x{RUNG_H}:rate={FPS}",
            "-f",
            "lavfi",
            "-i",
            "sine=f=440:sample_rate=48000",
            "-t",
            str(SEGMENT_S * SEGMENTS),
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-b:v",
            f"{RUNG_KBPS}k",
            "-maxrate",
            f"{RUNG_KBPS}k",
            "-bufsize",
            f"{2 * RUNG_KBPS}k",
            "-g",
            str(gop),
            "-keyint_min",
            str(gop),
            "-sc_threshold",
            "0",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            f"{AUDIO_KBPS}k",
            "-ac",
            "2",
            "-f",
            "hls",
            "-hls_time",
            str(SEGMENT_S),
            "-hls_playlist_type",
            "vod",
            "-hls_segment_filename",
            str(folder / "seg%03d.ts"),
            str(folder / "vod.m3u8"),
        ],
        check=True,
        capture_output=True,
    )
    vod = parse_media_playlist((folder / "vod.m3u8").read_text(encoding="utf-8"), "/")
    bandwidth = int((RUNG_KBPS + AUDIO_KBPS) * 1000 * 1.1)
    (folder / "master.m3u8").write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n"
        f"#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={RUNG_W}x{RUNG_H},"
        'CODECS="avc1.64001e,mp4a.40.2"\n360p.m3u8\n',
        encoding="utf-8",
    )
    return [seconds for _, _, seconds in vod.segments]


def live_playlist(seq: int, durations: list[float]) -> str:
    """The live playlist whose newest of WINDOW segments is number seq + WINDOW - 1, the
    made segments in a loop (a discontinuity where the loop starts again)."""
    n = len(durations)
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{round(max(durations))}",
        f"#EXT-X-MEDIA-SEQUENCE:{seq}",
        f"#EXT-X-DISCONTINUITY-SEQUENCE:{seq // n}",  # the tags that left the window
    ]
    for k in range(seq, seq + WINDOW):
        if k and k % n == 0 and k != seq:
            lines.append("#EXT-X-DISCONTINUITY")
        lines.append(f"#EXTINF:{durations[k % n]:.3f},")
        lines.append(f"seg{k % n:03d}.ts")
    return "\n".join(lines) + "\n"


class LiveEdge:
    """Slides phase 2's live playlist every segment duration (written aside and renamed, so
    nginx never serves half of it); called from the parent's loops."""

    def __init__(self, folder: Path, durations: list[float]) -> None:
        self.folder, self.durations = folder, durations
        self.t0 = time.monotonic()
        self.seq = -1
        self.tick()

    def tick(self) -> None:
        seq = int((time.monotonic() - self.t0) // SEGMENT_S)
        if seq != self.seq:
            self.seq = seq
            tmp = self.folder / ".360p.m3u8.tmp"
            tmp.write_text(live_playlist(seq, self.durations), encoding="utf-8")
            tmp.replace(self.folder / "360p.m3u8")


def nginx_conf(root: Path, port: int, cert: Path, key: Path, connections: int) -> str:
    user = "user nobody nogroup;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes auto;
worker_rlimit_nofile {connections * 2 + 1024};
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections {connections + 1024}; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65s;
    keepalive_requests 10000;
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_session_cache shared:SSL:10m;
        root {root}/www;
        location ~* \\.m3u8$ {{ add_header Cache-Control "public, max-age=2"; }}
        location ~* \\.ts$ {{ add_header Cache-Control "public, max-age=31536000, immutable"; }}
    }}
}}
"""


def phase_nginx(root: Path, ffmpeg: str, n: int, seconds: float) -> Phase:
    phase = Phase(
        "nginx",
        TITLES["nginx"],
        f"{n:,} HLS viewers over HTTPS, {RUNG_H}p {RUNG_KBPS}+{AUDIO_KBPS} kbit/s, "
        f"{SEGMENT_S} s segments, {seconds:g} s",
    )
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        phase.skipped = "nginx is not installed (apt-get install nginx)"
        return phase
    work = root / "nginx"
    hls = work / "www" / "tv"
    console.print(f"  making {SEGMENTS} segments of HLS with ffmpeg …")
    durations = make_hls(ffmpeg, hls)
    cert, key = self_signed(work)
    for path in [root, work, *work.rglob("*")]:  # the workers (nobody) read the folder
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    port = free_port()
    (work / "nginx.conf").write_text(nginx_conf(work, port, cert, key, n + 64), encoding="utf-8")
    edge = LiveEdge(hls, durations)
    server = Child(
        [
            nginx,
            "-p",
            str(work),
            "-e",
            str(work / "error.log"),
            "-c",
            str(work / "nginx.conf"),
            "-g",
            "daemon off;",
        ],
        log=work / "nginx.log",
    )
    roles: list[Role] = []
    try:
        deadline = time.monotonic() + 10
        while not port_open(port):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start:\n{tail_of(work / 'error.log')}")
            time.sleep(0.1)
        cfg = {
            "n": n,
            "host": "127.0.0.1",
            "port": port,
            "name": "localhost",
            "path": "/tv/master.m3u8",
            "tls": True,
            "ca_file": str(cert),
        }
        roles = [start_load("viewers", "_viewers", cfg, work)]
        sampler = Sampler(
            lambda: {
                "nginx": tree(server.pid),
                "load: viewers": tree(roles[0].child.pid),
                ITSELF: [os.getpid()],
            }
        )
        phase.clients = run_window(roles, sampler, seconds, 60 + SEGMENT_S * 3, edge.tick)
        phase.usage, phase.seconds = sampler.result(), sampler.seconds
        phase.machine_s = sampler.machine_s
        return phase
    finally:
        for child in (*(r.child for r in roles), server):
            if child is not None:
                child.stop()


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


# --- phase 3: the whole station ------------------------------------------------------------------


def stack_unavailable() -> str | None:
    """Why tests.topology's stack cannot run here, or None."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    try:
        from tests import topology  # type: ignore[attr-defined,unused-ignore]
    except ImportError as exc:
        return f"tests/topology.py cannot be imported ({exc})"
    # Ports are checked by the stack itself once another run of it has ended.
    reason: str | None = topology.why_not(ports=False)
    return reason


def host_port(url: str) -> tuple[str, int, bool]:
    parts = urlsplit(url)
    tls = parts.scheme == "https"
    return parts.hostname or "localhost", parts.port or (443 if tls else 80), tls


def wait_on_air(stack: Any, mp3: str, timeout: float) -> None:
    """Until the relay carries the mount, the TV's master playlist answers and the API does."""
    import httpx

    host, port, _ = host_port(stack.relay_url)
    deadline = time.monotonic() + timeout
    todo = {"relay mount": False, "TV playlist": False, "API": False}
    with httpx.Client(verify=str(stack.ca_file), timeout=5) as client:
        while not all(todo.values()):
            if not todo["relay mount"]:
                todo["relay mount"] = mount_listeners(port, mp3, host) is not None
            for what, path in (("TV playlist", stack.tv_master_playlist), ("API", API_PATHS[0])):
                if not todo[what]:
                    with contextlib.suppress(httpx.HTTPError):
                        todo[what] = client.get(stack.public_url + path).status_code == 200
            if time.monotonic() > deadline:
                missing = ", ".join(k for k, ok in todo.items() if not ok)
                raise RuntimeError(f"the station is not on air after {timeout:.0f} s: {missing}")
            time.sleep(1.0)


def measure_idle(stack: Any, seconds: float) -> tuple[dict[str, Usage], float]:
    """The station on air with no audience: what each component costs by itself."""
    console.print(f"  the station on air with nobody listening, {seconds:g} s …")
    sampler = Sampler(
        lambda: {n: sorted(set(pids)) for n, pids in stack.pids().items()} | {ITSELF: [os.getpid()]}
    )
    sampler.start()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(min(1.0, max(0.0, end - time.monotonic())))
        sampler.sample()
    return sampler.result(), sampler.seconds


def phase_stack(
    root: Path, listeners: int, via_nginx: int, viewers: int, rps: float, seconds: float
) -> Phase:
    phase = Phase(
        "stack",
        TITLES["stack"],
        f"{listeners:,} listeners ({via_nginx:,} through nginx), {viewers:,} TV viewers, "
        f"{rps:,.0f} API req/s at once, {seconds:g} s",
    )
    reason = stack_unavailable()
    if reason:
        phase.skipped = reason
        return phase
    from tests.topology import (  # type: ignore[import-not-found,unused-ignore]
        native_stack,
        why_not,
    )

    work = root / "stack"
    work.mkdir()
    with contextlib.ExitStack() as exits:
        try:
            stack = exits.enter_context(
                native_stack(work, log=lambda line: console.print(f"  [dim]{line}[/dim]"))
            )
        except AssertionError:
            # It asks why_not() again once it holds the machine's lock: another run of the
            # stack may have taken the ports in between. That is the machine's, not a failure.
            busy: str | None = why_not()
            if busy is None:
                raise
            phase.skipped = busy
            return phase
        load_stack(phase, stack, work, listeners, via_nginx, viewers, rps, seconds)
    return phase


def load_stack(
    phase: Phase,
    stack: Any,
    work: Path,
    listeners: int,
    via_nginx: int,
    viewers: int,
    rps: float,
    seconds: float,
) -> None:
    """Phase 3 on a running stack: idle, then the audience at once."""
    mp3 = next((m for m in stack.radio_mounts if m.endswith(".mp3")), stack.radio_mounts[0])
    console.print("  waiting for the station to be on air …")
    wait_on_air(stack, mp3, 180)
    phase.idle, phase.idle_seconds = measure_idle(stack, min(IDLE_S, seconds))
    relay_host, relay_port, _ = host_port(stack.relay_url)
    pub_host, pub_port, pub_tls = host_port(stack.public_url)
    public = {
        "host": pub_host,
        "port": pub_port,
        "name": pub_host,
        "tls": pub_tls,
        "ca_file": str(stack.ca_file),
    }
    via = min(via_nginx, listeners)
    targets = [
        {
            "host": relay_host,
            "port": relay_port,
            "name": relay_host,
            "path": mp3,
            "n": listeners - via,
            "via": "relay",
        },
        {**public, "path": f"/listen{mp3}", "n": via, "via": "nginx"},
    ]
    budget = 60 + listeners / 20
    roles = [
        start_load(
            "listeners",
            "_listeners",
            {"targets": [t for t in targets if t["n"]], "connect_budget": budget},
            work,
        ),
        start_load(
            "viewers",
            "_viewers",
            {**public, "n": viewers, "path": stack.tv_master_playlist},
            work,
        ),
        start_load("api", "_api", {**public, "rps": rps, "connections": API_CONNECTIONS}, work),
    ]
    try:

        def components() -> dict[str, list[int]]:
            found = {name: sorted(set(pids)) for name, pids in stack.pids().items()}
            for r in roles:
                found[f"load: {r.name}"] = tree(r.child.pid)
            found[ITSELF] = [os.getpid()]
            return found

        sampler = Sampler(components)
        phase.clients = run_window(roles, sampler, seconds, budget + 60)
        phase.usage, phase.seconds = sampler.result(), sampler.seconds
        phase.machine_s = sampler.machine_s
    finally:
        for r in roles:
            r.child.stop()


# --- the table -----------------------------------------------------------------------------------


def pct_of_core(use: Usage | None, seconds: float) -> str:
    return "–" if use is None else f"{use.cpu_s / seconds * 100:.1f} %"


def mib_of(use: Usage | None) -> str:
    return "–" if use is None or not use.peak_rss_kib else f"{use.peak_rss_kib / 1024:.0f}"


def listeners_cell(r: dict[str, Any]) -> tuple[str, str]:
    held = (
        f"{r['at_mark']:,}/{r['asked']:,} listeners, median {r['median_kbps']:.0f}, "
        f"slowest {r['min_kbps']:.0f} kbit/s"
    )
    detail = f"{r['behind']:,}"
    if r["dropped"]:
        detail += f" ({r['dropped']:,} dropped)"
    return held, detail


def took(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def viewers_cell(r: dict[str, Any]) -> tuple[str, str]:
    held = f"{r['at_mark']:,}/{r['asked']:,} viewers, {r['mbit_s']:,.0f} Mbit/s"
    if r["fetch_max_s"] is not None:
        held += f"; a segment in {took(r['fetch_p99_s'])} p99, {took(r['fetch_max_s'])} at most"
    if r["least_margin_s"] is not None:
        held += f"; least time to spare {r['least_margin_s']:.1f} s"
    why = []
    if r["stalled"]:
        why.append(f"{r['stalled']:,} stalled")
    if r["missed"]:
        why.append(f"{r['missed']:,} missed segments")
    if r["errors"]:
        why.append(", ".join(f"{k} ×{v}" for k, v in r["errors"].items()))
    return held, f"{r['behind']:,}" + (f" ({'; '.join(why)})" if why else "")


def api_cell(r: dict[str, Any], rps: float) -> tuple[str, str]:
    held = f"{r['rate']:,.0f}/{rps:,.0f} req/s answered"
    if r["p50_ms"] is not None:
        held += f", p50 {r['p50_ms']:,.1f} ms, p99 {r['p99_ms']:,.1f} ms"
    why = []
    bad = {k: v for k, v in r["statuses"].items() if not (k.startswith("2") or k == "304")}
    if bad:
        why.append(", ".join(f"HTTP {k} ×{v}" for k, v in bad.items()))
    if r["errors"]:
        why.append(", ".join(f"{k} ×{v}" for k, v in r["errors"].items()))
    if r["unanswered"]:
        why.append(f"{r['unanswered']:,} unanswered")
    if r["late"]:
        why.append(f"{r['late']:,} over {API_LATE_S:g} s")
    return held, f"{r['behind']:,}" + (f" ({'; '.join(why)})" if why else "")


def table(phases: list[Phase], args: argparse.Namespace) -> tuple[Table, list[str]]:
    """The table, and who was behind (empty: nobody)."""
    t = Table(
        "component",
        "CPU % of a core",
        "RSS MiB (peak)",
        "clients",
        "behind",
        "alone (same run): CPU %, RSS MiB",
        "on air, nobody: CPU %, RSS MiB",
        title=f"Diaspor end to end on this machine's loopback, {args.seconds:g} s windows",
        caption=(
            f"{os.cpu_count()} CPUs; CPU from /proc utime+stime over the window, RSS summed over "
            "a component's processes (children included); behind: a listener under "
            f"{BEHIND:.0%} of {STREAM_KBPS} kbit/s or dropped, a viewer with a stall, a missed "
            f"segment or an error, an API request failed, not 2xx/304 or over {API_LATE_S:g} s"
        ),
    )
    who: list[str] = []
    alone: dict[str, tuple[Usage, float]] = {}
    for ph in phases:
        t.add_row(f"[bold]{ph.title}[/bold]", "", "", ph.what)
        if ph.skipped or ph.failed:
            colour = "yellow" if ph.skipped else "red"
            t.add_row(f"  [{colour}]not run[/{colour}]", "", "", ph.skipped or ph.failed or "")
            continue
        s = ph.seconds
        cells: dict[str, tuple[str, str]] = {}
        ls, vs, api = (ph.clients.get(k) for k in ("listeners", "viewers", "api"))
        if ls:
            cells["listeners"] = listeners_cell(ls)
            if len(ls["targets"]) > 1:
                split = ", ".join(f"{x['at_mark']:,} via {x['via']}" for x in ls["targets"])
                cells["listeners"] = (f"{cells['listeners'][0]} ({split})", cells["listeners"][1])
            if ls["behind"] or ls["never"]:
                who.append(f"{ls['behind'] + ls['never']:,} listeners ({ph.title})")
        if vs:
            cells["viewers"] = viewers_cell(vs)
            if vs["behind"]:
                who.append(f"{vs['behind']:,} viewers ({ph.title})")
        if api:
            cells["api"] = api_cell(api, args.rps)
            if api["behind"]:
                who.append(f"{api['behind']:,} API requests ({ph.title})")
        # Which clients a component's row shows, and which phase's figure stands beside it.
        shows = {
            "icecast2": "listeners",
            "icecast-relay": "listeners",
            "nginx": "viewers",
            "api": "api",
        }
        shown: set[str] = set()
        for name, use in ph.usage.items():
            kind = shows.get(name, "")
            if name.startswith("load: ") and name.removeprefix("load: ") not in shown:
                kind = name.removeprefix("load: ")  # no component of its own to show it
            held, behind = cells.get(kind, ("", ""))
            shown.add(kind)
            beside = ""
            if ph.key == "icecast" and name == "icecast2":
                alone["icecast-relay"] = (use, s)
            if ph.key == "nginx" and name == "nginx":
                alone["nginx"] = (use, s)
            if ph.key == "stack" and name in alone:
                ref, ref_s = alone[name]
                beside = f"{pct_of_core(ref, ref_s)}, {mib_of(ref)}"
            quiet = ph.idle.get(name)
            idle = ""
            if quiet is not None:
                idle = f"{pct_of_core(quiet, ph.idle_seconds)}, {mib_of(quiet)}"
            t.add_row(f"  {name}", pct_of_core(use, s), mib_of(use), held, behind, beside, idle)
        servers = sum(u.cpu_s for n, u in ph.usage.items() if not n.startswith("load: "))
        load = sum(u.cpu_s for n, u in ph.usage.items() if n.startswith("load: "))
        others = max(0.0, ph.machine_s[0] - servers - load)
        t.add_row("  [dim]all servers[/dim]", f"[dim]{servers / s * 100:.1f} %[/dim]")
        t.add_row("  [dim]all load generators[/dim]", f"[dim]{load / s * 100:.1f} %[/dim]")
        t.add_row(
            "  [dim]kernel interrupts (networking)[/dim]",
            f"[dim]{ph.machine_s[1] / s * 100:.1f} %[/dim]",
        )
        t.add_row("  [dim]other processes[/dim]", f"[dim]{others / s * 100:.1f} %[/dim]")
    return t, who


# --- main ----------------------------------------------------------------------------------------


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--listeners", type=int, default=2000, help="radio listeners (default 2000)")
    p.add_argument("--viewers", type=int, default=1000, help="HLS viewers (default 1000)")
    p.add_argument("--rps", type=float, default=1000.0, help="API requests/s (default 1000)")
    p.add_argument("--seconds", type=float, default=60.0, help="measuring window (default 60)")
    p.add_argument(
        "--phase",
        default="all",
        help="all (the default), or some of icecast, nginx, stack separated by commas",
    )
    p.add_argument(
        "--via-nginx",
        type=int,
        default=100,
        help="of the listeners in phase 3, how many go through nginx's /listen/ (default 100)",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = p.parse_args()
    if min(args.listeners, args.viewers) < 1 or args.rps <= 0 or not 5 <= args.seconds <= 3600:
        p.error("--listeners and --viewers ≥ 1, --rps > 0, --seconds in [5, 3600]")
    args.via_nginx = min(args.via_nginx, args.listeners)
    chosen = set(TITLES) if args.phase == "all" else set(args.phase.split(","))
    if not chosen or not chosen <= set(TITLES):
        p.error("--phase: all, or some of icecast, nginx, stack separated by commas")

    # Every server and client started below inherits this limit (icecast2 and nginx too).
    need = args.listeners + args.viewers + API_CONNECTIONS + 1000
    have = raise_nofile(need)
    if have < need:
        sys.exit(
            f"this run needs {need:,} open files and the limit is {have:,}: run as root, or "
            f"raise the hard limit (ulimit -Hn {need}), or ask for fewer clients"
        )
    ffmpeg = find_ffmpeg()
    root = Path(tempfile.mkdtemp(prefix="diaspor-e2e-"))
    console.print(
        f"{os.cpu_count()} CPUs, open-file limit {have:,}, work dir {root}; windows of "
        f"{args.seconds:g} s"
    )
    phases: list[Phase] = []
    failed = False
    steps: list[tuple[str, Callable[[], Phase]]] = [
        ("icecast", lambda: phase_icecast(root, ffmpeg, args.listeners, args.seconds)),
        ("nginx", lambda: phase_nginx(root, ffmpeg, args.viewers, args.seconds)),
        (
            "stack",
            lambda: phase_stack(
                root, args.listeners, args.via_nginx, args.viewers, args.rps, args.seconds
            ),
        ),
    ]
    try:
        for name, step in steps:
            if name not in chosen:
                continue
            console.print(f"[bold]{name}[/bold] …")
            try:
                ph = step()
            except Exception as exc:  # a phase that could not run is a row, the others go on
                console.print(f"[red]{name} could not run:[/red] {exc}")
                lines = str(exc).strip().splitlines() or [repr(exc)]
                ph = Phase(name, TITLES[name], failed=f"{type(exc).__name__}: {lines[0][:300]}")
                failed = True
            if ph.skipped:
                console.print(f"[yellow]{name} not run: {ph.skipped}[/yellow]")
            phases.append(ph)
    finally:
        Child.stop_all()
        if args.keep:
            console.print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    t, who = table(phases, args)
    console.print(t)
    ran = [ph for ph in phases if not (ph.skipped or ph.failed)]
    if not ran:
        console.print("[yellow]no phase ran[/yellow]")
    elif who:
        console.print(f"[red]behind: {'; '.join(who)}[/red]")
    else:
        console.print("[green]nobody behind[/green]")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(script_main(ROLES, main))
