"""Running the TV channels: per channel its slate (packaged once) and a sequencer that keeps
the live playlists under `hls/tv/<slug>/` in storage, with the as-run log and now-playing.

No video is encoded here: the sequencer only writes playlists naming segments that packaging
made at ingest. Players fetch them from the API's /files/ (embedded) or nginx/S3/CDN.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from api.services import public_file_url
from diaspor.compose import Station
from media.packaged import Package, slate_prefix
from media.packaging import load_package, package_slate
from playout.asrun import AsRunLog
from playout.nowplaying import json_bytes
from playout.radio import Boundary
from playout.sequencer import Sequencer, TvBoundary, live_prefix
from schedules.plan import TimelineItem
from station.clock import SystemClock

log = logging.getLogger(__name__)


async def ensure_slate(station: Station, slug: str) -> Package:
    """The channel's slate, packaged into the ladder the first time it is needed."""
    found = await asyncio.to_thread(load_package, station.storage, slate_prefix(slug))
    if found is not None:
        return found
    log.info("packaging the channel's slate (first start only)", extra={"channel": slug})
    return await package_slate(
        station.tools, station.storage, slug, options=station.library.packaging,
        staging_dir=station.settings.staging_dir,
    )  # fmt: skip


def tv_streams(station: Station, slug: str, slate: Package) -> list[dict[str, Any]]:
    top = max((r.bandwidth for r in slate.renditions), default=0)
    url = public_file_url(station.settings, f"{live_prefix(slug)}/master.m3u8")
    return [{"url": url, "format": "hls", "bitrate": round(top / 1000)}]


def sequencer_for(station: Station, slug: str) -> Sequencer:
    def timeline(a: int, b: int) -> list[TimelineItem]:
        return station.schedules.timeline(
            slug, datetime.fromtimestamp(a / 1000, UTC), datetime.fromtimestamp(b / 1000, UTC)
        )

    asrun = AsRunLog(station.db, slug)

    async def record(b: TvBoundary) -> None:
        # The sequencer knows whether it dropped segments (its outcome says cut-short); the
        # timeline's `cut` may be a few ms of a file's sound past the next hard start.
        item = replace(b.item, cut=b.outcome == "cut-short")
        await asyncio.to_thread(asrun.write, Boundary(item, 0, b.actual_ms, b.outcome))
        event = station.now_playing.publish(b.now_playing)
        await asyncio.to_thread(station.storage.put_bytes, f"nowplaying/{slug}.json",
                                json_bytes(event), "application/json")  # fmt: skip

    return Sequencer(slug, station.storage, timeline, window=station.settings.tv_window,
                     hooks=[record])  # fmt: skip


async def run_tv(station: Station, stop: asyncio.Event) -> None:
    """Every TV channel on air until stop is set."""
    tasks: list[asyncio.Task[None]] = []
    try:
        for ch in station.schedules.find("channel"):
            if ch.data["kind"] != "tv":
                continue
            slug = ch.data["slug"]
            slate = await ensure_slate(station, slug)
            seq = sequencer_for(station, slug)
            tasks.append(asyncio.create_task(seq.run(SystemClock(), stop)))
            station.on_air[slug] = tv_streams(station, slug, slate)
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
