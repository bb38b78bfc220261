"""HLS viewers as sessions: a player of a channel's live stream (radio or TV), or of an
on-demand episode's package, seen through the playlists and segments it fetches.

One session per player: a visitor (address and User-Agent) on one channel and surface. It
begins with the first request, goes on while requests keep coming, and ends when none has
come for `timeout` (three target durations, at least `MIN_TIMEOUT_S`), at its last request.
What it was delivered is the sum of the durations (EXTINF) of the distinct segments it
fetched, learnt from the media playlists as they are served: a TV channel's playlists list
segments of packaged assets and slates stored elsewhere, so a segment belongs to the channel
whose playlist listed it, not to its path. The same segment of an asset may be listed both by a
TV channel's live playlist and by the asset's own on-demand playlists: it counts for the place
whose playlist that player was reading. An on-demand play (surface `vod`) is a session of the
episode whose media the package is (`episode_id`; its channel none).

Its ledger row is opened at the first request, brought up to date every HEARTBEAT_S and when
the process stops (`flush`), closed when it ends. A player that goes on after the process
restarted continues the open row of its visitor on that channel (`Ledger.find_open`): no
session lost, none counted twice. All of it goes through the reports queue: nothing here
waits on the database. The address is kept in memory while the session lasts, never written.
"""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from sqlalchemy import select

from audience.ledger import HEARTBEAT_S, Arrival, Ledger, Surface
from audience.report_queue import Reports
from schedules.models import EpisodeRow
from station.clock import Clock

SWEEP_S = 2.0  # how often the sessions are looked over (ended, brought up to date)
MIN_TIMEOUT_S = 20  # a player that asked nothing for this long has stopped
CONTINUE_S = 120  # after a restart, an open row last seen this recently is continued
KNOWN_SEGMENTS = 50_000  # segments whose duration and channel are remembered
SEGMENTS_PER_VIEW = 2_000  # distinct segments remembered per session (a long one forgets)
PLACES = {"radio": Surface.RADIO_HLS, "tv": Surface.TV_HLS}


ASSET = "asset:"  # the place of an on-demand play: the packaged media item's id after it


def channel_of(key: str) -> tuple[Surface, str] | None:
    """The surface and place of a playlist's storage key: a live channel's (`hls/radio/<slug>/…`,
    `hls/tv/<slug>/…`: the channel's slug), or an on-demand package's
    (`hls/assets/<media id>/<publication>/…`: `asset:<media id>`); None for any other file."""
    parts = key.split("/")
    if len(parts) < 4 or parts[0] != "hls" or not parts[2]:
        return None
    if parts[1] == "assets" and parts[2].isdigit():
        return Surface.VOD, f"{ASSET}{int(parts[2])}"
    if parts[1] not in PLACES:
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
        # A segment's duration, by the places whose playlists list it (newest last).
        self.known: OrderedDict[str, dict[tuple[Surface, str], int]] = OrderedDict()
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
                places = self.known.setdefault(path, {})
                places.pop(where, None)
                places[where] = ms
                self.known.move_to_end(path)
            while len(self.known) > KNOWN_SEGMENTS:
                self.known.popitem(last=False)
        self._view(where, address, agent, at)

    def segment(self, key: str, address: str, agent: str, at: datetime) -> None:
        places = self.known.get(key)
        if not places:
            return
        # The place whose playlist this player reads; else the last to list the segment.
        mine = [w for w in places if (*w, address, agent) in self.views]
        where = mine[-1] if mine else next(reversed(places))
        ms = places[where]
        view = self._view(where, address, agent, at)
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
    vod = view.channel.startswith(ASSET)
    found = ledger.find_open(
        view.surface,
        None if vod else view.channel,
        visitor,
        view.started,
        CONTINUE_S,
        mount=view.channel if vod else None,
    )
    if found is not None:
        view.key, view.base_s = found
        ledger.progress(view.key, view.started, view.base_s)
        return
    key = f"{view.surface}:{view.channel}:{visitor}:{int(view.started.timestamp() * 1000)}"
    if vod:  # an on-demand play: of its episode, on no channel
        media_id = int(view.channel.removeprefix(ASSET))
        arrival = Arrival(
            key,
            view.surface,
            view.started,
            view.address,
            view.agent,
            mount=view.channel,
            episode_id=episode_of(ledger, media_id),
        )
    else:
        arrival = Arrival(
            key, view.surface, view.started, view.address, view.agent, channel=view.channel
        )
    ledger.open(arrival)
    view.key = key


def episode_of(ledger: Ledger, media_id: int) -> int | None:
    """The episode whose media a package is (the first, when several share it)."""
    with ledger.db.session() as s:
        found = s.execute(
            select(EpisodeRow.id).where(EpisodeRow.media_id == media_id).order_by(EpisodeRow.id)
        ).first()
    return None if found is None else int(found[0])


def end(ledger: Ledger, *, view: View, at: datetime, seconds: int) -> None:
    if view.key is not None:
        ledger.close(view.key, at, seconds)


async def keep_swept(views: HlsViews, clock: Clock, stop: asyncio.Event) -> None:
    """Until `stop`: sessions whose players stopped asking end; open ones are reported on in
    time. (The caller flushes when it stops.)"""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SWEEP_S)
        views.sweep(clock.now())
