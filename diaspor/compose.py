"""Builds the station's parts from Settings, once per process, and hands them out."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from accounts.stream_keys import StreamKeys
from accounts.throttle import LoginThrottle
from accounts.users import Users
from audience.downloads import Downloads
from audience.edge_log import EdgeLog
from audience.hls import HlsViews
from audience.ledger import Ledger
from audience.report_queue import Reports
from audience.upkeep import Upkeep
from diaspor.health import serve_health
from jobs.queue import Handler, JobQueue, Worker
from media.binaries import Tools, find_tools
from media.ladder import PackagingOptions
from media.library import Library, library_handlers
from media.storage import Storage, build_storage
from playout.airings import AsRunAirings
from playout.live import LiveDesk
from playout.live_grants import LiveGrants
from playout.nowplaying import NowPlaying, NowPlayingHub, NowPlayingPublisher
from playout.status import NOW_PLAYING_NOTICES, now_playing_notice, nowplaying_key
from schedules.service import Schedules
from schedules.vod import Catalogue
from schedules.vod_windows import VodWindows
from station.backoff import Backoff
from station.clock import Clock, SystemClock
from station.db import Database
from station.metrics import Metrics
from station.notify import Notifier
from station.settings import Settings
from station.supervisor import Health, Supervisor


@dataclass
class Station:
    settings: Settings
    clock: Clock
    db: Database
    storage: Storage
    tools: Tools
    queue: JobQueue
    library: Library
    schedules: Schedules
    users: Users
    stream_keys: StreamKeys
    live_desk: LiveDesk  # who may go live when; one per process (it holds its throttle)
    handlers: dict[str, Handler] = field(default_factory=dict)
    # Streams a running engine publishes, by channel slug: [{url, format, bitrate}].
    on_air: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    now_playing: NowPlayingHub = field(default_factory=NowPlayingHub)
    # Listeners of a channel's mounts, by slug, when this process can count them (the
    # built-in relay runs here); None elsewhere.
    listeners: Callable[[str], int | None] | None = None
    # What each supervised part of this process is doing (the channels' engines, hooks …).
    health: Health = field(default_factory=Health)
    # On PostgreSQL: this process's notices to the others (`station/notify.py`).
    notifier: Notifier | None = None
    # This process's metrics (its own registry): served by the API's /metrics, or by the
    # health-and-metrics port of `diaspor playout` and `diaspor worker`.
    metrics: Metrics = field(default_factory=Metrics)
    # Listening and viewing sessions on their way to the audience ledger (every surface of
    # this process reports through it; nothing waits on the database).
    audience: Reports = field(init=False)

    def __post_init__(self) -> None:
        self.metrics.watch_health(self.health)
        self.audience = Reports(Ledger(self.db), metrics=self.metrics)

    @property
    def publisher(self) -> NowPlayingPublisher:
        """Now-playing's one owner: this process's hub, the file in storage and, on
        PostgreSQL, a notice to the API processes that the file changed."""

        def write(channel: str, data: bytes) -> None:
            self.storage.put_bytes(nowplaying_key(channel), data, "application/json")

        notifier = self.notifier
        if notifier is None:
            return NowPlayingPublisher(self.now_playing, write)

        def announce(event: NowPlaying) -> None:
            notifier.send(NOW_PLAYING_NOTICES, now_playing_notice(event.channel, event.seq))

        return NowPlayingPublisher(self.now_playing, write, announce)

    def worker(self) -> Worker:
        return Worker(
            self.queue, self.handlers, poll_s=self.settings.job_poll_s, metrics=self.metrics
        )

    def vod_windows(self) -> VodWindows:
        """The keeper that moves packages out of reach when their on-demand windows close."""
        catalogue = Catalogue(
            self.db, self.clock, self.library, self.schedules, AsRunAirings(self.db)
        )
        return VodWindows(catalogue, self.library.publications, self.clock)

    def audience_upkeep(self) -> Upkeep:
        """Rolls the audience up for the reports and keeps the ledger within its retention."""
        return Upkeep(self.db, self.clock, self.settings.audience_retention_days)

    def add_background(self, sup: Supervisor) -> None:
        """The worker process's parts: the job worker, the on-demand windows keeper, the
        audience ledger's upkeep and, when its port is set, the receiver of nginx's reports."""
        every = self.settings.vod_windows_every_s
        upkeep_s = self.settings.audience_upkeep_every_s
        self.metrics.watch_jobs(self.queue.counts)
        sup.spawn("worker", lambda stop: self.worker().run(stop), essential=False)
        sup.spawn("vod-windows", lambda stop: self.vod_windows().run(stop, every), essential=False)
        sup.spawn(
            "audience-upkeep",
            lambda stop: self.audience_upkeep().run(stop, upkeep_s),
            essential=False,
        )
        if self.settings.audience_syslog_port:
            edge = self.edge_log()  # one, so its sessions outlive a restart of the part
            sup.spawn("audience-edge", edge.run, essential=False)

    def edge_log(self) -> EdgeLog:
        """Counts the /files/ requests nginx serves and reports over syslog (HLS players,
        downloads) as the API's middleware counts its own."""
        return EdgeLog(
            HlsViews(self.audience),
            Downloads(self.audience),
            self.storage,
            self.clock,
            host=self.settings.host,
            port=self.settings.audience_syslog_port,
            metrics=self.metrics,
        )

    def close(self) -> None:
        if self.notifier is not None:
            self.notifier.close()
        self.storage.close()
        self.db.dispose()


