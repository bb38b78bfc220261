"""The public API under load: now-playing, the schedule and the TV live playlist at a fixed
request rate on one uvicorn worker, as they are and gzipped, the most each is answered
(measured with wrk) beside a bare FastAPI route, Server-Sent Events fan-out to thousands of
subscribers, and the same URLs again with the station on PostgreSQL.

    .venv/bin/python bench/api.py            # the design's test: 1,000 req/s for 20 s per URL,
                                             # 5,000 subscribers, a PostgreSQL pass
    .venv/bin/python bench/api.py --quick    # a smoke run (200 req/s for 5 s, 500
                                             # subscribers): not the design's test
    .venv/bin/python bench/api.py --database-url postgresql://user@host/postgres
    .venv/bin/python bench/api.py --database-url none     # no PostgreSQL pass

Needs `wrk` (Debian package) for the maximum throughput.

The station: a temporary data folder (SQLite, local storage) with the demo's catalogue and
schedule (`load_demo_content`, `load_demo_schedule`: Diaspor.FM's music clock, Diaspor TV's
episodes) and a live media playlist of Diaspor TV written to storage as the sequencer writes
it (`hls/tv/diaspor-tv/180p.m3u8`, `tv_window` segments). The demo's files are made with
ffmpeg, not packaged: the API reads the library and the schedule, not the segments.

The server: a role of this script, in its own process, serving `create_app(station)` with one
uvicorn worker configured as `diaspor serve` configures it, its logging included (a request
line per answer, into the server's log; no playout here, so now-playing is resolved from the
timeline, as in an API process beside a separate playout process; the body is made at most
once a second and on each change), plus a SIGUSR1 handler that publishes a now-playing
change of Diaspor.FM to the process's hub, as a radio engine in the same process would.

The load: an open-loop client in its own process (raw asyncio streams, HTTP/1.1 keep-alive
over a pool of connections): request i is due at t0 + i/rate whatever happened to the ones
before, and its latency is counted from that due time, so a server that falls behind shows
as queueing in the latency, not as a slower client. Each URL is measured on its own, after a
warm-up, first as it is and then with `Accept-Encoding: gzip` (as browsers and players ask),
then now-playing with the If-None-Match of the item on air (304s; each connection then keeps
the tag of the last 200 it got, as players do, so an item that changes during the run costs
one 200 per connection, counted apart); the client's own CPU is printed to show it was not
the bottleneck. The server's CPU (% of one core) and RSS are read
from /proc.

The ceiling: each URL again (as it is, gzipped, and 304) with wrk, closed loop (every
connection sends its next request as soon as the last is answered) for --burst-seconds
after a 1 s warm-up, beside a bare FastAPI app (one `async def` route returning a small
JSON, the same uvicorn settings) started by this script and measured the same way. wrk's
own CPU (its rusage) is printed beside the server's; a small Lua script counts every status.

The fan-out: N connections to `/api/v1/channels/diaspor-fm/now-playing/events`, spread over
client processes; once each has its first event, the server is told to publish (SIGUSR1), and
the time from the publish (the server's monotonic clock, the same clock on one machine) to
the arrival of the new event is recorded for every subscriber.

The PostgreSQL pass: when the server of --database-url answers (by default the one at
127.0.0.1:5432), the bench makes a database of its own there, sets up the same station in
it (a second data folder), and measures the same URLs (open loop, 304 and wrk ceiling; no
gzip or fan-out pass: neither reads the database), then drops the database. When no server
answers, the table says the pass was skipped and why.

Verdicts (DESIGN.md; the table's reference, ratio and verdict columns): each URL sustains
the offered 1,000 req/s (≥ 98 % of it) on one worker with p99 under 5 ms; its ceiling is at
least 60 % of the bare route's; SSE: the change reaches all 5,000 subscribers within 1 s (a
title shown late by more than that is visibly late). Every verdict also needs every answer
to be 2xx or 304, with no connection error and nothing left unanswered: a run that got any
other answer fails, and the counts are printed. A run that is not the design's (--quick,
another --rate, fewer subscribers) says so above and below the table, and its verdicts read
"met" or "not met", never PASS or FAIL. At 1,000 req/s one worker serves some 6,000 players
reloading a 6 s live playlist, or polling now-playing every 5 s (its max-age).

Every process this script starts is stopped and reaped; the temporary folder is removed
unless --keep, and the PostgreSQL database always. It exits 0 whatever the figures are (1
only if a part could not run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from common import (
    Child,
    Report,
    bench_console,
    child_env,
    clean_up,
    find_ffmpeg,
    free_port,
    mib,
    proc_cpu_s,
    proc_status_kib,
    role_args,
    role_result,
    run_role,
    rusage_cpu,
    script_main,
    start_role,
    tail_of,
    write_result,
)

# This file is bench/api.py, and the script's folder comes first on sys.path: it would hide
# the project's `api` package from the roles (and from diaspor.demo). `common` is imported.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

RADIO, TV = "diaspor-fm", "diaspor-tv"
URLS = {
    "now-playing": f"/api/v1/channels/{RADIO}/now-playing",
    "schedule (radio, today)": f"/api/v1/channels/{RADIO}/schedule",
    "schedule (TV, today: the demo's episode a minute)": f"/api/v1/channels/{TV}/schedule",
    "live playlist": f"/files/hls/tv/{TV}/180p.m3u8",
}
EVENTS = f"/api/v1/channels/{RADIO}/now-playing/events"
BARE = "/bare"
GZIP = {"Accept-Encoding": "gzip"}
REF_BARE_RPS = 6500  # DESIGN.md: a bare `async def` route on a machine like ours
CEILING_SHARE = 0.60  # DESIGN.md: cached GETs reach ≥ 60 % of a bare route's (wrk)
DESIGN_RATE, DESIGN_SUBSCRIBERS = 1000, 5000
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
TARGET_P99_MS = 5.0  # DESIGN.md: now-playing and schedule p99 < 5 ms at 1,000 req/s
TARGET_FANOUT_S = 1.0
SUBSCRIBERS_PER_PROCESS = 1250
WARMUP = 200  # requests per URL before the measured window

console = bench_console(200)


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return want


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of sorted values, nearest rank."""
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, round(q * len(values)) - 1))]


