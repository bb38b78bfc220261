"""The TV sequencer's state machine, and the thin async shell that runs it (`step`, `run`): a
channel's timeline laid, segment by segment, onto live HLS playlists made of the packaged
assets' own segments. Nothing is encoded or copied; the playlists are small files in storage,
beside a small state file that lets a restarted process continue.

Its parts, each testable alone: the line and how one item is laid on it to the frame (slate to
the frame, cue points to the segment, discontinuities) in `playout/tv_line.py`; the state
file's format in `playout/sequencer_state.py`; the playlists' text in
`playout/tv_playlists.py`; what it reads from and writes to storage in `playout/tv_store.py`.
Here: when each segment is published, how the window slides, what is reported, and live.

Visibility. A segment is appended when its scheduled *end* is at most `lead_ms` ahead of the
clock (default: three target durations, the RFC 8216 §6.3.3 hold-back). A player joining the
live edge holds back those three target durations, so it plays each segment at (at most one
segment after) its scheduled time: the first frame of a hard start airs when the schedule
says, rather than the playlist trailing the schedule by a client's buffer. Segments slide out
of a window of at least `window` segments, and only while what remains is at least three
target durations long (RFC 8216 §6.2.2) — after a gap filled with small slate segments the
window briefly holds more than `window` entries.

Numbers. EXT-X-MEDIA-SEQUENCE is the sequence number of the window's first segment; every
segment keeps its number for ever. EXT-X-DISCONTINUITY-SEQUENCE counts the discontinuity
tags that have slid out of the window (RFC 8216 §6.2.1). One window feeds every rendition
and every subtitle language, so all list the same numbers, durations and date-times.

Restart. After every change the state file (`hls/tv/<channel>/sequencer.json`) is written
first, then the playlists: the window, the sequence numbers, where the line stands, and the
items laid but not yet announced. A new process resumes there and walks the timeline
forward exactly as if it had never stopped, counting the segments that would have aired
(items that passed while it was down are logged, not reported as aired). If it was down for
longer than `catch_up_limit_ms` it does not walk: both numbers jump by the number of frames
that passed (no segment is shorter than a frame, so no number can be reused), and the line
restarts at the item on air.

As-run and now-playing. Each item is reported once, when the clock reaches its first frame
on the line, with the segments' media-sequence range and now-playing (that item and the
next ones). A missing or unusable asset is replaced by the channel's filler asset (looped)
or by slate, and reported as `skipped-missing`; so is an asset the channel cannot air (its
renditions differ from the slate's, or a segment is longer than the target duration).

Publications. An asset's files are found through its live publication (`media/publications.py`:
the media row names a prefix with an unguessable token; `stored_packages` reads it). When the
asset of the item being laid is published anew (packaged again, or moved because an on-demand
window closed) the rest of the item is laid again from the new one, joined where the line
stands behind a discontinuity; what the window lists already keeps its URIs, and the old
publication stays in storage long enough for them. A pointer that cannot be read (the database
away) is taken as the last one read; an asset never looked up is missing until it can be.

Live. With a live feed (`streamer/tvlive.py`: a studio's RTMP/SRT stream transcoded in real
time into the same ladder), the line takes the feed's segments instead of the schedule's:

- When. Live goes on air when the feed has a fresh segment (one that became available within
  `live_grace_ms`, by default two target durations) and the line stands where live is
  allowed: anywhere with `live_takeover` (the default: whoever has the stream key takes the
  channel over, as a presenter does on the radio), otherwise only inside a timeline item of
  kind "live" (a scheduled live slot, which is slate until the studio's picture arrives).
- How. From the line's end, where the schedule's published segments stop: what is already
  in the playlists stays (a published segment is never taken back), the rest of the item's
  plan is dropped. The fresh segments of the sender on air go first (normally just its
  first one; a stale one never airs), then each next one as soon as it is in storage, laid
  end to end: their PROGRAM-DATE-TIMEs continue the channel's line, each the instant it
  airs, a constant delay (about the line's lead) after it was captured.
  `#EXT-X-DISCONTINUITY` opens the live stretch, and marks wherever the feed's timestamps
  restart (a sender that reconnected). Should the line come within one target duration of
  the clock while the feed is late, full slate segments hold it there (they belong to the
  live stretch).
- Until. When no new segment has arrived for `live_grace_ms` (the studio stopped; a
  dropped connection that comes straight back stays on air), or, without takeover, when the
  line passes the end of the live slot. The schedule then resumes where the line stands: the
  item on air at that instant, joined at its next planned segment after slate to the frame
  (as after a restart), or a gap of slate to the next item.
- As-run. The live item (kind "live": the slot's own item, or "Canlı yayım" until the end of
  the programme block it took over) is reported when its first frame airs, with the range of
  segments laid so far; every item whose scheduled start the live stretch covered is
  reported at that start as `overridden-by-live`, with an empty range (first_seq is the live
  segment then on air, last_seq one less); the first item after the live carries
  `after_live` (the live's final segment range and its start and end on the line), and
  `resumed` when it had begun before (it was reported then; only the live's end is news).
- Restart. Whether the line is live, and which feed segment it took last, are in the state
  file: a restarted sequencer goes on with the next segment, or resumes the schedule.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any, Protocol

from media import hls
from media.errors import NotFound
from media.packaged import MANIFEST, Package, Published, Rendition, Subtitle
from media.storage import Storage
from playout import sequencer_state, tv_playlists, tv_store
from playout.asrun import Outcome
from playout.hooks import notify
from playout.nowplaying import NowPlaying, now_playing
from playout.tv_line import (
    Content,
    LineSegment,
    LiveSpan,
    Run,
    SequencerError,
    Slate,
    lay_item,
)
from schedules.plan import TimelineItem, to_ms
from station.clock import Clock, pause
from streamer.tvlive import LiveSegment

__all__ = [
    "LiveFeed",
    "PackageSource",
    "Sequencer",
    "SequencerError",
    "TimelineSource",
    "TvBoundary",
    "TvBoundaryHook",
    "live_prefix",
    "stored_packages",
]

log = logging.getLogger(__name__)

LIVE_TITLE = "Canlı yayım"  # "live broadcast", as the radio calls a presenter's takeover
LIVE_POLL_MS = 500  # while a live feed is attached, look at it this often
SCHEDULE_RETRY_MS = 5_000  # the schedule could not be read: asked again this much later
MAX_SLEEP_MS = 10_000  # otherwise the loop sleeps until the next segment is due, this at most
HOUR_MS = 3_600_000
GAP_CHUNK_MS = 60_000  # nothing scheduled: slate, a minute at a time, looking again after each
MANIFESTS_KEPT = 256  # publications never change: their manifests are read once


def live_prefix(channel: str) -> str:
    return f"hls/tv/{channel}"


@dataclass(frozen=True, slots=True)
class TvBoundary:
    """An item began on the channel: when (on the line), how it went, and its segments."""

    item: TimelineItem
    actual_ms: int  # where its first aired frame lies on the line (epoch ms)
    outcome: str  # played | cut-short | skipped-missing | overridden-by-live
    first_seq: int  # media-sequence range of its segments (slate fill included)
    last_seq: int
    now_playing: NowPlaying
    resumed: bool = False  # the schedule came back after live in the middle of this item
    after_live: LiveSpan | None = None  # on the first item after a live: that live, whole


class LiveFeed(Protocol):
    """A live input in the channel's ladder (streamer/tvlive.py TvLiveIngest): its segments
    in storage under `prefix`, named like an asset's (`<rendition>/seg-NNNNN.ts`)."""

    prefix: str
    renditions: tuple[str, ...]
    fps: int

    def segments(self) -> Sequence[LiveSegment]: ...


