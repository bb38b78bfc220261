"""Running the TV channels: per channel its slate (packaged once) and a sequencer that keeps
the live playlists under `hls/tv/<slug>/` in storage, with the as-run log and now-playing.

No video is encoded here: the sequencer only writes playlists naming segments that packaging
made at ingest. Players fetch them from the API's /files/ (embedded) or nginx/S3/CDN.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Literal

from api.services import public_file_url
from diaspor.compose import Station
from media.packaged import Package, slate_prefix
from media.packaging import load_package, package_slate
from playout.asrun import AsRunLog
from playout.nowplaying import json_bytes
from playout.radio import PLAYED, Boundary
from playout.sequencer import Sequencer, TvBoundary, live_prefix
from playout.status import keep_status, nowplaying_key
from schedules.plan import TimelineItem
from station.clock import SystemClock
from streamer.tvlive import LiveInput, TvLiveIngest

log = logging.getLogger(__name__)


async def ensure_slate(station: Station, slug: str) -> Package:
    """The channel's slate, packaged into the ladder the first time it is needed."""
    found = await asyncio.to_thread(load_package, station.storage, slate_prefix(slug))
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


def tv_streams(station: Station, slug: str, slate: Package) -> list[dict[str, Any]]:
    top = max((r.bandwidth for r in slate.renditions), default=0)
    url = public_file_url(station.settings, f"{live_prefix(slug)}/master.m3u8")
    return [{"url": url, "format": "hls", "bitrate": round(top / 1000)}]


def sequencer_for(station: Station, slug: str, live: TvLiveIngest | None = None) -> Sequencer:
    def timeline(a: int, b: int) -> list[TimelineItem]:
        return station.schedules.timeline(
            slug, datetime.fromtimestamp(a / 1000, UTC), datetime.fromtimestamp(b / 1000, UTC)
        )

    asrun = AsRunLog(station.db, slug)

    async def record(b: TvBoundary) -> None:
        if b.after_live is not None:  # the live stretch before this item ends: its length
            await asyncio.to_thread(
                asrun.write, Boundary(b.item, 0, b.after_live.end_ms, PLAYED, resumed=True)
            )
        if not b.resumed:
            # The sequencer knows whether it dropped segments (its outcome says cut-short);
            # the timeline's `cut` may be a few ms of a file's sound past the next hard start.
            item = replace(b.item, cut=b.outcome == "cut-short")
            aired = Boundary(item, 0, b.actual_ms, b.outcome, segments=(b.first_seq, b.last_seq))
            await asyncio.to_thread(asrun.write, aired)
        event = station.now_playing.publish(b.now_playing)
        await asyncio.to_thread(
            station.storage.put_bytes, nowplaying_key(slug), json_bytes(event), "application/json"
        )

    s = station.settings
    return Sequencer(
        slug,
        station.storage,
        timeline,
        window=s.tv_window,
        hooks=[record],
        live=live,
        live_grace_ms=s.tv_live_grace_ms or None,
        live_takeover=s.tv_live_takeover,
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


async def no_count() -> int | None:
    """TV viewers are not counted: HLS is served by files, nginx or a CDN."""
    return None


async def run_tv(station: Station, stop: asyncio.Event) -> None:
    """Every TV channel on air until stop is set."""
    tasks: list[asyncio.Task[None]] = []
    live_n = 0
    try:
        for ch in station.schedules.find("channel"):
            if ch.data["kind"] != "tv":
                continue
            slug = ch.data["slug"]
            slate = await ensure_slate(station, slug)
            ingest = None
            if station.settings.tv_live_input != "off":
                ingest = live_ingest_for(station, slug, station.settings.tv_live_port + live_n)
                live_n += 1
                tasks.append(asyncio.create_task(ingest.run(stop)))
            seq = sequencer_for(station, slug, ingest)
            tasks.append(asyncio.create_task(seq.run(SystemClock(), stop)))
            station.on_air[slug] = tv_streams(station, slug, slate)
            tasks.append(
                asyncio.create_task(
                    keep_status(
                        station.storage,
                        slug,
                        station.on_air[slug],
                        no_count,
                        station.settings.onair_status_s,
                        stop,
                    )
                )
            )
            log.info("TV on air", extra={"channel": slug, "hls": station.on_air[slug][0]["url"]})
        await stop.wait()
    finally:
        stop.set()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        for ch in station.schedules.find("channel"):
            if ch.data["kind"] == "tv":
                station.on_air.pop(ch.data["slug"], None)
