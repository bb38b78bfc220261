"""Now playing: what is on air and what comes next, made from the timeline at a boundary,
handed to subscribers in this process and written as a static JSON file for CDNs."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from schedules.plan import TimelineItem, from_ms, to_ms
from station.errors import StationError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Track:
    title: str
    artist: str
    kind: str
    media_id: int | None
    programme_id: int | None
    started_at: datetime
    ends_at: datetime
    episode_id: int | None = None


@dataclass(frozen=True, slots=True)
class NowPlaying:
    channel: str
    current: Track | None
    next: tuple[Track, ...] = ()
    live: bool = False
    presenter: str | None = None
    seq: int = 0  # increases with every change: the SSE event id

    def to_json(
        self,
        now: datetime | None = None,
        artwork: Mapping[int, str | None] | None = None,
    ) -> dict[str, Any]:
        """The public shape. Given `now` (the reader's moment, not the event's), the current
        item also says how far in it is; `artwork` maps media ids to the URL of their art."""
        art = artwork or {}

        def track(t: Track | None) -> dict[str, Any] | None:
            if t is None:
                return None
            d = asdict(t)
            d["started_at"] = t.started_at.isoformat()
            d["ends_at"] = t.ends_at.isoformat()
            d["duration_ms"] = to_ms(t.ends_at) - to_ms(t.started_at)
            d["artwork"] = art.get(t.media_id) if t.media_id is not None else None
            return d

        current = track(self.current)
        if current is not None and self.current is not None and now is not None:
            elapsed, remaining = progress(self.current, now)
            current["elapsed_ms"] = elapsed
            current["remaining_ms"] = remaining
        return {
            "channel": self.channel,
            "current": current,
            "next": [track(t) for t in self.next],
            "live": self.live,
            "presenter": self.presenter,
            "seq": self.seq,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> NowPlaying:
        """Back from `to_json` (as written to storage by another process)."""

        def track(t: Mapping[str, Any] | None) -> Track | None:
            if t is None:
                return None
            return Track(
                str(t["title"]),
                str(t["artist"]),
                str(t["kind"]),
                t.get("media_id"),
                t.get("programme_id"),
                datetime.fromisoformat(t["started_at"]),
                datetime.fromisoformat(t["ends_at"]),
                t.get("episode_id"),
            )

        nxt = tuple(x for x in (track(t) for t in d.get("next") or []) if x is not None)
        return cls(
            str(d["channel"]),
            track(d.get("current")),
            nxt,
            bool(d.get("live")),
            d.get("presenter"),
            int(d.get("seq") or 0),
        )


def progress(track: Track, now: datetime) -> tuple[int, int]:
    """Milliseconds played and left of a track at `now`, each clamped to its length."""
    start, end, at = to_ms(track.started_at), to_ms(track.ends_at), to_ms(now)
    length = max(0, end - start)
    elapsed = min(max(0, at - start), length)
    return elapsed, length - elapsed


def track_of(item: TimelineItem) -> Track:
    return Track(
        item.title,
        item.artist,
        item.kind,
        item.media_id,
        item.programme_id,
        from_ms(item.start_ms),
        from_ms(item.end_ms),
        item.episode_id,
    )


def now_playing(
    channel: str,
    items: Sequence[TimelineItem],
    now_ms: int,
    *,
    upcoming: int = 3,
    seq: int = 0,
    live: TimelineItem | None = None,
) -> NowPlaying:
    """The item on air at now_ms and the few after it (slates are not worth announcing).
    While a presenter is live, the live item is current and the schedule after it is next."""
    if live is not None:
        current: TimelineItem | None = live
        after = live.end_ms - 1
    else:
        current = next((i for i in items if i.start_ms <= now_ms < i.end_ms), None)
        after = now_ms
    later = [i for i in items if i.start_ms > after and i.kind != "slate"][:upcoming]
    return NowPlaying(
        channel,
        track_of(current) if current and current.kind != "slate" else None,
        tuple(track_of(i) for i in later),
        live=live is not None,
        presenter=(live.artist or None) if live is not None else None,
        seq=seq,
    )


class Inbox:
    """One subscriber's changes: the newest not yet taken of each channel it follows (every
    channel when `channels` is None). A slow subscriber holds at most one change per channel,
    so it never holds up the others, and never misses that a channel changed."""

    def __init__(self, channels: frozenset[str] | None) -> None:
        self.channels = channels
        self._pending: dict[str, NowPlaying] = {}
        self._ready = asyncio.Event()

    def put(self, event: NowPlaying) -> None:
        self._pending.pop(event.channel, None)  # the newest goes to the back of the line
        self._pending[event.channel] = event
        self._ready.set()

    async def get(self) -> NowPlaying:
        """The oldest change waiting (its channel's newest), waiting for one if none is."""
        while not self._pending:
            self._ready.clear()
            await self._ready.wait()
        channel = next(iter(self._pending))
        return self._pending.pop(channel)

    def qsize(self) -> int:
        return len(self._pending)


@dataclass
class NowPlayingHub:
    """The latest now-playing per channel, and the subscribers waiting for the next one."""

    latest: dict[str, NowPlaying] = field(default_factory=dict)
    # by channel; None: subscribers to every channel
    _subscribers: dict[str | None, set[Inbox]] = field(default_factory=dict)

    def publish(self, event: NowPlaying, *, keep_seq: bool = False) -> NowPlaying:
        """Hand a change to every subscriber, numbered one after the latest (or, with
        keep_seq, as numbered by the process that made it)."""
        prev = self.latest.get(event.channel)
        seq = event.seq if keep_seq else (prev.seq if prev else 0) + 1
        event = NowPlaying(
            event.channel, event.current, event.next, event.live, event.presenter, seq
        )
        self.latest[event.channel] = event
        for key in (event.channel, None):
            for inbox in self._subscribers.get(key, ()):
                inbox.put(event)
        return event

    def subscribe(self, channel: str | None) -> Inbox:
        """Changes of one channel, or of every channel (None)."""
        inbox = Inbox(None if channel is None else frozenset((channel,)))
        self._subscribers.setdefault(channel, set()).add(inbox)
        return inbox

    def unsubscribe(self, inbox: Inbox) -> None:
        channel = None if inbox.channels is None else next(iter(inbox.channels))
        self._subscribers.get(channel, set()).discard(inbox)


def json_bytes(event: NowPlaying) -> bytes:
    return json.dumps(event.to_json(), ensure_ascii=False).encode()


class NowPlayingPublisher:
    """The one owner of now-playing in a playout process: each change goes to this process's
    hub (its SSE subscribers) at once and to `nowplaying/<channel>.json` in storage (API
    processes elsewhere and CDNs read it). A storage write that fails raises, so the caller's
    side-effect worker retries it; the hub has the change already.

    With `announce` (on PostgreSQL: a NOTIFY), the API processes are then told that the file
    changed, so they need not wait for their next look. Only after the write, so that what
    they read is the new file; and a notice that cannot be sent is only logged: the file is
    written, and the API processes find it at their next look."""

    def __init__(
        self,
        hub: NowPlayingHub,
        write: Callable[[str, bytes], None],
        announce: Callable[[NowPlaying], None] | None = None,
    ) -> None:
        self.hub = hub
        self._write = write
        self._announce = announce

    async def publish(self, event: NowPlaying) -> NowPlaying:
        event = self.hub.publish(event)
        await asyncio.to_thread(self._write, event.channel, json_bytes(event))
        if self._announce is not None:
            try:
                await asyncio.to_thread(self._announce, event)
            except StationError as exc:
                log.warning(
                    "could not tell the API processes of the new now-playing at once; "
                    "they read it from storage at their next look",
                    extra={"channel": event.channel, "seq": event.seq, "error": exc.message},
                )
        return event

    async def boundary(
        self,
        channel: str,
        b: Any,
        items: Sequence[TimelineItem],
        live: TimelineItem | None,
    ) -> None:
        """A radio boundary (playout.radio.Boundary). An item the presenter talks over is
        not news: the live item stays current."""
        if b.outcome == "overridden-by-live":  # playout.asrun.Outcome.OVERRIDDEN
            return
        await self.publish(now_playing(channel, items, b.actual_ms, live=live))