TimelineSource = Callable[[int, int], Sequence[TimelineItem]]
PackageSource = Callable[[int], Published | None]
TvBoundaryHook = Callable[[TvBoundary], Awaitable[None] | None]


def stored_packages(storage: Storage, prefix_of: Callable[[int], str | None]) -> PackageSource:
    """Assets' live publications: `prefix_of` names the prefix of each (the media row's
    pointer, `media/publications.py`), whose manifest is read from storage once, since a
    publication never changes. A pointer that cannot be read (the database away) is taken as
    the last one read, and an asset never looked up before as missing (filler or slate airs
    in its place): the channel goes on with what it knows, as it does with the timeline."""
    known: dict[int, str] = {}
    manifests: OrderedDict[str, Package] = OrderedDict()

    def lookup(media_id: int) -> Published | None:
        try:
            prefix = prefix_of(media_id)
        except Exception as exc:
            prefix = known.get(media_id)
            log.warning(
                "publication pointer unreadable: the last one read is used",
                extra={"media": media_id, "prefix": prefix, "error": str(exc)},
            )
            if prefix is None:
                return None
        if prefix is None:
            known.pop(media_id, None)
            return None
        known[media_id] = prefix
        package = manifests.get(prefix)
        if package is None:
            package = _manifest(storage, f"{prefix}/{MANIFEST}")
            if package is None:
                return None
            manifests[prefix] = package
            if len(manifests) > MANIFESTS_KEPT:
                manifests.popitem(last=False)
        manifests.move_to_end(prefix)
        return Published(prefix, package)

    return lookup


def _manifest(storage: Storage, key: str) -> Package | None:
    try:
        with storage.open(key) as fh:
            data = fh.read()
    except NotFound:
        return None
    # Any other storage error is raised: the step is tried again, and an asset that
    # storage could not be asked about is never taken for a missing one.
    try:
        return Package.from_json(data)
    except (ValueError, KeyError, TypeError) as exc:
        log.error("package manifest invalid", extra={"key": key, "error": str(exc)})
        return None


