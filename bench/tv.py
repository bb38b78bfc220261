"""TV benchmark: packaging once, then `diaspor playout`'s CPU per channel-hour, beside a live
re-encode of the same ladder.

    .venv/bin/python bench/tv.py [--clips 3] [--clip-seconds 60] [--reference-seconds 90]
                                 [--serve-seconds 90] [--channel-hours 1] [--grain] [--quick]
                                 [--keep]

`--quick` is a smoke run (two short 640x360 clips, a two-rung ladder, 20 s of reference and
of serving): a few minutes. The defaults take about ten minutes on a 2-core machine.

Content: --clips testsrc2 + sine clips made with ffmpeg (1280x720, 25 fps, H.264 + AAC), of
--clip-seconds, +7 s and +13 s (so items do not fill the half hour exactly and the slate is
used). testsrc2 is flat colour, cheap for x264; --grain adds moving noise to it, which costs
the encoder about what camera footage does (in packaging and in the reference alike). The
ladder is the default one (`Settings().tv_ladder`: 720p/480p/360p + audio-only, 6 s
segments, 25 fps, libx264 veryfast, fixed GOP); every process runs with the DIASPOR_*
environment this script sets (a SQLite station in a temporary folder, local storage), so a
local configuration does not change the figures.

The station. A child process builds the station as `diaspor` does (migrations, then
`build_station`), ingests the clips into its library, and runs the job queue as `diaspor
worker` does: analysis, then packaging, each clip's `media.package` job timed. It packages
the channel's slate (`diaspor.tv.ensure_slate`, as playout does at its first start), and
writes the schedule into the database: a playlist of every clip all day, and the first clip
as a hard start at :00 and :30 of every hour (before each, the resolver fits what fits and
fills the rest with slate, to the frame).

Part 1, packaging, from that process: speed is seconds of content per second of wall time;
CPU is the `getrusage` delta over each packaging job, of the process (RUSAGE_SELF: Python)
and of its reaped children (RUSAGE_CHILDREN: the one encoding ffmpeg, then the
ffprobe/ffmpeg checks of every segment), split at the moment the encode ends (packaging
reports "checking segments" then). Peak RSS: the largest child (the encoder) and the Python
process. The design sets no number for it: its verdict is left empty.

Part 2, the linear channel as production runs it: the channel built by `diaspor.tv`'s
`tv_channel` from the station's parts (the database's timeline, the assets' live
publications, the as-run log and now-playing attached through the side-effect worker).
(a) Render mode: that channel's sequencer and side-effect worker on a `SimulatedClock` for
--channel-hours of channel time, in a child process, on a copy of the database. Measured:
`time.process_time()` of that process over the run (its threads included: the sequencer does
its storage and database work in `asyncio.to_thread`), with the shares spent in the
timeline (the database read and the resolver), in building the restart state, and in
storage writes (temp file, fsync of the state, rename) shown apart. (b) On air, optional
(--serve-seconds, 0 to skip): `diaspor playout` itself in one process and `diaspor serve`
(the API's /files/ route) in another, and one viewer in this process polling the master's
first variant (720p by default) every target duration and fetching every new segment, as a
player at the live edge does. The playout process has no radio channel to run (its built-in
relay listens, idle). CPU of both is read from /proc over --serve-seconds, which begin 15 s
after the viewer joined (start-up is not a per-hour cost), and extrapolated to an hour; the
as-run rows written meanwhile are counted, to see the hooks at work.

Part 3, the reference: one ffmpeg re-encoding the same clips (concatenated, read with -re)
into the same ladder live for --reference-seconds, with the arguments packaging uses
(`media.encodes.asset_args`: same rungs, bit rates, GOP, preset and audio) without what only
packaging makes (poster, thumbnails, `audio.m4a`), and `-re` added. Its CPU (user + system,
from `wait4`) is extrapolated to an hour of channel time; its speed is shown, to see that it
kept real time.

The design's targets (DESIGN.md, "Numbers this design is built to reach"), judged against
the reference measured in the same run: CPU per channel-hour after packaging at least 1,000x
lower than the live re-encode, for `diaspor playout` itself; and playout plus the API serving
one viewer within 2x of a minimal stitcher (the design's figure, 4 CPU-seconds per hour).
Every process this script starts is stopped and reaped; the temporary folder is removed
unless --keep. It exits 0 whatever the figures are (1 only if a part could not run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import httpx
from common import (
    Child,
    Report,
    bench_console,
    child_env,
    clean_up,
    find_diaspor,
    find_ffmpeg,
    free_port,
    mib,
    proc_cpu_s,
    ratio,
    run_role,
    rusage_cpu,
    script_main,
    tail_of,
    verdict,
    write_result,
)

CHANNEL = "diaspor-tv"
BAKU = ZoneInfo("Asia/Baku")
HOUR = 3600.0
WARMUP_S = 15.0  # on air: seconds before the measured window opens
TARGET_LOWER = 1000  # the design: CPU per channel-hour at least this many times lower
REF_STITCHER_CPU_PER_HOUR = 4.0  # the design: a minimal stitcher serving one viewer, here
STITCHER_WITHIN = 2.0  # the design: playout + API at most this many times the stitcher
QUICK_LADDER = ["360p:640x360:700", "180p:320x180:250"]
ACTOR = "bench"
TITLES = [
    "Dünyada yaşayan azərbaycanlıları tanıyaq-tanıdaq",
    "Vətən uzaqda deyil",
    "Azərbaycan dilində danışan xaricilər",
    "Qarabağ — beş dildə beş cümlə",
    "Onlayn Azərbaycan dili dərsləri",
]

console = bench_console(150)


# --- the station (built in the roles, from the environment the parent set) -----------------------


def station_settings() -> Any:
    """The station's settings, from this process's DIASPOR_* environment (the one `main`
    sets for itself and its children)."""
    from station.settings import Settings

    return Settings()


def open_station(**parts: Any) -> Any:
    """The station as `diaspor` opens it."""
    from diaspor import migrate
    from diaspor.compose import build_station

    settings = station_settings()
    migrate.upgrade(settings.database_url)
    return build_station(settings, **parts)


def write_schedule(st: Any, media_ids: list[int], day: datetime) -> None:
    """A playlist of every clip all day long, and the first clip as a hard start at :00 and
    :30 of every hour: before each, the resolver fits what fits and fills the rest with
    slate. The rules begin the day before `day` (an old start would make every lookup walk
    its recurrences from there)."""
    sch = st.schedules
    channel = sch.create(
        "channel",
        {"slug": CHANNEL, "kind": "tv", "names": {"az": "Diaspor TV"}, "freeze_horizon_s": 0},
        ACTOR,
    )
    playlist = sch.create("playlist", {"name": "Verilişlər", "media_ids": media_ids}, ACTOR)
    start = (day.astimezone(BAKU) - timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0, tzinfo=None
    )
    for target in (
        {"target_type": "playlist", "target_id": playlist.id, "rrule": "FREQ=DAILY"},
        {"target_type": "media", "target_id": media_ids[0], "rrule": "FREQ=HOURLY;BYMINUTE=0,30"},
    ):
        sch.create(
            "entry",
            {
                "channel_id": channel.id,
                "start_local": start,
                "duration_ms": 86_400_000 if target["target_type"] == "playlist" else None,
                "hard": target["target_type"] == "media",
                **target,
            },
            ACTOR,
        )


class Timed:
    """A timeline source with the CPU spent in it counted (the database read and the
    resolver)."""

    def __init__(self, timeline: Callable[[int, int], Any]) -> None:
        self.timeline = timeline
        self.cpu_s = 0.0
        self.calls = 0

    def __call__(self, a: int, b: int) -> Any:
        t0 = time.thread_time()
        try:
            return self.timeline(a, b)
        finally:
            self.cpu_s += time.thread_time() - t0
            self.calls += 1


def counting_storage(root: Path) -> Any:
    """A LocalStorage that counts what is written (playlists, the sequencer's state and
    now-playing)."""
    from media.storage import LocalStorage

    class Counting(LocalStorage):
        puts = 0
        put_bytes_total = 0
        cpu_s = 0.0  # in put_bytes: temp file, write, fsync (the state only), rename

        def put_bytes(
            self, key: str, data: bytes, mime: str | None = None, *, durable: bool = True
        ) -> None:
            t0 = time.thread_time()
            try:
                super().put_bytes(key, data, mime, durable=durable)
            finally:
                cls = type(self)
                cls.cpu_s += time.thread_time() - t0
                cls.puts += 1
                cls.put_bytes_total += len(data)

    return Counting(root)


def packaging_options() -> Any:
    from media.ladder import PackagingOptions

    return PackagingOptions.from_settings(station_settings())


def clear_live(storage_root: Path) -> None:
    """The live playlists and the sequencer's state: each run starts a fresh line."""
    from playout.sequencer import live_prefix

    shutil.rmtree(storage_root / live_prefix(CHANNEL), ignore_errors=True)


