"""The audience ledger's upkeep, a background step run where the station runs background
work (`diaspor worker`, or `diaspor serve` with its worker): the sessions of a process that
died are ended, closed sessions are rolled up, sessions older than the retention are deleted
(with the visitors of their days), and the day keys of days before yesterday are forgotten.

Every step is idempotent: a restart, or two processes doing it at once, counts nothing twice
(audience/rollups.py says how)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from audience.ledger import Ledger
from audience.rollups import Rollups
from station.clock import Clock, pause
from station.db import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Done:
    abandoned: int
    rolled: int
    purged: int
    keys_forgotten: int


class Upkeep:
    def __init__(self, db: Database, clock: Clock, retention_days: int) -> None:
        self.ledger = Ledger(db)
        self.rollups = Rollups(db)
        self.clock = clock
        self.retention_days = retention_days  # 0: sessions are kept for ever

    def once(self) -> Done:
        now = self.clock.now()
        abandoned = self.ledger.close_abandoned(now)
        rolled = self.rollups.roll_up()
        purged = 0
        if self.retention_days:
            before = now - timedelta(days=self.retention_days)
            purged = self.ledger.purge(before)
            self.rollups.forget_before(before.date())
        keys = self.ledger.days.forget_before(now.date() - timedelta(days=1))
        done = Done(abandoned, rolled, purged, keys)
        if rolled or purged:
            log.info(
                "audience rolled up",
                extra={"rolled": rolled, "purged": purged, "abandoned": abandoned},
            )
        return done

    async def run(self, stop: asyncio.Event, every_s: float) -> None:
        """Every `every_s` until `stop` is set; the database's work off the event loop."""
        while not stop.is_set():
            await asyncio.to_thread(self.once)
            await pause(self.clock, stop, every_s)
