"""Playout as its own process (`diaspor playout`): the radio and TV channels under one
supervisor. If a channel cannot be kept on air, `run_playout` raises `GaveUp` and the command
exits non-zero, for systemd or compose to start it again.

On PostgreSQL the channels air only while this process leads (`station/leadership.py`): it
stands by, ready, while another playout holds the lock, takes over when that one dies, and
stops its channels at once when it can no longer prove that it leads."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Protocol

from diaspor.compose import Station, add_health_answer, supervisor_for
from diaspor.radio import add_radio
from diaspor.tv import add_tv
from playout import tv_store
from playout.sequencer import live_prefix
from station.clock import pause
from station.leadership import HANDOVER_S, Leadership
from station.supervisor import Supervisor

log = logging.getLogger(__name__)
READY_EVERY_S = 30.0  # a standby checks again this often that it could take over


class Side(Protocol):
    async def close(self) -> None: ...


Builder = Callable[[Station, Supervisor], Awaitable[Side]]


async def run_sides(
    station: Station, stop: asyncio.Event, builders: Sequence[Builder], sup: Supervisor
) -> None:
    """Run the supervisor, build each side's parts into it (each side goes on air as soon as
    it is built: the radio does not wait for the TV's first slate to be packaged), run them
    until stop, then close the sides (the encoders finish, the on-air status goes) in the
    reverse order."""
    sides: list[Side] = []
    running = asyncio.create_task(sup.run(stop), name="supervisor")
    try:
        await sup.running.wait()
        for build in builders:
            sides.append(await build(station, sup))
        await running
    finally:
        stop.set()
        if not running.done():
            await asyncio.wait([running])
        for side in reversed(sides):
            await side.close()
    running.result()  # GaveUp, if it gave up


async def run_radio(station: Station, stop: asyncio.Event) -> None:
    """Every radio channel on the configured server, supervised, until stop is set."""
    await run_sides(station, stop, [add_radio], supervisor_for(station))


async def run_tv(station: Station, stop: asyncio.Event) -> None:
    """Every TV channel on air, supervised, until stop is set."""
    await run_sides(station, stop, [add_tv], supervisor_for(station))


async def run_playout(station: Station, stop: asyncio.Event, sup: Supervisor | None = None) -> None:
    """Radio and TV until stop is set (parts of `sup`, if given: the demo adds its worker).
    On SQLite they air at once; on PostgreSQL while this process leads."""
    sup = sup or supervisor_for(station)
    add_health_answer(station, sup)
    if station.db.is_sqlite:  # one process, no standby: it leads
        await run_sides(station, stop, [add_radio, add_tv], sup)
    else:
        await lead_or_stand_by(station, stop, [add_radio, add_tv], sup)


async def lead_or_stand_by(
    station: Station, stop: asyncio.Event, builders: Sequence[Builder], sup: Supervisor
) -> None:
    """`sup`'s parts (the health answer) for the process's life; the channels, each time
    this process comes to lead, under a supervisor of their own until the lead is lost (then
    it stands by again) or `stop`."""
    lead = Leadership(station.db.dsn, station.health)
    process = asyncio.create_task(sup.run(stop), name="supervisor")
    try:
        await sup.running.wait()
        while not stop.is_set():
            ready = asyncio.create_task(keep_ready(station, stop), name="standby-ready")
            try:
                leading = await lead.wait_to_lead(stop)
            finally:
                ready.cancel()
                await asyncio.gather(ready, return_exceptions=True)
                station.health.forget(["standby"])
            if not leading:
                break
            # An old leader whose session ended under it learns so at its next ask: this
            # wait lets it stop before this one airs (station/leadership.py).
            await pause(station.clock, stop, HANDOVER_S)
            if not stop.is_set():
                await lead_once(station, stop, builders, lead)
    finally:
        stop.set()
        await lead.close()
        await asyncio.wait([process])
    process.result()


async def lead_once(
    station: Station, stop: asyncio.Event, builders: Sequence[Builder], lead: Leadership
) -> None:
    """The channels on air, as a leader starts them, until `stop` or the lead is lost."""
    off = asyncio.Event()  # this term ends: the process stops, or the lead is lost
    keeper = asyncio.create_task(lead.keep(off), name="leadership")
    keeper.add_done_callback(lambda _: off.set())
    follow = asyncio.create_task(_set_when(stop, off), name="until stopped")
    before = set(station.health.parts)
    try:
        await run_sides(station, off, builders, supervisor_for(station))
    finally:
        off.set()
        await asyncio.gather(keeper, follow, return_exceptions=True)
        station.health.forget(set(station.health.parts) - before)
    why = keeper.result()
    if why is not None:
        log.warning("off air after losing the lead; standing by", extra={"why": why})


async def _set_when(source: asyncio.Event, target: asyncio.Event) -> None:
    waits = {asyncio.ensure_future(source.wait()), asyncio.ensure_future(target.wait())}
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
    target.set()


def readiness(station: Station) -> str | None:
    """Why this standby could not take over now, or None: the channels and their timelines
    read from the database, and each TV channel's restart state read from storage (a state
    that cannot be read would keep its sequencer off air)."""
    now = station.clock.now()
    try:
        for ch in station.schedules.find("channel"):
            slug = ch.data["slug"]
            station.schedules.timeline(slug, now, now + timedelta(minutes=1))
            if ch.data["kind"] == "tv":
                tv_store.read_state(station.storage, live_prefix(slug))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


async def keep_ready(station: Station, stop: asyncio.Event) -> None:
    """While standing by: check every `READY_EVERY_S` that the database and storage answer
    (which also keeps their connections warm); shown in health as the `standby` part."""
    while not stop.is_set():
        started = time.monotonic()
        why = await asyncio.to_thread(readiness, station)
        if why is None:
            station.health.register("standby")
            station.health.ok("standby")
            log.debug("ready to take over", extra={"seconds": round(time.monotonic() - started, 3)})
        else:
            station.health.degraded("standby", f"could not take over now: {why}")
        await pause(station.clock, stop, READY_EVERY_S)