class Sequencer:
    """One TV channel's live playlists. Drive it with `run(clock, stop)` on air, or call
    `step(now_ms)` with the instants you choose (a SimulatedClock's, in tests)."""

    def __init__(
        self,
        channel: str,
        storage: Storage,
        timeline: TimelineSource,
        *,
        packages: PackageSource,
        window: int = 10,
        lead_ms: int | None = None,
        target_duration_s: int | None = None,
        filler_media_id: int | None = None,
        subtitles: Sequence[Subtitle] | None = None,
        horizon_ms: int = 4 * HOUR_MS,
        refresh_ms: int = 60_000,
        catch_up_limit_ms: int = 7 * 24 * HOUR_MS,
        upcoming: int = 3,
        hooks: Sequence[TvBoundaryHook] = (),
        live: LiveFeed | None = None,
        live_grace_ms: int | None = None,
        live_takeover: bool = True,
    ) -> None:
        if window < 1:
            raise ValueError("window must hold at least one segment")
        if live_grace_ms is not None and live_grace_ms <= 0:
            raise ValueError("live_grace_ms must be positive")
        self.channel = channel
        self.storage = storage
        self.timeline = timeline
        self.packages = packages
        self.window = window
        self._lead_ms = lead_ms
        self._target_s = target_duration_s or 0
        self.filler_media_id = filler_media_id
        self._subtitles = tuple(subtitles) if subtitles is not None else None
        self.horizon_ms = horizon_ms
        self.refresh_ms = refresh_ms
        self.catch_up_limit_ms = catch_up_limit_ms
        self.upcoming = upcoming
        self.hooks: list[TvBoundaryHook] = list(hooks)
        self.live = live
        self._live_grace_ms = live_grace_ms
        self.live_takeover = live_takeover
        self.prefix = live_prefix(channel)
        # set by _start
        self._slate: Slate | None = None
        self.renditions: tuple[Rendition, ...] = ()
        self.subtitles: tuple[Subtitle, ...] = ()
        # the line
        self._window: deque[LineSegment] = deque()
        self._window_ms = Fraction(0)
        self._queue: deque[LineSegment] = deque()  # the current item's plan, not yet shown
        self._runs: list[Run] = []
        self._next_seq = 0
        self._dseq = 0
        self._position = Fraction(0)  # end of the last published segment
        self._sched_ms = 0  # the timeline is laid up to here
        self._known: dict[int, TimelineItem] = {}  # start_ms -> item, from the timeline
        self._fetched_at: int | None = None
        self._pkg_cache: dict[int, Published | None] = {}
        self._laid_from: str | None = None  # the publication the queued plan comes from
        self._playlists = tv_playlists.Playlists(self.prefix)
        self.next_due_ms: int | None = None  # when the next segment or boundary is due
        # The end of the last segment in the playlists as last written to storage (epoch
        # ms): how far they reach, whatever the line holds in memory meanwhile.
        self.written_to_ms: int | None = None
        self._unwritten = False  # a write failed (storage away): the next step writes
        # live
        self._on_live = False
        self._live_run: Run | None = None
        self._live_last: int | None = None  # the feed's segment number last laid
        self._live_session: int | None = None
        self._live_disc = False  # the next live segment opens with a discontinuity
        self._after_live: LiveSpan | None = None  # for the next run laid after a live
        self._live_refused: str | None = None  # why the feed cannot air (logged once)

    # --- what it exposes ---------------------------------------------------------------

    @property
    def slate(self) -> Slate:
        if self._slate is None:
            raise SequencerError("the sequencer has not started (call step or run)")
        return self._slate

    @property
    def target_duration_s(self) -> int:
        return self._target_s

    @property
    def lead_ms(self) -> int:
        return self._lead_ms if self._lead_ms is not None else 3 * self._target_s * 1000

    @property
    def live_grace_ms(self) -> int:
        return self._live_grace_ms or 2 * self._target_s * 1000

    @property
    def on_live(self) -> bool:
        """Whether the line's end is the live feed's."""
        return self._on_live

    @property
    def media_sequence(self) -> int:
        return self._window[0].seq if self._window else self._next_seq

    @property
    def discontinuity_sequence(self) -> int:
        return self._dseq

    @property
    def segments(self) -> list[LineSegment]:
        """The window, as the playlists list it."""
        return list(self._window)

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}"

    def playlist_name(self, rendition: str) -> str:
        return tv_playlists.playlist_name(rendition)

    def subtitle_playlist_name(self, lang: str) -> str:
        return tv_playlists.subtitle_playlist_name(lang)

    # --- driving it ----------------------------------------------------------------------

    async def step(self, now_ms: int) -> list[TvBoundary]:
        """Bring the playlists up to `now_ms`, then tell the hooks of items that began.
        Storage and timeline work runs in a thread, so the event loop stays free."""
        boundaries = await asyncio.to_thread(self.advance, now_ms)
        for b in boundaries:
            await notify(self.hooks, b)
        return boundaries

    async def run(
        self,
        clock: Clock,
        stop: asyncio.Event,
        *,
        until_ms: int | None = None,
        max_sleep_ms: int = MAX_SLEEP_MS,
    ) -> None:
        """On air: step, then sleep until the next segment or boundary is due (at most
        max_sleep_ms, so a wall clock that was stepped is noticed), until `stop` is set (or
        the clock reaches until_ms: render mode). Between segments nothing is due: the loop
        wakes about once a segment, not on a timer."""
        while not stop.is_set():
            now = to_ms(clock.now())
            await self.step(now)
            if until_ms is not None and now >= until_ms:
                return
            wait = max_sleep_ms
            if self.next_due_ms is not None:
                wait = max(1, min(wait, self.next_due_ms - now))
            if until_ms is not None:
                wait = min(wait, until_ms - now)
            await pause(clock, stop, wait / 1000)

    def advance(self, now_ms: int) -> list[TvBoundary]:
        """The synchronous core of `step`: publish what is due, write, and return the
        boundaries reached (hooks are not called here)."""
        self._pkg_cache.clear()
        changed = False
        if self._slate is None:
            changed = self._start(now_ms)
        if self._on_live:
            changed = self._follow_live(now_ms) or changed
        if not self._on_live:
            changed = self._follow_schedule(now_ms) or changed
            if self.live is not None:
                changed = self._follow_live(now_ms) or changed
        boundaries = self._announce(now_ms)
        if changed or boundaries or self._unwritten:
            self._write(now_ms)
            self._unwritten = False
        due = [r.actual_ms for r in self._runs if not r.announced and r.actual_ms is not None]
        if self._queue and not self._on_live:
            due.append(math.ceil(self._queue[0].end) - self.lead_ms)
        if self.live is not None:
            due.append(now_ms + LIVE_POLL_MS)
        self.next_due_ms = min(due) if due else now_ms + LIVE_POLL_MS
        return boundaries

    def _follow_schedule(self, now_ms: int) -> bool:
        """Publish the schedule's segments whose end is within the lead of the clock."""
        self._follow_publication()
        changed = False
        horizon = Fraction(now_ms + self.lead_ms)
        while True:
            if not self._queue:
                self._plan_next(now_ms)
                continue
            seg = self._queue[0]
            if seg.end > horizon:
                break
            self._queue.popleft()
            self._publish(seg, now_ms)
            changed = True
        return changed

    # --- start and restart -------------------------------------------------------------------

    def _start(self, now_ms: int) -> bool:
        # Both read before anything is set: a start that fails on storage is tried again
        # whole, and never goes on as a fresh line (its numbers would go back).
        slate = tv_store.load_slate(self.storage, self.channel)
        state = tv_store.read_state(self.storage, self.prefix)
        self._slate = slate
        try:
            return self._begin(slate, state, now_ms)
        except BaseException:
            self._slate = None  # not started: the next step starts again from the state
            raise

    def _begin(self, slate: Slate, state: dict[str, Any] | None, now_ms: int) -> bool:
        self.renditions = slate.package.renditions
        subs = self._subtitles if self._subtitles is not None else slate.package.subtitles
        self.subtitles = tuple({s.lang: s for s in subs}.values())
        target = max(
            self._target_s,
            slate.package.segment_target_s,
            max(hls.rounded_seconds(Fraction(ms)) for ms in slate.package.segments_ms),
        )
        if state is not None:
            self._restore(state)
            if target > self._target_s:
                log.warning(
                    "target duration grows across a restart",
                    extra={"channel": self.channel, "was": self._target_s, "now": target},
                )
        self._target_s = max(target, self._target_s)
        resumed = state is not None
        if resumed and now_ms + self.lead_ms - self._position > self.catch_up_limit_ms:
            self._jump(now_ms)
            self._fresh(now_ms, not_before=math.ceil(self._position))
            resumed = False
        elif not resumed:
            self._fresh(now_ms)
        else:  # items that began and ended while the process was down are not reported
            missed = [r for r in self._runs if not r.announced and r.item.end_ms <= now_ms]
            for r in missed:
                r.announced = True
            if missed:
                log.warning(
                    "items passed while the channel was not sequencing",
                    extra={"channel": self.channel, "items": len(missed)},
                )
        self._write_static()
        return True  # playlists at once: a fresh line's (possibly empty), or the state's

    def _fresh(self, now_ms: int, not_before: int | None = None) -> None:
        """No line yet: it begins with the item on air now, from that item's start (and
        never before where an earlier line stopped)."""
        self._fetch(now_ms, now_ms)
        on = [i for i in self._known.values() if i.start_ms <= now_ms < i.end_ms]
        start = min((i.start_ms for i in on), default=now_ms)
        if not_before is not None and start < not_before:
            start = not_before
        self._position = Fraction(start)
        self._sched_ms = start
        log.info("channel line begins", extra={"channel": self.channel, "at_ms": start})

    def _jump(self, now_ms: int) -> None:
        """Down too long to walk: skip ahead, with sequence numbers beyond any that could
        have been used (every segment holds at least one frame)."""
        frames = math.ceil((now_ms + self.lead_ms - self._position) * self.slate.fps / 1000)
        discs = sum(1 for s in self._window if s.discontinuity)
        log.warning(
            "sequencer was down too long to replay: numbers jump forward",
            extra={"channel": self.channel, "from_ms": float(self._position), "frames": frames},
        )
        self._next_seq += frames
        self._dseq += discs + frames
        self._window.clear()
        self._window_ms = Fraction(0)
        self._queue.clear()
        self._runs.clear()
        self._on_live, self._live_run, self._after_live = False, None, None
        self._live_disc = True

    def _restore(self, raw: dict[str, Any]) -> None:
        state = sequencer_state.from_json(raw)
        self._target_s = state.target_s
        self._next_seq = state.next_seq
        self._dseq = state.dseq
        self._position = state.position
        self._sched_ms = state.sched_ms
        self._window = deque(state.window)
        self._window_ms = sum((s.duration for s in self._window), Fraction(0))
        self._runs = list(state.runs)
        for it in state.upcoming:
            self._known[it.start_ms] = it
        self._on_live = state.on_live
        self._live_last = state.live_last
        self._live_session = state.live_session
        self._live_disc = state.live_disc
        self._after_live = state.after_live
        lives = [r for r in self._runs if r.live]
        self._live_run = lives[-1] if self._on_live and lives else None
        if self._on_live and self._live_run is None:  # a state that cannot be: end it cleanly
            self._on_live = False
        current = self._runs[-1] if self._runs else None
        if not self._on_live and current is not None and current.published < current.count:
            segs, _ = lay_item(
                current.item,
                current.origin,
                self._laying(self._content(current.item)),
                self.slate,
                self._langs,
                join_at=self._position,
            )
            self._queue = deque(segs)
            current.count = current.published + len(segs)
        log.info(
            "sequencer resumes",
            extra={"channel": self.channel, "next_seq": self._next_seq, "dseq": self._dseq},
        )

    # --- laying the timeline ------------------------------------------------------------------

    @property
    def _langs(self) -> frozenset[str]:
        return frozenset(s.lang for s in self.subtitles)

    def _fetch(self, now_ms: int, from_ms: int) -> None:
        items = self.timeline(from_ms, from_ms + self.horizon_ms)
        for start in [s for s in self._known if s >= from_ms]:
            del self._known[start]
        for item in items:
            self._known[item.start_ms] = item
        for start in [s for s, i in self._known.items() if i.end_ms < from_ms - HOUR_MS]:
            del self._known[start]
        self._fetched_at = now_ms

    def _next_item(self) -> TimelineItem | None:
        later = [i for i in self._known.values() if i.end_ms > self._sched_ms]
        return min(later, key=lambda i: i.start_ms) if later else None

    def _plan_next(self, now_ms: int) -> None:
        """Lay the next item (or a gap of slate) from where the line stands."""
        stale = self._fetched_at is None or now_ms - self._fetched_at >= self.refresh_ms
        item = self._next_item()
        if item is None or stale:
            try:
                self._fetch(now_ms, self._sched_ms)
            except Exception as exc:
                if item is None:  # nothing known to lay: hold, and the step is tried again
                    raise
                # Go on with what is known; ask again in a few seconds.
                log.warning(
                    "schedule unreadable; the channel goes on with what it knows",
                    extra={"channel": self.channel, "error": str(exc)},
                )
                self._fetched_at = now_ms - self.refresh_ms + SCHEDULE_RETRY_MS
            item = self._next_item()
        synthetic = item is None or item.start_ms > self._sched_ms
        if item is None or item.start_ms > self._sched_ms:
            until = self._sched_ms + GAP_CHUNK_MS
            if item is not None:
                until = min(until, item.start_ms)
            log.warning(
                "nothing scheduled: slate",
                extra={"channel": self.channel, "from_ms": self._sched_ms, "until_ms": until},
            )
            item = TimelineItem(self._sched_ms, until, "slate", None, 0, until - self._sched_ms)
        origin = Fraction(item.start_ms) + (self._position - self._sched_ms)
        content = self._laying(self._content(item, now_ms))
        segs, complete = lay_item(
            item, origin, content, self.slate, self._langs, join_at=self._position
        )
        self._sched_ms = item.end_ms
        if not segs:
            log.debug("item shorter than half a frame", extra={"item": item})
            return
        outcome = (
            Outcome.CUT_SHORT
            if content.outcome == Outcome.PLAYED and not complete
            else content.outcome
        )
        self._add_run(Run(item, origin, outcome, self._next_seq, len(segs), synthetic=synthetic))
        self._queue.extend(segs)

    def _add_run(self, run: Run) -> None:
        """A run joins the line; the first one after a live carries that live's span."""
        if self._after_live is not None:
            run.after_live, self._after_live = self._after_live, None
        self._runs.append(run)

    def _content(self, item: TimelineItem, now_ms: int | None = None) -> Content:
        """(An item that has passed already, in a catch-up walk, is not worth a warning.)"""
        if item.kind == "slate" or item.media_id is None:
            return Content(None)
        pub = self._package(item.media_id)
        if pub is not None:
            return Content(pub.package, pub.prefix)
        log.log(
            logging.WARNING if now_ms is None or item.end_ms > now_ms else logging.DEBUG,
            "asset missing: replaced",
            extra={"channel": self.channel, "media": item.media_id, "title": item.title},
        )
        if self.filler_media_id is not None:
            filler = self._package(self.filler_media_id)
            if filler is not None:
                return Content(filler.package, filler.prefix, True, Outcome.MISSING)
        return Content(None, outcome=Outcome.MISSING)

    def _laying(self, content: Content) -> Content:
        """The current item's plan is made from `content`: remember which publication of its
        own asset that is (None for filler or slate), so a new one is followed."""
        own = content.package is not None and content.outcome == Outcome.PLAYED
        self._laid_from = content.prefix if own else None
        return content

    def _follow_publication(self) -> None:
        """The asset of the item being laid was published anew (packaged again, or moved when
        an on-demand window closed): the rest of the item comes from the new publication,
        joined where the line stands, as after a restart, behind a discontinuity (a new
        encode is a new encoding sequence). Segments already in the window keep their URIs:
        the old publication stays in storage a while for them (`media/publications.py`)."""
        if self._on_live or not self._queue or not self._runs or self._laid_from is None:
            return
        run = self._runs[-1]
        if run.live or run.item.media_id is None:
            return
        pub = self._package(run.item.media_id)
        if pub is not None and pub.prefix == self._laid_from:
            return
        content = self._laying(self._content(run.item))
        segs, _ = lay_item(
            run.item, run.origin, content, self.slate, self._langs, join_at=self._position
        )
        if segs:
            segs[0] = replace(segs[0], discontinuity=True)
        self._queue = deque(segs)
        run.count = run.published + len(segs)
        log.info(
            "asset published anew: the rest of the item follows it",
            extra={"channel": self.channel, "media": run.item.media_id, "to": content.prefix},
        )

    def _package(self, media_id: int) -> Published | None:
        """The asset's publication if the channel can air it: the same renditions as the
        slate, segments no longer than the target duration."""
        if media_id in self._pkg_cache:
            return self._pkg_cache[media_id]
        pub = self.packages(media_id)
        pkg = pub.package if pub is not None else None
        why = None
        if pkg is None:
            why = "no package"
        elif {r.name for r in pkg.renditions} != {r.name for r in self.renditions}:
            why = "renditions differ from the channel's"
        elif not pkg.segments_ms or min(pkg.segments_ms) <= 0:
            why = "no segments"
        elif max(hls.rounded_seconds(Fraction(ms)) for ms in pkg.segments_ms) > self._target_s:
            why = "a segment is longer than the channel's target duration"
        if why is not None:
            log.warning("asset cannot air", extra={"media": media_id, "reason": why})
            pub = None
        self._pkg_cache[media_id] = pub
        return pub

    # --- live ------------------------------------------------------------------------------

    def _follow_live(self, now_ms: int) -> bool:
        """Go live, lay what the feed has made since, hold the line with slate while the feed
        is late, or hand the line back to the schedule. Returns whether the line changed."""
        assert self.live is not None
        since = now_ms - self.live_grace_ms
        fresh = [s for s in self.live.segments() if s.ready_ms >= since]
        last = self._live_last
        new = [s for s in fresh if last is None or s.index > last]
        if not new and fresh and last is not None and fresh[-1].index < last:
            new = fresh[-1:]  # the feed numbers afresh (its storage was emptied)
        if not self._on_live:
            if not new or not self._live_usable() or not self._live_allowed(now_ms):
                return False
            self._go_live(now_ms)
            new = [s for s in new if s.session == new[-1].session]  # the sender on air now
        changed = False
        for seg in new:
            if not self._live_allowed(now_ms):
                break
            changed = self._lay_live(seg, now_ms) or changed
        if not fresh or not self._live_allowed(now_ms):
            self._end_live(now_ms)
            return True
        return self._hold(now_ms) or changed

    def _live_usable(self) -> bool:
        """The feed must be in the channel's ladder: the same renditions and frame rate."""
        assert self.live is not None
        names = {r.name for r in self.renditions}
        why = None
        if set(self.live.renditions) != names:
            why = f"its renditions {sorted(self.live.renditions)} are not {sorted(names)}"
        elif Fraction(self.live.fps) != self.slate.fps:
            why = f"its {self.live.fps} fps is not the channel's {float(self.slate.fps):g}"
        if why != self._live_refused and why is not None:
            log.error("the live feed cannot air", extra={"channel": self.channel, "reason": why})
        self._live_refused = why
        return why is None

    def _live_allowed(self, now_ms: int) -> bool:
        """Whether live may fill the line where it stands."""
        if self.live_takeover:
            return True
        on = self._item_at(self._position, now_ms)
        return on is not None and on.kind == "live"

    def _stale(self, now_ms: int) -> bool:
        return self._fetched_at is None or now_ms - self._fetched_at >= self.refresh_ms

    def _item_at(self, pos: Fraction, now_ms: int) -> TimelineItem | None:
        if self._stale(now_ms) or not any(i.end_ms > pos for i in self._known.values()):
            self._fetch(now_ms, min(self._sched_ms, math.floor(pos)))
        return next((i for i in self._known.values() if i.start_ms <= pos < i.end_ms), None)

    def _block_end(self, on: TimelineItem | None, pos: Fraction) -> int:
        """What a takeover is expected to last: to the end of the programme block on air
        (or of the item, or to the next item in a gap)."""
        if on is None:
            later = [i.start_ms for i in self._known.values() if i.start_ms > pos]
            return min(later, default=math.ceil(pos))
        if on.block_ms is None:
            return on.end_ms
        same = [
            i.end_ms
            for i in self._known.values()
            if i.block_ms == on.block_ms and i.start_ms >= on.start_ms
        ]
        return max(same, default=on.end_ms)

    def _go_live(self, now_ms: int) -> None:
        """The line's end becomes the feed's: the rest of the item's plan is dropped."""
        pos = self._position
        at = hls.round_half_up(pos)
        dropped: Run | None = None
        run = self._runs[-1] if self._runs else None
        if self._queue and run is not None and not run.live:
            self._queue.clear()
            run.count = run.published
            if run.published == 0:  # none of it was shown: it is overridden whole
                self._runs.pop()
                dropped = run
                if run.after_live is not None and self._after_live is None:
                    self._after_live = run.after_live
        on = self._item_at(pos, now_ms)
        if on is not None and on.kind == "live":
            item = replace(on, media_id=None)  # the live slot itself
        else:
            item = TimelineItem(
                at, max(at, self._block_end(on, pos)), "live", None, 0, 0, title=LIVE_TITLE
            )
        live_run = Run(item, pos, Outcome.PLAYED, self._next_seq, 0, live=True)
        self._add_run(live_run)
        if dropped is not None and not dropped.synthetic and not dropped.resumed:
            self._runs.append(
                Run(
                    dropped.item,
                    dropped.origin,
                    Outcome.OVERRIDDEN,
                    self._next_seq,
                    0,
                    actual_ms=at,
                    live_item=item,
                )
            )
        self._on_live, self._live_run, self._live_disc = True, live_run, True
        log.info(
            "live on air",
            extra={
                "channel": self.channel,
                "at_ms": at,
                "first_seq": self._next_seq,
                "title": item.title,
            },
        )

    def _lay_live(self, seg: LiveSegment, now_ms: int) -> bool:
        assert self.live is not None and self._live_run is not None
        duration = hls.frame_ms(seg.frames, self.slate.fps)
        if hls.rounded_seconds(duration) > self._target_s:
            log.error(
                "live segment longer than the target duration: not aired",
                extra={"channel": self.channel, "segment": seg.index, "frames": seg.frames},
            )
            self._live_last, self._live_disc = seg.index, True
            return False
        disc = (
            self._live_disc
            or seg.session != self._live_session
            or (self._live_last is not None and seg.index != self._live_last + 1)
        )
        pos = self._position
        line = LineSegment(
            pos, duration, hls.round_half_up(pos), self.live.prefix, seg.index, (), disc
        )
        self._live_run.count += 1
        self._publish(line, now_ms, self._live_run)
        self._live_last, self._live_session, self._live_disc = seg.index, seg.session, False
        self._mark_overridden(now_ms)
        return True

    def _hold(self, now_ms: int) -> bool:
        """The feed is late: full slate segments keep the line a target duration ahead of
        the clock (players must never run dry while the studio catches up)."""
        assert self._live_run is not None
        floor = now_ms + self._target_s * 1000
        full = max(self.slate.by_frames)
        langs = tuple(s.lang for s in self.slate.package.subtitles if s.lang in self._langs)
        changed = False
        while self._position < floor:
            pos = self._position
            line = LineSegment(
                pos,
                hls.frame_ms(full, self.slate.fps),
                hls.round_half_up(pos),
                self.slate.prefix,
                self.slate.by_frames[full],
                langs,
                True,
            )
            self._live_run.count += 1
            self._publish(line, now_ms, self._live_run)
            self._mark_overridden(now_ms)
            self._live_disc = changed = True
        if changed:
            log.warning("live feed late: slate holds the line", extra={"channel": self.channel})
        return changed

    def _mark_overridden(self, now_ms: int) -> None:
        """Items whose scheduled start the live stretch has covered: told as overridden
        (a live slot covered by live aired as planned), with an empty segment range."""
        assert self._live_run is not None
        while True:
            item = self._next_item()
            if item is None or self._stale(now_ms):
                self._fetch(now_ms, self._sched_ms)
                item = self._next_item()
            if item is None or item.start_ms >= self._position:
                return
            self._sched_ms = item.end_ms
            on = next((s for s in reversed(self._window) if s.start <= item.start_ms), None)
            seq = on.seq if on is not None else self._next_seq - 1
            outcome = Outcome.PLAYED if item.kind == "live" else Outcome.OVERRIDDEN
            self._runs.append(
                Run(
                    item,
                    Fraction(item.start_ms),
                    outcome,
                    seq,
                    0,
                    actual_ms=item.start_ms,
                    live_item=self._live_run.item,
                )
            )

    def _end_live(self, now_ms: int) -> None:
        """The feed stopped (or the live slot is over): the schedule resumes where the line
        stands, in the item on air there, at its next planned segment, to the frame."""
        run = self._live_run
        pos = self._position
        self._on_live, self._live_run, self._live_disc = False, None, True
        if run is not None and run.count:
            start = hls.round_half_up(run.origin)
            self._after_live = LiveSpan(
                run.first_seq, run.first_seq + run.count - 1, start, hls.round_half_up(pos)
            )
        elif run is not None:  # nothing of it aired: as if it had not begun
            self._runs.remove(run)
            self._after_live = run.after_live
        log.info(
            "live ended: the schedule resumes",
            extra={
                "channel": self.channel,
                "at_ms": hls.round_half_up(pos),
                "segments": run.count if run else 0,
            },
        )
        on = self._item_at(pos, now_ms)
        if on is None:  # a gap: _plan_next lays slate from here to the next item
            self._sched_ms = max(self._sched_ms, hls.round_half_up(pos))
            return
        self._sched_ms = max(self._sched_ms, on.end_ms)
        content = self._laying(self._content(on, now_ms))
        segs, complete = lay_item(
            on, Fraction(on.start_ms), content, self.slate, self._langs, join_at=pos
        )
        if not segs:
            return
        segs[0] = replace(segs[0], discontinuity=True)
        outcome = (
            Outcome.CUT_SHORT
            if content.outcome == Outcome.PLAYED and not complete
            else content.outcome
        )
        self._add_run(
            Run(
                on,
                Fraction(on.start_ms),
                outcome,
                self._next_seq,
                len(segs),
                resumed=on.start_ms < pos,
            )
        )
        self._queue.extend(segs)

    # --- the window --------------------------------------------------------------------------

    def _publish(self, seg: LineSegment, now_ms: int, run: Run | None = None) -> None:
        seg = replace(seg, seq=self._next_seq)
        self._next_seq += 1
        self._unwritten = True  # written by this step, or the next if this one fails
        self._window.append(seg)
        self._window_ms += seg.duration
        self._position = seg.end
        run = run or self._runs[-1]
        run.published += 1
        if run.actual_ms is None and seg.end > now_ms:
            run.actual_ms = hls.round_half_up(seg.start)
        floor = 3 * self._target_s * 1000
        while (
            len(self._window) > self.window and self._window_ms - self._window[0].duration >= floor
        ):
            gone = self._window.popleft()
            self._window_ms -= gone.duration
            if gone.discontinuity:
                self._dseq += 1

    def _announce(self, now_ms: int) -> list[TvBoundary]:
        out: list[TvBoundary] = []
        keep: list[Run] = []
        missed = 0
        for run in self._runs:
            done = run.published >= run.count and run is not self._live_run
            if not run.announced:
                if run.actual_ms is not None and run.actual_ms <= now_ms:
                    run.announced = True
                    if not run.synthetic or run.after_live is not None:
                        out.append(self._boundary(run))
                elif run.actual_ms is None and done:  # it passed while we were not running
                    run.announced = True
                    missed += not run.synthetic
            if not (run.announced and done):
                keep.append(run)
        self._runs = keep
        if missed:
            log.warning(
                "items passed while the channel was not sequencing",
                extra={"channel": self.channel, "items": missed},
            )
        return out

    def _boundary(self, run: Run) -> TvBoundary:
        assert run.actual_ms is not None
        item = run.item
        later = sorted(
            (i for i in self._known.values() if i.start_ms >= item.end_ms),
            key=lambda i: i.start_ms,
        )
        live = item if run.live else run.live_item
        np = now_playing(
            self.channel,
            [item, *later],
            max(run.actual_ms, item.start_ms),
            upcoming=self.upcoming,
            live=live,
        )
        log.info(
            "item on air",
            extra={
                "channel": self.channel,
                "title": item.title,
                "outcome": run.outcome,
                "first_seq": run.first_seq,
                "kind": item.kind,
            },
        )
        return TvBoundary(
            item,
            run.actual_ms,
            run.outcome,
            run.first_seq,
            run.first_seq + run.count - 1,
            np,
            resumed=run.resumed or (run.synthetic and run.after_live is not None),
            after_live=run.after_live,
        )

    # --- writing -------------------------------------------------------------------------

    def _state(self, now_ms: int) -> dict[str, Any]:
        # The items being laid, and the next two: enough to carry on exactly after a
        # restart (the rest is read from the timeline again). Writing the whole horizon
        # made this file the sequencer's largest cost (bench/tv.py).
        later = sorted(
            (i for i in self._known.values() if i.end_ms > now_ms), key=lambda i: i.start_ms
        )
        laid = [i for i in later if i.start_ms < self._sched_ms]
        later = laid + [i for i in later if i.start_ms >= self._sched_ms][:2]
        state = sequencer_state.SequencerState(
            self._target_s,
            self._next_seq,
            self._dseq,
            self._position,
            self._sched_ms,
            self._window,
            self._runs,
            later,
            on_live=self._on_live,
            live_last=self._live_last,
            live_session=self._live_session,
            live_disc=self._live_disc,
            after_live=self._after_live,
        )
        return sequencer_state.to_json(state, self.channel, now_ms)

    def _write(self, now_ms: int) -> None:
        """The state, then the playlists (each made as it is written), as they stand."""
        state = sequencer_state.dumps(self._state(now_ms))
        playlists = self._playlists.all(
            self._window,
            self.renditions,
            self.subtitles,
            target_duration_s=self._target_s,
            media_sequence=self.media_sequence,
            discontinuity_sequence=self._dseq,
        )
        tv_store.write(self.storage, self.prefix, state, playlists)
        if self._window:
            self.written_to_ms = hls.round_half_up(self._window[-1].end)
        self._playlists.forget_before(self.media_sequence)

    def _write_static(self) -> None:
        """At every start: the master playlist, and the empty subtitle segment."""
        master = tv_playlists.master_playlist(self.renditions, self.subtitles)
        tv_store.write_static(self.storage, self.prefix, master, bool(self.subtitles))
