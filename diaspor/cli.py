"""The `diaspor` command: demo, serve, worker, playout, media import, db, token and user
management, the radio's fallback loop."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from accounts.tokens import jwt_secret
from diaspor import migrate
from diaspor.compose import Station, build_station, run_background
from media.binaries import find_tools
from media.containers import SUFFIXES
from media.errors import MediaError
from media.library import IngestOptions
from station.errors import StationError
from station.logs import configure_logging
from station.settings import Settings, load_settings
from station.supervisor import GaveUp

app = typer.Typer(
    help="Diaspor.FM and Diaspor TV: media library, schedules, playout, API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
media_app = typer.Typer(help="The media library.", no_args_is_help=True)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
token_app = typer.Typer(help="Editor access tokens.", no_args_is_help=True)
app.add_typer(media_app, name="media")
app.add_typer(db_app, name="db")
user_app = typer.Typer(
    help="People who sign in: admins, editors, presenters.", no_args_is_help=True
)
fallback_app = typer.Typer(
    help="The radio's fallback loop on icecast2 (listeners stay through a playout restart).",
    no_args_is_help=True,
)
app.add_typer(token_app, name="token")
app.add_typer(user_app, name="user")
app.add_typer(fallback_app, name="fallback")
err = Console(stderr=True, soft_wrap=True)  # messages whole, as scripts and logs read them
out = Console()


def settings_from(data_dir: Path | None) -> Settings:
    overrides = {"data_dir": data_dir} if data_dir else {}
    try:
        s = load_settings(**overrides)
    except ValueError as exc:
        err.print(f"[red]Settings are not valid:[/red] {exc}")
        raise typer.Exit(2) from exc
    configure_logging(s.log_format, s.log_level)
    return s


def refuse_weak_secrets(settings: Settings) -> None:
    """Outside the demo nothing starts with a default or short secret."""
    weak = settings.weak_secrets()
    for why in weak:
        err.print(f"[red]Refusing to start:[/red] {why}")
    if weak:
        raise typer.Exit(2)


def open_station(settings: Settings) -> Station:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.database_url)
    return build_station(settings)


DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Folder for the database, storage and scratch files (DIASPOR_DATA_DIR)."
    ),
]


@app.callback()
def main_options(
    config: Annotated[
        Path | None, typer.Option("--config", help="A TOML settings file (DIASPOR_CONFIG).")
    ] = None,
) -> None:
    if config is not None:
        if not config.is_file():
            err.print(f"[red]No such settings file:[/red] {config}")
            raise typer.Exit(2)
        os.environ["DIASPOR_CONFIG"] = str(config)


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps its files.")] = Path(
        "demo-data"
    ),
) -> None:
    """Run the whole station in one process with demo content (made on first start)."""
    from diaspor.demo import run_demo

    os.environ.setdefault("DIASPOR_HOST", host)
    s = settings_from(data_dir)
    s = s.model_copy(update={"host": host, "port": port})
    asyncio.run(run_demo(s))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address (DIASPOR_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (DIASPOR_PORT).")] = None,
    with_worker: Annotated[bool, typer.Option(help="Also run jobs in this process.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Serve the API (production: several of these behind a proxy, plus `diaspor worker`)."""
    from diaspor.demo import serve as serve_api

    s = settings_from(data_dir)
    s = s.model_copy(update={k: v for k, v in {"host": host, "port": port}.items() if v})
    refuse_weak_secrets(s)
    try:  # the signing key is checked (or made) now, not at the first signed request
        jwt_secret(s)
    except StationError as exc:
        err.print(f"[red]Refusing to start:[/red] {exc.message}")
        raise typer.Exit(2) from exc
    station = open_station(s)
    asyncio.run(serve_api(station, with_worker=with_worker))


def run_until_stopped(
    data_dir: Path | None, part: Callable[[Station, asyncio.Event], Awaitable[None]]
) -> None:
    """Run one part of the station until Ctrl-C or SIGTERM (containers stop with it); the
    part leaves cleanly when the event is set."""
    settings = settings_from(data_dir)
    refuse_weak_secrets(settings)
    station = open_station(settings)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await part(station, stop)

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    except GaveUp as exc:  # exit non-zero: systemd or compose starts the process again
        typer.echo(f"diaspor: {exc.message}", err=True)
        raise typer.Exit(code=3) from exc
    finally:
        station.close()


@app.command()
def worker(data_dir: DataDir = None) -> None:
    """Run background jobs (analysis, packaging) and close on-demand windows, until interrupted."""
    run_until_stopped(data_dir, run_background)


def collect(paths: list[Path]) -> list[Path]:
    """Files named on the command line, and media files found in folders (recursively)."""
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            found += sorted(
                f
                for f in p.rglob("*")
                if f.is_file() and f.suffix.lower() in SUFFIXES and not f.name.startswith(".")
            )
        elif p.is_file():
            found.append(p)
        else:
            err.print(f"[red]Not found:[/red] {p}")
            raise typer.Exit(2)
    return found


