"""Running the radio channels: per channel an engine and its encoders, titles following the
timeline, the as-run log, now-playing, and the presenter's live mount.

Two servers carry the air: the built-in relay, in this process (the embedded default), or
icecast2 (production: `diaspor playout` runs the engines, icecast2 serves the listeners and
asks the API whether a presenter may go live).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import httpx

from api.services import public_file_url
from diaspor.compose import Station
from media.errors import NotFound
from media.storage import LocalStorage
from playout.asrun import AsRunLog
from playout.liquidsoap_engine import LiquidsoapEngine
from playout.live import LiveDesk, LiveFeed, LiveRefused, live_mount
from playout.nowplaying import json_bytes, now_playing
from playout.onair import TitleSetter, title_hook
from playout.radio import OVERRIDDEN, Boundary, Playable, RadioEngine
from playout.status import keep_status, nowplaying_key
from schedules.plan import TimelineItem, to_ms
from station.clock import SystemClock
from station.errors import StationError
from station.settings import Settings
from streamer.encoder import Encoder, HlsOutput, Output, Tee
from streamer.icecast_admin import IcecastAdminError, listeners_on, update_title
from streamer.mirror import HlsMirror
from streamer.outputs import IcecastOutput
from streamer.relay import Relay, SourceGrant

log = logging.getLogger(__name__)


def now_playing_hook(
    station: Station, slug: str, engine: RadioEngine | LiquidsoapEngine
) -> Callable[[Boundary], Awaitable[None]]:
    """At each boundary: publish now-playing in-process and write it as a static file.
    An item the presenter talks over is not news: the live item stays current."""

    async def hook(b: Boundary) -> None:
        if b.outcome == OVERRIDDEN:
            return
        event = station.now_playing.publish(
            now_playing(slug, engine.upcoming(), b.actual_ms, live=engine.live_item)
        )
        await asyncio.to_thread(
            station.storage.put_bytes,
            nowplaying_key(slug),
            json_bytes(event),
            "application/json",
        )

    return hook


@dataclass(frozen=True)
class ChannelSources:
    """What any engine needs of a channel: its timeline and its media, from the library."""

    channel: Mapping[str, Any]
    timeline: Callable[[int, int], Sequence[TimelineItem]]
    playable: Callable[[int], Playable | None]
    filler_ids: tuple[int, ...]


def channel_sources(station: Station, slug: str) -> ChannelSources:
    ch = station.schedules.channel(slug).data

    @lru_cache(maxsize=4096)
    def playable_on(media_id: int, day: int) -> Playable | None:
        try:
            m = station.library.get(media_id)
        except NotFound:
            return None
        if m.status != "ready":
            return None
        # ffmpeg reads the file where it is: a path, or a pre-signed S3 URL (a week long,
        # asked for again each day).
        return Playable(station.storage.read_url(m.storage_key), m.loudness_lufs, m.true_peak_dbtp)

    def playable(media_id: int) -> Playable | None:
        return playable_on(media_id, int(time.time() // 86_400))

    def timeline(a: int, b: int) -> list[TimelineItem]:
        return station.schedules.timeline(
            slug, datetime.fromtimestamp(a / 1000, UTC), datetime.fromtimestamp(b / 1000, UTC)
        )

    filler: list[int] = []
    if ch.get("filler_playlist_id"):
        filler = list(station.schedules.get("playlist", ch["filler_playlist_id"]).data["media_ids"])
    return ChannelSources(ch, timeline, playable, tuple(filler))


def engine_for(station: Station, slug: str) -> RadioEngine:
    """The ffmpeg engine on a channel's timeline, its media read from the library."""
    src = channel_sources(station, slug)
    return RadioEngine(
        ffmpeg=station.tools.ffmpeg,
        timeline=src.timeline,
        playable=src.playable,
        origin_ms=to_ms(station.clock.now()),
        target_lufs=src.channel["loudness_target_lufs"],
        max_true_peak_dbtp=src.channel["true_peak_max_dbtp"],
        filler_ids=src.filler_ids,
    )


def liquidsoap_engine_for(
    station: Station, slug: str, outputs: Sequence[IcecastOutput]
) -> LiquidsoapEngine:
    """The Liquidsoap engine on the same timeline and media, to the same mounts."""
    src = channel_sources(station, slug)
    return LiquidsoapEngine(
        outputs=outputs,
        timeline=src.timeline,
        playable=src.playable,
        origin_ms=to_ms(station.clock.now()),
        target_lufs=src.channel["loudness_target_lufs"],
        max_true_peak_dbtp=src.channel["true_peak_max_dbtp"],
        binary=station.settings.liquidsoap_path,
        allow_root=os.geteuid() == 0,
    )


def live_desk(station: Station) -> LiveDesk:
    return LiveDesk(station.schedules, station.users, station.clock, station.settings.live_margin_s)


