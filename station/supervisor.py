"""Who owns the long-running tasks of a process, and what each part is doing.

`Supervisor` runs every part (a channel's engine, its hooks, followers, the status writer)
in one TaskGroup. A part that raises, or ends while the process is meant to run, is logged
with its reason and started again after the one back-off policy's wait; while it is down,
and until it has run well for the policy's `stable_s`, `Health` says that part is degraded
and why. An essential part that cannot be kept running for `give_up_s` stops the whole
process with `GaveUp`, so the command exits non-zero and systemd or compose starts it again:
a process that stays up with its channel silent is the worst outcome of all.

`Health` is also where parts that keep running but are impaired say so (a hook whose writes
fail, a decoder replaced by filler, storage unreachable): the on-air status, `/health` and the
playout process's own health answer read it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from station.backoff import Attempts, Backoff
from station.clock import SystemClock, pause
from station.errors import StationError

log = logging.getLogger(__name__)


class GaveUp(StationError):
    """An essential part could not be kept running: the process must be restarted."""

    reason = "gave-up"


@dataclass(slots=True)
class PartState:
    channel: str | None
    ok: bool = True
    reason: str = ""
    since: datetime | None = None
    failures: int = 0  # counted over the process's life
    until: float | None = None  # a passing trouble: degraded until then (monotonic)

    def expire(self, now: float) -> None:
        if not self.ok and self.until is not None and now >= self.until:
            self.ok, self.reason, self.since, self.until = True, "", None, None

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "status": "ok" if self.ok else "degraded",
            "reason": self.reason or None,
            "since": self.since.isoformat() if self.since else None,
            "failures": self.failures,
        }


@dataclass
class Health:
    """Each part's state, by name ("diaspor-fm/engine", "diaspor-tv/as-run" …)."""

    parts: dict[str, PartState] = field(default_factory=dict)
    fatal: str | None = None  # set when the supervisor gave up
    # Where playout runs beside a standby (PostgreSQL, station/leadership.py): "leader" or
    # "standby", and who leads ("pid@host"); None where it leads alone (SQLite).
    role: str | None = None
    leader: str | None = None

    def register(self, part: str, channel: str | None = None) -> None:
        self.parts.setdefault(part, PartState(channel))

    def degraded(
        self, part: str, reason: str, channel: str | None = None, *, hold_s: float | None = None
    ) -> None:
        """The part is impaired, until `ok(part)`; or, for a trouble that was dealt with at
        once (a killed encoder started again), for `hold_s` seconds after it happened."""
        state = self.parts.setdefault(part, PartState(channel))
        state.failures += 1
        if state.ok or state.reason != reason:
            log.warning("degraded: %s", reason, extra={"part": part, "channel": state.channel})
        if state.ok:
            state.since = datetime.now(UTC)
        state.ok, state.reason = False, reason
        state.until = time.monotonic() + hold_s if hold_s is not None else None

    def forget(self, parts: Iterable[str]) -> None:
        """Parts that no longer run (a leader's channels, once it stands by)."""
        for part in parts:
            self.parts.pop(part, None)

    def ok(self, part: str) -> None:
        state = self.parts.get(part)
        if state is not None and not state.ok:
            log.info(
                "recovered", extra={"part": part, "channel": state.channel, "after": state.reason}
            )
            state.ok, state.reason, state.since, state.until = True, "", None, None

    def _current(self) -> dict[str, PartState]:
        now = time.monotonic()
        for p in self.parts.values():
            p.expire(now)
        return self.parts

    def snapshot(self) -> list[tuple[str, bool, str | None, int]]:
        """Each part as (name, ok, channel, failures), for the metrics."""
        return [(n, p.ok, p.channel, p.failures) for n, p in list(self._current().items())]

    @property
    def status(self) -> str:
        """failed, degraded, ok; or standby: a standby ready to take over (one that could
        not, the database away, is degraded)."""
        if self.fatal:
            return "failed"
        if not all(p.ok for p in self._current().values()):
            return "degraded"
        return "standby" if self.role == "standby" else "ok"

    def channel_status(self, channel: str) -> dict[str, Any]:
        """One channel's parts: what the on-air status carries to the API processes."""
        mine = {n: p for n, p in self._current().items() if p.channel == channel}
        bad = {n: p.reason for n, p in mine.items() if not p.ok}
        return {"status": "degraded" if bad else "ok", "degraded": bad}

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "role": self.role,
            "leader": self.leader,
            "fatal": self.fatal,
            "parts": {n: p.to_json() for n, p in sorted(self._current().items())},
        }


Runner = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


@dataclass(frozen=True, slots=True)
class Part:
    name: str
    run: Runner
    channel: str | None = None
    essential: bool = True  # giving up on it stops the process
    policy: Backoff | None = None  # its own waits (else the supervisor's)


@dataclass
class Supervisor:
    health: Health = field(default_factory=Health)
    policy: Backoff = field(default_factory=Backoff)
    give_up_s: float = 120.0
    running: asyncio.Event = field(default_factory=asyncio.Event)
    _pending: list[Part] = field(default_factory=list)
    _group: asyncio.TaskGroup | None = None
    _stop: asyncio.Event | None = None

    def add(self, part: Part) -> None:
        """A part to keep running; parts added while the supervisor runs start at once."""
        self.health.register(part.name, part.channel)
        if self._group is not None and self._stop is not None:
            self._group.create_task(self._keep(part, self._stop), name=part.name)
        else:
            self._pending.append(part)

    def spawn(
        self,
        name: str,
        run: Runner,
        *,
        channel: str | None = None,
        essential: bool = True,
        policy: Backoff | None = None,
    ) -> None:
        self.add(Part(name, run, channel, essential, policy))

    async def run(self, stop: asyncio.Event) -> None:
        """Every part until `stop` is set (and each has ended); raises GaveUp if an essential
        part could not be kept running. Parts may be added while it runs (`running` is set
        once they can be)."""
        self._stop = stop
        async with asyncio.TaskGroup() as group:
            self._group = group
            group.create_task(stop.wait(), name="until stopped")
            for part in self._pending:
                group.create_task(self._keep(part, stop), name=part.name)
            self._pending.clear()
            self.running.set()
        self._group = None
        if self.health.fatal:
            raise GaveUp(self.health.fatal)

    async def _keep(self, part: Part, stop: asyncio.Event) -> None:
        policy = part.policy or self.policy
        attempts = Attempts(policy)
        clock = SystemClock()
        while not stop.is_set():
            attempts.started()
            task = asyncio.create_task(part.run(stop), name=part.name)
            try:
                done, _ = await asyncio.wait({task}, timeout=policy.stable_s)
                if not done:  # it has run well for a while
                    self.health.ok(part.name)
                    attempts.succeeded()
                await task
                if stop.is_set():
                    return
                reason = "ended by itself"
                log.error(
                    "part ended while on air; starting it again",
                    extra={"part": part.name, "channel": part.channel},
                )
            except asyncio.CancelledError:
                task.cancel()
                raise
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                log.error(
                    "part failed; starting it again",
                    exc_info=True,
                    extra={"part": part.name, "channel": part.channel, "why": reason},
                )
            wait = attempts.failed()
            self.health.degraded(part.name, reason, part.channel)
            if part.essential and attempts.failing_for() >= self.give_up_s:
                self.health.fatal = (
                    f"{part.name} could not be kept running for {self.give_up_s:.0f} s "
                    f"({attempts.total} failures; last: {reason})"
                )
                log.critical(
                    "giving up: the process stops so that it can be started again",
                    extra={"part": part.name, "why": reason},
                )
                stop.set()
                return
            await pause(clock, stop, wait)
