"""One radio channel on air: its engine, encoders, live feed and side effects, as parts that
the process's supervisor keeps running.

Everything the channel uses is passed in as a port (`RadioPorts`): the schedule (a frozen
`ChannelSpec`, the timeline, the media), the server that carries it, the as-run log and the
now-playing publisher. The engine, the side effects and the live feed are separate parts: a
side effect that fails is retried by its own worker and never stops the audio; an engine that
fails is started again at once on the same encoders (listeners keep their connection).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from media.storage import Storage
from playout.asrun import AsRunLog, Boundary, offset_from_plan_ms
from playout.hooks import Hook, HookDispatch
from playout.liquidsoap_engine import LiquidsoapEngine
from playout.live import LiveFeed, live_mount
from playout.live_grants import Granted
from playout.nowplaying import NowPlayingPublisher
from playout.onair import TitleSetter, title_hook
from playout.radio import HOLD_S, PlayableSource, RadioEngine, TimelineSource
from playout.status import keep_status
from schedules.plan import ChannelSpec, to_ms
from station.clock import Clock, SystemClock
from station.metrics import Metrics
from station.supervisor import Health, Supervisor
from streamer.encoder import Encoder, HlsOutput, Output, Tee
from streamer.hls_dates import HlsDates
from streamer.hls_ladder import MASTER_PLAYLIST, audio_ladder, master_playlist
from streamer.outputs import Codec, IcecastOutput, low_rate

log = logging.getLogger(__name__)
Streams = list[dict[str, Any]]
# An editor's change to the schedule or the channel is heard this soon, and an operator's
# skip or play-now (which takes effect 3 s after it is given) well before its instant. One
# fingerprint query when nothing changed.
REFRESH_MS = 1_000


@dataclass(frozen=True)
class AirServer:
    """What the channels need of the server that carries them."""

    host: str
    port: int
    password: str = field(repr=False)
    set_title: TitleSetter
    public_url: str  # mount URLs as listeners see them
    read_url: str  # where this process reads a presenter's live mount
    carries_hls_apart: bool = False  # an external server may go away: HLS gets its own encoder
    # Disconnects a mount's source (icecast2's killsource), for a presenter whose time is up;
    # None where the server ends it itself (the built-in relay holds each grant's end).
    kill_source: Callable[[str], Awaitable[None]] | None = None
    # Tells the server a mount's bit rate, to which the relay fits its ICY interval and burst;
    # None where the server's configuration does that (icecast2: deploy/icecast.xml).
    set_bitrate: Callable[[str, int], None] | None = None


@dataclass(frozen=True)
class RadioPorts:
    """What a radio channel is given: the schedule's values and the station's services."""

    slug: str
    spec: Callable[[], ChannelSpec]
    timeline: TimelineSource
    playable: PlayableSource
    ffmpeg: str
    server: AirServer
    asrun: AsRunLog
    now_playing: NowPlayingPublisher
    storage: Storage  # the on-air status is written there
    bitrate_kbps: int = 128
    # A second AAC mount and HLS rung at this rate, for phones on weak networks (None: none).
    low_bitrate_kbps: int | None = None
    hls_folder: Path | None = None  # where the encoder writes HLS audio (None: no HLS)
    hls_segment_s: int = 6
    live_grace_ms: int = 3000
    presenters_now: Callable[[], str] | None = None
    live_grant: Callable[[], Granted | None] | None = None  # the live mount's latest grant
    listeners: Callable[[], Awaitable[int | None]] | None = None
    status_every_s: float = 5.0
    engine_kind: str = "ffmpeg"  # or "liquidsoap"
    liquidsoap_path: str = "liquidsoap"
    allow_root: bool = False
    clock: Clock = field(default_factory=SystemClock)
    metrics: Metrics | None = None  # the process's: boundaries, dead air, encoder restarts


@dataclass(frozen=True, slots=True)
class Mount:
    """One of a channel's Icecast mounts: its path, codec and bit rate."""

    path: str
    codec: Codec
    bitrate_kbps: int


def mounts_of(slug: str, bitrate_kbps: int, low_kbps: int | None = None) -> tuple[Mount, ...]:
    """The channel's mounts: MP3 and AAC at its bit rate, and, for phones on weak networks,
    AAC at the low rate (`/<slug>-64.aac`) when there is one below it."""
    mounts = (
        Mount(f"/{slug}.mp3", "mp3", bitrate_kbps),
        Mount(f"/{slug}.aac", "aac", bitrate_kbps),
    )
    low = low_rate(bitrate_kbps, low_kbps)
    return mounts if low is None else (*mounts, Mount(f"/{slug}-{low}.aac", "aac", low))


