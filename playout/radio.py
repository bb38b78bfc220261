"""The radio engine: a channel's timeline, decoded, gained, crossfaded and laid on one
continuous PCM line, paced by a clock (on air) or as fast as it goes (render mode).

The line is counted in samples from an origin instant, so an item's place on it is exactly
its scheduled time: a hard start is where the timeline says, to the sample. On air, the
engine writes only as far ahead of the clock as its lead, reading the clock every chunk, so
the output never drifts from wall-clock time however long it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from media.loudness import gain_db, linear
from playout.asrun import Boundary, Outcome
from playout.decoder import ItemReader
from playout.hooks import notify
from playout.limiter import TruePeakLimiter
from playout.mixer import RATE, SAMPLES_PER_MS, Block, Placement, mix_into, silence, to_s16
from schedules.plan import ChannelSpec, TimelineItem, to_ms
from station.clock import Clock
from station.metrics import Metrics
from station.supervisor import Health

log = logging.getLogger(__name__)
LIVE_TITLE = "Canlı yayım"  # "live broadcast": the title while a presenter is on air


@dataclass(frozen=True, slots=True)
class Playable:
    """What the engine needs of a media item: where ffmpeg can read it, and its loudness."""

    uri: str
    loudness_lufs: float | None
    true_peak_dbtp: float | None


HOLD_S = 10.0  # a trouble dealt with at once is shown in health this long


class Unreachable:
    """The library could not be asked about an item (not: the item is missing)."""


UNREACHABLE = Unreachable()


class LiveSource(Protocol):
    """A presenter's audio (playout/live.py LiveFeed): n samples while live, else None."""

    presenter: str

    def take(self, n: int) -> Block | None: ...


class PcmSink(Protocol):
    async def write(self, data: bytes) -> None: ...
    async def close(self) -> None: ...


TimelineSource = Callable[[int, int], Sequence[TimelineItem]]
PlayableSource = Callable[[int], Playable | None]
BoundaryHook = Callable[[Boundary], Awaitable[None] | None]


@dataclass
class _Slot:
    item: TimelineItem
    place: Placement
    reader: ItemReader
    offset: int = 0  # next sample of the item to read
    outcome: Outcome = Outcome.PLAYED
    announced: bool = False
    joined_at: int | None = None  # the line began inside the item, at this sample


