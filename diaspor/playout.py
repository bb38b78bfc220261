"""Playout as its own process (`diaspor playout`): the radio and TV channels under one
supervisor. If a channel cannot be kept on air, `run_playout` raises `GaveUp` and the command
exits non-zero, for systemd or compose to start it again."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from diaspor.compose import Station, add_health_answer, supervisor_for
from diaspor.radio import add_radio
from diaspor.tv import add_tv
from station.supervisor import Supervisor


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
    """Radio and TV until stop is set (parts of `sup`, if given: the demo adds its worker)."""
    sup = sup or supervisor_for(station)
    add_health_answer(station, sup)
    await run_sides(station, stop, [add_radio, add_tv], sup)
