"""One TV channel on air: its slate, its sequencer, its live input and side effects, as parts
that the process's supervisor keeps running.

No video is encoded here: the sequencer only writes playlists naming segments that packaging
made at ingest. The sequencer object outlives a failed step (storage or the database away):
the supervisor runs it again with what it has in memory, so the playlists hold while storage
is away and their numbers never go back. As-run and now-playing go through the side-effect
worker: retried until written, never holding up the playlists.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from media.packaged import Package, load_package, slate_prefix
from media.storage import Storage
from playout.asrun import AsRunLog, Boundary, Outcome, offset_from_plan_ms
from playout.hooks import Hook, HookDispatch
from playout.nowplaying import NowPlayingPublisher
from playout.sequencer import PackageSource, Sequencer, TimelineSource, TvBoundary, live_prefix
from playout.status import keep_status
from schedules.plan import to_ms
from station.backoff import Backoff
from station.clock import Clock, SystemClock
from station.metrics import Metrics
from station.supervisor import Health, Supervisor
from streamer.tvlive import TvLiveIngest

log = logging.getLogger(__name__)
SEQUENCER_RETRY = Backoff(base_s=0.5, max_s=2.0)


@dataclass(frozen=True)
class TvPorts:
    slug: str
    storage: Storage
    timeline: TimelineSource
    packages: PackageSource  # the assets' live publications (playout.sequencer.stored_packages)
    asrun: AsRunLog
    now_playing: NowPlayingPublisher
    master_url: Callable[[str], str]  # a storage key → the URL players use
    window: int = 10
    live: TvLiveIngest | None = None
    live_grace_ms: int | None = None
    live_takeover: bool = True
    status_every_s: float = 5.0
    clock: Clock = field(default_factory=SystemClock)
    metrics: Metrics | None = None  # the process's: boundaries, the playlists' lag


def tv_streams(master_url: Callable[[str], str], slug: str, slate: Package) -> list[dict[str, Any]]:
    top = max((r.bandwidth for r in slate.renditions), default=0)
    url = master_url(f"{live_prefix(slug)}/master.m3u8")
    return [{"url": url, "format": "hls", "bitrate": round(top / 1000)}]


def as_run_rows(b: TvBoundary) -> list[Boundary]:
    """A TV boundary as the as-run log's rows: the live stretch it ends (its length), and
    the item itself unless the schedule only resumed inside it."""
    rows = []
    if b.after_live is not None:
        rows.append(Boundary(b.item, 0, b.after_live.end_ms, Outcome.PLAYED, resumed=True))
    if not b.resumed:
        # The sequencer knows whether it dropped segments (its outcome says cut-short); the
        # timeline's `cut` may be a few ms of a file's sound past the next hard start.
        item = replace(b.item, cut=b.outcome == Outcome.CUT_SHORT)
        rows.append(
            Boundary(item, 0, b.actual_ms, Outcome(b.outcome), segments=(b.first_seq, b.last_seq))
        )
    return rows


class TvChannel:
    def __init__(self, ports: TvPorts, slate: Package, health: Health) -> None:
        self.ports = ports
        self.slug = ports.slug
        self.health = health
        self.streams = tv_streams(ports.master_url, ports.slug, slate)
        hooks: list[Hook[TvBoundary]] = [
            Hook("as-run", self._write_asrun),
            Hook("now-playing", self._now_playing, latest_only=True),
        ]
        self.dispatch: HookDispatch[TvBoundary] = HookDispatch(self.slug, hooks, health)
        self.sequencer = Sequencer(
            ports.slug,
            ports.storage,
            ports.timeline,
            packages=ports.packages,
            window=ports.window,
            hooks=[self.dispatch, self._measure],
            live=ports.live,
            live_grace_ms=ports.live_grace_ms,
            live_takeover=ports.live_takeover,
        )

    async def _write_asrun(self, b: TvBoundary) -> None:
        def write() -> None:
            for row in as_run_rows(b):
                self.ports.asrun.write(row)

        await asyncio.to_thread(write)

    async def _now_playing(self, b: TvBoundary) -> None:
        await self.ports.now_playing.publish(b.now_playing)

    def _measure(self, b: TvBoundary) -> None:
        """How far the item's first frame was from its scheduled start, as the as-run has
        them."""
        offset = offset_from_plan_ms(b.item, b.actual_ms, b.outcome, b.resumed)
        if self.ports.metrics is not None and offset is not None:
            self.ports.metrics.boundary_offset.labels(self.slug).observe(offset / 1000)

    def playlist_lag_s(self) -> float | None:
        """Now less the end of the last segment written to the playlists (None before the
        first write): negative while they run ahead of the clock, as they should."""
        written = self.sequencer.written_to_ms
        if written is None:
            return None
        return (to_ms(self.ports.clock.now()) - written) / 1000

    def add_to(self, sup: Supervisor) -> None:
        slug = self.slug
        # Held playlists are worse than a lost second: storage is tried again every 2 s.
        sup.spawn(f"{slug}/sequencer", self._run_sequencer, channel=slug, policy=SEQUENCER_RETRY)
        if self.ports.live is not None:
            sup.spawn(f"{slug}/live-input", self.ports.live.run, channel=slug, essential=False)
        sup.spawn(f"{slug}/side-effects", self.dispatch.run, channel=slug, essential=False)
        sup.spawn(f"{slug}/status", self._run_status, channel=slug, essential=False)
        if self.ports.metrics is not None:
            self.ports.metrics.tv_playlist_lag.read((slug,), self.playlist_lag_s)
        log.info("TV on air", extra={"channel": slug, "hls": self.streams[0]["url"]})

    async def _run_sequencer(self, stop: asyncio.Event) -> None:
        await self.sequencer.run(self.ports.clock, stop)

    async def _run_status(self, stop: asyncio.Event) -> None:
        async def no_count() -> int | None:
            return None  # TV viewers are not counted: HLS is served by files, nginx or a CDN

        await keep_status(
            self.ports.storage,
            self.slug,
            self.streams,
            no_count,
            self.ports.status_every_s,
            stop,
            health=lambda: self.health.channel_status(self.slug),
        )


async def find_slate(storage: Storage, slug: str) -> Package | None:
    return await asyncio.to_thread(load_package, storage, slate_prefix(slug))