def sidecar_subtitles(path: Path) -> dict[str, Path]:
    """`episode.az.vtt` beside `episode.mp4` is the Azerbaijani subtitle of that episode."""
    subs: dict[str, Path] = {}
    for vtt in path.parent.glob(f"{path.stem}.*.vtt"):
        lang = vtt.name[len(path.stem) + 1 : -len(".vtt")]
        if lang.isalpha() and 2 <= len(lang) <= 3:
            subs[lang.lower()] = vtt
    return subs


@media_app.command("import")
def media_import(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (searched recursively).")],
    kind: Annotated[
        str | None,
        typer.Option(
            help="music, speech, jingle, programme, filler "
            "or slate; read from each file if not given."
        ),
    ] = None,
    analyse: Annotated[
        bool,
        typer.Option(
            help="Measure loudness and cue points now; with --no-analyse a running worker does it."
        ),
    ] = True,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            help="Files worked on at once (one ffmpeg each); default: the number of cores.",
        ),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Add media files to the library."""
    s = settings_from(data_dir)
    files = list(dict.fromkeys(collect(paths)))  # a file named twice is imported once
    if not files:
        err.print("No media files found.")
        raise typer.Exit(1)
    station = open_station(s)
    try:
        refused = asyncio.run(_import(station, files, kind, analyse, jobs or os.cpu_count() or 1))
    finally:
        station.close()
    if refused:
        raise typer.Exit(1)


async def _import(
    station: Station, files: list[Path], kind: str | None, analyse: bool, jobs: int
) -> int:
    """Ingest (and analyse) up to `jobs` files at once; print one line per file, in the order
    given. A file that fails is reported on its line and the others go on. Returns refusals."""
    rows: dict[Path, tuple[str, int | None]] = {}
    cols = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*cols, TimeElapsedColumn(), console=err) as bar:
        task = bar.add_task("importing and analysing" if analyse else "importing", total=len(files))

        async def one(f: Path) -> None:
            opts = IngestOptions(kind=kind, subtitles=sidecar_subtitles(f) or None)
            try:
                res = await station.library.ingest(f, options=opts, analyse_now=analyse)
            except MediaError as exc:
                rows[f] = (f"[red]refused[/red]: {exc.message}", None)
            except OSError as exc:  # gone or unreadable since it was listed
                rows[f] = (f"[red]refused[/red]: {f.name}: {exc.strerror or exc}", None)
            else:
                rows[f] = ("added" if res.created else "already in library", res.item.id)
            bar.advance(task)

        todo = iter(files)

        async def worker() -> None:
            for f in todo:  # each worker takes the next file when it is free
                await one(f)

        async with asyncio.TaskGroup() as group:
            for _ in range(min(jobs, len(files))):
                group.create_task(worker())
        if analyse:
            # An analysed video is packaged now too, as is any other job that is due.
            work = station.worker()
            queued: TaskID | None = None
            while await work.run_once() is not None:
                if queued is None:
                    queued = bar.add_task("running queued jobs (packaging)", total=None)
                bar.advance(queued)
    table = Table("file", "result", "id", "kind", "duration", "loudness", "cue in/out")
    refused = 0
    for f in files:
        result, mid = rows[f]
        if mid is None:
            refused += 1
            table.add_row(str(f), result, "", "", "", "", "")
            continue
        m = station.library.get(mid)
        if m.status == "failed":
            refused += 1
            result = f"[red]failed[/red]: {m.error}"
        elif analyse and result == "added":
            result = m.status
        loud = f"{m.loudness_lufs:.1f} LUFS" if m.loudness_lufs is not None else "—"
        dur = f"{m.duration_ms / 1000:.3f} s" if m.duration_ms else "—"
        cues = f"{m.cue_in_ms}–{m.cue_out_ms} ms" if m.cue_out_ms is not None else "—"
        table.add_row(str(f), result, str(m.id), m.kind, dur, loud, cues)
    out.print(table)
    return refused


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None) -> None:
    """Bring the database schema up to date."""
    s = settings_from(data_dir)
    migrate.upgrade(s.database_url)
    out.print("database schema is up to date")


@db_app.command("check")
def db_check(data_dir: DataDir = None) -> None:
    """Fail if the models and the migrations disagree."""
    s = settings_from(data_dir)
    migrate.upgrade(s.database_url)
    migrate.check(s.database_url)
    out.print("models and migrations agree")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="Who or what the token is for.")],
    role: Annotated[str, typer.Option(help="admin, editor or presenter.")] = "editor",
    data_dir: DataDir = None,
) -> None:
    """Create an editor token; it is printed once and stored only as a hash."""
    from accounts.tokens import ROLES, create_token

    if role not in ROLES:
        err.print(f"[red]Unknown role {role!r}[/red]; use one of {', '.join(ROLES)}")
        raise typer.Exit(2)
    s = settings_from(data_dir)
    station = open_station(s)
    try:
        print(create_token(station.db, station.clock, name, role))
    finally:
        station.close()


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Argument(help="Sign-in name, e.g. aysel.")],
    role: Annotated[str, typer.Option(help="admin, editor or presenter.")] = "presenter",
    name: Annotated[str, typer.Option(help="Name as listeners see it.")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Create a user. To go live they need a stream key too: `diaspor user stream-key`."""
    from station.errors import Invalid

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    s = settings_from(data_dir)
    station = open_station(s)
    try:
        user = station.users.create(username, name, role, password)
    except Invalid as e:
        err.print(f"[red]{e.message}[/red]")
        raise typer.Exit(2) from None
    finally:
        station.close()
    out.print(f"created {user.role} {user.username} ({user.display_name})")