# --- child roles: each runs in its own process, started by this script ---------------------------


def mark() -> tuple[float, float, float]:
    return (
        time.perf_counter(),
        rusage_cpu(resource.getrusage(resource.RUSAGE_SELF)),
        rusage_cpu(resource.getrusage(resource.RUSAGE_CHILDREN)),
    )


async def role_package(cfg: dict[str, Any]) -> None:
    """The station: the slate, then every clip ingested, analysed and packaged through the
    job queue (each packaging job timed), then the schedule."""
    from diaspor.tv import ensure_slate
    from media.library import PACKAGE_JOB, IngestOptions

    st = open_station()
    try:
        opts = st.library.packaging
        out: dict[str, Any] = {
            "ladder": [f"{r.name}:{r.width}x{r.height}:{r.video_kbps}" for r in opts.ladder],
            "segment_s": opts.segment_s,
            "fps": opts.fps,
            "preset": opts.preset,
            "audio_kbps": opts.audio_kbps,
            "clips": [],
        }
        t0, s0, k0 = mark()
        slate = await ensure_slate(st, CHANNEL)
        t1, s1, k1 = mark()
        out["slate"] = {
            "wall_s": t1 - t0,
            "cpu_self": s1 - s0,
            "cpu_children": k1 - k0,
            "segments": len(slate.segments_ms),
            "card": slate.extra.get("card"),
        }
        timed: dict[int, dict[str, float]] = {}
        package_job = st.handlers[PACKAGE_JOB]

        async def measured(payload: dict[str, Any], progress: Any) -> None:
            encoded: list[tuple[float, float, float]] = []

            async def spy(share: float, what: str) -> None:
                if what == "checking segments" and not encoded:
                    encoded.append(mark())
                await progress(share, what)

            t0, s0, k0 = mark()
            await package_job(payload, spy)
            t1, s1, k1 = mark()
            te, _se, ke = encoded[0] if encoded else (t1, s1, k1)
            timed[int(payload["media_id"])] = {
                "wall_s": t1 - t0,
                "encode_wall_s": te - t0,
                "cpu_self": s1 - s0,
                "cpu_children": k1 - k0,
                "cpu_encode": ke - k0,
            }

        st.handlers[PACKAGE_JOB] = measured
        ids = []
        for clip in cfg["clips"]:
            options = IngestOptions(kind="programme", title=clip["title"])
            ids.append((await st.library.ingest(Path(clip["path"]), options=options)).item.id)
        await st.worker().drain()  # analysis, then packaging, one job at a time
        for media_id in ids:
            pub = st.library.publications.find(media_id)
            if pub is None or media_id not in timed:
                item = st.library.get(media_id)
                raise RuntimeError(f"clip {media_id} was not packaged: {item.package_error}")
            pkg = pub.package
            folder = Path(cfg["storage"]) / pub.prefix
            out["clips"].append(
                {
                    "id": media_id,
                    "content_s": pkg.duration_ms / 1000,
                    **timed[media_id],
                    "segments": len(pkg.segments_ms),
                    "renditions": [r.name for r in pkg.renditions],
                    "bytes": sum(p.stat().st_size for p in folder.rglob("*.ts")),
                    "gain_db": pkg.extra.get("gain_db"),
                    "duration_ms": pkg.duration_ms,
                }
            )
        write_schedule(st, ids, datetime.now(UTC))
    finally:
        st.close()
    out["rss_self_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out["rss_children_kib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    write_result(cfg, out)


def _outcomes(outcomes: list[str]) -> dict[str, int]:
    return dict(Counter(outcomes))


async def role_sequence(cfg: dict[str, Any]) -> None:
    """Render mode: the channel as `diaspor playout` builds it, its sequencer and its side
    effects on a SimulatedClock for channel_hours of channel time (on a copy of the
    database: the as-run of simulated hours stays out of the on-air run's)."""
    from diaspor.tv import ensure_slate, tv_channel
    from playout.asrun import AsRunLog
    from schedules.plan import to_ms
    from station.clock import SimulatedClock

    root = Path(cfg["storage"])
    clear_live(root)
    sim_start = datetime.fromisoformat(cfg["sim_start"])
    clock = SimulatedClock(sim_start)
    storage = counting_storage(root)
    st = open_station(clock=clock, storage=storage)
    try:
        channel = tv_channel(st, CHANNEL, await ensure_slate(st, CHANNEL), clock=clock)
        seq = channel.sequencer
        timeline = seq.timeline = Timed(seq.timeline)
        start = to_ms(sim_start)
        until = start + round(float(cfg["channel_hours"]) * HOUR * 1000)
        steps = [0]
        step = seq.step

        async def counted(now_ms: int) -> list[Any]:
            steps[0] += 1
            return await step(now_ms)

        seq.step = counted
        # Where the time goes: the restart state the sequencer rebuilds before every write.
        # A private method, so only where it still exists (a bench must not break on a
        # refactor).
        state_cpu = [0.0] if callable(getattr(seq, "_state", None)) else None
        if state_cpu is not None:
            build_state = seq._state

            def timed_state(now_ms: int) -> Any:
                t0 = time.thread_time()
                try:
                    return build_state(now_ms)
                finally:
                    state_cpu[0] += time.thread_time() - t0

            seq._state = timed_state
        stop = asyncio.Event()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        side_effects = asyncio.create_task(channel.dispatch.run(stop))
        try:
            await seq.run(clock, asyncio.Event(), until_ms=until)
        finally:
            stop.set()  # what is queued gets its last try
            await side_effects
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        rows = AsRunLog(st.db, CHANNEL).recent(100_000)
    finally:
        st.close()
    write_result(
        cfg,
        {
            "channel_s": (until - start) / 1000,
            "wall_s": wall,
            "cpu_s": cpu,
            "timeline_cpu_s": timeline.cpu_s,
            "timeline_calls": timeline.calls,
            "steps": steps[0],
            "segments": seq.media_sequence + len(seq.segments),
            "dseq": seq.discontinuity_sequence,
            "puts": storage.puts,
            "put_cpu_s": storage.cpu_s,
            "state_cpu_s": state_cpu[0] if state_cpu is not None else None,
            "put_bytes": storage.put_bytes_total,
            "items": len(rows),
            "outcomes": _outcomes([r.outcome for r in rows]),
            "rss_self_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        },
    )


ROLES = {"_package": role_package, "_sequence": role_sequence}


# --- the parent: starting, timing and reaping children ------------------------------------------


# --- content ------------------------------------------------------------------------------------


def make_clips(
    folder: Path, ffmpeg: str, n: int, seconds: int, size: str, grain: bool = False
) -> list[dict[str, Any]]:
    """testsrc2 + sine clips; `grain` adds moving noise, which x264 finds as hard as camera
    footage (testsrc2 alone is flat colour and cheap to encode)."""
    folder.mkdir(parents=True, exist_ok=True)
    vf = ["-vf", "noise=alls=24:allf=t+u"] if grain else []
    clips = []
    for i in range(n):
        secs = seconds + (0, 7, 13, 19, 23)[i % 5]
        path = folder / f"klip-{i + 1}.mp4"
        title = TITLES[i % len(TITLES)]
        args = [
            ffmpeg,
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size={size}:rate=25:duration={secs}",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency={330 + 110 * i}:sample_rate=48000:duration={secs}",
            *vf,
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            "18",
            "-pix_fmt",
            "yuv420p",
            "-g",
            "50",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-metadata",
            f"title={title}",
            "-movflags",
            "+faststart",
            str(path),
        ]
        res = subprocess.run(args, capture_output=True, check=False)
        if res.returncode != 0:
            raise RuntimeError(f"ffmpeg could not make {path.name}: {res.stderr.decode()[-500:]}")
        clips.append({"id": 101 + i, "path": str(path), "title": title, "duration_ms": secs * 1000})
    return clips


# --- part 3: the live re-encode ---------------------------------------------------------------


def reference_args(
    ffmpeg: str, clips: list[dict[str, Any]], root: Path, seconds: float
) -> list[str]:
    """Packaging's own ffmpeg command for the ladder alone (no poster, thumbnails or
    audio.m4a: a live re-encode makes none), reading the clips back to back at their own
    pace."""
    from media.encodes import asset_args
    from media.ladder import frames_of
    from media.thumbnails import thumb_grid

    opts = packaging_options()
    frames = frames_of(round(seconds * 1000), opts.fps)
    listing, total = [], 0
    while total < seconds + 2:
        for c in clips:
            listing.append(f"file '{c['path']}'")
            total += c["duration_ms"] / 1000
    concat = root / "reference.txt"
    concat.write_text("\n".join(listing) + "\n", encoding="utf-8")
    out = root / "reference"
    for name in [*(r.name for r in opts.ladder), "audio"]:
        (out / name).mkdir(parents=True, exist_ok=True)
    args = asset_args(
        ffmpeg,
        concat,
        out,
        opts,
        frames=frames,
        gain=0.0,
        has_audio=True,
        poster_frame=0,
        grid=thumb_grid(frames, opts),
        extras=False,
    )
    w = args.index("-format_whitelist") + 1
    args[w] += ",concat"  # the listing of the clips, which this script wrote
    i = args.index("-i")
    return [*args[:i], "-re", "-f", "concat", "-safe", "0", *args[i:]]


def bench_reference(
    root: Path, ffmpeg: str, clips: list[dict[str, Any]], seconds: float
) -> dict[str, Any]:
    args = reference_args(ffmpeg, clips, root, seconds)
    console.print(f"reference: one ffmpeg re-encoding the ladder live (-re) for {seconds:g} s …")
    child = Child(args, log=root / "reference.log")
    r = child.wait(seconds * 3 + 60)
    if r.timed_out:
        raise RuntimeError(f"the reference ffmpeg did not finish in {seconds * 3 + 60:.0f} s")
    if r.returncode != 0:
        raise RuntimeError(
            f"the reference ffmpeg exited {r.returncode}:\n{tail_of(root / 'reference.log')}"
        )
    return {
        "content_s": seconds,
        "wall_s": r.wall_s,
        "cpu_s": r.cpu_s,
        "rss_kib": max(r.maxrss_kib, child.hwm_kib),
    }


# --- part 2b: on air, served to one viewer ---------------------------------------------------


@dataclass
class Viewer:
    """A player at the live edge of one media playlist: reload every target duration (half
    of it when nothing changed), fetch each new segment once, starting three from the end.
    New means a higher media sequence number: the same URI comes back whenever an asset
    airs again, and the slate's segments come back all the time."""

    client: httpx.Client
    url: str
    last_seq: int | None = None
    segments: int = 0
    bytes: int = 0
    reloads: int = 0
    errors: list[str] = field(default_factory=list)
    target_s: float = 6.0

    def reload(self) -> bool:
        r = self.client.get(self.url)
        self.reloads += 1
        if r.status_code != 200:
            self.errors.append(f"playlist HTTP {r.status_code}: {r.text[:200]}")
            return False
        first, uris = 0, []
        for line in r.text.splitlines():
            if line.startswith("#EXT-X-TARGETDURATION:"):
                self.target_s = float(line.split(":", 1)[1])
            elif line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
                first = int(line.split(":", 1)[1])
            elif line and not line.startswith("#"):
                uris.append(urljoin(self.url, line))
        numbered = list(enumerate(uris, start=first))
        if self.last_seq is None:
            new = numbered[-3:]
        else:
            new = [(n, u) for n, u in numbered if n > self.last_seq]
            if numbered and numbered[0][0] > self.last_seq + 1:
                self.errors.append(f"segments {self.last_seq + 1}…{numbered[0][0] - 1} missed")
        for n, u in new:
            self.last_seq = n
            with self.client.stream("GET", u) as seg:
                if seg.status_code != 200:
                    self.errors.append(f"segment HTTP {seg.status_code}: {u}")
                    continue
                for chunk in seg.iter_bytes(65536):
                    self.bytes += len(chunk)
            self.segments += 1
        return bool(new)


def wait_for(url: str, proc: Child, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.proc.args[:2]} exited early:\n{tail_of(proc.log)}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout:.0f} s")


def start_server(
    root: Path, cfg: dict[str, Any], env: dict[str, str], diaspor: str | None
) -> tuple[Child, str, str]:
    """`diaspor serve` (the API's /files/ route, the embedded default); if it cannot start,
    a plain static server (`python -m http.server`) over the same storage folder instead.
    Returns the server, the URL under which storage keys are found, and what it is."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    if diaspor is not None:
        server = Child(
            [
                diaspor,
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--data-dir",
                cfg["data_dir"],
            ],
            log=root / "serve.log",
            env=env,
        )
        try:
            wait_for(base + "/health", server, 90)
            return server, base + "/files", "diaspor serve, /files/"
        except RuntimeError as exc:
            server.stop()
            lines = [ln for ln in str(exc).splitlines() if ln.strip()]
            console.print(
                f"[yellow]diaspor serve did not start ({lines[-1][:160]}); serving "
                "with python -m http.server instead[/yellow]"
            )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = Child(
        [
            sys.executable,
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            "--directory",
            cfg["storage"],
            str(port),
        ],
        log=root / "static.log",
        env=env,
    )
    wait_for(base + "/", server, 30)
    return server, base, "python -m http.server (fallback)"


def start_playout(root: Path, env: dict[str, str], diaspor: str | None) -> Child:
    """`diaspor playout`, as production runs it (its built-in relay on a free port)."""
    if diaspor is None:
        raise RuntimeError("there is no `diaspor` command in this virtualenv (pip install -e .)")
    return Child(
        [diaspor, "playout"],
        log=root / "playout.log",
        env={**env, "DIASPOR_RELAY_PORT": str(free_port())},
    )


def backup_database(src: Path, dest: Path) -> None:
    """A copy of a SQLite database, whole (its write-ahead log included)."""
    source, copy = sqlite3.connect(src), sqlite3.connect(dest)
    with contextlib.closing(source), contextlib.closing(copy):
        source.backup(copy)


def as_run_outcomes() -> list[str]:
    """The outcomes in the station's as-run log."""
    from playout.asrun import AsRunLog
    from station.db import Database

    db = Database(station_settings().database_url)
    try:
        return [r.outcome for r in AsRunLog(db, CHANNEL).recent(100_000)]
    finally:
        db.dispose()


def bench_serve(
    root: Path, cfg: dict[str, Any], env: dict[str, str], diaspor: str | None, seconds: float
) -> dict[str, Any]:
    console.print(f"on air: diaspor playout, an HTTP server, one viewer for {seconds:g} s …")
    # A fresh line, removed before anything can serve the render-mode run's playlists.
    clear_live(Path(cfg["storage"]))
    server, files, kind = start_server(root, cfg, env, diaspor)
    onair = start_playout(root, env, diaspor)
    try:
        master = f"{files}/hls/tv/{CHANNEL}/master.m3u8"
        wait_for(master, onair, 90)
        with httpx.Client(timeout=30) as client:
            text = client.get(master).text
            variant = next(ln for ln in text.splitlines() if ln and not ln.startswith("#"))
            viewer = Viewer(client, urljoin(master, variant))
            wait_for(viewer.url, onair, 30)  # the master is written before the playlists
            viewer.reload()  # joins at the live edge
            # The first seconds (the line laid up to the lead, first requests, lazy imports)
            # are a start-up cost, not a per-hour one: the window opens after WARMUP_S.
            changed, next_at = True, time.monotonic()
            mark_at = time.monotonic() + WARMUP_S
            end = mark_at + seconds
            srv0 = seq0 = None
            seg0 = bytes0 = reloads0 = 0
            t0 = mark_at
            while True:
                next_at += viewer.target_s if changed else viewer.target_s / 2
                if srv0 is None and next_at >= mark_at:
                    time.sleep(max(0.0, mark_at - time.monotonic()))
                    srv0, seq0 = proc_cpu_s(server.pid), proc_cpu_s(onair.pid)
                    seg0, bytes0, reloads0 = viewer.segments, viewer.bytes, viewer.reloads
                    t0 = time.monotonic()
                if next_at >= end:
                    time.sleep(max(0.0, end - time.monotonic()))
                    break
                time.sleep(max(0.0, next_at - time.monotonic()))
                changed = viewer.reload()
            window = time.monotonic() - t0
            srv1, seq1 = proc_cpu_s(server.pid), proc_cpu_s(onair.pid)
        server.sample()
        onair.sample()
    finally:
        onair_r = onair.stop(grace=15.0)
        server_r = server.stop(grace=15.0)
    if onair_r.returncode not in (0, -15):
        raise RuntimeError(f"diaspor playout exited {onair_r.returncode}:\n{tail_of(onair.log)}")
    if srv0 is None or srv1 is None or seq0 is None or seq1 is None:
        raise RuntimeError("/proc could not be read for the server or playout")
    return {
        "window_s": window,
        "server_cpu": srv1 - srv0,
        "seq_cpu": seq1 - seq0,
        "segments": viewer.segments - seg0,
        "bytes": viewer.bytes - bytes0,
        "reloads": viewer.reloads - reloads0,
        "errors": viewer.errors[:5],
        "n_errors": len(viewer.errors),
        "variant": variant,
        "server": kind,
        "server_rss_kib": max(server.hwm_kib, server_r.maxrss_kib),
        "seq_rss_kib": max(onair.hwm_kib, onair_r.maxrss_kib),
        "outcomes": _outcomes(as_run_outcomes()),
    }


# --- report --------------------------------------------------------------------------------------


def cph(x: float) -> str:
    return f"{x:,.1f} CPU-s/h" if x < 100 else f"{x:,.0f} CPU-s/h"


def lower_row(rep: Report, measure: str, ours_h: float, ref: dict[str, Any] | None) -> None:
    """The design's first number: CPU per channel-hour at least TARGET_LOWER times lower than
    the live re-encode measured in this run (no verdict without it)."""
    ref_h = ref["cpu_s"] / ref["content_s"] * HOUR if ref else None
    if ref_h is None:
        rep.add(measure, cph(ours_h), "no reference (it could not run)", "", "")
        return
    times = ref_h / ours_h if ours_h > 0 else float("inf")
    rep.add(
        measure,
        cph(ours_h),
        cph(ref_h) + " (live re-encode)",
        f"{ratio(ours_h, ref_h)}: {times:,.0f}× lower",
        f"{verdict(times >= TARGET_LOWER)} (target ≥ {TARGET_LOWER:,}× lower)",
    )


def report_packaging(rep: Report, pk: dict[str, Any], ref: dict[str, Any] | None) -> None:
    clips = pk["clips"]
    content = sum(c["content_s"] for c in clips)
    wall = sum(c["wall_s"] for c in clips)
    enc_wall = sum(c["encode_wall_s"] for c in clips)
    kids = sum(c["cpu_children"] for c in clips)
    enc = sum(c["cpu_encode"] for c in clips)
    own = sum(c["cpu_self"] for c in clips)
    rungs = ", ".join(pk["ladder"])
    rep.section(
        f"Part 1, packaging once at ingest (the library's packaging jobs): {len(clips)} clips, "
        f"{content:.0f} s; ladder {rungs} + audio, {pk['segment_s']} s segments, "
        f"{pk['fps']} fps, {pk['preset']}"
    )
    rep.add(
        "segments per rendition, renditions, bytes of .ts",
        f"{sum(c['segments'] for c in clips)}, {len(clips[0]['renditions'])}, "
        f"{sum(c['bytes'] for c in clips) / 1e6:.1f} MB",
    )
    ref_speed = ref["content_s"] / ref["wall_s"] if ref else None
    rep.add(
        "speed, whole packaging job (encode, checks, publish)",
        f"×{content / wall:.2f} real time",
        f"×{ref_speed:.2f} (live, -re)" if ref_speed else "",
        ratio(content / wall, ref_speed),
    )
    rep.add("speed, the encode alone", f"×{content / enc_wall:.2f} real time")
    ref_cph = ref["cpu_s"] / ref["content_s"] * HOUR if ref else None
    per_h = (kids + own) / content * HOUR
    rep.add(
        "  of which the encoding ffmpeg (rusage of children)",
        cph(enc / content * HOUR),
        "",
        ratio(enc / content * HOUR, ref_cph),
    )
    rep.add(
        "  of which segment checks: ffprobe/ffmpeg per segment", cph((kids - enc) / content * HOUR)
    )
    rep.add("  of which Python (the packaging job itself)", cph(own / content * HOUR))
    sl = pk["slate"]
    rep.add(
        f"slate, once per channel ({sl['segments']} segments, {sl['card']})",
        f"{sl['wall_s']:.1f} s wall, {sl['cpu_self'] + sl['cpu_children']:.1f} CPU-s",
    )
    rep.add(
        "peak RSS, largest ffmpeg child (the encoder)",
        mib(pk["rss_children_kib"]),
        mib(ref["rss_kib"]) + " (live ffmpeg)" if ref else "",
        ratio(pk["rss_children_kib"], ref["rss_kib"] if ref else None),
    )
    rep.add("peak RSS, the Python packaging process", mib(pk["rss_self_kib"]))
    rep.add(
        "CPU per hour of content, everything (children + Python)",
        cph(per_h),
        cph(ref_cph) + " (live re-encode)" if ref_cph else "",
        ratio(per_h, ref_cph),
        "(no design number: paid once per asset)",
    )


def report_channel(
    rep: Report,
    sim: dict[str, Any] | None,
    ref: dict[str, Any] | None,
    serve: dict[str, Any] | None,
) -> None:
    if ref:
        rep.section(
            f"Part 3, the reference: one ffmpeg re-encoding the same ladder live (-re, no "
            f"poster, thumbnails or audio.m4a), {ref['content_s']:g} s"
        )
        speed = ref["content_s"] / ref["wall_s"]
        rep.add("kept real time (content s / wall s)", f"×{speed:.3f}")
        rep.add("cores busy", f"{ref['cpu_s'] / ref['wall_s']:.2f}")
        rep.add("peak RSS", mib(ref["rss_kib"]))
        rep.add(
            "CPU per channel-hour (extrapolated)",
            cph(ref["cpu_s"] / ref["content_s"] * HOUR),
            "",
            "",
            "(no design number: the reference of parts 1 and 2)",
        )
    if sim:
        hours = sim["channel_s"] / HOUR
        rep.section(
            f"Part 2a, render mode: the channel as diaspor playout builds it (database "
            f"timeline, as-run, now-playing) on a SimulatedClock, {hours:g} channel-hour(s)"
        )
        rep.add(
            "  of which the timeline (database read and resolver)",
            cph(sim["timeline_cpu_s"] / hours),
            f"{sim['timeline_calls']} calls",
        )
        if sim.get("state_cpu_s") is not None:
            rep.add(
                "  of which building the restart state (Sequencer._state)",
                cph(sim["state_cpu_s"] / hours),
            )
        rep.add(
            "  of which storage writes (temp file, fsync of the state, rename)",
            cph(sim["put_cpu_s"] / hours),
        )
        rep.add(
            "wall time for the channel time",
            f"{sim['wall_s']:.2f} s",
            f"×{sim['channel_s'] / sim['wall_s']:,.0f} real time",
        )
        rep.add(
            "segments laid, discontinuity sequence, loop steps",
            f"{sim['segments']}, {sim['dseq']}, {sim['steps']}",
        )
        rep.add("as-run rows written (outcomes)", f"{sim['items']} {sim['outcomes']}")
        rep.add(
            "storage writes (state, playlists, now-playing)",
            f"{sim['puts']}, {sim['put_bytes'] / 1e6:.1f} MB",
        )
        rep.add(
            "peak RSS, the render process",
            mib(sim["rss_self_kib"]),
            mib(ref["rss_kib"]) + " (live ffmpeg)" if ref else "",
            ratio(sim["rss_self_kib"], ref["rss_kib"] if ref else None),
        )
        lower_row(rep, "CPU per channel-hour (process_time)", sim["cpu_s"] / hours, ref)
    if serve:
        w = serve["window_s"]
        seq_h, srv_h = serve["seq_cpu"] / w * HOUR, serve["server_cpu"] / w * HOUR
        rep.section(
            f"Part 2b, on air: diaspor playout + {serve['server']}, one viewer on "
            f"{serve['variant']}, {w:.0f} s, extrapolated"
        )
        kbit = serve["bytes"] * 8 / 1000 / w
        errs = (
            f", [red]{serve['n_errors']} errors: {serve['errors']}[/red]"
            if serve["n_errors"]
            else ", no errors"
        )
        rep.add(
            "the viewer received",
            f"{serve['segments']} segments, {kbit:,.0f} kbit/s{errs}",
            f"{serve['reloads']} playlist reloads",
        )
        rep.add("as-run rows written by playout (outcomes)", f"{serve['outcomes']}")
        rep.add(
            "peak RSS: diaspor playout, HTTP server",
            f"{mib(serve['seq_rss_kib'])}, {mib(serve['server_rss_kib'])}",
        )
        rep.add("HTTP server CPU per hour, serving one viewer (/proc)", cph(srv_h))
        both = seq_h + srv_h
        rep.add(
            "diaspor playout + server per hour",
            cph(both),
            f"{REF_STITCHER_CPU_PER_HOUR:g} CPU-s/h (design: minimal stitcher + serving)",
            ratio(both, REF_STITCHER_CPU_PER_HOUR),
            f"{verdict(both <= STITCHER_WITHIN * REF_STITCHER_CPU_PER_HOUR)} "
            f"(target ≤ {STITCHER_WITHIN:g}×)",
        )
        lower_row(rep, "diaspor playout CPU per hour (/proc)", seq_h, ref)


# --- main ----------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=None, help="clips to package (default 3)")
    ap.add_argument(
        "--clip-seconds",
        type=int,
        default=None,
        help="length of the first clip; the others are 7 s, 13 s … longer (default 60)",
    )
    ap.add_argument(
        "--reference-seconds",
        type=float,
        default=None,
        help="real time the live re-encode runs (default 90)",
    )
    ap.add_argument(
        "--serve-seconds",
        type=float,
        default=None,
        help="real time on air with one viewer (default 90; 0: skip)",
    )
    ap.add_argument(
        "--channel-hours",
        type=float,
        default=1.0,
        help="channel time the sequencer runs in render mode (default 1)",
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 2 short 640x360 clips, ladder "
        f"{'/'.join(QUICK_LADDER)}, 20 s reference and serving",
    )
    ap.add_argument(
        "--grain",
        action="store_true",
        help="moving noise on the clips (hard to encode, like footage)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    quick = args.quick
    n = args.clips or (2 if quick else 3)
    clip_s = args.clip_seconds or (14 if quick else 60)
    ref_s = args.reference_seconds or (20.0 if quick else 90.0)
    serve_s = args.serve_seconds if args.serve_seconds is not None else (20.0 if quick else 90.0)
    if not 1 <= n <= 10 or not 2 <= clip_s <= 3600 or not 5 <= ref_s <= 3600:
        ap.error(
            "--clips in [1, 10], --clip-seconds in [2, 3600], --reference-seconds in [5, 3600]"
        )
    if not 0 <= serve_s <= 3600 or not 0 < args.channel_hours <= 48:
        ap.error("--serve-seconds in [0, 3600], --channel-hours in (0, 48]")

    ffmpeg = find_ffmpeg()
    diaspor = find_diaspor()
    root = Path(tempfile.mkdtemp(prefix="diaspor-tv-bench-"))
    data = root / "data"
    (data / "staging").mkdir(parents=True)
    env = child_env(data, ffmpeg)
    if quick:
        env["DIASPOR_TV_LADDER"] = json.dumps(QUICK_LADDER)
    # This process reads the same settings as its children (the reference's ladder, the
    # database it counts as-run rows in): the caller's DIASPOR_* are dropped here too.
    os.environ.clear()
    os.environ.update(env)
    version = subprocess.run([ffmpeg, "-version"], capture_output=True, text=True, check=False)
    first = version.stdout.splitlines()[0] if version.stdout else ffmpeg
    console.print(
        f"{first}; Python {sys.version.split()[0]}; {os.cpu_count()} CPUs; work dir {root}"
    )
    rep = Report(
        "Diaspor TV bench",
        "ratio = ours ÷ reference (CPU, memory: below 1 is better; speed: above 1 is better)",
        console,
    )
    pk = sim = ref = serve = None
    try:
        size = "640x360" if quick else "1280x720"
        what = "testsrc2 with grain" if args.grain else "testsrc2"
        console.print(f"making {n} clips of {what} + sine, {size}, from {clip_s} s …")
        clips = make_clips(root / "clips", ffmpeg, n, clip_s, size, args.grain)
        cfg: dict[str, Any] = {
            "data_dir": str(data),
            "storage": str(data / "storage"),
            "clips": clips,
            "channel_hours": args.channel_hours,
            # Render mode starts just after the next hour's hard start: later than the
            # schedule's rules, which take effect when they are written.
            "sim_start": (datetime.now(BAKU) + timedelta(hours=1))
            .replace(minute=0, second=1, microsecond=0)
            .isoformat(),
        }
        console.print("the station: slate, clips ingested, analysed and packaged, schedule …")
        _, pk = run_role(__file__, "_package", cfg, root, 3600, env=env)
        for c, p in zip(clips, pk["clips"], strict=True):  # the lengths packaging measured
            c["duration_ms"] = p["duration_ms"]
        try:
            console.print(f"render mode: {args.channel_hours:g} channel-hour(s) …")
            copy = root / "render.db"
            backup_database(Path(station_settings().database_url.removeprefix("sqlite:///")), copy)
            render_env = {**env, "DIASPOR_DATABASE_URL": f"sqlite:///{copy}"}
            _, sim = run_role(__file__, "_sequence", cfg, root, 1800, env=render_env)
        except Exception as exc:
            rep.error("render mode", exc)
        try:
            ref = bench_reference(root, ffmpeg, clips, ref_s)
        except Exception as exc:
            rep.error("live re-encode reference", exc)
        if serve_s > 0:
            try:
                serve = bench_serve(root, cfg, env, diaspor, serve_s)
            except Exception as exc:
                rep.error("on-air serving", exc)
        report_packaging(rep, pk, ref)
    except Exception as exc:
        rep.error("TV bench", exc)
    finally:
        clean_up(root, args.keep, console)
    report_channel(rep, sim, ref, serve)
    rep.print()
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(script_main(ROLES, main))
