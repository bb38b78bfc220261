"""Building the radio side of a process from the station's parts: the server that carries the
air (the built-in relay here, or icecast2), and one `playout.radio_channel.RadioChannel` per
radio channel, with its ports (schedule, media, as-run, now-playing) taken from the station.
The channels run as parts of the process's supervisor.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import secrets
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache, partial
from pathlib import Path
from urllib.parse import urlsplit

from api.proxies import client_behind
from audience.relay_sessions import RelaySessions
from diaspor.compose import Station
from media.errors import NotFound
from media.storage import LocalStorage, public_file_url
from playout.asrun import AsRunLog
from playout.live import LiveRefused
from playout.radio import Playable
from playout.radio_channel import (
    AirServer,
    Mount,
    RadioChannel,
    RadioPorts,
    Streams,
    mount_streams,
    mounts_of,
)
from schedules.plan import TimelineItem
from station.errors import StationError
from station.logs import address_tag
from station.settings import Settings
from station.supervisor import Supervisor
from streamer.hls_ladder import MASTER_PLAYLIST
from streamer.icecast_admin import kill_source, listeners_by_mount
from streamer.icecast_titles import IcecastTitles
from streamer.mirror import HlsMirror
from streamer.outputs import low_rate
from streamer.relay import Relay, SourceGrant
from streamer.relay_http import RelayError

log = logging.getLogger(__name__)


def media_source(station: Station, slug: str) -> Callable[[int], Playable | None]:
    """Where ffmpeg reads each media item: a local path, or a pre-signed S3 URL (a week
    long, asked for again each day). The channel's filler is copied to local disk once, so
    that there is always something to play when storage is away."""
    spec = station.schedules.channel_spec(slug)
    filler = set(spec.filler_ids)
    cache = station.settings.staging_dir / "filler" / slug

    def local_copy(key: str) -> str:
        dest = cache / key.replace("/", "_")
        if not dest.is_file():
            cache.mkdir(parents=True, exist_ok=True)
            with station.storage.local_path(key) as src:
                tmp = dest.with_suffix(dest.suffix + ".part")
                shutil.copyfile(src, tmp)
                os.replace(tmp, dest)
        return str(dest)

    @lru_cache(maxsize=4096)
    def playable_on(media_id: int, day: int) -> Playable | None:
        try:
            m = station.library.get(media_id)
        except NotFound:
            return None
        if m.status != "ready":
            return None
        local = isinstance(station.storage, LocalStorage) or media_id not in filler
        uri = station.storage.read_url(m.storage_key) if local else local_copy(m.storage_key)
        return Playable(uri, m.loudness_lufs, m.true_peak_dbtp)

    def playable(media_id: int) -> Playable | None:
        return playable_on(media_id, int(time.time() // 86_400))

    return playable


def timeline_of(station: Station, slug: str) -> Callable[[int, int], list[TimelineItem]]:
    def timeline(a: int, b: int) -> list[TimelineItem]:
        return station.schedules.timeline(
            slug, datetime.fromtimestamp(a / 1000, UTC), datetime.fromtimestamp(b / 1000, UTC)
        )

    return timeline


class LiveSources:
    """For the relay: the channels' live mounts, where a presenter comes in with their stream
    key, checked by the live desk (which records the grant); the source password is not
    taken there."""

    def __init__(self, station: Station) -> None:
        self.desk = station.live_desk
        self.slugs = self.desk.live_mounts()

    async def handles(self, mount: str) -> bool:
        if mount not in self.slugs:  # a channel made since? Read them again, in a thread: a
            # database that hangs must not stall the relay, nor keep the encoders off it.
            try:
                self.slugs = await asyncio.to_thread(self.desk.live_mounts)
            except Exception as exc:
                log.warning(
                    "could not read the channels; live mounts known so far are kept",
                    extra={"mount": mount, "error": str(exc)},
                )
        return mount in self.slugs

    async def __call__(self, mount: str, user: str, key: str, address: str) -> SourceGrant | None:
        ctx = {"mount": mount, "user": user, "ip": address_tag(address)}
        try:
            grant = await asyncio.to_thread(
                self.desk.authorise, self.slugs[mount], user, key, address
            )
        except (LiveRefused, NotFound) as e:
            log.warning("live source refused", extra={**ctx, "why": e.message})
            return None
        log.info("live source accepted", extra=ctx)
        if grant.until_ms is None:
            return SourceGrant()
        return SourceGrant(datetime.fromtimestamp(grant.until_ms / 1000, UTC))


def channel_mounts(s: Settings, slug: str) -> tuple[Mount, ...]:
    return mounts_of(slug, s.radio_bitrate_kbps, s.radio_low_bitrate_kbps)


def streams_of(s: Settings, slug: str, *, hls: bool) -> Streams:
    """What the channel lists: each mount (MP3, AAC, the low AAC) with its bit rate, then
    with `hls` the HLS master playlist (its ladder's rungs inside), at its top rung's rate."""
    streams = mount_streams(s.radio_public_url, channel_mounts(s, slug))
    if hls:
        url = public_file_url(s, f"hls/radio/{slug}/{MASTER_PLAYLIST}")
        streams.append({"url": url, "format": "hls", "bitrate": s.radio_bitrate_kbps})
    return streams


@dataclass
class RadioSide:
    """The radio parts of a process, for closing them when the supervisor has stopped."""

    station: Station
    channels: list[RadioChannel] = field(default_factory=list)
    relay: Relay | None = None
    titles: IcecastTitles | None = None
    # The channel of each of the relay's mounts, as the channels are added (for the ledger).
    mount_channels: dict[str, str] = field(default_factory=dict)

    async def close(self) -> None:
        started = time.monotonic()
        for ch in self.channels:
            await ch.close()
            self.station.on_air.pop(ch.slug, None)
        if self.titles is not None:
            await self.titles.close()
        if self.relay is not None:
            self.station.listeners = None
            await self.relay.stop()  # every listener's session ends, and is reported
            await self.station.audience.aclose()  # written, and its task ended
        log.info("radio off air", extra={"seconds_to_stop": round(time.monotonic() - started, 2)})


async def listen(relay: Relay, within_s: float = 5.0) -> None:
    """The relay's port. A playout that has just lost the lead may still be closing it (a
    takeover on one machine: station/leadership.py), so a port in use is tried again for a
    few seconds."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            await relay.start()
            return
        except RelayError as exc:
            cause = exc.__cause__
            in_use = isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE
            if not in_use or time.monotonic() > deadline:
                raise
            log.warning("the relay's port is still in use; trying again", extra={"error": str(exc)})
            await asyncio.sleep(0.2)


