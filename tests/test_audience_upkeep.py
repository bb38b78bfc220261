"""The audience ledger's upkeep, as the station's background work runs it: sessions of a
process that died are ended and counted, closed sessions rolled up once, what is past the
retention deleted, and the day keys of days before yesterday forgotten."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from audience.ledger import Arrival, Ledger, Surface
from audience.models import DayKeyRow, DayVisitorRow, SessionRow
from audience.reports import Query, Reports
from audience.upkeep import Upkeep
from diaspor.compose import Station, build_station, run_background
from media.binaries import Tools
from station.clock import SimulatedClock
from station.db import Database
from tests.audience_support import BAKU, IPHONE, at
from tests.conftest import settings_for


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    d = Database(db_url)
    yield d
    d.dispose()


def arrival(key: str, minutes: int) -> Arrival:
    return Arrival(key, Surface.RELAY, at(minutes), BAKU, IPHONE, "diaspor-fm", "/fm.mp3")


def count(db: Database, table: type) -> int:
    with db.session() as s:
        return int(s.execute(select(func.count()).select_from(table)).scalar_one())


def test_upkeep_ends_the_abandoned_rolls_up_once_and_keeps_the_retention(db: Database) -> None:
    clock = SimulatedClock(at(0) - timedelta(days=3))
    ledger = Ledger(db)
    three_days_ago = at(0) - timedelta(days=3)
    old = Arrival("old", Surface.RELAY, three_days_ago, BAKU, IPHONE, "diaspor-fm")
    ledger.record(old, three_days_ago + timedelta(seconds=60), 60)
    upkeep = Upkeep(db, clock, retention_days=2)
    assert upkeep.once().rolled == 1
    ledger.open(arrival("died", 0))
    ledger.progress("died", at(2), 120)
    clock.advance(3 * 86400 + 3600)  # 12:00 three days on: its process has been silent
    done = upkeep.once()
    assert (done.abandoned, done.rolled, done.purged) == (1, 1, 1)
    assert upkeep.once().rolled == 0  # nothing counted twice
    assert count(db, SessionRow) == 1  # the old one is past the retention
    assert count(db, DayVisitorRow) == 1  # and so are its visitors
    with db.session() as s:
        days = list(s.execute(select(DayKeyRow.day)).scalars())
    assert days == [(at(0)).date()]  # yesterday's key stays, older ones go
    report = Reports(db).report(Query(at(0), at(60)))
    assert (report.total.sessions, report.total.seconds) == (1, 120)


def test_the_worker_process_rolls_the_audience_up(
    tmp_path: Path, db_url: str, tools: Tools
) -> None:
    st: Station = build_station(
        settings_for(tmp_path, db_url, audience_upkeep_every_s=0.2), tools=tools
    )
    try:
        Ledger(st.db).record(arrival("heard", 0), at(10), 600)

        async def main() -> bool:
            stop = asyncio.Event()
            task = asyncio.create_task(run_background(st, stop))
            deadline = time.monotonic() + 20
            try:
                while time.monotonic() < deadline:
                    with st.db.session() as s:
                        if s.execute(select(SessionRow.rolled)).scalar_one():
                            return True
                    await asyncio.sleep(0.1)
                return False
            finally:
                stop.set()
                await task

        assert asyncio.run(main())
        parts = [name for name, *_ in st.health.snapshot()]
        assert "audience-upkeep" in parts  # a part the station's health watches
    finally:
        st.close()