@dataclass
class RadioEngine:
    ffmpeg: str
    timeline: TimelineSource
    playable: PlayableSource
    origin_ms: int
    target_lufs: float = -16.0
    max_true_peak_dbtp: float = -1.0
    filler_ids: Sequence[int] = ()
    prefetch_ms: int = 4000
    horizon_ms: int = 3_600_000
    # Called when a boundary is on air by the clock (as-run, now-playing) ...
    hooks: list[BoundaryHook] = field(default_factory=list)
    # ... and when it is written to the encoder: what travels in the stream with the audio
    # (ICY titles) reaches the listener with the bytes it belongs to, lead_ms before the clock.
    stream_hooks: list[BoundaryHook] = field(default_factory=list)
    boundaries: list[Boundary] = field(default_factory=list)
    position: int = 0  # samples written so far
    _block_at: int = 0  # where the last block made begins
    # The true-peak limiter after the mix (playout/limiter.py): each item is brought to the
    # target by its loudness alone, and the line's peaks are held under the ceiling less
    # `codec_margin_db` (the MP3 and AAC encoders overshoot what they are given). None
    # (limit=False): the old way, each item's gain held down by its own true peak.
    limit: bool = True
    codec_margin_db: float = 1.5
    _limiter: TruePeakLimiter | None = None
    _line_at: int | None = None  # the line runs the limiter's delay ahead of what is written
    dead_air_ms: int = 5000  # this long below dead_air_dbfs is reported as dead air
    dead_air_dbfs: float = -60.0
    dead_air: list[tuple[int, int]] = field(default_factory=list)  # (start, end) samples
    _quiet_from: int | None = None
    _dead_counted: int = 0  # samples of the quiet stretch going on counted as dead air
    # The process's metrics: the seconds of dead air are counted there, as they pass.
    metrics: Metrics | None = None
    live: LiveSource | None = None
    live_fade_ms: int = 500  # equal-power fade between the schedule and the presenter
    live_item: TimelineItem | None = None  # set while a presenter is on air
    _live_mix: float = 0.0  # 0: the schedule, 1: the presenter
    # A channel's settings, read again with the timeline (an edited loudness target is
    # heard from the next item); health hears what the engine had to work around.
    channel: Callable[[], ChannelSpec] | None = None
    # On air the timeline and the channel are read again this often (a schedule that can be
    # edited: one fingerprint query when nothing changed); None reads only as the line
    # nears the end of what it knows (render mode, a fixed timeline).
    refresh_ms: int | None = None
    name: str = ""
    health: Health | None = None
    _items: list[TimelineItem] = field(default_factory=list)
    _fetched_to: int = 0
    _read_at: int | None = None
    _retry_at: int | None = None
    _reading: (
        asyncio.Future[tuple[int, int, ChannelSpec | None, list[TimelineItem] | None, str | None]]
        | None
    ) = None
    _slots: dict[tuple[int, int | None], _Slot] = field(default_factory=dict)
    _dropped: list[_Slot] = field(default_factory=list)  # opened, then gone from the timeline
    # Boundaries waiting: (the sample at which a listener hears the change, boundary), in
    # order; until it is written (stream hooks), and until it is on air (hooks).
    _unwritten: list[tuple[int, Boundary]] = field(default_factory=list)
    _due: list[tuple[int, Boundary]] = field(default_factory=list)

    # --- the line ---------------------------------------------------------------------

    def _sample(self, ms: int) -> int:
        return (ms - self.origin_ms) * SAMPLES_PER_MS

    def _ms(self, sample: int) -> int:
        return self.origin_ms + sample // SAMPLES_PER_MS

    def _placement(self, item: TimelineItem, fade_in: int) -> Placement:
        length = (item.cue_out_ms - item.cue_in_ms) * SAMPLES_PER_MS
        fade_out = (item.crossfade_ms or item.fade_out_ms) * SAMPLES_PER_MS
        p = self._playable(item.media_id) if item.media_id is not None else None
        if isinstance(p, Unreachable):
            p = None
        loudness = p.loudness_lufs if p else None
        if self.limit:
            g = linear(gain_db(loudness, None, self.target_lufs))
        else:
            peak = p.true_peak_dbtp if p else None
            g = linear(gain_db(loudness, peak, self.target_lufs, self.max_true_peak_dbtp))
        return Placement(self._sample(item.start_ms), length, fade_in, fade_out, g)

    def _trouble(self, what: str, reason: str, hold_s: float | None = None) -> None:
        if self.health is not None:
            self.health.degraded(f"{self.name}/{what}", reason, self.name, hold_s=hold_s)
        else:
            log.warning("%s: %s", what, reason, extra={"channel": self.name})

    def _recovered(self, what: str) -> None:
        if self.health is not None:
            self.health.ok(f"{self.name}/{what}")

    def _playable(self, media_id: int) -> Playable | Unreachable | None:
        """The library's answer, or UNREACHABLE when it could not be asked (the database or
        storage away): that item gets filler now, and is asked for again next time."""
        try:
            p = self.playable(media_id)
        except Exception as exc:
            self._trouble("media", f"media {media_id} could not be looked up: {exc}")
            return UNREACHABLE
        self._recovered("media")
        return p

    async def _refresh(self, upto_ms: int) -> None:
        """The timeline ahead, read again every refresh_ms (an editor's change is heard) and
        whenever the line nears the end of what is known. Items already opened stay as they
        are. On air the reading is done in a thread while the line goes on with what it
        knows (a database that hangs cannot stall the audio); if the schedule cannot be read,
        the engine goes on with what it knows and asks again in 2 s."""
        now_ms = self._ms(self.position if self._line_at is None else self._line_at)
        if self._reading is not None:
            if not self._reading.done():
                return
            reading, self._reading = self._reading, None
            self._take(now_ms, *reading.result())
            return
        due = self._read_at is None or (
            self.refresh_ms is not None and now_ms - self._read_at >= self.refresh_ms
        )
        if upto_ms <= self._fetched_to and not due:
            return
        if self._retry_at is not None and now_ms < self._retry_at:
            return
        end = max(upto_ms, now_ms + self.horizon_ms)
        if self.refresh_ms is None:  # a fixed timeline (render mode): read it here
            self._take(now_ms, *self._read(now_ms, end))
            return
        reading = asyncio.ensure_future(asyncio.to_thread(self._read, now_ms, end))
        if self._read_at is None:  # nothing is known yet: this first reading is waited for
            self._take(now_ms, *(await reading))
        else:
            self._reading = reading

    def _read(
        self, start: int, end: int
    ) -> tuple[int, int, ChannelSpec | None, list[TimelineItem] | None, str | None]:
        """The channel and its timeline over [start, end), and every item's media looked up
        (so that a database blink later finds them known); or why they could not be read."""
        try:
            spec = self.channel() if self.channel is not None else None
            items = list(self.timeline(start, end))
        except Exception as exc:
            return start, end, None, None, str(exc)
        filler = spec.filler_ids if spec is not None else self.filler_ids
        for mid in [i.media_id for i in items] + list(filler):
            if mid is not None:
                self._playable(mid)
        return start, end, spec, items, None

    def _take(
        self,
        now_ms: int,
        start: int,
        end: int,
        spec: ChannelSpec | None,
        items: list[TimelineItem] | None,
        error: str | None,
    ) -> None:
        if items is None:
            self._retry_at = now_ms + 2000
            self._trouble("schedule", f"the schedule could not be read: {error}")
            return
        self._retry_at = None
        self._recovered("schedule")
        if spec is not None:
            self._apply(spec)
        fresh = {(i.start_ms, i.media_id): i for i in items}
        self._follow(fresh, start)
        kept = [
            i
            for i in self._items
            if (i.start_ms, i.media_id) not in fresh
            and ((i.start_ms, i.media_id) in self._slots or i.end_ms <= start)
        ]
        self._items = sorted(kept + items, key=lambda i: i.start_ms)
        self._fetched_to = end
        self._read_at = now_ms

    def _follow(self, fresh: dict[tuple[int, int | None], TimelineItem], start: int) -> None:
        """Items already opened, as the timeline now has them. Edits never reach them (the
        freeze horizon is longer than the prefetch), but an operator's action does, seconds
        ahead: an item cut shorter ends where the timeline now says (and its as-run row says
        why), and one no longer in the timeline (pushed later, or starting again sharp after
        a skip) is dropped before it is heard, or where the line stands."""
        for key, slot in list(self._slots.items()):
            new = fresh.get(key)
            if new is None:
                if slot.item.end_ms > start:  # it should have been in this reading
                    self._dropped.append(self._slots.pop(key))
                    log.info(
                        "item taken off the line: the timeline no longer has it",
                        extra={"channel": self.name, "title": slot.item.title},
                    )
                continue
            if new == slot.item:
                continue
            length = (new.cue_out_ms - new.cue_in_ms) * SAMPLES_PER_MS
            fade_out = (new.crossfade_ms or new.fade_out_ms) * SAMPLES_PER_MS
            slot.place = replace(slot.place, length=length, fade_out=fade_out)
            slot.item = new
            if new.action == "skip":
                log.info(
                    "skip: the item on air ends early, as an operator asked",
                    extra={"channel": self.name, "title": new.title, "at_ms": new.end_ms},
                )
            if slot.announced:
                # Its row says how it ended, whether the line began with it or joined it under
                # way (the item a playout restart or a standby came in on is skipped as well).
                joined = slot.joined_at is not None
                at = slot.place.start if slot.joined_at is None else slot.joined_at
                b = Boundary(new, at, self._ms(at), slot.outcome, joined=joined, amended=True)
                self._due.append((at, b))
                self._due.sort(key=lambda d: d[0])

    def _apply(self, spec: ChannelSpec) -> None:
        if (spec.loudness_target_lufs, spec.true_peak_max_dbtp) != (
            self.target_lufs,
            self.max_true_peak_dbtp,
        ):
            log.info(
                "channel loudness changed; from the next item",
                extra={
                    "channel": self.name,
                    "target_lufs": spec.loudness_target_lufs,
                    "ceiling_dbtp": spec.true_peak_max_dbtp,
                },
            )
            self.target_lufs = spec.loudness_target_lufs
            self.max_true_peak_dbtp = spec.true_peak_max_dbtp
            if self._limiter is not None:
                self._limiter.set_ceiling(self.max_true_peak_dbtp - self.codec_margin_db)
        self.filler_ids = spec.filler_ids or self.filler_ids

    async def _open(self, item: TimelineItem, fade_in: int, skip: int) -> _Slot:
        place = self._placement(item, fade_in)
        p = self._playable(item.media_id) if item.media_id is not None else None
        start_ms = item.cue_in_ms + skip // SAMPLES_PER_MS
        length_ms = (place.length - skip) // SAMPLES_PER_MS
        loop = item.kind == "slate"
        uri = p.uri if isinstance(p, Playable) else None
        reader = ItemReader(self.ffmpeg, uri, start_ms, length_ms, loop=loop)
        await reader.open()
        slot = _Slot(item, place, reader, offset=skip)
        if item.media_id is not None and not isinstance(p, Playable):
            reader.failure = Outcome.MISSING
        if reader.failure:
            slot.outcome = reader.failure
            await reader.close()
            slot.reader = await self._substitute(item, place, skip)
            log.warning(
                "item replaced by filler",
                extra={"item": item.title or item.media_id, "outcome": slot.outcome},
            )
        return slot

    async def _substitute(self, item: TimelineItem, place: Placement, skip: int) -> ItemReader:
        """Filler (looped) in a broken item's place, so there is no dead air."""
        for mid in self.filler_ids:
            p = self._playable(mid)
            if not isinstance(p, Playable):
                continue
            r = ItemReader(
                self.ffmpeg,
                p.uri,
                0,
                (place.length - skip) // SAMPLES_PER_MS,
                loop=True,
                gapless=True,
            )
            await r.open()
            if not r.failure:
                return r
            await r.close()
        return ItemReader(self.ffmpeg, None, 0, (place.length - skip) // SAMPLES_PER_MS)

    async def _ensure_slots(self, a: int, n: int) -> None:
        horizon = a + n + self.prefetch_ms * SAMPLES_PER_MS
        await self._refresh(self._ms(horizon) + 60_000)
        while self._dropped:
            await self._dropped.pop().reader.close()
        prev: TimelineItem | None = None
        for item in self._items:
            start = self._sample(item.start_ms)
            length = (item.cue_out_ms - item.cue_in_ms) * SAMPLES_PER_MS
            if start >= horizon:
                break
            key = (item.start_ms, item.media_id)
            if start + length > a and key not in self._slots:
                fade_in = (
                    prev.crossfade_ms * SAMPLES_PER_MS
                    if prev and prev.end_ms == item.start_ms
                    else 0
                )
                skip = max(0, a - start)
                slot = self._slots[key] = await self._open(item, fade_in, skip)
                if skip:
                    slot.joined_at = a
            prev = item

    def _announce(self, slot: _Slot) -> None:
        if self.live_item is not None and slot.outcome == Outcome.PLAYED:
            slot.outcome = Outcome.OVERRIDDEN
        if slot.joined_at is not None:  # on air from where the line began, not its start
            at = slot.joined_at
            self._schedule(Boundary(slot.item, at, self._ms(at), slot.outcome, joined=True), at)
            return
        b = Boundary(slot.item, slot.place.start, self._ms(slot.place.start), slot.outcome)
        # A listener hears the next item take over in the middle of the crossfade (the two
        # are equally loud there), not where its fade in begins.
        self._schedule(b, slot.place.start + slot.place.fade_in // 2)

    def _schedule(self, b: Boundary, heard: int) -> None:
        for waiting in (self._unwritten, self._due):
            waiting.append((heard, b))
            waiting.sort(key=lambda d: d[0])

    async def _written(self, upto: int) -> None:
        """The stream hooks of the boundaries heard before sample `upto`."""
        while self._unwritten and self._unwritten[0][0] < upto:
            await notify(self.stream_hooks, self._unwritten.pop(0)[1])

    async def _on_air(self, upto: int) -> None:
        """The hooks of the boundaries heard before sample `upto`."""
        while self._due and self._due[0][0] < upto:
            await self._publish(self._due.pop(0)[1])

    async def _publish(self, b: Boundary) -> None:
        self.boundaries.append(b)
        what = "item started" if not b.joined else "item joined under way"
        if b.amended:
            what = "item on air cut short by an operator"
        log.info(
            what if not b.resumed else "schedule resumed after live",
            extra={
                "title": b.item.title,
                "kind": b.item.kind,
                "sample": b.sample,
                "outcome": b.outcome,
            },
        )
        await notify(self.hooks, b)

    async def block(self, n: int) -> bytes:
        """The next n samples on air, as 16-bit PCM: the line, through the limiter."""
        self._block_at = self.position
        if not self.limit:
            out = await self._line(n)
        else:
            if self._limiter is None:
                ceiling = self.max_true_peak_dbtp - self.codec_margin_db
                self._limiter = TruePeakLimiter(ceiling)
                # Its delay is rendered first (what comes out meanwhile is its silence), so
                # that what is written at a position is the line at that position.
                self._limiter.process(await self._line(self._limiter.delay))
            out = self._limiter.process(await self._line(n))
        self._watch_silence(out, self.position, n)  # as listeners hear it
        self.position += n
        return to_s16(out)

    async def _line(self, n: int) -> Block:
        """The next n samples of the schedule's line (and the presenter over it)."""
        a = self.position if self._line_at is None else self._line_at
        await self._ensure_slots(a, n)
        feed = self.live.take(n) if self.live is not None else None
        if feed is not None and self.live_item is None:
            await self._go_live(a)
        out = silence(n)
        for slot in sorted(self._slots.values(), key=lambda s: s.place.start):
            p = slot.place
            lo, hi = max(a, p.start + slot.offset), min(a + n, p.end)
            if lo >= hi:
                continue
            if not slot.announced and p.start + p.fade_in // 2 < a + n:
                slot.announced = True
                self._announce(slot)
            restarts = slot.reader.restarts
            samples = await slot.reader.read(hi - lo)
            if slot.reader.restarts > restarts:
                what = slot.item.title or slot.item.media_id
                self._trouble("decoder", f"{what}: decoder stopped; started again", HOLD_S)
            if len(samples) < hi - lo:  # its decoder broke and could not be started again
                samples = await self._replace_reader(slot, samples, lo - p.start, hi - lo)
            mix_into(out, a, p, samples, lo - p.start)
            slot.offset = hi - p.start
        if feed is None and self.live_item is not None:
            await self._back_from_live(a)
        if feed is not None or self._live_mix > 0:
            out = self._mix_live(out, feed)
        for key in [k for k, s in self._slots.items() if s.place.end <= a + n]:
            await self._slots.pop(key).reader.close()
        self._items = [
            i for i in self._items if self._sample(i.end_ms) + i.crossfade_ms * SAMPLES_PER_MS > a
        ]
        self._line_at = a + n
        return out

    async def _replace_reader(self, slot: _Slot, got: Block, at: int, n: int) -> Block:
        """The rest of a broken item from filler: the listener hears music, not silence.
        `at` is where in the item this read began, `n` how many samples it wanted."""
        failure = slot.reader.failure or Outcome.CORRUPT
        await slot.reader.close()
        self._trouble(
            "decoder", f"{slot.item.title or slot.item.media_id}: {failure}; filler", HOLD_S
        )
        slot.reader = await self._substitute(slot.item, slot.place, at + len(got))
        rest = await slot.reader.read(n - len(got))
        return np.concatenate([got, rest]) if len(got) else rest

    async def _go_live(self, a: int) -> None:
        assert self.live is not None
        at = self._ms(a)
        self.live_item = TimelineItem(
            at,
            self._block_end(at),
            "live",
            None,
            0,
            0,
            title=LIVE_TITLE,
            artist=self.live.presenter,
        )
        fade = self.live_fade_ms * SAMPLES_PER_MS
        self._schedule(Boundary(self.live_item, a, at, Outcome.PLAYED), a + fade // 2)

    def _block_end(self, at: int) -> int:
        """When the programme on air at `at` ends: what a live takeover is expected to last."""
        on = [i for i in self._items if i.start_ms <= at < i.end_ms]
        if not on:
            return at
        block = on[-1].block_ms
        later = [i.start_ms for i in self._items if i.start_ms > at and i.block_ms != block]
        return min(later) if later else max(i.end_ms for i in self._items)

    async def _back_from_live(self, a: int) -> None:
        self.live_item = None
        on = [s for s in self._slots.values() if s.place.start <= a < s.place.end]
        if on:
            slot = max(on, key=lambda s: s.place.start)
            b = Boundary(slot.item, a, self._ms(a), Outcome.PLAYED, resumed=True)
            self._schedule(b, a + self.live_fade_ms * SAMPLES_PER_MS // 2)

    def _mix_live(self, line: Block, feed: Block | None) -> Block:
        """Equal-power fade between the schedule's line and the presenter, sample by sample."""
        n = len(line)
        step = 1 / max(1, self.live_fade_ms * SAMPLES_PER_MS)
        direction = 1.0 if feed is not None else -1.0
        m = np.clip(self._live_mix + direction * step * np.arange(1, n + 1), 0.0, 1.0)
        self._live_mix = float(m[-1])
        angle = (m * (np.pi / 2)).astype(np.float32)[:, None]
        out: Block = line * np.cos(angle)
        if feed is not None:
            out += feed * np.sin(angle)
        return out

    def _watch_silence(self, out: Block, a: int, n: int) -> None:
        """Dead air: the output quieter than dead_air_dbfs for dead_air_ms is logged once,
        with when it began; it ends when sound returns. Its seconds are counted in the
        metrics as they pass (the first dead_air_ms of a stretch once they have)."""
        peak = float(np.max(np.abs(out))) if n else 0.0
        quiet = peak < 10 ** (self.dead_air_dbfs / 20)
        least = self.dead_air_ms * SAMPLES_PER_MS
        if quiet and self._quiet_from is None:
            self._quiet_from = a
        elif not quiet and self._quiet_from is not None:
            if a - self._quiet_from >= least:
                self.dead_air.append((self._quiet_from, a))
                log.error("dead air ended", extra={"seconds": (a - self._quiet_from) / RATE})
            self._quiet_from = None
            self._dead_counted = 0
        if quiet and self._quiet_from is not None:
            if self._quiet_from + least in range(a, a + n):
                log.error(
                    "dead air: the station has been silent",
                    extra={"since_ms": self._ms(self._quiet_from), "seconds": least / RATE},
                )
            stretch = a + n - self._quiet_from
            if stretch >= least and self.metrics is not None:
                self.metrics.dead_air.labels(self.name).inc((stretch - self._dead_counted) / RATE)
                self._dead_counted = stretch

    def block_on_air_ms(self) -> int:
        """When the first sample of the last block made is on air (epoch ms, by the line's
        origin): for the sink it is being written to."""
        return self._ms(self._block_at)

    def upcoming(self) -> list[TimelineItem]:
        """The items the engine holds, from the one playing on: for now-playing."""
        return list(self._items)

    async def close(self) -> None:
        for slot in self._slots.values():
            await slot.reader.close()
        self._slots.clear()

    # --- driving it ----------------------------------------------------------------------

    async def render(self, end_ms: int, sink: PcmSink, chunk_ms: int = 1000) -> list[Boundary]:
        """Render mode: the line from its origin to end_ms, as fast as it goes."""
        end = self._sample(end_ms)
        try:
            while self.position < end:
                n = min(chunk_ms * SAMPLES_PER_MS, end - self.position)
                await sink.write(await self.block(n))
                await self._written(self.position)
                await self._on_air(self.position)
        finally:
            await self.close()
        return self.boundaries

    async def run(
        self,
        clock: Clock,
        sink: PcmSink,
        stop: asyncio.Event,
        *,
        chunk_ms: int = 100,
        lead_ms: int = 500,
    ) -> None:
        """On air: keep the line lead_ms ahead of the clock until stop is set. A boundary's
        hooks run when the clock reaches the moment it is heard, not lead_ms before, when
        it is written: a title changes with the music, not ahead of it."""
        try:
            while not stop.is_set():
                now = self._sample(to_ms(clock.now()))
                while self.position < now + lead_ms * SAMPLES_PER_MS:
                    n = min(
                        chunk_ms * SAMPLES_PER_MS, now + lead_ms * SAMPLES_PER_MS - self.position
                    )
                    await sink.write(await self.block(n))
                    await self._written(self.position)
                await self._on_air(self._sample(to_ms(clock.now())))
                await clock.sleep(chunk_ms / 1000)
        finally:
            await self.close()


class WavSink:
    """16-bit stereo WAV at 48 kHz; the header's sizes are written when it closes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh = open(path, "wb")  # noqa: SIM115 (closed in close())
        self.size = 0
        self.fh.write(self._header(0))

    @staticmethod
    def _header(size: int) -> bytes:
        import struct

        return (
            b"RIFF"
            + struct.pack("<I", 36 + size)
            + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, 2, RATE, RATE * 4, 4, 16)
            + b"data"
            + struct.pack("<I", size)
        )

    async def write(self, data: bytes) -> None:
        self.fh.write(data)
        self.size += len(data)

    async def close(self) -> None:
        with contextlib.suppress(ValueError):
            self.fh.seek(0)
            self.fh.write(self._header(self.size))
            self.fh.close()
