"""The Liquidsoap radio engine: a channel's timeline played through Liquidsoap's request
queue, with the same inputs (timeline, playable) and the same boundary hooks (as-run,
titles, now-playing) as `playout.radio.RadioEngine`.

How it works. Liquidsoap (streamer/liquidsoap_script.py, in `track_cues` mode) runs the script:
queue -> cue points -> per-track gain -> crossfade -> fallback (queue, safety file,
silence) -> outputs (Icecast mounts and/or files). A driver loop on the injected clock
pushes each timeline item into the queue, in order, annotated with its title, artist, item
key, cue in/out, its loudness gain toward the channel's target (`liq_amplify`) and the
length of the overlap at its end (`liq_cross_duration` = the item's crossfade). As-run comes
from what Liquidsoap reports, never from the plan: the script prints a line when a track's
first samples are taken, and the hooks get a `Boundary` whose `actual_ms` is the clock's
time when that line arrived.

What that means for timing — the limits, said plainly:

- Liquidsoap's queue plays back to back. An item that follows the previous one without a gap
  on the timeline is pushed ahead (up to `lookahead` waiting requests, from `prefetch_ms`
  before its start) and starts when Liquidsoap finishes the previous one; so its start is
  the previous start plus the previous length as Liquidsoap counts it, not the clock. Errors
  (a frame, tens of ms per item) add up along an unbroken chain and are reset at the next
  gap: an item after a gap, or after a skipped item, is pushed `push_lead_ms` before its
  time and starts within Liquidsoap's reaction time (~150 ms measured).
- A hard start is as close as the queue allows: when what was pushed before a hard item
  runs past its start (the schedule was edited after the push), the engine ends the item on
  air (`<queue>.skip`, through the crossfade) at the hard start; when Liquidsoap merely
  runs late, once the hard item is `hard_late_ms` late. Not sample-exact as in RadioEngine.
- The timeline is read again every `refresh_ms`, so edits reach items not yet pushed;
  an item already in Liquidsoap's queue plays as it was pushed (there is no command to
  take one request out of a 2.1 queue), which is why the lookahead is short.
- A back-to-back item whose file ends before its cue out (a file shorter than the library
  says) ends early, and what follows it moves up with it.
- Reported times are to the clock's reading when the track line arrives (a few ms after
  Liquidsoap took the samples); Liquidsoap's own `on_air` stamps are whole seconds only.
  The clock must run at real speed (SystemClock, or one shifted in time): Liquidsoap
  cannot be stepped like a simulated clock.

Failures:

- `playable(media_id)` is None, or a local file is not there: the item is not pushed; its
  boundary says `skipped-missing` at its planned time, and the fallback (safety file, else
  silence) fills its slot, so what follows keeps its time.
- Liquidsoap cannot decode a file: it drops the request without playing it (seen through
  `request.metadata` answering "No such request." for a request that never went on air, or
  a later item starting first), or refuses the push; the boundary says `skipped-corrupt`.
- An item with no media (`media_id` None) is a planned gap: not pushed, reported `played`.
- Liquidsoap exits or stops answering: the engine reaps it, waits (`restart_delay_s`,
  doubling to `max_restart_delay_s` while it keeps failing), starts it again and carries on
  from the timeline's current item, joined at the current point (its cue in moved on);
  items already reported are not reported twice. A first start that fails raises
  `LiquidsoapError`: that is a configuration problem (binary, script, root) to show at once.
- A timeline, playable or hook that raises is logged with context; the air goes on.

Titles: Liquidsoap itself sends each track's title/artist to its Icecast mounts (UTF-8, its
`icy_metadata`), so `playout.onair.title_hook` is optional there. A restart loses the audio the
killed process had not written yet; a `FileOutput` should then use `append=True` (mp3/aac).
Cue points must lie inside the file: in 2.1.3 a request cued in at or past its end makes
`cue_cut` cut the next track short; the library's cue points (media analysis) always do,
and joining after a restart never goes closer than `min_join_ms` to the planned end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from media.loudness import gain_db
from playout.asrun import Boundary, Outcome
from playout.hooks import notify
from playout.mixer import SAMPLES_PER_MS
from playout.radio import (
    BoundaryHook,
    Playable,
    PlayableSource,
    TimelineSource,
)
from schedules.plan import TimelineItem, to_ms
from station.backoff import Backoff
from station.clock import Clock, pause
from streamer.icy import safe_title
from streamer.liquidsoap_client import LiquidsoapClient, LiquidsoapError
from streamer.liquidsoap_process import LiquidsoapProcess
from streamer.liquidsoap_script import (
    AMPLIFY_KEY,
    CROSS_KEY,
    CUE_IN_KEY,
    CUE_OUT_KEY,
    ITEM_KEY,
    LiquidsoapConfig,
    Output,
    TrackChange,
    amplify_db,
    annotate,
)

log = logging.getLogger(__name__)

# What the driver decided for an item.
_PUSHED, _MISSING, _CORRUPT, _GAP = "pushed", "missing", "corrupt", "gap"
_OUTCOME = {
    _PUSHED: Outcome.PLAYED,
    _GAP: Outcome.PLAYED,
    _MISSING: Outcome.MISSING,
    _CORRUPT: Outcome.CORRUPT,
}
_NO_REQUEST = "No such request."
_CONTIGUOUS_MS = 100  # a smaller gap than this between two items is no gap
_ON_TIME_MS = 100  # a push this far into an item is on time; further in, it joins
_AIRED_KEEP_MS = 6 * 3_600_000  # how long reported items are remembered (restarts)
_RAN_LONG_ENOUGH_S = 60.0  # a run this long resets the restart back-off


def item_key(item: TimelineItem) -> str:
    """What identifies a timeline item in Liquidsoap's metadata (as RadioEngine's slots)."""
    return f"{item.start_ms}:{item.media_id}"


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.3f}"


def request_metadata(
    item: TimelineItem, *, gain: float, join_ms: int = 0
) -> dict[str, str | int | float]:
    """The annotations of one pushed item (pure): cue points in seconds from the file's
    start, moved on by `join_ms` when joining an item already under way."""
    meta: dict[str, str | int | float] = {ITEM_KEY: item_key(item)}
    # Liquidsoap sends these on to icecast2, which frames them in `StreamTitle='...';`.
    if item.title:
        meta["title"] = safe_title(item.title)
    if item.artist:
        meta["artist"] = safe_title(item.artist)
    cue_in = item.cue_in_ms + max(0, join_ms)
    if cue_in > 0:
        meta[CUE_IN_KEY] = _seconds(cue_in)
    meta[CUE_OUT_KEY] = _seconds(item.cue_out_ms)
    meta[CROSS_KEY] = _seconds(max(0, item.crossfade_ms))
    meta[AMPLIFY_KEY] = amplify_db(gain)
    return meta


@dataclass
class _Entry:
    """An item the driver has committed to, in timeline order."""

    item: TimelineItem
    key: str
    state: str  # _PUSHED | _MISSING | _CORRUPT | _GAP
    rid: int | None = None
    verified: bool = False  # Liquidsoap resolved the request (ready or playing)
    heard_ms: int | None = None  # when Liquidsoap said it started
    announced: bool = False
    skip_sent: bool = False
    joined: bool = False  # pushed to start part-way (a restart joining the item on air)


@dataclass
class LiquidsoapEngine:
    """A channel's timeline on air through Liquidsoap. See the module docstring."""

    outputs: Sequence[Output]
    timeline: TimelineSource
    playable: PlayableSource
    origin_ms: int  # Boundary.sample counts 48 kHz samples from here
    target_lufs: float = -16.0
    max_true_peak_dbtp: float = -1.0
    hooks: list[BoundaryHook] = field(default_factory=list)
    binary: str = "liquidsoap"
    safety_file: Path | None = None  # what airs when the queue is empty (else silence)
    allow_root: bool = False  # Liquidsoap refuses to run as root unless told
    socket_path: Path | None = None  # control socket; default: in a private temp folder
    log_file: Path | None = None
    samplerate: int = 48000
    queue_id: str = "schedule"
    lookahead: int = 2  # requests waiting in Liquidsoap's queue, at most
    prefetch_ms: int = 10_000  # push a back-to-back item this long before its start
    push_lead_ms: int = 150  # push an item after a gap this long before its start
    hard_late_ms: int = 500  # a hard item this late skips what is on air
    min_join_ms: int = 1000  # an item with less than this left is not joined
    refresh_ms: int = 2000  # read the timeline this often
    window_ms: int = 120_000  # how far ahead to read it
    tick_ms: int = 100
    verify_ms: int = 500  # ask Liquidsoap about waiting requests this often
    restart_delay_s: float = 1.0
    max_restart_delay_s: float = 30.0
    startup_timeout_s: float = 30.0
    boundaries: list[Boundary] = field(default_factory=list)
    restarts: int = 0
    live_item: TimelineItem | None = None  # live input is the ffmpeg engine's (not here)
    ready: asyncio.Event = field(default_factory=asyncio.Event)  # set while Liquidsoap answers
    _entries: list[_Entry] = field(default_factory=list)
    _aired: dict[str, int] = field(default_factory=dict)  # key -> item end, reported items
    _items: list[TimelineItem] = field(default_factory=list)
    _read_at: int | None = None
    _verified_at: int | None = None
    _heard: list[tuple[int, TrackChange]] = field(default_factory=list)
    _last_actual: int | None = None
    _lq: LiquidsoapProcess | None = None

    # --- public -------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The running Liquidsoap's process id (for supervision and tests)."""
        return self._lq.pid if self._lq is not None else None

    def upcoming(self) -> list[TimelineItem]:
        """The timeline items the engine holds, from the one on air on: for now-playing."""
        last = max((e.item.start_ms for e in self._entries if e.announced), default=None)
        if last is None:
            return list(self._items)
        return [i for i in self._items if i.start_ms >= last]

    def config(self, socket_path: Path) -> LiquidsoapConfig:
        return LiquidsoapConfig(
            outputs=tuple(self.outputs),
            socket_path=socket_path,
            queue_id=self.queue_id,
            crossfade_seconds=0.0,  # each request says its own
            safety_file=self.safety_file,
            log_file=self.log_file,
            samplerate=self.samplerate,
            allow_root=self.allow_root,
            track_cues=True,
        )

    async def run(self, clock: Clock, stop: asyncio.Event) -> None:
        """On air until `stop` is set: Liquidsoap is started, driven, restarted when it dies,
        and stopped (reaped) at the end. The first start's failure is raised."""
        work = Path(tempfile.mkdtemp(prefix="diaspor-liquidsoap-"))
        socket_path = self.socket_path or work / "control.sock"
        failures = 0
        started_once = False
        try:
            while not stop.is_set():
                lq = LiquidsoapProcess(
                    self.config(socket_path),
                    binary=self.binary,
                    script_path=work / "radio.liq",
                    startup_timeout=self.startup_timeout_s,
                )
                began = clock.monotonic()
                try:
                    await lq.start()
                except LiquidsoapError:
                    if not started_once:
                        raise
                    failures += 1
                    log.exception("liquidsoap did not start again", extra={"failures": failures})
                else:
                    started_once = True
                    try:
                        await self._drive(clock, stop, lq)
                    except LiquidsoapError as exc:
                        failures = (
                            1 if clock.monotonic() - began > _RAN_LONG_ENOUGH_S else failures + 1
                        )
                        log.error(
                            "liquidsoap failed; restarting it",
                            extra={
                                "error": str(exc),
                                "pid": lq.pid,
                                "returncode": lq.returncode,
                                "output": " | ".join(lq.recent_output()[-8:]),
                            },
                        )
                finally:
                    self.ready.clear()
                    self._lq = None
                    await lq.stop()
                if stop.is_set():
                    break
                self._forget_unaired()
                self.restarts += 1
                delay = Backoff(
                    base_s=2 * self.restart_delay_s,
                    first_s=self.restart_delay_s,
                    max_s=self.max_restart_delay_s,
                ).delay(failures)
                await pause(clock, stop, delay)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    # --- the driver ---------------------------------------------------------------------

    async def _drive(self, clock: Clock, stop: asyncio.Event, lq: LiquidsoapProcess) -> None:
        self._lq = lq
        listener = asyncio.create_task(self._listen(clock, lq))
        self.ready.set()
        log.info("liquidsoap engine on air", extra={"pid": lq.pid, "restarts": self.restarts})
        try:
            while not stop.is_set():
                if lq.returncode is not None:
                    raise LiquidsoapError(f"Liquidsoap exited with status {lq.returncode}")
                if listener.done():
                    listener.result()  # raises what stopped it
                    raise LiquidsoapError("Liquidsoap's track reports stopped")
                now = to_ms(clock.now())
                client = lq.client
                self._take_heard()
                if self._verified_at is None or now - self._verified_at >= self.verify_ms:
                    await self._verify(client)
                    self._verified_at = now
                self._refresh(now)
                await self._push_due(client, now)
                await self._announce_due(now)
                await self._hard_starts(client, now)
                self._prune(now)
                await clock.sleep(self.tick_ms / 1000)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def _listen(self, clock: Clock, lq: LiquidsoapProcess) -> None:
        """Stamp each track report with the clock as it arrives; the driver reads them."""
        while True:
            change = await lq.tracks.get()
            self._heard.append((to_ms(clock.now()), change))

    def _take_heard(self) -> None:
        heard, self._heard = self._heard, []
        for at, change in heard:
            entry = next(
                (e for e in self._entries if e.state == _PUSHED and e.rid == change.rid), None
            )
            if entry is None or entry.key != change.item:
                log.debug(
                    "liquidsoap track not ours", extra={"rid": change.rid, "item": change.item}
                )
                continue
            entry.heard_ms = at
            entry.verified = True

    async def _verify(self, client: LiquidsoapClient) -> None:
        """Requests Liquidsoap dropped without playing (it could not decode them)."""
        for e in self._entries:
            if e.state != _PUSHED or e.heard_ms is not None or e.rid is None:
                continue
            try:
                meta = await client.metadata(e.rid)
            except LiquidsoapError as exc:
                if (exc.reply or "").strip() != _NO_REQUEST:
                    raise
                e.state = _CORRUPT
                log.warning(
                    "liquidsoap dropped an item it could not play",
                    extra={"item": e.item.title or e.item.media_id, "rid": e.rid},
                )
                continue
            if meta.get("status") in ("ready", "playing"):
                e.verified = True

    def _refresh(self, now: int) -> None:
        if self._read_at is not None and now - self._read_at < self.refresh_ms:
            return
        try:
            items = list(self.timeline(now, now + self.window_ms))
        except Exception:
            log.exception("cannot read the timeline; keeping the last one", extra={"at_ms": now})
            return
        self._items = sorted(items, key=lambda i: i.start_ms)
        self._read_at = now

    def _candidate(self, now: int) -> TimelineItem | None:
        """The next timeline item to commit to: after the last one, not over yet."""
        tail = self._entries[-1].item if self._entries else None
        keys = {e.key for e in self._entries}
        for item in self._items:
            if item.end_ms <= now or item_key(item) in keys:
                continue
            if tail is not None and item.start_ms <= tail.start_ms:
                continue
            return item
        return None

    def _waiting(self) -> int:
        return sum(1 for e in self._entries if e.state == _PUSHED and e.heard_ms is None)

    async def _push_due(self, client: LiquidsoapClient, now: int) -> None:
        while (item := self._candidate(now)) is not None:
            tail = self._entries[-1] if self._entries else None
            back_to_back = (
                tail is not None
                and tail.state == _PUSHED
                and abs(item.start_ms - tail.item.end_ms) <= _CONTIGUOUS_MS
            )
            if back_to_back:
                assert tail is not None
                if not tail.verified or self._waiting() >= self.lookahead:
                    return
                if now < item.start_ms - self.prefetch_ms:
                    return
            elif now < item.start_ms - self.push_lead_ms:
                return
            await self._commit(client, item, now, back_to_back)

    async def _commit(
        self, client: LiquidsoapClient, item: TimelineItem, now: int, back_to_back: bool
    ) -> None:
        key = item_key(item)
        entry = _Entry(item, key, _GAP, announced=key in self._aired)
        join_ms = 0 if back_to_back else now + self.push_lead_ms - item.start_ms
        join_ms = join_ms if join_ms > _ON_TIME_MS else 0
        if item.media_id is None:
            pass  # a planned gap: the fallback fills it
        elif (p := self._playable(item)) is None or (
            "://" not in p.uri and not Path(p.uri).is_file()
        ):
            entry.state = _MISSING
            log.warning(
                "skipped missing file",
                extra={"item": item.title or item.media_id, "media_id": item.media_id},
            )
        elif join_ms and item.end_ms - now < self.min_join_ms:
            log.info("too little left to join", extra={"item": item.title, "at_ms": now})
            entry.announced = True  # it does not air: nothing to report
        else:
            gain = gain_db(
                p.loudness_lufs, p.true_peak_dbtp, self.target_lufs, self.max_true_peak_dbtp
            )
            entry.state = _CORRUPT
            try:
                uri = annotate(p.uri, **request_metadata(item, gain=gain, join_ms=join_ms))
                entry.rid = await client.push(self.queue_id, uri)
            except ValueError as exc:  # a URI that cannot go on a command line
                log.error("cannot push item", extra={"item": item.title, "error": str(exc)})
            except LiquidsoapError as exc:
                if not client.connected:  # lost Liquidsoap, not a refusal: restart
                    raise
                log.error("liquidsoap refused item", extra={"item": item.title, "error": str(exc)})
            else:
                entry.state = _PUSHED
                entry.joined = join_ms > 0
                log.info(
                    "item pushed",
                    extra={
                        "item": item.title,
                        "rid": entry.rid,
                        "start_ms": item.start_ms,
                        "join_ms": join_ms,
                        "back_to_back": back_to_back,
                    },
                )
        self._entries.append(entry)

    def _playable(self, item: TimelineItem) -> Playable | None:
        assert item.media_id is not None
        try:
            return self.playable(item.media_id)
        except Exception:
            log.exception("cannot look up media", extra={"media_id": item.media_id})
            return None

    async def _announce_due(self, now: int) -> None:
        """Report, strictly in timeline order, what Liquidsoap started and what was skipped."""
        for i, e in enumerate(self._entries):
            if e.announced:
                continue
            later = [x.heard_ms for x in self._entries[i + 1 :] if x.heard_ms is not None]
            if e.state == _PUSHED:
                if e.heard_ms is not None:
                    await self._announce(e, e.heard_ms)
                    continue
                if not later:
                    return
                e.state = _CORRUPT  # Liquidsoap went past it without playing it
                log.warning("liquidsoap skipped an item", extra={"item": e.item.title})
            # A skip or a gap is reported at its planned time, or when what follows began.
            when = min([e.item.start_ms, *later])
            if now < when:
                return
            await self._announce(e, when)

    async def _announce(self, e: _Entry, actual_ms: int) -> None:
        e.announced = True
        if self._last_actual is not None:
            actual_ms = max(actual_ms, self._last_actual)
        self._last_actual = actual_ms
        self._aired[e.key] = e.item.end_ms
        b = Boundary(
            e.item,
            (actual_ms - self.origin_ms) * SAMPLES_PER_MS,
            actual_ms,
            _OUTCOME[e.state],
            joined=e.joined,
        )
        self.boundaries.append(b)
        log.info(
            "item started",
            extra={
                "title": e.item.title,
                "kind": e.item.kind,
                "outcome": b.outcome,
                "late_ms": actual_ms - e.item.start_ms,
            },
        )
        await notify(self.hooks, b)

    async def _hard_starts(self, client: LiquidsoapClient, now: int) -> None:
        """A hard item waiting behind an item on air: end that item. When what was pushed
        before it runs past its start (the schedule was edited after the push), at its start;
        otherwise (Liquidsoap drifted late), once it is `hard_late_ms` late."""
        for i, e in enumerate(self._entries):
            if e.state != _PUSHED or e.heard_ms is not None:
                continue
            if not e.item.hard or e.skip_sent:
                return
            before = [x for x in self._entries[:i] if x.state == _PUSHED]
            overrun = bool(before) and before[-1].item.end_ms > e.item.start_ms + self.hard_late_ms
            due = (
                e.item.start_ms - self.push_lead_ms
                if overrun
                else e.item.start_ms + self.hard_late_ms
            )
            if now < due:
                return
            on_air = set(await client.on_air())
            if e.rid in on_air or not on_air & {x.rid for x in before}:
                return
            e.skip_sent = True
            log.warning(
                "hard start: ending the item on air",
                extra={"item": e.item.title, "late_ms": now - e.item.start_ms, "overrun": overrun},
            )
            await client.skip(self.queue_id)
            return

    def _prune(self, now: int) -> None:
        done = 0
        for e in self._entries[:-1]:
            if not e.announced or e.item.end_ms + e.item.crossfade_ms > now - 60_000:
                break
            done += 1
        del self._entries[:done]
        for key in [k for k, end in self._aired.items() if end < now - _AIRED_KEEP_MS]:
            del self._aired[key]

    def _forget_unaired(self) -> None:
        """After Liquidsoap died: its queue died with it. The driver starts again from the
        timeline's current item (joined at the current point if it was on air, and not
        reported twice); items whose time passed while Liquidsoap was down did not air and
        are not reported."""
        again = [e.item.title or e.key for e in self._entries if not e.announced]
        if again:
            log.info("planning again after the restart", extra={"items": again})
        self._entries = []
        self._heard = []
        self._read_at = self._verified_at = None
