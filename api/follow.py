"""The API following a playout process that runs elsewhere (`playout/status.py`).

Every `now_playing_follow_s` the API process reads, for each channel it does not play
itself, the now-playing file and the on-air status that playout keeps in storage:

- a now-playing file that changed is handed to this process's hub with the number playout
  gave it, so Server-Sent Events subscribers of every API process get each change (within one
  follow interval) and `Last-Event-ID` means the same in all of them;
- the streams on air are listed by `/api/v1/channels` and the listener count is in
  now-playing, while the status is fresh; a status that stopped being rewritten (playout died
  without removing it) is dropped.

On PostgreSQL playout also tells, by a NOTIFY, each time it has written a now-playing file
(`playout.status.NOW_PLAYING_NOTICES`); `listen` reads that channel's file at once, so a change
reaches the subscribers of every API process within milliseconds. The regular look stays: it
is what finds a change whose notice was lost (the listening connection down, the database
away when playout wrote), and each time the listener is listening again it looks at once.
On SQLite there are no notices, and the look alone follows playout.

A channel this process plays itself (`diaspor demo`, `diaspor serve` beside its own engines)
is left alone: its hub and its streams are first-hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from api.services import Services
from playout.nowplaying import NowPlaying
from playout.status import (
    NOW_PLAYING_NOTICES,
    OnAirStatus,
    nowplaying_key,
    onair_key,
    read_file,
    read_now_playing_notice,
)
from station.notify import Listener

log = logging.getLogger(__name__)


@dataclass
class Follower:
    svc: Services
    every_s: float
    statuses: dict[str, OnAirStatus] = field(default_factory=dict)
    _seen: dict[str, bytes] = field(default_factory=dict)  # the last now-playing file read
    _listed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # on_air we set
    _channels: tuple[Hashable, list[str]] | None = None  # (schedule version, slugs)
    _parsed: dict[str, tuple[bytes | None, OnAirStatus | None]] = field(default_factory=dict)
    _reads: int = 0  # reads of the now-playing files begun, numbered in order
    _followed: dict[str, int] = field(default_factory=dict)  # the read each channel came from

    def listeners(self, slug: str) -> int | None:
        status = self.statuses.get(slug)
        return status.listeners if status is not None else None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._guarded(self.follow_once())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.every_s)

    async def listen(self, stop: asyncio.Event) -> None:
        """On PostgreSQL, beside `run`: each now-playing change playout tells of is followed
        at once, on a connection of this process's own (named in `pg_stat_activity`)."""
        listener = Listener(
            self.svc.db.url,
            NOW_PLAYING_NOTICES,
            application_name=f"diaspor {os.getpid()}: now-playing",
            about="now-playing changes from playout",
            meanwhile=f"now-playing is read from storage every {self.every_s:g} s",
        )
        await listener.run(stop, self._noticed, lambda: self._guarded(self.follow_once()))

    async def _noticed(self, payload: str) -> None:
        notice = read_now_playing_notice(payload)
        if notice is None:
            log.warning("unreadable now-playing notice", extra={"payload": payload[:200]})
            return
        slug, seq = notice
        latest = self.svc.now_playing.latest.get(slug)
        if latest is not None and latest.seq == seq:
            return  # this process has it already (its own, or found by the last look)
        await self._guarded(self.follow_channel(slug))

    @staticmethod
    async def _guarded(following: Awaitable[None]) -> None:
        try:
            await following
        except Exception as exc:  # storage or database away for a moment: next turn
            log.warning("could not follow playout", extra={"error": str(exc)})

    def _read_begins(self) -> int:
        self._reads += 1
        return self._reads

    async def follow_once(self) -> None:
        began = self._read_begins()
        read = await asyncio.to_thread(self._read, self._slugs)  # one trip to a thread
        now = self.svc.clock.now()
        for slug, (np_raw, status_raw) in read.items():
            self._follow_now_playing(slug, np_raw, began)
            status = self._status(slug, status_raw)
            self._follow_status(slug, status if status and status.fresh(now) else None)

    async def follow_channel(self, slug: str) -> None:
        """One channel's now-playing file, read now (playout said that it changed)."""
        began = self._read_begins()
        raw = await asyncio.to_thread(self._read_now_playing, slug)
        self._follow_now_playing(slug, raw, began)

    def _read_now_playing(self, slug: str) -> bytes | None:
        if slug not in self._slugs():
            return None  # not one of this station's channels
        return read_file(self.svc.storage, nowplaying_key(slug))

    def _slugs(self) -> list[str]:
        """The channels, looked up again only when the schedule has changed."""
        version = self.svc.schedules.version()
        if self._channels is None or self._channels[0] != version:
            slugs = [str(ch.data["slug"]) for ch in self.svc.schedules.find("channel")]
            self._channels = (version, slugs)
        return self._channels[1]

    def _status(self, slug: str, raw: bytes | None) -> OnAirStatus | None:
        """The status file as read, parsed again only when it was rewritten."""
        kept = self._parsed.get(slug)
        if kept is not None and kept[0] == raw:
            return kept[1]
        status = None
        try:
            status = OnAirStatus.from_json(raw) if raw else None
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("unreadable on-air status", extra={"channel": slug, "error": str(exc)})
        self._parsed[slug] = (raw, status)
        return status

    def _read(
        self, channels: Callable[[], list[str]]
    ) -> dict[str, tuple[bytes | None, bytes | None]]:
        storage = self.svc.storage
        return {
            s: (read_file(storage, nowplaying_key(s)), read_file(storage, onair_key(s)))
            for s in channels()
        }

    def _first_hand(self, slug: str) -> bool:
        """This process plays the channel itself."""
        listed = self.svc.on_air.get(slug)
        return listed is not None and listed is not self._listed.get(slug)

    def _follow_now_playing(self, slug: str, raw: bytes | None, began: int) -> None:
        """A channel's file as read by the read numbered `began`. Reads overlap (the regular
        look and one told by a notice); one begun before another already followed may have
        found an older file, and is not followed: a channel never goes back."""
        if raw is None or began < self._followed.get(slug, 0):
            return
        self._followed[slug] = began
        if raw == self._seen.get(slug):
            return
        self._seen[slug] = raw
        try:
            event = NowPlaying.from_json(json.loads(raw))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("unreadable now-playing file", extra={"channel": slug, "error": str(exc)})
            return
        latest = self.svc.now_playing.latest.get(slug)
        if self._first_hand(slug) or (latest is not None and latest.seq == event.seq):
            return  # this process published it (or one with its number) already
        self.svc.now_playing.publish(event, keep_seq=True)
        log.info(
            "now playing, from playout",
            extra={
                "channel": slug,
                "seq": event.seq,
                "title": event.current.title if event.current else None,
            },
        )

    def _follow_status(self, slug: str, status: OnAirStatus | None) -> None:
        if self._first_hand(slug):
            self.statuses.pop(slug, None)
            return
        if status is None:
            self.statuses.pop(slug, None)
            if self._listed.pop(slug, None) is not None:
                self.svc.on_air.pop(slug, None)
                log.info("channel off air at playout", extra={"channel": slug})
            return
        self.statuses[slug] = status
        streams = [dict(s) for s in status.streams]
        if self._listed.get(slug) != streams:
            self._listed[slug] = streams
            self.svc.on_air[slug] = streams
            log.info(
                "channel on air at playout",
                extra={"channel": slug, "streams": [s.get("url") for s in streams]},
            )
