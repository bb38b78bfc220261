"""The built-in relay's listeners in the ledger: what the relay tells its listener-sessions
sink (`streamer.relay.ListenerSessions`) queued as ledger reports (audience/report_queue.py), so
that nothing the relay does waits on the database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from audience.ledger import HEARTBEAT_S, Arrival, Surface
from audience.report_queue import Reports


class RelaySessions:
    def __init__(self, reports: Reports, channel_of: Callable[[str], str | None]) -> None:
        self.reports = reports
        self.channel_of = channel_of  # a mount's channel (None: a mount of no channel)
        self.every_s = float(HEARTBEAT_S)
        self._beats: list[tuple[str, datetime, int, int]] = []

    def joined(self, key: str, mount: str, address: str, user_agent: str, at: datetime) -> None:
        a = Arrival(key, Surface.RELAY, at, address, user_agent, self.channel_of(mount), mount)
        self.reports.put(lambda ledger: ledger.open(a))

    def going(self, key: str, at: datetime, seconds: int, nbytes: int) -> None:
        # A heartbeat tells of every listener in one go: one report (one transaction) for all.
        self._beats.append((key, at, seconds, nbytes))
        if len(self._beats) == 1:
            asyncio.get_running_loop().call_soon(self._beat)

    def _beat(self) -> None:
        beats, self._beats = self._beats, []
        self.reports.put(lambda ledger: ledger.progress_many(beats))

    def left(self, key: str, at: datetime, seconds: int, nbytes: int) -> None:
        self.reports.put(lambda ledger: ledger.close(key, at, seconds, nbytes))