async def air_server(station: Station, side: RadioSide, sup: Supervisor) -> AirServer:
    s = station.settings
    if s.radio_server == "relay":
        password = (
            s.source_password.get_secret_value() if s.source_password else secrets.token_urlsafe(16)
        )
        relay = side.relay = Relay(
            s.host,
            s.relay_port,
            source_password=password,
            admin_password=secrets.token_urlsafe(16),
            source_auth=LiveSources(station),
            listener_sessions=RelaySessions(station.audience, side.mount_channels.get),
            client_behind=partial(client_behind, s),
            max_listeners=s.relay_max_listeners,
            max_listeners_per_address=s.relay_max_listeners_per_address,
        )
        await listen(relay)

        def count(slug: str) -> int | None:
            paths = {m.path for m in channel_mounts(s, slug)}
            found = [m.listeners for m in relay.stats() if m.mount in paths]
            return sum(found) if found else None

        station.listeners = count
        return AirServer(
            s.host,
            relay.port,
            password,
            relay.set_title,
            s.relay_url,
            relay.base_url,
            set_bitrate=relay.set_bitrate,
        )
    if s.source_password is None:
        raise StationError("DIASPOR_SOURCE_PASSWORD is required with DIASPOR_RADIO_SERVER=icecast")
    password = s.source_password.get_secret_value()
    u = urlsplit(s.icecast_url)
    admin = s.icecast_admin_password.get_secret_value() if s.icecast_admin_password else None
    titles = side.titles = IcecastTitles(
        s.icecast_url, s.icecast_admin_user if admin else "source", admin or password
    )
    sup.spawn("icecast-titles", titles.run, essential=False)
    kill: Callable[[str], Awaitable[None]] | None = None
    if admin is not None:
        user, secret = s.icecast_admin_user, admin

        async def remove(mount: str) -> None:
            await kill_source(s.icecast_url, mount, user, secret)

        kill = remove
    else:
        log.warning(
            "without DIASPOR_ICECAST_ADMIN_PASSWORD a presenter whose slot has ended is taken "
            "off air but stays connected to icecast2 (removing a source needs the admin)"
        )
    return AirServer(
        u.hostname or "127.0.0.1",
        u.port or 80,
        password,
        titles.set,
        s.radio_public_url,
        s.icecast_url.rstrip("/"),
        carries_hls_apart=True,
        kill_source=kill,
    )


