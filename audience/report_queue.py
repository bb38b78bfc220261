"""The way surfaces hand their sessions to the ledger without waiting on the database.

A surface that runs on an event loop (the relay's listeners, the API's HLS and download
counting) must never make a database call there: a database that blinks would stall the audio
or the answers. It `put`s a report (a call on the ledger) into a bounded queue and goes on; one
task drains the queue in order, handing each batch to a thread. A report that fails because
the database is away is tried again, in order, with the station's back-off; past
`give_up_s`, or when the queue is full, reports are dropped with a warning and counted
(`diaspor_audience_reports_dropped_total`): the audio and the answers go on either way.

The drain task is started by the first report and belongs to this object; `drain()` waits
until what was reported has been written (a stop, a test), `aclose()` ends the task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from audience.ledger import Ledger
from station.backoff import Backoff
from station.metrics import Metrics

log = logging.getLogger(__name__)

Report = Callable[[Ledger], object]
MAX_QUEUED = 50_000  # reports waiting; past it new ones are dropped
BATCH = 500  # reports written per trip to the thread
GIVE_UP_S = 600.0  # the database away this long: what waits is dropped


class Reports:
    def __init__(
        self,
        ledger: Ledger,
        *,
        metrics: Metrics | None = None,
        max_queued: int = MAX_QUEUED,
        give_up_s: float = GIVE_UP_S,
        backoff: Backoff | None = None,
    ) -> None:
        self.ledger = ledger
        self.metrics = metrics
        self.max_queued = max_queued
        self.give_up_s = give_up_s
        self.backoff = backoff or Backoff(base_s=0.5, max_s=10.0, first_s=0.5)
        self._queue: deque[Report] = deque()
        self._wake: asyncio.Event | None = None
        self._idle: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    # on the event loop: never blocks

    def put(self, report: Report) -> bool:
        """Queue a report; False (counted, warned) when the queue is full."""
        if len(self._queue) >= self.max_queued:
            self._drop(1, "the audience queue is full")
            return False
        self._queue.append(report)
        self._ensure_task()
        assert self._wake is not None and self._idle is not None
        self._idle.clear()
        self._wake.set()
        return True

    async def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every report so far has been written (or dropped); False on timeout."""
        if self._idle is None or (not self._queue and self._idle.is_set()):
            return True
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    async def aclose(self, timeout: float = 10.0) -> None:
        await self.drain(timeout)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # the drain task

    def _ensure_task(self) -> None:
        loop = asyncio.get_running_loop()
        task = self._task
        if task is not None and not task.done() and task.get_loop() is loop:
            return
        self._wake, self._idle = asyncio.Event(), asyncio.Event()
        self._task = loop.create_task(self._run(), name="audience reports")

    async def _run(self) -> None:
        assert self._wake is not None and self._idle is not None
        failing_since: float | None = None
        failures = 0
        while True:
            if not self._queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = [self._queue[i] for i in range(min(BATCH, len(self._queue)))]
            done = await asyncio.to_thread(self._write, batch)
            for _ in range(done):
                self._queue.popleft()
            if done == len(batch):
                failing_since, failures = None, 0
                continue
            now = time.monotonic()
            failing_since = failing_since or now
            failures += 1
            if now - failing_since > self.give_up_s:
                n = len(self._queue)
                self._queue.clear()
                self._drop(n, "the database has been away too long")
                failing_since, failures = None, 0
                continue
            await asyncio.sleep(self.backoff.delay(failures + 1))

    def _write(self, batch: list[Report]) -> int:
        """In a thread: the reports in order; how many were written before one failed."""
        for i, report in enumerate(batch):
            try:
                report(self.ledger)
            except SQLAlchemyError as exc:
                log.warning(
                    "audience report not written; will try again",
                    extra={"error": str(exc).splitlines()[0], "waiting": len(self._queue)},
                )
                return i
            except Exception:  # a fault in the report itself: retrying would not help
                log.exception("audience report failed; skipped")
        return len(batch)

    def _drop(self, n: int, why: str) -> None:
        self.dropped += n
        if self.metrics is not None:
            self.metrics.audience_dropped.inc(n)
        log.warning("audience reports dropped: " + why, extra={"reports": n})
