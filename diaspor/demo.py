"""The embedded station: API, worker and playout in one process, with demo content."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets

import uvicorn
from starlette.types import ASGIApp

from accounts.tokens import create_token
from api.app import create_app
from diaspor import demo_content, migrate
from diaspor.compose import Station, build_station, supervisor_for
from diaspor.demo_schedule import load_demo_schedule
from diaspor.playout import run_playout
from diaspor.radio import channel_mounts
from media.library import IngestOptions
from station.settings import Settings
from streamer.hls_ladder import MASTER_PLAYLIST

log = logging.getLogger(__name__)


STOP_S = 15.0


def server_config(app: ASGIApp, settings: Settings) -> uvicorn.Config:
    """How every process serving the API runs uvicorn.

    X-Forwarded-For and -Proto are believed only from DIASPOR_TRUSTED_PROXIES, by the app
    itself (`api/proxies.py`, which must also know whether the peer was trusted, for the
    country header); uvicorn's own handling is off, so that its FORWARDED_ALLOW_IPS in the
    environment (once "*" in docker-compose.yml) cannot widen it: a client that could name
    its own address would choose the address the sign-in throttle counts.
    """
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
        proxy_headers=False,
    )


async def serve(station: Station, *, with_worker: bool, with_radio: bool = False) -> None:
    """Serve the API until interrupted; with_worker also runs background jobs and the
    on-demand windows keeper here."""
    server = uvicorn.Server(server_config(create_app(station), station.settings))
    stop = asyncio.Event()
    sup = supervisor_for(station)
    if with_worker:
        station.add_background(sup)
    parts: asyncio.Task[None] | None = None
    if with_radio:
        parts = asyncio.create_task(run_playout(station, stop, sup), name="playout")
    elif with_worker:
        parts = asyncio.create_task(sup.run(stop), name="worker")
    if parts is not None:  # if playout gives up, the process ends (non-zero) with it
        parts.add_done_callback(lambda _: setattr(server, "should_exit", True))
    try:
        await server.serve()
    finally:
        # Off air in order (encoders closed, the on-air status removed); cut short only
        # what has not stopped after STOP_S.
        stop.set()
        if parts is not None:
            await off_air([parts])
        station.close()
    if parts is not None and not parts.cancelled() and parts.exception() is not None:
        raise parts.exception()  # type: ignore[misc]


async def off_air(tasks: list[asyncio.Task[None]]) -> None:
    """Wait up to STOP_S for the parts to stop by themselves, then cancel the rest. The Ctrl-C
    uvicorn passes on once it has shut down arrives here as a cancellation: the parts are
    stopping already, so it does not cut the wait short."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STOP_S
    pending = set(tasks)
    while pending and loop.time() < deadline:
        with contextlib.suppress(asyncio.CancelledError):
            _, pending = await asyncio.wait(pending, timeout=deadline - loop.time())
    for t in pending:
        log.warning("did not stop in time; cancelled", extra={"task": t.get_name()})
        t.cancel()
    for t in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await t


async def load_demo_content(station: Station) -> None:
    """Make the demo files once and put them in the library; a later start finds them there."""
    s = station.settings
    src = s.data_dir / "demo-source"
    marker = s.data_dir / ".demo-loaded"
    if marker.exists():
        return
    log.info("making the demo catalogue with ffmpeg (first start only)", extra={"folder": str(src)})

    def said(i: int, n: int, name: str) -> None:
        log.info("demo file ready", extra={"file": name, "done": f"{i}/{n}"})

    files = await demo_content.generate(src, station.tools, said)
    for f in files:
        path = src / f.name
        subs = {lang: src / f"{path.stem}.{lang}.vtt" for lang in f.subtitles}
        await station.library.ingest(
            path,
            options=IngestOptions(
                kind=f.kind,
                title=f.title,
                titles=f.titles or None,
                artist=f.artist,
                languages=f.languages or None,
                subtitles=subs or None,
            ),
        )
    marker.write_text("demo catalogue loaded\n", encoding="utf-8")
    log.info(
        "demo catalogue is in the library; analysis runs in the background",
        extra={"files": len(files)},
    )


# The console's demo users: (username, display name, role), made at first start.
CONSOLE_USERS = (
    ("editor", "Demo redaktor", "editor"),
    ("admin", "Demo administrator", "admin"),
)


def console_users(station: Station) -> list[tuple[str, str, str]]:
    """The demo's console users and their generated passwords (username, role, password):
    made once, kept in the data folder (readable by its owner alone) so that each start
    prints the same ones. A user made by hand under one of these names is left alone."""
    path = station.settings.data_dir / "console-users.json"
    kept: dict[str, str] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    existing = {u.username for u in station.users.all()}
    for username, name, role in CONSOLE_USERS:
        if username not in kept and username not in existing:
            kept[username] = secrets.token_urlsafe(12)
            station.users.create(username, name, role, kept[username])
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(kept, indent=1) + "\n", encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)
    return [(u, role, kept[u]) for u, _, role in CONSOLE_USERS if u in kept]


def print_banner(
    settings: Settings, token: str, users: list[tuple[str, str, str]] | None = None
) -> None:
    base = settings.base_url
    radio = [f"{settings.relay_url}{m.path}" for m in channel_mounts(settings, "diaspor-fm")]
    phones = [f"                 {url}   (phones on mobile data)" for url in radio[2:]]
    if settings.radio_engine != "liquidsoap":  # Liquidsoap's script writes no HLS
        hls = f"{base}/files/hls/radio/diaspor-fm/{MASTER_PLAYLIST}"
        phones.append(f"                 {hls}   (HLS, every rate)")
    lines = [
        "",
        "  Diaspor.FM / Diaspor TV — demo station",
        f"  web player     {base}/",
        f"  console        {base}/console   (sign in as one of these:)",
        *(f"                 {u} / {pw}   ({role})" for u, role, pw in users or []),
        f"  API            {base}/docs",
        f"  health         {base}/health",
        f"  media library  {base}/api/v1/media   (Authorization: Bearer <token>)",
        f"  Diaspor.FM     {radio[0]}   (VLC, mpv, any player)",
        *phones,
        f"  Diaspor TV     {base}/files/hls/tv/diaspor-tv/master.m3u8",
        f"  guide          {base}/epg.xml",
        f"  admin token    {token}",
        f"  data folder    {settings.data_dir.resolve()}",
        "",
    ]
    print("\n".join(lines), flush=True)


def admin_token(station: Station) -> str:
    """The demo's admin token: made once, kept in the data folder, printed at start."""
    path = station.settings.data_dir / "admin-token"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    token = create_token(station.db, station.clock, "demo admin", "admin")
    path.write_text(token + "\n", encoding="utf-8")
    path.chmod(0o600)
    return token


async def run_demo(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.database_url)
    station = build_station(settings)
    token = admin_token(station)
    print_banner(settings, token, console_users(station))
    await load_demo_content(station)
    # Analyse before scheduling: only what is measured goes on air, and programme lengths
    # must be the decoded ones for back-to-back hard starts.
    await station.worker().drain()
    load_demo_schedule(station)
    await serve(station, with_worker=True, with_radio=True)