def source_auth(station: Station) -> Callable[[str, str, str], Awaitable[SourceGrant | None]]:
    """For the relay: a presenter on a channel's live mount, checked by the live desk."""
    desk = live_desk(station)
    slugs = {live_mount(c.data["slug"]): c.data["slug"] for c in station.schedules.find("channel")}

    async def check(mount: str, user: str, password: str) -> SourceGrant | None:
        slug = slugs.get(mount)
        if slug is None:
            return None
        try:
            grant = await asyncio.to_thread(desk.authorise, slug, user, password)
        except (LiveRefused, NotFound) as e:
            log.warning(
                "live source refused", extra={"mount": mount, "user": user, "why": e.message}
            )
            return None
        log.info("live source accepted", extra={"mount": mount, "user": user})
        if grant.until_ms is None:
            return SourceGrant()
        return SourceGrant(datetime.fromtimestamp(grant.until_ms / 1000, UTC))

    return check


@dataclass
class IcecastTitles:
    """Titles on icecast2 through its admin API. icecast2 refuses a title for a mount that has
    no source yet (so the first one, set as the encoder connects, would be lost): the latest
    title per mount is kept and retried until icecast2 takes it. A restarted icecast2 forgets
    titles, so the current ones are said again every `refresh_s`."""

    base_url: str
    user: str
    password: str
    retry_s: float = 2.0
    refresh_s: float = 30.0
    pending: dict[str, str] = field(default_factory=dict)
    current: dict[str, str] = field(default_factory=dict)
    _client: httpx.AsyncClient | None = None

    async def set(self, mount: str, title: str) -> None:
        self.pending[mount] = self.current[mount] = title
        await self._flush()

    async def _flush(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=5.0)
        for mount, title in list(self.pending.items()):
            try:
                await update_title(
                    self.base_url, mount, title, self.user, self.password, client=self._client
                )
            except IcecastAdminError as e:
                log.info(
                    "title not taken yet; will retry", extra={"mount": mount, "why": e.message}
                )
                continue
            if self.pending.get(mount) == title:
                del self.pending[mount]

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        refreshed = loop.time()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.retry_s)
            if loop.time() - refreshed >= self.refresh_s:
                refreshed = loop.time()
                self.pending.update(self.current)
            if self.pending:
                await self._flush()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()


@dataclass
class AirServer:
    """What the channels need of the server that carries them."""

    host: str
    port: int
    password: str
    set_title: TitleSetter
    public_url: str  # mount URLs as listeners see them
    read_url: str  # where this process reads a presenter's live mount


def streams_of(s: Settings, slug: str) -> list[dict[str, Any]]:
    base = s.radio_public_url
    out = [
        {"url": f"{base}/{slug}.mp3", "format": "mp3", "bitrate": s.radio_bitrate_kbps},
        {"url": f"{base}/{slug}.aac", "format": "aac", "bitrate": s.radio_bitrate_kbps},
    ]
    return out


def status_task(
    station: Station, slug: str, streams: list[dict[str, Any]], stop: asyncio.Event
) -> asyncio.Task[None]:
    """The channel's on-air status in storage, for API processes elsewhere: its streams and
    listeners (the relay here counts them; icecast2 is asked through its status page)."""
    s = station.settings
    mounts = {f"/{slug}.mp3", f"/{slug}.aac"}

    async def listeners() -> int | None:
        if station.listeners is not None:
            return station.listeners(slug)
        if s.radio_server == "icecast":
            return await listeners_on(s.icecast_url, mounts)
        return None

    return asyncio.create_task(
        keep_status(station.storage, slug, streams, listeners, s.onair_status_s, stop)
    )


