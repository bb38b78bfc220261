"""The public API under load: now-playing, the schedule and the TV live playlist at a fixed
request rate on one uvicorn worker, the most each is answered beside a bare FastAPI route,
and Server-Sent Events fan-out to thousands of subscribers.

    .venv/bin/python bench/api.py            # 1,000 req/s for 20 s per URL, 5,000 subscribers
    .venv/bin/python bench/api.py --quick    # 200 req/s for 5 s, 500 subscribers
    .venv/bin/python bench/api.py --rate 2000 --seconds 30 --subscribers 8000 --keep

The station: a temporary data folder (SQLite, local storage) with the demo's catalogue and
schedule (`load_demo_content`, `load_demo_schedule`: Diaspor.FM's music clock, Diaspor TV's
episodes) and a live media playlist of Diaspor TV written to storage as the sequencer writes
it (`hls/tv/diaspor-tv/180p.m3u8`, `tv_window` segments). The demo's files are made with
ffmpeg, not packaged: the API reads the library and the schedule, not the segments.

The server: a role of this script, in its own process, serving `create_app(station)` with one
uvicorn worker configured as `diaspor serve` configures it (no playout here, so now-playing is
resolved from the timeline, as in an API process beside a separate playout process; the
body is made at most once a second and on each change), plus a SIGUSR1 handler that
publishes a now-playing change of Diaspor.FM to the process's hub, as a radio engine in the
same process would.

The load: an open-loop client in its own process (raw asyncio streams, HTTP/1.1 keep-alive
over a pool of connections): request i is due at t0 + i/rate whatever happened to the ones
before, and its latency is counted from that due time, so a server that falls behind shows
as queueing in the latency, not as a slower client. Each URL is measured on its own, after a
warm-up; the client's own CPU is printed to show it was not the bottleneck. The server's CPU
(% of one core) and RSS are read from /proc.

The fan-out: N connections to `/api/v1/channels/diaspor-fm/now-playing/events`, spread over
client processes; once each has its first event, the server is told to publish (SIGUSR1), and
the time from the publish (the server's monotonic clock, the same clock on one machine) to
the arrival of the new event is recorded for every subscriber.

The ceiling: each URL again, closed loop (every connection sends its next request as soon
as the last is answered) for --burst-seconds, beside a bare FastAPI app (one `async def`
route returning a small JSON, the same uvicorn settings) started by this script.

Targets (DESIGN.md; the table's "target" column): 1,000 req/s sustained on one worker with
p99 under 5 ms; a ceiling at least half the bare route's; SSE: the change reaches all 5,000
subscribers within 1 s (a title shown late by more than that is visibly late). At 1,000
req/s one worker serves some 6,000 players reloading a 6 s live playlist, or polling
now-playing every 5 s (its max-age).
Every process this script starts is stopped and reaped; the temporary folder is removed
unless --keep. It exits 0 whatever the figures are (1 only if a part could not run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import signal
import sys
import tempfile
import time
from collections import Counter
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
    verdict,
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
REF_BARE_RPS = 6500  # DESIGN.md: a bare `async def` route on a machine like ours
TARGET_P99_MS = 5.0  # DESIGN.md: now-playing and schedule p99 < 5 ms at 1,000 req/s
TARGET_FANOUT_S = 1.0
SUBSCRIBERS_PER_PROCESS = 1250
WARMUP = 200  # requests per URL before the measured window

console = bench_console(150)


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
    settings = load_settings(data_dir=Path(cfg["data_dir"]), tv_ladder=["180p:320x180:250"])
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
    from station.settings import load_settings

    raise_nofile()
    settings = load_settings(data_dir=Path(cfg["data_dir"]), host="127.0.0.1", port=cfg["port"])
    station = build_station(settings)
    server = uvicorn.Server(server_config(create_app(station), settings))
    marks = Path(cfg["marks"])

    def publish() -> None:
        np = current(station, RADIO)  # type: ignore[arg-type]
        t = time.monotonic()
        station.now_playing.publish(np)
        with marks.open("a", encoding="utf-8") as fh:
            fh.write(f"{t}\n")

    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, publish)
    try:
        await server.serve()
    finally:
        station.close()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, int, bool]:
    """One HTTP/1.1 response: status, body bytes, and whether the server closes."""
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
    return status, size, headers.get("connection", "").lower() == "close"


def get_request(cfg: dict[str, Any]) -> bytes:
    """The GET a load role sends again and again: cfg's path, host, port and headers."""
    extra = "".join(f"{k}: {v}\r\n" for k, v in cfg.get("headers", {}).items())
    host = f"{cfg['host']}:{cfg['port']}"
    return f"GET {cfg['path']} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()