# --- roles ---------------------------------------------------------------------------------------


def database(cfg: dict[str, Any]) -> dict[str, str]:
    """The pass's database (PostgreSQL), as a settings override; none: the SQLite default."""
    return {"database_url": cfg["database_url"]} if cfg.get("database_url") else {}


async def role_setup(cfg: dict[str, Any]) -> None:
    """The demo catalogue and schedule, and a live playlist of Diaspor TV in storage."""
    from diaspor import migrate
    from diaspor.compose import build_station
    from diaspor.demo import load_demo_content
    from diaspor.demo_schedule import load_demo_schedule
    from media.hls import MediaSegment, media_playlist
    from playout.sequencer import live_prefix
    from station.settings import load_settings

    # One small rung: the episodes must be packaged (the schedule plays only media that is
    # ready), and the live playlist is the 180p one; the ladder is no part of what is measured.
    settings = load_settings(
        data_dir=Path(cfg["data_dir"]), tv_ladder=["180p:320x180:250"], **database(cfg)
    )
    migrate.upgrade(settings.database_url)
    station = build_station(settings)
    try:
        t0 = time.perf_counter()
        await load_demo_content(station)
        await station.worker().drain()  # analysis and packaging, as `diaspor demo` runs them
        load_demo_schedule(station)
        seg_ms = settings.tv_segment_s * 1000
        now_ms = int(time.time() * 1000) // seg_ms * seg_ms
        first = now_ms // seg_ms - settings.tv_window
        segments = [
            MediaSegment(
                uri=f"../../assets/{101 + (n // 7) % 3}/180p/seg-{n % 7:05d}.ts",
                duration_ms=seg_ms,  # type: ignore[arg-type]
                program_date_time_ms=(first + i) * seg_ms,
                discontinuity=n % 7 == 0,
            )
            for i, n in enumerate(range(first, first + settings.tv_window))
        ]
        text = media_playlist(
            segments,
            target_duration_s=settings.tv_segment_s,
            media_sequence=first,
            discontinuity_sequence=first // 7,
        )
        key = f"{live_prefix(TV)}/180p.m3u8"
        station.storage.put_bytes(key, text.encode(), "application/vnd.apple.mpegurl")
        write_result(
            cfg,
            {
                "setup_s": time.perf_counter() - t0,
                "playlist_bytes": len(text),
                "media": len(station.library.list(limit=200).items),
            },
        )
    finally:
        station.close()


async def role_serve(cfg: dict[str, Any]) -> None:
    """`diaspor serve`'s app and uvicorn config, plus SIGUSR1: publish a now-playing change."""
    import uvicorn

    from api.app import create_app
    from api.routes.nowplaying import current
    from diaspor.compose import build_station
    from diaspor.demo import server_config
    from station.logs import configure_logging
    from station.settings import load_settings

    raise_nofile()
    settings = load_settings(
        data_dir=Path(cfg["data_dir"]), host="127.0.0.1", port=cfg["port"], **database(cfg)
    )
    # As `diaspor serve` does: one request line per answer goes to the server's log.
    configure_logging(settings.log_format, settings.log_level)
    station = build_station(settings)
    server = uvicorn.Server(server_config(create_app(station), settings))
    marks = Path(cfg["marks"])

    def publish() -> None:
        np = current(station, RADIO)
        t = time.monotonic()
        station.now_playing.publish(np)
        with marks.open("a", encoding="utf-8") as fh:
            fh.write(f"{t}\n")

    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, publish)
    try:
        await server.serve()
    finally:
        station.close()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, int, bool, str | None]:
    """One HTTP/1.1 response: status, body bytes, whether the server closes, and its ETag."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    size = 0
    if "content-length" in headers:
        size = int(headers["content-length"])
        await reader.readexactly(size)
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            n = int((await reader.readline()).split(b";")[0], 16)
            await reader.readexactly(n + 2)
            size += n
            if n == 0:
                break
    return status, size, headers.get("connection", "").lower() == "close", headers.get("etag")


def get_request(cfg: dict[str, Any]) -> bytes:
    """The GET a load role sends again and again: cfg's path, host, port and headers."""
    extra = "".join(f"{k}: {v}\r\n" for k, v in cfg.get("headers", {}).items())
    host = f"{cfg['host']}:{cfg['port']}"
    return f"GET {cfg['path']} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()


