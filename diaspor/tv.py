"""Building the TV side of a process from the station's parts: per TV channel its slate
(packaged once, the first time), its live input if one is configured, and a
`playout.tv_channel.TvChannel` whose parts run under the process's supervisor.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import Literal

from diaspor.compose import Station
from diaspor.radio import timeline_of
from media.packaged import Package
from media.packaging import package_slate
from media.storage import public_file_url
from playout.asrun import AsRunLog
from playout.sequencer import stored_packages
from playout.tv_channel import TvChannel, TvPorts, find_slate
from station.clock import Clock, SystemClock
from station.supervisor import Supervisor
from streamer.tvlive import LiveInput, TvLiveIngest

log = logging.getLogger(__name__)


async def ensure_slate(station: Station, slug: str) -> Package:
    """The channel's slate, packaged into the ladder the first time it is needed."""
    found = await find_slate(station.storage, slug)
    if found is not None:
        return found
    log.info("packaging the channel's slate (first start only)", extra={"channel": slug})
    return await package_slate(
        station.tools,
        station.storage,
        slug,
        options=station.library.packaging,
        staging_dir=station.settings.staging_dir,
    )


def live_ingest_for(station: Station, slug: str, port: int) -> TvLiveIngest:
    """The channel's studio input: RTMP or SRT, transcoded live into the channel's ladder."""
    s = station.settings
    secret = s.tv_live_secret.get_secret_value() if s.tv_live_secret else secrets.token_urlsafe(24)
    protocol: Literal["rtmp", "srt"] = "srt" if s.tv_live_input == "srt" else "rtmp"
    source = LiveInput(
        protocol, s.tv_live_host, port, secret, srt_latency_ms=s.tv_live_srt_latency_ms
    )
    log.info("TV live input listening", extra={"channel": slug, "protocol": protocol, "port": port})
    return TvLiveIngest(
        slug,
        station.tools.ffmpeg,
        station.storage,
        source,
        station.library.packaging,
        s.staging_dir / "live" / slug,
        SystemClock(),
        gain_db=s.tv_live_gain_db,
        keep=s.tv_live_keep,
    )


@dataclass
class TvSide:
    station: Station
    channels: list[TvChannel] = field(default_factory=list)

    async def close(self) -> None:
        for ch in self.channels:
            self.station.on_air.pop(ch.slug, None)


def tv_channel(
    station: Station,
    slug: str,
    slate: Package,
    ingest: TvLiveIngest | None = None,
    clock: Clock | None = None,
) -> TvChannel:
    """One TV channel from the station's parts: the database's timeline, the assets' live
    publications, as-run and now-playing (`clock`: a simulated one, in bench/tv.py's render
    mode)."""
    s = station.settings
    ports = TvPorts(
        slug=slug,
        storage=station.storage,
        timeline=timeline_of(station, slug),
        packages=stored_packages(station.storage, station.library.publications.prefix_of),
        asrun=AsRunLog(station.db, slug),
        now_playing=station.publisher,
        master_url=lambda key: public_file_url(s, key) or key,
        window=s.tv_window,
        live=ingest,
        live_grace_ms=s.tv_live_grace_ms or None,
        live_takeover=s.tv_live_takeover,
        status_every_s=s.onair_status_s,
        clock=clock or SystemClock(),
        metrics=station.metrics,
    )
    return TvChannel(ports, slate, station.health)


async def add_tv(station: Station, sup: Supervisor) -> TvSide:
    """Every TV channel as parts of `sup`."""
    s = station.settings
    side = TvSide(station)
    live_n = 0
    for ch in station.schedules.find("channel"):
        if ch.data["kind"] != "tv":
            continue
        slug = ch.data["slug"]
        slate = await ensure_slate(station, slug)
        ingest = None
        if s.tv_live_input != "off":
            ingest = live_ingest_for(station, slug, s.tv_live_port + live_n)
            live_n += 1
        channel = tv_channel(station, slug, slate, ingest)
        channel.add_to(sup)
        side.channels.append(channel)
        station.on_air[slug] = channel.streams
    return side