async def role_load(cfg: dict[str, Any]) -> None:
    """Open-loop load on one URL: a request due every 1/rate s, latency from its due time."""
    host, port, rate, seconds = cfg["host"], cfg["port"], cfg["rate"], cfg["seconds"]
    request = get_request(cfg)
    lat: list[float] = []
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    sizes: list[int] = []
    queue: asyncio.Queue[float | None] = asyncio.Queue()

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(host, port)

    async def one(conn: list[Any]) -> tuple[int, int]:
        if conn[0] is None:
            conn[0], conn[1] = await connect()
        conn[1].write(request)
        status, size, close = await read_response(conn[0])
        if close:
            conn[1].close()
            conn[0] = conn[1] = None
        return status, size

    async def worker() -> None:
        conn: list[Any] = [None, None]
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
    warm: list[Any] = [None, None]
    until = time.perf_counter() + 2.0
    for _ in range(WARMUP):
        await one(warm)
        if time.perf_counter() > until:
            break
    warm[1].close()
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


async def role_burst(cfg: dict[str, Any]) -> None:
    """Closed loop: each connection sends its next request when the last is answered, for
    `seconds` after a warm-up: the most the server answers."""
    host, port = cfg["host"], cfg["port"]
    request = get_request(cfg)
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    counting = False
    stop_at = float("inf")

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < stop_at:
                writer.write(request)
                status, _, close = await read_response(reader)
                if counting:
                    statuses[status] += 1
                if close:
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            errors[type(exc).__name__] += 1
        finally:
            writer.close()

    tasks = [asyncio.create_task(worker()) for _ in range(cfg["connections"])]
    await asyncio.sleep(1.0)  # warm-up, not counted
    counting = True
    srv0 = proc_cpu_s(cfg["server_pid"])
    t0 = time.perf_counter()
    stop_at = t0 + cfg["seconds"]
    await asyncio.wait(tasks, timeout=cfg["seconds"] + 30)
    wall = time.perf_counter() - t0
    srv1 = proc_cpu_s(cfg["server_pid"])
    write_result(
        cfg,
        {
            "done": sum(statuses.values()),
            "wall_s": wall,
            "statuses": dict(statuses),
            "errors": dict(errors),
            "server_cpu_s": (srv1 or 0) - (srv0 or 0),
        },
    )