@user_app.command("stream-key")
def user_stream_key(
    username: Annotated[str, typer.Argument(help="Whose key, e.g. aysel.")],
    revoke: Annotated[bool, typer.Option("--revoke", help="Revoke it; make none.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Make a new stream key for a user (printed once; the old one stops working), or revoke
    theirs. Their source client goes live with their username and this key."""
    from station.errors import NotFound

    s = settings_from(data_dir)
    station = open_station(s)
    try:
        user = station.users.get(username)
        if revoke:
            gone = station.stream_keys.revoke(user.id)
            out.print(f"revoked {username}'s stream key" if gone else f"{username} had none")
            return
        key, _ = station.stream_keys.issue(user.id)
    except NotFound as e:
        err.print(f"[red]{e.message}[/red]")
        raise typer.Exit(2) from None
    finally:
        station.close()
    print(key)


@app.command()
def playout(data_dir: DataDir = None) -> None:
    """Run the radio and TV channels (production: radio on icecast2,
    DIASPOR_RADIO_SERVER=icecast; TV playlists into storage)."""
    from diaspor.playout import run_playout

    run_until_stopped(data_dir, run_playout)


LOOP_HELP = "The loop: a station ident or music bed of the operator's (any audio file)."
FALLBACK_TITLE = "Diaspor.FM"


@fallback_app.command("make")
def fallback_make(
    dest: Annotated[Path, typer.Argument(help="Where to write the default loop (MP3).")],
    title: Annotated[str, typer.Option(help="Its title tag.")] = FALLBACK_TITLE,
) -> None:
    """Render the default fallback loop: 30 s of the station's music bed, seamless."""
    from diaspor.fallback import make_default_loop

    s = settings_from(None)
    try:
        asyncio.run(make_default_loop(find_tools(s.ffmpeg_path).ffmpeg, dest, title))
    except StationError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from exc
    print(dest)


@fallback_app.command("air")
def fallback_air(
    loop: Annotated[Path, typer.Option("--loop", help=LOOP_HELP + " Rendered if missing.")],
    channel: Annotated[str, typer.Option(help="The radio channel's slug.")] = "diaspor-fm",
    title: Annotated[str, typer.Option(help="The title listeners read.")] = FALLBACK_TITLE,
) -> None:
    """Feed icecast2's fallback mounts (DIASPOR_ICECAST_URL, DIASPOR_SOURCE_PASSWORD) with
    the loop until stopped; exits non-zero when ffmpeg ends, to be started again."""
    from diaspor.fallback import feed

    s = settings_from(None)
    weak = [w for w in s.weak_secrets() if w.startswith("DIASPOR_SOURCE_PASSWORD")]
    for why in weak:
        err.print(f"[red]Refusing to start:[/red] {why}")
    if weak:
        raise typer.Exit(2)

    async def run() -> int:
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        return await feed(s, find_tools(s.ffmpeg_path).ffmpeg, channel, loop, title, stop)

    try:
        code = asyncio.run(run())
    except StationError as exc:
        err.print(f"[red]Refusing to start:[/red] {exc.message}")
        raise typer.Exit(2) from exc
    if code:
        raise typer.Exit(code if 0 < code < 256 else 1)


@fallback_app.command("check")
def fallback_check(
    channel: Annotated[str, typer.Option(help="The radio channel's slug.")] = "diaspor-fm",
) -> None:
    """Exit 0 when icecast2 (DIASPOR_ICECAST_URL) carries every fallback mount of the
    channel, 1 naming those it lacks: the feeder's healthcheck."""
    from diaspor.fallback import missing_fallbacks

    s = settings_from(None)
    try:
        missing = asyncio.run(missing_fallbacks(s, channel))
    except StationError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from exc
    if missing:
        err.print(f"not on {s.icecast_url}: {', '.join(missing)}")
        raise typer.Exit(1)


def main() -> None:
    app()