def mount_streams(base: str, mounts: Sequence[Mount]) -> Streams:
    """The mounts as a channel lists them, served under `base` (icecast2's or a relay's public
    URL): each at `base` + its path, with its format and bit rate."""
    return [
        {"url": f"{base}{m.path}", "format": m.codec, "bitrate": m.bitrate_kbps} for m in mounts
    ]


class RadioChannel:
    """Build with the ports, `add_to` a supervisor, and it runs until the supervisor stops."""

    def __init__(self, ports: RadioPorts, streams: Streams, health: Health) -> None:
        self.ports = ports
        self.slug = ports.slug
        self.streams = streams
        self.health = health
        spec = ports.spec()
        s = ports.server
        name = spec.name()
        mounts = mounts_of(self.slug, ports.bitrate_kbps, ports.low_bitrate_kbps)
        self.mounts = tuple(m.path for m in mounts)
        self.mount_outputs = [
            IcecastOutput(
                m.path,
                s.password,
                host=s.host,
                port=s.port,
                codec=m.codec,
                bitrate_kbps=m.bitrate_kbps,
                name=name,
            )
            for m in mounts
        ]
        if s.set_bitrate is not None:  # a slower mount: titles and burst in as many seconds
            for m in mounts:
                s.set_bitrate(m.path, m.bitrate_kbps)
        # The HLS audio's rungs: the channel's bit rate, and the low one.
        self.ladder = audio_ladder(ports.bitrate_kbps, ports.low_bitrate_kbps)
        self.engine: RadioEngine | LiquidsoapEngine | None = None
        hooks: list[Hook[Boundary]] = [
            Hook("as-run", ports.asrun.hook),
            Hook("now-playing", self._now_playing, latest_only=True),
        ]
        self.dispatch: HookDispatch[Boundary] = HookDispatch(self.slug, hooks, health)
        # Titles travel in the stream: set as the engine writes the change to the encoder
        # (Liquidsoap sets its own).
        titles = title_hook(self.mounts, s.set_title)
        self.titles = HookDispatch(self.slug, [Hook("titles", titles, latest_only=True)], health)
        self.sink: Encoder | Tee | None = None
        self.feed: LiveFeed | None = None
        self._lq_restarts = 0  # Liquidsoap restarts of the engines that have ended
        self._lq_ended: LiquidsoapEngine | None = None  # the last of those

    def encoder_restarts(self) -> int:
        """Times the channel's encoders were started again since it went on air: the
        ffmpeg encoders', or with Liquidsoap, its process's (it encodes), over every run."""
        if isinstance(self.sink, Tee):
            return sum(e.restarts for e in self.sink.sinks)
        if isinstance(self.sink, Encoder):
            return self.sink.restarts
        engine = self.engine
        if isinstance(engine, LiquidsoapEngine) and engine is not self._lq_ended:
            return self._lq_restarts + engine.restarts
        return self._lq_restarts

    def _measure(self, b: Boundary) -> None:
        """How far the boundary was from its scheduled start, as the as-run has them."""
        if b.amended:  # not a beginning
            return
        offset = offset_from_plan_ms(b.item, b.actual_ms, b.outcome, b.resumed, b.joined)
        if self.ports.metrics is not None and offset is not None:
            self.ports.metrics.boundary_offset.labels(self.slug).observe(offset / 1000)

    async def _now_playing(self, b: Boundary) -> None:
        if self.engine is None:
            return
        await self.ports.now_playing.boundary(
            self.slug, b, self.engine.upcoming(), self.engine.live_item
        )

    def _engine_inputs(self) -> dict[str, Any]:
        """What both engines start from: the timeline, the media and the channel's levels."""
        p = self.ports
        spec = p.spec()
        return {
            "timeline": p.timeline,
            "playable": p.playable,
            "origin_ms": to_ms(p.clock.now()),
            "target_lufs": spec.loudness_target_lufs,
            "max_true_peak_dbtp": spec.true_peak_max_dbtp,
            "hooks": [self.dispatch, self._measure],
        }

    def _new_engine(self) -> RadioEngine:
        p = self.ports
        return RadioEngine(
            ffmpeg=p.ffmpeg,
            filler_ids=p.spec().filler_ids,
            channel=p.spec,
            refresh_ms=REFRESH_MS,
            name=self.slug,
            health=self.health,
            live=self.feed,
            stream_hooks=[self.titles],
            metrics=p.metrics,
            **self._engine_inputs(),
        )

    def _new_liquidsoap(self) -> LiquidsoapEngine:
        p = self.ports
        return LiquidsoapEngine(
            outputs=self.mount_outputs,
            binary=p.liquidsoap_path,
            allow_root=p.allow_root,
            **self._engine_inputs(),
        )

    def _outputs(self) -> Encoder | Tee:
        p = self.ports
        mounts: list[Output] = list(self.mount_outputs)
        hls: list[Output] = []
        if p.hls_folder is not None:
            hls = [
                HlsOutput(
                    p.hls_folder,
                    segment_s=p.hls_segment_s,
                    bitrate_k=rung.bitrate_kbps,
                    playlist=rung.encoder_playlist,  # HlsDates writes the public one
                    segment_prefix=rung.segment_prefix,
                )
                for rung in self.ladder
            ]

        def trouble(reason: str) -> None:
            self.health.degraded(f"{self.slug}/encoder", reason, self.slug, hold_s=HOLD_S)

        def on_air_ms() -> int:
            engine = self.engine
            if isinstance(engine, RadioEngine):
                return engine.block_on_air_ms()
            return to_ms(p.clock.now())

        if p.server.carries_hls_apart and hls:
            return Tee(
                Encoder(p.ffmpeg, mounts, on_trouble=trouble),
                Encoder(p.ffmpeg, hls, on_trouble=trouble, on_air_ms=on_air_ms),
            )
        return Encoder(p.ffmpeg, mounts + hls, on_trouble=trouble, on_air_ms=on_air_ms)

    async def _evict_live(self) -> None:
        kill = self.ports.server.kill_source
        if kill is not None:
            await kill(live_mount(self.slug))

    def add_to(self, sup: Supervisor) -> None:
        p = self.ports
        slug = self.slug
        if p.engine_kind == "liquidsoap":
            sup.spawn(f"{slug}/engine", self._run_liquidsoap, channel=slug)
        else:
            self.sink = self._outputs()
            spec = p.spec()
            self.feed = LiveFeed(
                p.ffmpeg,
                p.server.read_url + live_mount(slug),
                target_lufs=spec.loudness_target_lufs,
                max_peak_dbfs=spec.true_peak_max_dbtp,
                grace_ms=p.live_grace_ms,
                identify=p.presenters_now,
                grants=p.live_grant,
                evict=self._evict_live if p.server.kill_source else None,
                clock=p.clock,
            )
            sup.spawn(f"{slug}/engine", self._run_engine, channel=slug)
            if p.hls_folder is not None:
                dates = HlsDates(
                    p.hls_folder,
                    playlists=[(r.encoder_playlist, r.playlist) for r in self.ladder],
                    master=(MASTER_PLAYLIST, master_playlist(self.ladder, p.hls_segment_s)),
                )
                sup.spawn(f"{slug}/hls-dates", dates.run, channel=slug, essential=False)
            sup.spawn(f"{slug}/live-feed", self.feed.run, channel=slug, essential=False)
        sup.spawn(f"{slug}/side-effects", self.dispatch.run, channel=slug, essential=False)
        if p.engine_kind != "liquidsoap":
            sup.spawn(f"{slug}/stream-metadata", self.titles.run, channel=slug, essential=False)
        sup.spawn(f"{slug}/status", self._run_status, channel=slug, essential=False)
        if p.metrics is not None:
            p.metrics.encoder_restarts.read((slug,), self.encoder_restarts)
        log.info(
            "radio on air",
            extra={
                "channel": slug,
                "mp3": self.streams[0]["url"],
                "engine": p.engine_kind,
                "live_mount": live_mount(slug),
            },
        )

    async def _run_engine(self, stop: asyncio.Event) -> None:
        assert self.sink is not None
        engine = self.engine = self._new_engine()
        await engine.run(self.ports.clock, self.sink, stop)

    async def _run_liquidsoap(self, stop: asyncio.Event) -> None:
        engine = self.engine = self._new_liquidsoap()
        try:
            await engine.run(self.ports.clock, stop)
        finally:
            self._lq_restarts += engine.restarts
            self._lq_ended = engine

    async def _run_status(self, stop: asyncio.Event) -> None:
        p = self.ports

        async def no_count() -> int | None:
            return None

        await keep_status(
            p.storage,
            self.slug,
            self.streams,
            p.listeners or no_count,
            p.status_every_s,
            stop,
            health=lambda: self.health.channel_status(self.slug),
        )

    async def close(self) -> None:
        """After the supervisor has stopped: the encoders finish and go off air."""
        if self.sink is not None:
            await self.sink.close()
        if self.feed is not None:
            await self.feed.close()
