"""How a boundary reaches its side effects (as-run, now-playing, titles) without ever stopping
the air.

`notify` is the one place an engine calls its hooks: a hook that raises is logged, and the
engine goes on. `HookDispatch` is the hook that on-air channels use: the engine hands it a
boundary and returns at once; each side effect has its own queue and worker, and a write that
fails (the database or storage away) is retried with the station's back-off policy, counted,
and shown in health until it goes through. Side effects where only the newest value matters
(a title, now-playing) keep only the newest boundary; the as-run keeps every one, in order,
so what aired while the database was away is written when it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from station.backoff import Attempts, Backoff
from station.clock import SystemClock, pause
from station.supervisor import Health

log = logging.getLogger(__name__)
B = TypeVar("B")
HookFn = Callable[[B], Awaitable[None] | None]
# Side effects are retried quickly at first, then every 15 s at most.
HOOK_RETRY = Backoff(base_s=1.0, max_s=15.0, first_s=0.5)


async def call(fn: Callable[[B], Awaitable[None] | None], value: B) -> None:
    r = fn(value)
    if inspect.isawaitable(r):
        await r


async def notify(hooks: Iterable[Callable[[B], Awaitable[None] | None]], value: B) -> None:
    """Call each hook with a boundary; one that fails is logged, the others still run."""
    for hook in hooks:
        try:
            await call(hook, value)
        except Exception:
            log.exception("boundary hook failed", extra={"hook": getattr(hook, "__name__", hook)})


@dataclass(frozen=True, slots=True)
class Hook(Generic[B]):
    name: str  # as health shows it: "as-run", "now-playing", "titles"
    fn: HookFn[B]
    latest_only: bool = False  # only the newest boundary matters


@dataclass
class _Lane(Generic[B]):
    hook: Hook[B]
    queue: deque[B] = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    attempts: Attempts = field(default_factory=lambda: Attempts(HOOK_RETRY))
    dropped: int = 0


class HookDispatch(Generic[B]):
    """A boundary hook that never blocks or fails the engine; `run` does the work."""

    def __init__(
        self,
        channel: str,
        hooks: Sequence[Hook[B]],
        health: Health | None = None,
        *,
        policy: Backoff = HOOK_RETRY,
        limit: int = 10_000,
    ) -> None:
        self.channel = channel
        self.health = health or Health()
        self.limit = limit
        self._lanes = [_Lane(h, attempts=Attempts(policy)) for h in hooks]
        for lane in self._lanes:
            self.health.register(self.part(lane), channel)

    def part(self, lane: _Lane[B]) -> str:
        return f"{self.channel}/{lane.hook.name}"

    def __call__(self, value: B) -> None:
        for lane in self._lanes:
            if lane.hook.latest_only:
                lane.queue.clear()
            elif len(lane.queue) >= self.limit:
                lane.queue.popleft()
                lane.dropped += 1
                log.error(
                    "side effect backlog full: oldest boundary dropped",
                    extra={"part": self.part(lane), "dropped": lane.dropped},
                )
            lane.queue.append(value)
            lane.ready.set()

    def pending(self, name: str) -> int:
        return sum(len(lane.queue) for lane in self._lanes if lane.hook.name == name)

    def failures(self, name: str) -> int:
        return sum(lane.attempts.total for lane in self._lanes if lane.hook.name == name)

    async def run(self, stop: asyncio.Event) -> None:
        """Each hook's worker until stop; what is queued then gets one last try."""
        async with asyncio.TaskGroup() as group:
            for lane in self._lanes:
                group.create_task(self._work(lane, stop))

    async def _work(self, lane: _Lane[B], stop: asyncio.Event) -> None:
        clock = SystemClock()
        part = self.part(lane)
        while True:
            if not lane.queue:
                if stop.is_set():
                    return
                lane.ready.clear()
                await _either(lane.ready, stop)
                continue
            value = lane.queue[0]
            try:
                await call(lane.hook.fn, value)
            except Exception as exc:
                wait = lane.attempts.failed()
                self.health.degraded(part, f"{type(exc).__name__}: {exc}", self.channel)
                log.warning(
                    "side effect failed; will retry",
                    exc_info=True,
                    extra={"part": part, "retry_in_s": wait, "waiting": len(lane.queue)},
                )
                if stop.is_set():
                    log.error(
                        "side effect not done before stopping",
                        extra={"part": part, "lost": len(lane.queue)},
                    )
                    return
                await pause(clock, stop, wait)
                continue
            if lane.queue and lane.queue[0] is value:
                lane.queue.popleft()
            if lane.attempts.failures:
                lane.attempts.succeeded()
                self.health.ok(part)


async def _either(event: asyncio.Event, stop: asyncio.Event) -> None:
    waits = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await w
