"""Playout as its own process (`diaspor playout`): the radio and TV channels together."""

from __future__ import annotations

import asyncio

from diaspor.compose import Station
from diaspor.radio import run_radio
from diaspor.tv import run_tv


async def run_playout(station: Station, stop: asyncio.Event) -> None:
    """Radio and TV until stop is set; if one side fails, the other is stopped too."""
    radio = asyncio.create_task(run_radio(station, stop), name="radio")
    tv = asyncio.create_task(run_tv(station, stop), name="tv")
    try:
        await asyncio.gather(radio, tv)
    finally:
        stop.set()
        for t in (radio, tv):
            if not t.done():
                await asyncio.wait([t])