async def role_load(cfg: dict[str, Any]) -> None:
    """Open-loop load on one URL: a request due every 1/rate s, latency from its due time."""
    host, port, rate, seconds = cfg["host"], cfg["port"], cfg["rate"], cfg["seconds"]
    lat: list[float] = []
    statuses: Counter[int] = Counter()
    renewed = 0  # revalidation: 200s that brought a new tag (the item on air changed)
    errors: Counter[str] = Counter()
    sizes: list[int] = []
    queue: asyncio.Queue[float | None] = asyncio.Queue()

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(host, port)

    async def one(conn: list[Any]) -> tuple[int, int]:
        """One request on conn = [reader, writer, headers]; a revalidating client (one that
        sends If-None-Match) keeps the tag of the last 200 it got, as players do."""
        nonlocal renewed
        if conn[0] is None:
            conn[0], conn[1] = await connect()
        conn[1].write(get_request({**cfg, "headers": conn[2]}))
        status, size, close, etag = await read_response(conn[0])
        if close:
            conn[1].close()
            conn[0] = conn[1] = None
        sent = conn[2].get("If-None-Match")
        if sent is not None and status == 200 and etag and etag != sent:
            conn[2] = {**conn[2], "If-None-Match": etag}
            renewed += 1
        return status, size

    async def worker() -> None:
        conn: list[Any] = [None, None, dict(cfg.get("headers", {}))]
        while (due := await queue.get()) is not None:
            try:
                status, size = await one(conn)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                errors[type(exc).__name__] += 1
                if conn[1] is not None:
                    conn[1].close()
                conn[0] = conn[1] = None
                continue
            lat.append(time.perf_counter() - due)
            statuses[status] += 1
            sizes.append(size)
        if conn[1] is not None:
            conn[1].close()

    # Warm-up, on one connection, not counted: WARMUP requests or 2 s, whichever is first.
    warm: list[Any] = [None, None, dict(cfg.get("headers", {}))]
    until = time.perf_counter() + 2.0
    for _ in range(WARMUP):
        await one(warm)
        if time.perf_counter() > until:
            break
    warm[1].close()
    renewed = 0
    workers = [asyncio.create_task(worker()) for _ in range(cfg["connections"])]
    await asyncio.sleep(0.2)  # the pool is connected before the window opens
    total = round(rate * seconds)
    ru0 = rusage_cpu(resource.getrusage(resource.RUSAGE_SELF))
    srv0 = proc_cpu_s(cfg["server_pid"])
    t0 = time.perf_counter()
    late = 0.0
    i = 0
    while i < total:
        now = time.perf_counter()
        while i < total and t0 + i / rate <= now:
            queue.put_nowait(t0 + i / rate)
            late = max(late, now - (t0 + i / rate))
            i += 1
        if i < total:
            await asyncio.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
    for _ in workers:
        queue.put_nowait(None)
    # What is still queued 10 s after the last request was due is counted as unfinished.
    _, pending = await asyncio.wait(workers, timeout=10)
    for w in pending:
        w.cancel()
    wall = time.perf_counter() - t0
    srv1 = proc_cpu_s(cfg["server_pid"])
    ru1 = rusage_cpu(resource.getrusage(resource.RUSAGE_SELF))
    lat.sort()
    write_result(
        cfg,
        {
            "sent": total,
            "done": len(lat),
            "wall_s": wall,
            "statuses": dict(statuses),
            "renewed": renewed,
            "errors": dict(errors),
            "unfinished": total - len(lat) - sum(errors.values()),
            "p50": pct(lat, 0.5),
            "p95": pct(lat, 0.95),
            "p99": pct(lat, 0.99),
            "max": lat[-1] if lat else float("nan"),
            "mean_bytes": sum(sizes) / max(1, len(sizes)),
            "client_cpu_s": ru1 - ru0,
            "server_cpu_s": (srv1 or 0) - (srv0 or 0),
            "dispatch_late_max_s": late,
            "server_rss_kib": proc_status_kib(cfg["server_pid"], "VmRSS"),
        },
    )