async def put_channel_on_air(
    station: Station, slug: str, server: AirServer, stop: asyncio.Event
) -> tuple[list[asyncio.Task[None]], list[Any]]:
    """One channel: engine → encoders → mounts (+ HLS), with hooks and its live feed."""
    s = station.settings
    ch = station.schedules.channel(slug).data
    name = ch["names"].get("az", slug)
    mounts = [f"/{slug}.mp3", f"/{slug}.aac"]
    mount_outputs: list[Output] = [
        IcecastOutput(
            mounts[0],
            server.password,
            host=server.host,
            port=server.port,
            codec="mp3",
            bitrate_kbps=s.radio_bitrate_kbps,
            name=name,
        ),
        IcecastOutput(
            mounts[1],
            server.password,
            host=server.host,
            port=server.port,
            codec="aac",
            bitrate_kbps=s.radio_bitrate_kbps,
            name=name,
        ),
    ]
    streams = streams_of(s, slug)
    if s.radio_engine == "liquidsoap":
        ls = liquidsoap_engine_for(
            station, slug, [o for o in mount_outputs if isinstance(o, IcecastOutput)]
        )
        ls.hooks.append(AsRunLog(station.db, slug).hook)
        ls.hooks.append(now_playing_hook(station, slug, ls))
        station.on_air[slug] = streams
        log.info(
            "radio on air, through Liquidsoap", extra={"channel": slug, "mp3": streams[0]["url"]}
        )
        running = asyncio.create_task(ls.run(SystemClock(), stop))
        return [running, status_task(station, slug, streams, stop)], []
    hls_key = f"hls/radio/{slug}"
    background: list[asyncio.Task[None]] = []
    if isinstance(station.storage, LocalStorage):
        hls_folder = station.storage.path(hls_key)
    else:  # written on local disk, copied into the bucket as it grows
        hls_folder = s.staging_dir / "hls-radio" / slug
        mirror = HlsMirror(hls_folder, station.storage, hls_key)
        background.append(asyncio.create_task(mirror.run(stop)))
    hls: list[Output] = [HlsOutput(hls_folder, segment_s=s.hls_segment_s)]
    streams.append(
        {
            "url": public_file_url(s, f"{hls_key}/index.m3u8"),
            "format": "hls",
            "bitrate": s.radio_bitrate_kbps,
        }
    )
    # On the relay (in this process) one encoder does all; an external server may go away,
    # and that must not take HLS down with it.
    sink: Encoder | Tee
    if s.radio_server == "relay":
        sink = Encoder(station.tools.ffmpeg, mount_outputs + hls)
    else:
        sink = Tee(Encoder(station.tools.ffmpeg, mount_outputs), Encoder(station.tools.ffmpeg, hls))
    engine = engine_for(station, slug)
    desk = live_desk(station)
    feed = LiveFeed(
        station.tools.ffmpeg,
        server.read_url + live_mount(slug),
        target_lufs=ch["loudness_target_lufs"],
        max_peak_dbfs=ch["true_peak_max_dbtp"],
        grace_ms=s.live_grace_ms,
        identify=lambda: desk.presenters_now(slug),
    )
    engine.live = feed
    engine.hooks.append(title_hook(mounts, server.set_title))
    engine.hooks.append(AsRunLog(station.db, slug).hook)
    engine.hooks.append(now_playing_hook(station, slug, engine))
    await feed.start()
    station.on_air[slug] = streams
    background.append(status_task(station, slug, streams, stop))
    log.info(
        "radio on air",
        extra={"channel": slug, "mp3": streams[0]["url"], "live_mount": live_mount(slug)},
    )
    return [asyncio.create_task(engine.run(SystemClock(), sink, stop)), *background], [sink, feed]


async def run_radio(station: Station, stop: asyncio.Event) -> None:
    """Every radio channel on the configured server, until stop is set."""
    s = station.settings
    relay: Relay | None = None
    titles: IcecastTitles | None = None
    if s.radio_server == "relay":
        password = (
            s.source_password.get_secret_value() if s.source_password else secrets.token_urlsafe(16)
        )
        relay = Relay(
            s.host,
            s.relay_port,
            source_password=password,
            admin_password=secrets.token_urlsafe(16),
            source_auth=source_auth(station),
        )
        await relay.start()
        counted = relay

        def count(slug: str) -> int | None:
            mounts = {f"/{slug}.mp3", f"/{slug}.aac"}
            found = [m.listeners for m in counted.stats() if m.mount in mounts]
            return sum(found) if found else None

        station.listeners = count
        server = AirServer(
            s.host, relay.port, password, relay.set_title, s.relay_url, relay.base_url
        )
    else:
        if s.source_password is None:
            raise StationError(
                "DIASPOR_SOURCE_PASSWORD is required with DIASPOR_RADIO_SERVER=icecast"
            )
        password = s.source_password.get_secret_value()
        u = urlsplit(s.icecast_url)
        admin = s.icecast_admin_password.get_secret_value() if s.icecast_admin_password else None
        titles = IcecastTitles(
            s.icecast_url, s.icecast_admin_user if admin else "source", admin or password
        )
        server = AirServer(
            u.hostname or "127.0.0.1",
            u.port or 80,
            password,
            titles.set,
            s.radio_public_url,
            s.icecast_url.rstrip("/"),
        )
    tasks: list[asyncio.Task[None]] = []
    parts: list[Any] = []
    try:
        if titles is not None:
            tasks.append(asyncio.create_task(titles.run(stop)))
        for ch in station.schedules.find("channel"):
            if ch.data["kind"] == "radio":
                running, owned = await put_channel_on_air(station, ch.data["slug"], server, stop)
                tasks += running
                parts += owned
        await stop.wait()
    finally:
        stop.set()
        started = time.monotonic()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        for p in parts:
            await p.close()
        if titles is not None:
            await titles.close()
        for ch in station.schedules.find("channel"):
            if ch.data["kind"] == "radio":
                station.on_air.pop(ch.data["slug"], None)
        if relay is not None:
            station.listeners = None
            await relay.stop()
        log.info("radio off air", extra={"seconds_to_stop": round(time.monotonic() - started, 2)})
