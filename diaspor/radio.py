"""Running the radio channels in this process (the embedded default): the relay, and per
channel an engine and its encoder, with titles following the timeline."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import lru_cache

from diaspor.compose import Station
from media.errors import NotFound
from media.storage import LocalStorage
from playout.asrun import AsRunLog
from playout.nowplaying import json_bytes, now_playing
from playout.onair import title_hook
from playout.radio import Boundary, Playable, RadioEngine
from schedules.plan import to_ms
from station.clock import SystemClock
from streamer.encoder import Encoder, HlsOutput, Output
from streamer.outputs import IcecastOutput
from streamer.relay import Relay

log = logging.getLogger(__name__)


def now_playing_hook(
    station: Station, slug: str, engine: RadioEngine
) -> Callable[[Boundary], Awaitable[None]]:
    """At each boundary: publish now-playing in-process and write it as a static file."""

    async def hook(b: Boundary) -> None:
        event = station.now_playing.publish(now_playing(slug, engine.upcoming(), b.item.start_ms))
        await asyncio.to_thread(
            station.storage.put_bytes, f"nowplaying/{slug}.json", json_bytes(event),
            "application/json",
        )  # fmt: skip

    return hook


def engine_for(station: Station, slug: str) -> RadioEngine:
    """An engine on a channel's timeline, its media read from the library."""
    ch = station.schedules.channel(slug).data

    @lru_cache(maxsize=4096)
    def playable(media_id: int) -> Playable | None:
        try:
            m = station.library.get(media_id)
        except NotFound:
            return None
        if m.status != "ready" or not isinstance(station.storage, LocalStorage):
            return None
        return Playable(str(station.storage.path(m.storage_key)), m.loudness_lufs,
                        m.true_peak_dbtp)  # fmt: skip

    def timeline(a: int, b: int) -> list:  # type: ignore[type-arg]
        return station.schedules.timeline(
            slug, datetime.fromtimestamp(a / 1000, UTC), datetime.fromtimestamp(b / 1000, UTC)
        )

    filler: list[int] = []
    if ch.get("filler_playlist_id"):
        filler = list(station.schedules.get("playlist", ch["filler_playlist_id"]).data["media_ids"])
    return RadioEngine(
        ffmpeg=station.tools.ffmpeg, timeline=timeline, playable=playable,
        origin_ms=to_ms(station.clock.now()), target_lufs=ch["loudness_target_lufs"],
        max_true_peak_dbtp=ch["true_peak_max_dbtp"], filler_ids=tuple(filler),
    )  # fmt: skip


async def run_radio(station: Station, stop: asyncio.Event) -> None:
    """The relay and every radio channel, until stop is set."""
    s = station.settings
    password = (
        s.source_password.get_secret_value() if s.source_password else secrets.token_urlsafe(16)
    )
    relay = Relay(s.host, s.relay_port, source_password=password,
                  admin_password=secrets.token_urlsafe(16))  # fmt: skip
    await relay.start()
    tasks: list[asyncio.Task[None]] = []
    encoders: list[Encoder] = []
    try:
        radios = [c for c in station.schedules.find("channel") if c.data["kind"] == "radio"]
        for ch in radios:
            slug = ch.data["slug"]
            mounts = [f"/{slug}.mp3", f"/{slug}.aac"]
            name = ch.data["names"].get("az", slug)
            outputs: list[Output] = [
                IcecastOutput(mounts[0], password, port=relay.port, codec="mp3",
                              bitrate_kbps=s.radio_bitrate_kbps, name=name),
                IcecastOutput(mounts[1], password, port=relay.port, codec="aac",
                              bitrate_kbps=s.radio_bitrate_kbps, name=name),
            ]  # fmt: skip
            streams = [
                {
                    "url": f"{s.relay_url}{mounts[0]}",
                    "format": "mp3",
                    "bitrate": s.radio_bitrate_kbps,
                },
                {
                    "url": f"{s.relay_url}{mounts[1]}",
                    "format": "aac",
                    "bitrate": s.radio_bitrate_kbps,
                },
            ]
            if isinstance(station.storage, LocalStorage):
                hls_key = f"hls/radio/{slug}"
                outputs.append(HlsOutput(station.storage.path(hls_key), segment_s=s.hls_segment_s))
                streams.append({"url": f"{s.base_url}/files/{hls_key}/index.m3u8",
                                "format": "hls", "bitrate": s.radio_bitrate_kbps})  # fmt: skip
            encoder = Encoder(station.tools.ffmpeg, outputs)
            engine = engine_for(station, slug)
            engine.hooks.append(title_hook(mounts, relay.set_title))
            engine.hooks.append(AsRunLog(station.db, slug).hook)
            engine.hooks.append(now_playing_hook(station, slug, engine))
            encoders.append(encoder)
            tasks.append(asyncio.create_task(engine.run(SystemClock(), encoder, stop)))
            station.on_air[slug] = streams
            log.info("radio on air", extra={"channel": slug, "mp3": streams[0]["url"]})
        await stop.wait()
    finally:
        stop.set()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        for e in encoders:
            await e.close()
        station.on_air.clear()
        await relay.stop()