ROLES = {
    "_setup": role_setup,
    "_serve": role_serve,
    "_load": role_load,
    "_subscribe": role_subscribe,
    "_bare": role_bare,
    "_burst": role_burst,
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


def bench_load(
    rep: Report,
    root: Path,
    env: dict[str, str],
    server: Child,
    port: int,
    name: str,
    path: str,
    args: argparse.Namespace,
    headers: dict[str, str] | None = None,
) -> None:
    waited = wait_idle(server)
    console.print(
        f"{name}: {args.rate:g} req/s for {args.seconds:g} s on {path} "
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
    reaped, r = run_role(__file__, "_load", cfg, root, args.seconds * 4 + 120, env=env)
    server.sample()
    achieved = r["done"] / r["wall_s"]
    ok_rate = achieved >= 0.98 * args.rate and not r["errors"] and not r["unfinished"]
    rep.section(f"{name}: GET {path}" + (" with If-None-Match" if headers else ""))
    rep.add(
        "achieved throughput (offered, open loop)",
        f"{achieved:,.0f} req/s of {args.rate:,.0f} ({r['done']:,} in {r['wall_s']:.1f} s)",
        f"{args.rate:,.0f} req/s",
        verdict(ok_rate),
    )
    rep.add(
        "latency from due time p50 / p95 / p99 / max",
        f"{ms(r['p50'])} / {ms(r['p95'])} / {ms(r['p99'])} / {ms(r['max'])}",
        f"p99 < {TARGET_P99_MS:g} ms",
        verdict(r["p99"] * 1000 < TARGET_P99_MS),
    )
    statuses = ", ".join(f"{k}×{v:,}" for k, v in sorted(r["statuses"].items()))
    errs = ", ".join(f"{k}×{v}" for k, v in r["errors"].items()) or "none"
    rep.add(
        "statuses; errors; unfinished; mean body",
        f"{statuses}; {errs}; {r['unfinished']}; {r['mean_bytes']:,.0f} B",
    )
    rep.add(
        "server CPU; RSS after",
        f"{r['server_cpu_s'] / r['wall_s']:.0%} of a core; {mib(r['server_rss_kib'])}",
    )
    rep.add(
        "client CPU (its own process)",
        f"{r['client_cpu_s'] / r['wall_s']:.0%} of a core, {reaped.cpu_s:.1f} CPU-s in all; "
        f"dispatch late by ≤ {ms(r['dispatch_late_max_s'])}",
    )


def burst(
    root: Path,
    env: dict[str, str],
    server: Child,
    port: int,
    path: str,
    args: argparse.Namespace,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    wait_idle(server)
    cfg = {
        "host": "127.0.0.1",
        "port": port,
        "path": path,
        "seconds": args.burst_seconds,
        "connections": args.connections,
        "server_pid": server.pid,
        "headers": headers or {},
    }
    _, r = run_role(__file__, "_burst", cfg, root, args.burst_seconds + 90, env=env)
    r["rps"] = r["done"] / r["wall_s"]
    return r


def bench_ceiling(
    rep: Report, root: Path, env: dict[str, str], server: Child, port: int, args: argparse.Namespace
) -> None:
    """The most each URL is answered, closed loop, beside a bare FastAPI route's."""
    console.print(
        f"maximum throughput: {args.connections} connections, closed loop, "
        f"{args.burst_seconds:g} s per URL, a bare FastAPI app first …"
    )
    bare_server, bare_base = start_server(root, {}, env, "_bare")
    try:
        bare = burst(root, env, bare_server, int(bare_base.rsplit(":", 1)[1]), BARE, args)
    finally:
        bare_server.stop(grace=10.0)
    rep.section(
        f"Maximum throughput, closed loop ({args.connections} connections, "
        f"{args.burst_seconds:g} s each; target: half the bare route's)"
    )
    rep.add(
        "bare FastAPI `async def` route, small JSON (reference)",
        f"{bare['rps']:,.0f} req/s",
        f"≈{REF_BARE_RPS:,} (design's machine)",
        f"{bare['server_cpu_s'] / bare['wall_s']:.0%} of a core",
    )
    targets = [(name, path, None) for name, path in URLS.items()]
    etag = httpx.get(f"http://127.0.0.1:{port}{URLS['now-playing']}", timeout=10).headers.get(
        "etag"
    )  # the item on air now: the tag read before the open-loop runs may be gone
    if etag:
        targets.append(("now-playing, 304", URLS["now-playing"], {"If-None-Match": etag}))
    for name, path, headers in targets:
        r = burst(root, env, server, port, path, args, headers)
        bad = r["errors"] or set(r["statuses"]) - {"200", "304"}  # (keys as read from JSON)
        rep.add(
            f"{name}",
            f"{r['rps']:,.0f} req/s ({r['server_cpu_s'] / r['wall_s']:.0%} "
            f"of a core)" + (f"; {r['errors'] or r['statuses']}" if bad else ""),
            f"{bare['rps'] / 2:,.0f} req/s (half of bare)",
            verdict(r["rps"] >= bare["rps"] / 2 and not bad),
        )


def bench_fanout(
    rep: Report,
    root: Path,
    env: dict[str, str],
    server: Child,
    port: int,
    marks: Path,
    args: argparse.Namespace,
) -> None:
    n = args.subscribers
    procs = max(1, -(-n // SUBSCRIBERS_PER_PROCESS))
    console.print(f"SSE: {n:,} subscribers over {procs} client processes …")
    wait_idle(server)
    rss_before = proc_status_kib(server.pid, "VmRSS")
    subs: list[tuple[Child, Path]] = []
    for k in range(procs):
        share = n // procs + (1 if k < n % procs else 0)
        result = root / f"subscribe-result-{k}.json"
        cfg = {"host": "127.0.0.1", "port": port, "n": share, "wait_s": 120, "result": str(result)}
        child = Child(role_args(__file__, "_subscribe", cfg, root), env=env, pipes=True, log=None)
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
        verdict(everyone and delays[-1] < TARGET_FANOUT_S),
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
        help="closed-loop seconds per URL for the maximum throughput (default 10)",
    )
    p.add_argument("--quick", action="store_true", help="200 req/s for 5 s, 500 subscribers")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = p.parse_args()
    if args.quick:
        args.rate, args.seconds, args.subscribers, args.burst_seconds = 200.0, 5.0, 500, 3.0
    raise_nofile()
    root = Path(tempfile.mkdtemp(prefix="bench-api-"))
    data_dir = root / "data"
    env = child_env(data_dir, find_ffmpeg())
    rep = Report(
        f"Public API on one uvicorn worker: {args.rate:,.0f} req/s × {args.seconds:g} s per "
        f"URL; SSE fan-out to {args.subscribers:,}",
        f"{os.cpu_count()} CPUs; open-loop client, latency from each request's due time; "
        f"targets: ≥ 98 % of the offered rate, p99 < {TARGET_P99_MS:g} ms; SSE 100 % < "
        f"{TARGET_FANOUT_S:g} s",
        console,
    )
    try:
        console.print(
            "setup: the demo catalogue (made, analysed, packaged), its schedule, a live playlist …"
        )
        _, setup = run_role(__file__, "_setup", {"data_dir": str(data_dir)}, root, 900, env=env)
        rep.section("Station")
        rep.add(
            "demo media; setup time; live playlist",
            f"{setup['media']}; {setup['setup_s']:.0f} s; {setup['playlist_bytes']} B",
        )
        marks = root / "marks.txt"
        server, base = start_server(root, {"data_dir": str(data_dir), "marks": str(marks)}, env)
        port = int(base.rsplit(":", 1)[1])
        rep.add("server RSS at start", mib(proc_status_kib(server.pid, "VmRSS")))
        for name, path in URLS.items():
            try:
                bench_load(rep, root, env, server, port, name, path, args)
            except Exception as exc:
                rep.error(name, exc)
        # The tag of the item on air now (a later item has another; the phase may see one).
        etag = httpx.get(base + URLS["now-playing"], timeout=10).headers.get("etag")
        if etag:
            try:
                bench_load(
                    rep,
                    root,
                    env,
                    server,
                    port,
                    "now-playing, 304",
                    URLS["now-playing"],
                    args,
                    {"If-None-Match": etag},
                )
            except Exception as exc:
                rep.error("now-playing, 304", exc)
        try:
            bench_ceiling(rep, root, env, server, port, args)
        except Exception as exc:
            rep.error("maximum throughput", exc)
        try:
            bench_fanout(rep, root, env, server, port, marks, args)
        except Exception as exc:
            rep.error("SSE fan-out", exc)
        reaped = server.stop(grace=15.0)
        rep.add("server peak RSS (VmHWM)", mib(max(server.hwm_kib, reaped.maxrss_kib)))
    except Exception as exc:
        rep.error("the bench", exc)
    finally:
        clean_up(root, args.keep, console)
    rep.print()
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(script_main(ROLES, main))
