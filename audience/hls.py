"""HLS viewers as sessions: a player of a channel's live stream (radio or TV), seen through
the playlists and segments it fetches.

One session per player: a visitor (address and User-Agent) on one channel and surface. It
begins with the first request, goes on while requests keep coming, and ends when none has
come for `timeout` (three target durations, at least `MIN_TIMEOUT_S`), at its last request.
What it was delivered is the sum of the durations (EXTINF) of the distinct segments it
fetched, learnt from the media playlists as they are served: a TV channel's playlists list
segments of packaged assets and slates stored elsewhere, so a segment belongs to the channel
whose playlist listed it, not to its path.

Its ledger row is opened at the first request, brought up to date every HEARTBEAT_S and when
the process stops (`flush`), closed when it ends. A player that goes on after the process
restarted continues the open row of its visitor on that channel (`Ledger.find_open`): no
session lost, none counted twice. All of it goes through the reports queue: nothing here
waits on the database. The address is kept in memory while the session lasts, never written.
"""

from __future__ import annotations

import posixpath
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from audience.ledger import HEARTBEAT_S, Arrival, Ledger, Surface
from audience.report_queue import Reports

MIN_TIMEOUT_S = 20  # a player that asked nothing for this long has stopped
CONTINUE_S = 120  # after a restart, an open row last seen this recently is continued
KNOWN_SEGMENTS = 50_000  # segments whose duration and channel are remembered
SEGMENTS_PER_VIEW = 2_000  # distinct segments remembered per session (a long one forgets)
PLACES = {"radio": Surface.RADIO_HLS, "tv": Surface.TV_HLS}


def channel_of(key: str) -> tuple[Surface, str] | None:
    """The surface and channel of a live playlist's storage key (`hls/radio/<slug>/…`,
    `hls/tv/<slug>/…`); None for any other file."""
    parts = key.split("/")
    if len(parts) < 4 or parts[0] != "hls" or parts[1] not in PLACES or not parts[2]:
        return None
    return PLACES[parts[1]], parts[2]


@dataclass(frozen=True, slots=True)
class Listing:
    """What a media playlist says of its segments."""

    target_s: int
    segments: tuple[tuple[str, int], ...]  # (storage key, duration in ms)


def read_playlist(key: str, text: str) -> Listing:
    """The segments of a media playlist served at `key`, their keys resolved against it
    (a master playlist lists none)."""
    folder = posixpath.dirname(key)
    target = 0
    segments: list[tuple[str, int]] = []
    duration: int | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#EXT-X-TARGETDURATION:"):
            target = int(_number(line.split(":", 1)[1], target))
        elif line.startswith("#EXTINF:"):
            value = line.split(":", 1)[1].split(",", 1)[0]
            duration = round(_number(value, 0) * 1000) or None
        elif line and not line.startswith("#") and duration is not None:
            uri = line.split("?", 1)[0]
            if "://" not in uri:
                path = uri.lstrip("/") if uri.startswith("/") else f"{folder}/{uri}"
                segments.append((posixpath.normpath(path), duration))
            duration = None
    return Listing(target, tuple(segments))


def _number(text: str, default: int) -> float | int:
    """A playlist's number; a malformed one (not ours to fix here) counts as `default`."""
    try:
        value = float(text)
    except ValueError:
        return default
    return value if value == value and 0 <= value < 86_400 else default


@dataclass(eq=False)
class View:
    surface: Surface
    channel: str
    address: str  # in memory while it lasts, for the ledger's visitor hash and country
    agent: str
    started: datetime
    last: datetime
    timeout_s: int
    reported: datetime
    ms: int = 0
    base_s: int = 0  # what the row had when this process took it over after a restart
    key: str | None = None  # the ledger's key, once its first report has been written
    segments: OrderedDict[str, None] = field(default_factory=OrderedDict)

    @property
    def seconds(self) -> int:
        return self.base_s + round(self.ms / 1000)


class HlsViews:
    """The sessions of one process's HLS players; call from one event loop."""

    def __init__(self, reports: Reports) -> None:
        self.reports = reports
        self.views: dict[tuple[Surface, str, str, str], View] = {}
        self.known: OrderedDict[str, tuple[int, Surface, str]] = OrderedDict()
        self.targets: dict[tuple[Surface, str], int] = {}

    def playlist(self, key: str, text: str | None, address: str, agent: str, at: datetime) -> None:
        """A playlist was served (`text`; None for a 304: the player is still there)."""
        where = channel_of(key)
        if where is None:
            return
        if text is not None:
            listing = read_playlist(key, text)
            if listing.target_s:
                self.targets[where] = listing.target_s
            for path, ms in listing.segments:
                self.known[path] = (ms, *where)
                self.known.move_to_end(path)
            while len(self.known) > KNOWN_SEGMENTS:
                self.known.popitem(last=False)
        self._view(where, address, agent, at)

    def segment(self, key: str, address: str, agent: str, at: datetime) -> None:
        found = self.known.get(key)
        if found is None:
            return
        ms, surface, channel = found
        view = self._view((surface, channel), address, agent, at)
        if key not in view.segments:
            view.segments[key] = None
            view.ms += ms
            if len(view.segments) > SEGMENTS_PER_VIEW:
                view.segments.popitem(last=False)

    def _view(self, where: tuple[Surface, str], address: str, agent: str, at: datetime) -> View:
        surface, channel = where
        ident = (surface, channel, address, agent)
        view = self.views.get(ident)
        if view is not None:
            view.last = max(view.last, at)
            return view
        timeout = max(MIN_TIMEOUT_S, 3 * self.targets.get(where, 0))
        view = View(surface, channel, address, agent, at, at, timeout, at)
        self.views[ident] = view
        self.reports.put(lambda ledger: begin(ledger, view))
        return view

    def sweep(self, now: datetime) -> None:
        """End the sessions whose players stopped asking; report on those due."""
        for ident, view in list(self.views.items()):
            if (now - view.last).total_seconds() > view.timeout_s:
                del self.views[ident]
                self.reports.put(partial(end, view=view, at=view.last, seconds=view.seconds))
            elif (now - view.reported).total_seconds() >= HEARTBEAT_S:
                self._progress(view, now)

    def flush(self, now: datetime) -> None:
        """Every open session brought up to date (the process is stopping: a player that goes
        on is continued by the next one)."""
        for view in self.views.values():
            self._progress(view, now)

    def _progress(self, view: View, now: datetime) -> None:
        view.reported = now
        at, seconds = view.last, view.seconds

        def report(ledger: Ledger) -> None:
            if view.key is not None:
                ledger.progress(view.key, at, seconds)

        self.reports.put(report)


def begin(ledger: Ledger, view: View) -> None:
    """In the reports' thread: continue the visitor's open row on this channel, or open one."""
    visitor = ledger.visitor(view.started, view.address, view.agent)
    found = ledger.find_open(view.surface, view.channel, visitor, view.started, CONTINUE_S)
    if found is not None:
        view.key, view.base_s = found
        ledger.progress(view.key, view.started, view.base_s)
        return
    key = f"{view.surface}:{view.channel}:{visitor}:{int(view.started.timestamp() * 1000)}"
    ledger.open(
        Arrival(key, view.surface, view.started, view.address, view.agent, channel=view.channel)
    )
    view.key = key


def end(ledger: Ledger, *, view: View, at: datetime, seconds: int) -> None:
    if view.key is not None:
        ledger.close(view.key, at, seconds)