async def role_subscribe(cfg: dict[str, Any]) -> None:
    """N SSE subscribers: says `ready OK FAILED` once every one has its first event (or
    failed), then records when each receives the next event."""
    raise_nofile()
    host, port, n = cfg["host"], cfg["port"], cfg["n"]
    request = (
        f"GET {EVENTS} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n"
    ).encode()
    got: list[float] = []
    first_done = asyncio.Event()
    state = {"ready": 0, "failed": 0}
    errors: Counter[str] = Counter()
    opening = asyncio.Semaphore(cfg.get("opening", 50))
    writers: list[asyncio.StreamWriter] = []

    def settled() -> None:
        if state["ready"] + state["failed"] == n:
            first_done.set()

    async def subscriber() -> None:
        events = 0
        try:
            async with opening:
                reader, writer = await asyncio.open_connection(host, port)
                writers.append(writer)
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                if b" 200 " not in head.split(b"\r\n", 1)[0]:
                    raise ValueError(head.split(b"\r\n", 1)[0].decode("latin-1"))
                while events == 0:  # the first event, inside the semaphore: no stampede
                    size = int((await reader.readline()).split(b";")[0], 16)
                    chunk = await reader.readexactly(size + 2)
                    events += b"event: now-playing" in chunk
            state["ready"] += 1
            settled()
            while True:
                size = int((await reader.readline()).split(b";")[0], 16)
                if size == 0:
                    raise ValueError("stream ended")
                chunk = await reader.readexactly(size + 2)
                if b"event: now-playing" in chunk:
                    got.append(time.monotonic())
                    return
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            errors[type(exc).__name__ + (f": {exc}" if isinstance(exc, ValueError) else "")] += 1
            if events == 0:
                state["failed"] += 1
                settled()

    t0 = time.perf_counter()
    ru0 = rusage_cpu(resource.getrusage(resource.RUSAGE_SELF))
    tasks = [asyncio.create_task(subscriber()) for _ in range(n)]
    await first_done.wait()
    ready_s = time.perf_counter() - t0
    print(f"ready {state['ready']} {state['failed']}", flush=True)
    ru1 = rusage_cpu(resource.getrusage(resource.RUSAGE_SELF))
    _, pending = await asyncio.wait(tasks, timeout=cfg["wait_s"])
    for t in pending:
        t.cancel()
    ru2 = rusage_cpu(resource.getrusage(resource.RUSAGE_SELF))
    for w in writers:
        w.close()
    write_result(
        cfg,
        {
            "got": got,
            "ready": state["ready"],
            "failed": state["failed"],
            "ready_s": ready_s,
            "missed": len(pending),
            "errors": dict(errors),
            "cpu_connect_s": ru1 - ru0,
            "cpu_fanout_s": ru2 - ru1,
        },
    )


async def role_bare(cfg: dict[str, Any]) -> None:
    """The reference: a bare FastAPI app, one `async def` route returning a small JSON, on
    the same uvicorn settings as ours."""
    import uvicorn
    from fastapi import FastAPI

    from diaspor.demo import server_config
    from station.settings import load_settings

    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(BARE)
    async def bare() -> dict[str, Any]:
        return {"channel": RADIO, "title": "Sarı gəlin", "elapsed_ms": 1234}

    settings = load_settings(host="127.0.0.1", port=cfg["port"])
    await uvicorn.Server(server_config(app, settings)).serve()


ROLES = {
    "_setup": role_setup,
    "_serve": role_serve,
    "_load": role_load,
    "_subscribe": role_subscribe,
    "_bare": role_bare,
}


# --- the parent -----------------------------------------------------------------------------------