def listeners_of(station: Station, slug: str) -> Callable[[], Awaitable[int | None]]:
    """The channel's listeners for its on-air status: the relay's own count when it runs in
    this process, else icecast2's, read from its status page (and kept, mount by mount, for
    the metrics)."""
    s = station.settings
    mounts = [m.path for m in channel_mounts(s, slug)]
    seen: dict[str, int] = {}  # icecast2's count on each mount, as last read
    if s.radio_server == "icecast":
        for mount in mounts:
            station.metrics.listeners.read((slug, mount), partial(seen.get, mount))

    async def listeners() -> int | None:
        if station.listeners is not None:
            return station.listeners(slug)
        if s.radio_server == "icecast":
            found = await listeners_by_mount(s.icecast_url) or {}
            seen.clear()
            seen.update({m: n for m, n in found.items() if m in mounts})
            return sum(seen.values()) if seen else None
        return None

    return listeners


def relay_listeners(relay: Relay, mount: str) -> int:
    """Listeners on one of the relay's mounts now (0 while it has no source)."""
    return next((m.listeners for m in relay.stats() if m.mount == mount), 0)


def hls_folder(station: Station, slug: str, sup: Supervisor) -> Path:
    """Radio HLS is written on local disk by the encoder; on S3 it is copied into the bucket
    as it grows (a part of its own)."""
    key = f"hls/radio/{slug}"
    if isinstance(station.storage, LocalStorage):
        return station.storage.path(key)
    folder = station.settings.staging_dir / "hls-radio" / slug
    sup.spawn(
        f"{slug}/hls-mirror",
        HlsMirror(folder, station.storage, key).run,
        channel=slug,
        essential=False,
    )
    return folder


async def add_radio(station: Station, sup: Supervisor) -> RadioSide:
    """Every radio channel as parts of `sup`, on the configured server."""
    s = station.settings
    side = RadioSide(station)
    server = await air_server(station, side, sup)
    desk = station.live_desk
    low = s.radio_low_bitrate_kbps
    if low and low_rate(s.radio_bitrate_kbps, low) is None:
        log.warning(
            "no low-bitrate mount or HLS rung: DIASPOR_RADIO_LOW_BITRATE_KBPS is not below "
            "DIASPOR_RADIO_BITRATE_KBPS",
            extra={"low_kbps": low, "kbps": s.radio_bitrate_kbps},
        )
    for ch in station.schedules.find("channel"):
        if ch.data["kind"] != "radio":
            continue
        slug = ch.data["slug"]
        hls = s.radio_engine != "liquidsoap"  # Liquidsoap's script writes no HLS
        streams = streams_of(s, slug, hls=hls)
        folder = hls_folder(station, slug, sup) if hls else None
        ports = RadioPorts(
            slug=slug,
            spec=lambda slug=slug: station.schedules.channel_spec(slug),  # type: ignore[misc]
            timeline=timeline_of(station, slug),
            playable=media_source(station, slug),
            ffmpeg=station.tools.ffmpeg,
            server=server,
            asrun=AsRunLog(station.db, slug),
            now_playing=station.publisher,
            storage=station.storage,
            bitrate_kbps=s.radio_bitrate_kbps,
            low_bitrate_kbps=s.radio_low_bitrate_kbps,
            hls_folder=folder,
            hls_segment_s=s.hls_segment_s,
            live_grace_ms=s.live_grace_ms,
            presenters_now=lambda slug=slug: desk.presenters_now(slug),  # type: ignore[misc]
            live_grant=lambda slug=slug: desk.grants.latest(slug),  # type: ignore[misc]
            listeners=listeners_of(station, slug),
            status_every_s=s.onair_status_s,
            metrics=station.metrics,
            engine_kind=s.radio_engine,
            liquidsoap_path=s.liquidsoap_path,
            allow_root=os.geteuid() == 0,
        )
        channel = RadioChannel(ports, streams, station.health)
        channel.add_to(sup)
        if side.relay is not None:
            for mount in (m.path for m in channel_mounts(s, slug)):
                side.mount_channels[mount] = slug
                reader = partial(relay_listeners, side.relay, mount)
                station.metrics.listeners.read((slug, mount), reader)
        side.channels.append(channel)
        station.on_air[slug] = streams
    return side
