"""The API following a playout process that runs elsewhere (`playout/status.py`).

Every `now_playing_follow_s` the API process reads, for each channel it does not play
itself, the now-playing file and the on-air status that playout keeps in storage:

- a now-playing file that changed is handed to this process's hub with the number playout
  gave it, so Server-Sent Events subscribers of every API process get each change (within one
  follow interval) and `Last-Event-ID` means the same in all of them;
- the streams on air are listed by `/api/v1/channels` and the listener count is in
  now-playing, while the status is fresh; a status that stopped being rewritten (playout died
  without removing it) is dropped.

A channel this process plays itself (`diaspor demo`, `diaspor serve` beside its own engines)
is left alone: its hub and its streams are first-hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from api.services import Services
from playout.nowplaying import NowPlaying
from playout.status import OnAirStatus, nowplaying_key, onair_key, read_file

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

    def listeners(self, slug: str) -> int | None:
        status = self.statuses.get(slug)
        return status.listeners if status is not None else None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.follow_once()
            except Exception as exc:  # storage or database away for a moment: next turn
                log.warning("could not follow playout", extra={"error": str(exc)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.every_s)

    async def follow_once(self) -> None:
        read = await asyncio.to_thread(self._read, self._slugs)  # one trip to a thread
        now = self.svc.clock.now()
        for slug, (np_raw, status_raw) in read.items():
            self._follow_now_playing(slug, np_raw)
            status = self._status(slug, status_raw)
            self._follow_status(slug, status if status and status.fresh(now) else None)

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

    def _follow_now_playing(self, slug: str, raw: bytes | None) -> None:
        if raw is None or raw == self._seen.get(slug):
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