def build_station(settings: Settings, *, clock: Clock | None = None, **parts: Any) -> Station:
    """Parts may be passed in (a test's storage or clock); the rest is built from settings."""
    clock = clock or SystemClock()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db: Database = parts.get("db") or Database(settings.database_url)
    storage: Storage = parts.get("storage") or build_storage(settings)
    tools: Tools = parts.get("tools") or find_tools(settings.ffmpeg_path, settings.ffprobe_path)
    queue = JobQueue(
        db, clock, max_attempts=settings.job_max_attempts, retry_base_s=settings.job_retry_base_s
    )
    library = Library(
        db,
        storage,
        tools,
        queue,
        clock,
        max_upload_bytes=settings.max_upload_bytes,
        staging_dir=settings.staging_dir,
        silence_db=settings.silence_threshold_db,
        silence_min_ms=settings.silence_min_ms,
        packaging=PackagingOptions.from_settings(settings),
        max_duration_ms=settings.max_duration_s * 1000,
        analysis_timeout_base_s=settings.analysis_timeout_base_s,
        analysis_timeout_factor=settings.analysis_timeout_factor,
        package_retire_s=settings.package_retire_s,
    )
    schedules = Schedules(db, clock)
    keys = StreamKeys(db, clock)
    desk = LiveDesk(
        schedules,
        keys,
        LiveGrants(db),
        clock,
        settings.live_margin_s,
        LoginThrottle.from_settings(settings, clock),
    )
    station = Station(
        settings, clock, db, storage, tools, queue, library, schedules, Users(db, clock), keys, desk
    )
    if db.is_postgresql:  # opened at the first notice: only a process that sends has it
        station.notifier = Notifier(db.url, f"diaspor {os.getpid()}: notices")
    station.handlers.update(library_handlers(library))
    return station


async def run_background(station: Station, stop: asyncio.Event) -> None:
    """`diaspor worker`: jobs and the windows keeper, supervised, until stop is set."""
    sup = supervisor_for(station)
    station.add_background(sup)
    add_health_answer(station, sup)
    await sup.run(stop)


def add_health_answer(station: Station, sup: Supervisor) -> None:
    """A process without the API (`diaspor playout`, `diaspor worker`) answers `GET /health`
    and `GET /metrics` on `DIASPOR_METRICS_PORT`, if one is set."""
    port = station.settings.metrics_port
    if not port:
        return
    host = station.settings.host

    async def answer(stop: asyncio.Event) -> None:
        await serve_health(station.health, host, port, stop, station.metrics)

    sup.spawn("health-answer", answer, essential=False)


def supervisor_for(station: Station) -> Supervisor:
    """The process's supervisor: the station's health, the one back-off policy, and how long
    an essential part may fail before the process gives up (`DIASPOR_GIVE_UP_S`)."""
    s = station.settings
    return Supervisor(
        station.health, Backoff(base_s=0.5, max_s=s.restart_max_s), give_up_s=s.give_up_s
    )