def start_server(
    root: Path, cfg: dict[str, Any], env: dict[str, str], role: str = "_serve"
) -> tuple[Child, str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server, _ = start_role(__file__, role, {**cfg, "port": port}, root, env)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited early:\n{tail_of(server.log)}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                return server, base
        time.sleep(0.2)
    raise RuntimeError(f"the server did not answer in 90 s:\n{tail_of(server.log)}")


def wait_idle(server: Child, limit_s: float = 180.0) -> float:
    """Wait until the server is idle (< 10 % of a core over 1 s): requests a previous run
    left in its thread pool must not be billed to the next URL. Returns the seconds waited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        c0 = proc_cpu_s(server.pid) or 0.0
        time.sleep(1.0)
        if (proc_cpu_s(server.pid) or 0.0) - c0 < 0.1:
            break
    return time.monotonic() - t0


def ms(s: float) -> str:
    return f"{s * 1000:,.1f} ms"


@dataclass(frozen=True)
class Run:
    """What every part of one run shares: its folder, the children's environment, and
    whether this is the design's test (else no verdict is given against its numbers)."""

    root: Path
    env: dict[str, str]
    design: bool

    def verdict(self, ok: bool) -> str:
        if not self.design:
            return (
                "[yellow]met[/yellow] (not the design's test)"
                if ok
                else ("[yellow]not met[/yellow] (not the design's test)")
            )
        return "[green]PASS[/green]" if ok else "[red]FAIL[/red]"


def answered(
    statuses: dict[str, int], errors: dict[str, int], expect: str | None = None, renewed: int = 0
) -> tuple[bool, str]:
    """Whether every request got a 2xx or 304 (or, if given, the `expect`ed status: a
    revalidation answered 200 measured something else, except the `renewed` 200s that
    brought a new tag when the item on air changed), and the counts as printed."""

    def fine(code: str) -> bool:
        return code == expect if expect else 200 <= int(code) < 300 or code == "304"

    bad = sum(n for code, n in statuses.items() if not fine(code))
    if expect:
        bad -= min(renewed, statuses.get("200", 0))
    failed = sum(errors.values())
    shown = ", ".join(f"{k}×{v:,}" for k, v in sorted(statuses.items())) or "none"
    errs = ", ".join(f"{k}×{v:,}" for k, v in errors.items() if v) or "none"
    other = f"not {expect}" if expect else "not 2xx/304"
    return not bad and not failed, f"{shown}; {other}: {bad:,}; errors: {errs}"


def bench_load(
    rep: Report,
    run: Run,
    server: Child,
    port: int,
    name: str,
    path: str,
    args: argparse.Namespace,
    headers: dict[str, str] | None = None,
) -> None:
    waited = wait_idle(server)
    shown = "".join(f" with {k}: {v}" for k, v in (headers or {}).items())
    console.print(
        f"{name}: {args.rate:g} req/s for {args.seconds:g} s on {path}{shown} "
        f"(server idle after {waited:.0f} s) …"
    )
    cfg = {
        "host": "127.0.0.1",
        "port": port,
        "path": path,
        "rate": args.rate,
        "seconds": args.seconds,
        "connections": args.connections,
        "server_pid": server.pid,
        "headers": headers or {},
    }
    reaped, r = run_role(__file__, "_load", cfg, run.root, args.seconds * 4 + 120, env=run.env)
    server.sample()
    achieved = r["done"] / r["wall_s"]
    expect = "304" if "If-None-Match" in (headers or {}) else None
    errors = {**r["errors"], "unfinished": r["unfinished"]}
    good, counts = answered(r["statuses"], errors, expect, r.get("renewed", 0))
    if expect:
        counts += f"; 200s with a new tag (the item changed): {r.get('renewed', 0):,}"
    rep.section(f"{name}: GET {path}{shown}")
    rep.add(
        "achieved throughput (offered, open loop)",
        f"{achieved:,.0f} req/s ({r['done']:,} in {r['wall_s']:.1f} s)",
        f"{args.rate:,.0f} req/s offered",
        f"×{achieved / args.rate:.2f}",
        run.verdict(good and achieved >= 0.98 * args.rate),
    )
    rep.add(
        "latency from due time p50 / p95 / p99 / max",
        f"{ms(r['p50'])} / {ms(r['p95'])} / {ms(r['p99'])} / {ms(r['max'])}",
        f"p99 < {TARGET_P99_MS:g} ms",
        f"×{r['p99'] * 1000 / TARGET_P99_MS:.2f}",
        run.verdict(good and r["p99"] * 1000 < TARGET_P99_MS),
    )
    rep.add("statuses; mean body", f"{counts}; {r['mean_bytes']:,.0f} B")
    rep.add(
        "server CPU; RSS after",
        f"{r['server_cpu_s'] / r['wall_s']:.0%} of a core; {mib(r['server_rss_kib'])}",
    )
    rep.add(
        "client CPU (its own process)",
        f"{r['client_cpu_s'] / r['wall_s']:.0%} of a core, {reaped.cpu_s:.1f} CPU-s in all; "
        f"dispatch late by ≤ {ms(r['dispatch_late_max_s'])}",
    )


# wrk counts every status itself (its "Non-2xx or 3xx" would let a 3xx other than 304
# through) and prints one JSON line at the end, summed over its threads.
WRK_SCRIPT = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  local all = {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses")) do all[code] = (all[code] or 0) + n end
  end
  local parts = {}
  for code, n in pairs(all) do table.insert(parts, string.format('"%d": %d', code, n)) end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "statuses": {%s}, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, ' ..
    '"p50_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration, summary.bytes, table.concat(parts, ", "),
    e.connect, e.read, e.write, e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""


def wrk(
    run: Run,
    server: Child,
    url: str,
    seconds: float,
    connections: int,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Closed loop with wrk (each connection sends its next request as soon as the last is
    answered) after a 1 s warm-up: the most the server answers, the server's CPU, and wrk's
    own CPU (rusage of its process), which must stay small beside the server's."""
    wait_idle(server)
    script = run.root / "count-statuses.lua"
    script.write_text(WRK_SCRIPT, encoding="utf-8")
    args = ["wrk", "-t1", f"-c{connections}", "-s", str(script)]
    for k, v in (headers or {}).items():
        args += ["-H", f"{k}: {v}"]
    Child([*args, "-d1s", url], env=run.env).wait(60)  # warm-up, not counted
    log = run.root / f"wrk-{time.monotonic_ns()}.log"
    cpu0 = proc_cpu_s(server.pid)
    child = Child([*args, f"-d{seconds:g}s", url], log=log, env=run.env)
    reaped = child.wait(seconds + 60)
    cpu1 = proc_cpu_s(server.pid)
    out = log.read_text("utf-8", "replace")
    line = next((ln for ln in out.splitlines() if ln.startswith('{"requests"')), None)
    if reaped.returncode != 0 or line is None:
        raise RuntimeError(f"wrk exited {reaped.returncode}:\n{tail_of(log)}")
    r: dict[str, Any] = json.loads(line)
    wall = r["duration_us"] / 1e6
    r.update(
        rps=r["requests"] / wall,
        wall_s=wall,
        server_cpu=((cpu1 or 0) - (cpu0 or 0)) / wall,
        wrk_cpu=reaped.cpu_s / wall,
    )
    return r


def bench_ceiling(
    rep: Report,
    run: Run,
    server: Child,
    port: int,
    args: argparse.Namespace,
    label: str,
    gzip: bool,
) -> None:
    """The most each URL is answered (wrk, closed loop), beside a bare FastAPI route's."""
    console.print(
        f"maximum throughput{label}: wrk, {args.connections} connections, "
        f"{args.burst_seconds:g} s per URL, a bare FastAPI app first …"
    )
    bare_server, bare_base = start_server(run.root, {}, run.env, "_bare")
    try:
        bare = wrk(run, bare_server, bare_base + BARE, args.burst_seconds, args.connections)
    finally:
        bare_server.stop(grace=10.0)
    bare_ok, bare_counts = answered(bare["statuses"], bare["errors"])
    rep.section(
        f"Maximum throughput{label}, wrk closed loop ({args.connections} connections, "
        f"{args.burst_seconds:g} s each); target: ≥ {CEILING_SHARE:.0%} of the bare route's"
    )
    rep.add(
        "bare FastAPI `async def` route, small JSON (the reference)",
        f"{bare['rps']:,.0f} req/s; server {bare['server_cpu']:.0%} of a core, "
        f"wrk {bare['wrk_cpu']:.0%}" + ("" if bare_ok else f"; {bare_counts}"),
        f"≈{REF_BARE_RPS:,} req/s (the design's machine)",
        f"×{bare['rps'] / REF_BARE_RPS:.2f}",
    )
    base = f"http://127.0.0.1:{port}"

    def measure(name: str, path: str, headers: dict[str, str]) -> None:
        r = wrk(run, server, base + path, args.burst_seconds, args.connections, headers)
        expect = "304" if "If-None-Match" in headers else None
        good, counts = answered(r["statuses"], r["errors"], expect)
        rep.add(
            name,
            f"{r['rps']:,.0f} req/s; server {r['server_cpu']:.0%} of a core, wrk "
            f"{r['wrk_cpu']:.0%}; {counts}",
            f"{bare['rps'] * CEILING_SHARE:,.0f} req/s ({CEILING_SHARE:.0%} of bare)",
            f"×{r['rps'] / bare['rps']:.2f} of bare",
            run.verdict(good and bare_ok and r["rps"] >= CEILING_SHARE * bare["rps"]),
        )

    for name, path, headers in targets(gzip):
        measure(name, path, headers)
    phase = revalidation(base)  # the tag of the item on air now, read just before
    if phase is not None:
        measure(*phase)


def bench_fanout(
    rep: Report, run: Run, server: Child, port: int, marks: Path, args: argparse.Namespace
) -> None:
    n = args.subscribers
    procs = max(1, -(-n // SUBSCRIBERS_PER_PROCESS))
    console.print(f"SSE: {n:,} subscribers over {procs} client processes …")
    wait_idle(server)
    rss_before = proc_status_kib(server.pid, "VmRSS")
    subs: list[tuple[Child, Path]] = []
    for k in range(procs):
        share = n // procs + (1 if k < n % procs else 0)
        result = run.root / f"subscribe-result-{k}.json"
        cfg = {"host": "127.0.0.1", "port": port, "n": share, "wait_s": 120, "result": str(result)}
        child = Child(
            role_args(__file__, "_subscribe", cfg, run.root), env=run.env, pipes=True, log=None
        )
        subs.append((child, result))
    t0 = time.monotonic()
    ready = failed = 0
    for child, _ in subs:
        line = child.read_line(600)
        if line is None or not line.startswith("ready "):
            raise RuntimeError(f"a subscriber process did not get ready: {line!r}")
        ok, bad = map(int, line.split()[1:])
        ready, failed = ready + ok, failed + bad
    connect_s = time.monotonic() - t0
    time.sleep(1.0)
    cpu0, w0 = proc_cpu_s(server.pid), time.monotonic()
    time.sleep(3.0)
    idle_cpu = ((proc_cpu_s(server.pid) or 0) - (cpu0 or 0)) / (time.monotonic() - w0)
    rss_with = proc_status_kib(server.pid, "VmRSS")
    cpu0 = proc_cpu_s(server.pid)
    os.kill(server.pid, signal.SIGUSR1)
    got: list[float] = []
    missed = 0
    errors: Counter[str] = Counter()
    client_cpu = 0.0
    for child, result in subs:
        reaped = child.wait(180)
        r = role_result("_subscribe", child, result)
        got += r["got"]
        missed += r["missed"]
        errors.update(r["errors"])
        client_cpu += reaped.cpu_s
    fan_cpu = (proc_cpu_s(server.pid) or 0) - (cpu0 or 0)
    server.sample()
    published = float(marks.read_text(encoding="utf-8").split()[-1])
    delays = sorted(t - published for t in got)
    everyone = len(delays) == n
    rep.section(f"SSE fan-out: GET {EVENTS}, {n:,} subscribers")
    rep.add(
        "connected with a first event; failed; time to connect all",
        f"{ready:,}; {failed:,}; {connect_s:.1f} s",
    )
    rep.add(
        "change received by 50 % / 99 % / 100 %",
        f"{pct(delays, 0.5):.3f} s / {pct(delays, 0.99):.3f} s / "
        + (f"{delays[-1]:.3f} s" if everyone else f"only {len(delays):,} of {n:,}"),
        f"100 % < {TARGET_FANOUT_S:g} s",
        f"×{delays[-1] / TARGET_FANOUT_S:.2f}" if delays else "",
        run.verdict(everyone and not failed and not errors and delays[-1] < TARGET_FANOUT_S),
    )
    rep.add(
        "server CPU idle with subscribers; during fan-out",
        f"{idle_cpu:.0%} of a core; {fan_cpu:.2f} CPU-s",
    )
    rep.add(
        "server RSS before; with subscribers (per subscriber)",
        f"{mib(rss_before)}; {mib(rss_with)} "
        f"({((rss_with or 0) - (rss_before or 0)) / max(1, ready):.1f} KiB)",
    )
    errs = ", ".join(f"{k}×{v}" for k, v in errors.most_common(3)) or "none"
    rep.add(
        "subscribers missed; errors; client CPU (all processes)",
        f"{missed:,}; {errs}; {client_cpu:.1f} CPU-s",
    )


def targets(gzip: bool) -> list[tuple[str, str, dict[str, str]]]:
    """The URLs measured: each as it is, then (gzip) each as browsers and players ask."""
    plain: list[tuple[str, str, dict[str, str]]] = [(name, path, {}) for name, path in URLS.items()]
    return plain + ([(f"{name}, gzip", path, GZIP) for name, path in URLS.items()] if gzip else [])


def revalidation(base: str) -> tuple[str, str, dict[str, str]] | None:
    """Now-playing asked again with the tag of the item on air now (read just before the
    phase: a tag read earlier may be gone with its item)."""
    etag = httpx.get(base + URLS["now-playing"], timeout=10).headers.get("etag")
    return ("now-playing, 304", URLS["now-playing"], {"If-None-Match": etag}) if etag else None


def station_pass(
    rep: Report,
    run: Run,
    args: argparse.Namespace,
    label: str,
    data_dir: Path,
    database_url: str | None = None,
    *,
    gzip: bool = True,
    fanout: bool = True,
) -> None:
    """One station (the demo, on SQLite or on `database_url`), its server, and every phase."""
    console.print(
        f"setup{label}: the demo catalogue (made, analysed, packaged), its schedule, "
        "a live playlist …"
    )
    cfg: dict[str, Any] = {"data_dir": str(data_dir), "database_url": database_url}
    _, setup = run_role(__file__, "_setup", cfg, run.root, 900, env=run.env)
    rep.section(f"Station{label}")
    rep.add(
        "demo media; setup time; live playlist",
        f"{setup['media']}; {setup['setup_s']:.0f} s; {setup['playlist_bytes']} B",
    )
    marks = run.root / f"marks-{time.monotonic_ns()}.txt"
    server, base = start_server(run.root, {**cfg, "marks": str(marks)}, run.env)
    port = int(base.rsplit(":", 1)[1])
    rep.add("server RSS at start", mib(proc_status_kib(server.pid, "VmRSS")))
    try:
        for name, path, headers in targets(gzip):
            try:
                bench_load(rep, run, server, port, name + label, path, args, headers)
            except Exception as exc:
                rep.error(name + label, exc)
        try:
            phase = revalidation(base)
            if phase:
                name, path, headers = phase
                bench_load(rep, run, server, port, name + label, path, args, headers)
        except Exception as exc:
            rep.error("now-playing, 304" + label, exc)
        try:
            bench_ceiling(rep, run, server, port, args, label, gzip)
        except Exception as exc:
            rep.error("maximum throughput" + label, exc)
        if fanout:
            try:
                bench_fanout(rep, run, server, port, marks, args)
            except Exception as exc:
                rep.error("SSE fan-out", exc)
    finally:
        reaped = server.stop(grace=15.0)
    rep.add("server peak RSS (VmHWM)", mib(max(server.hwm_kib, reaped.maxrss_kib)))


def safe_url(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


def postgres_unreachable(url: str) -> str | None:
    """Why the PostgreSQL server cannot be used (None: it answers)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    from station.db import normalise_url

    engine = create_engine(normalise_url(url), connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    finally:
        engine.dispose()
    return None


def not_the_design(args: argparse.Namespace) -> list[str]:
    """Why this run is not the design's test (empty: it is)."""
    why = ["--quick"] if args.quick else []
    if args.rate != DESIGN_RATE:
        why.append(f"{args.rate:,.0f} req/s, not {DESIGN_RATE:,}")
    if args.subscribers < DESIGN_SUBSCRIBERS:
        why.append(f"{args.subscribers:,} SSE subscribers, not {DESIGN_SUBSCRIBERS:,}")
    return why


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=20.0, help="per URL (default 20)")
    p.add_argument("--rate", type=float, default=1000.0, help="requests/s (default 1000)")
    p.add_argument("--subscribers", type=int, default=5000, help="SSE (default 5000)")
    p.add_argument("--connections", type=int, default=32, help="client pool (default 32)")
    p.add_argument(
        "--burst-seconds",
        type=float,
        default=10.0,
        help="wrk's closed-loop seconds per URL for the maximum throughput (default 10)",
    )
    p.add_argument(
        "--database-url",
        default=DEFAULT_PG,
        help="the PostgreSQL server of the PostgreSQL pass: a database of the bench's own is "
        "made there and dropped at the end (default: %(default)s, when it answers; "
        "'none' skips the pass)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="200 req/s for 5 s, 500 subscribers: a smoke run, not the design's test",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = p.parse_args()
    if args.quick:
        args.rate, args.seconds, args.subscribers, args.burst_seconds = 200.0, 5.0, 500, 3.0
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed for the maximum throughput (Debian: apt-get install wrk)")
    why = not_the_design(args)
    if why:
        console.print(
            f"[yellow]Not the design's test ({'; '.join(why)}): no PASS/FAIL is given against "
            "DESIGN.md's numbers; each verdict says met or not met.[/yellow]"
        )
    raise_nofile()
    root = Path(tempfile.mkdtemp(prefix="bench-api-"))
    run = Run(root, child_env(root / "data", find_ffmpeg()), design=not why)
    rep = Report(
        f"Public API on one uvicorn worker: {args.rate:,.0f} req/s × {args.seconds:g} s per "
        f"URL; SSE fan-out to {args.subscribers:,}"
        + ("" if not why else " — NOT the design's test"),
        f"{os.cpu_count()} CPUs; open-loop client, latency from each request's due time; "
        f"targets: ≥ 98 % of the offered rate with p99 < {TARGET_P99_MS:g} ms, a ceiling ≥ "
        f"{CEILING_SHARE:.0%} of a bare route's (wrk), SSE 100 % < {TARGET_FANOUT_S:g} s; "
        "every verdict also needs every answer 2xx or 304",
        console,
    )
    try:
        station_pass(rep, run, args, "", root / "data")
        pg = None if args.database_url.lower() == "none" else args.database_url
        shown = "" if pg is None else safe_url(pg)
        reason = "--database-url none" if pg is None else postgres_unreachable(pg)
        if pg is None or reason:
            console.print(f"[yellow]PostgreSQL pass skipped: {reason}[/yellow]")
            rep.section("PostgreSQL pass")
            rep.add(f"[yellow]skipped[/yellow] ({shown or 'no server'})", reason or "")
        else:
            from station.db import scratch_database

            with scratch_database(pg, "bench_api") as url:
                station_pass(
                    rep, run, args, " (PostgreSQL)", root / "data-pg", url, gzip=False, fanout=False
                )
    except Exception as exc:
        rep.error("the bench", exc)
    finally:
        clean_up(root, args.keep, console)
    rep.print()
    if why:
        console.print(f"[yellow]Not the design's test: {'; '.join(why)}.[/yellow]")
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(script_main(ROLES, main))
