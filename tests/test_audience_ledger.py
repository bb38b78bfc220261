"""The audience ledger on SQLite and PostgreSQL: a session reported twice is one session, the
address is never written, a visitor is one visitor all day and another the next, and the
sessions of a process that died end where they were last known."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from audience.ledger import Arrival, Ledger, Surface
from audience.models import DayKeyRow, SessionRow
from station.db import Database

NOON = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
BAKU = "85.132.1.1"  # AzerTelecom: Azerbaijan in the registries
BERLIN = "80.130.1.1"  # Deutsche Telekom: Germany
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
VLC = "VLC/3.0.18 LibVLC/3.0.18"


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()  # its connections closed, not left to the garbage collector


def arrival(key: str, address: str = BAKU, agent: str = IPHONE, at: datetime = NOON) -> Arrival:
    return Arrival(key, Surface.RELAY, at, address, agent, channel="diaspor-fm", mount="/fm.mp3")


def rows(db: Database) -> list[SessionRow]:
    with db.session() as s:
        return list(s.execute(select(SessionRow).order_by(SessionRow.id)).scalars())


def test_a_session_reported_twice_is_one_and_ends_with_its_length(db: Database) -> None:
    ledger = Ledger(db)
    assert ledger.open(arrival("relay:a:1"))
    assert not ledger.open(arrival("relay:a:1"))  # after a restart, say
    assert ledger.progress("relay:a:1", NOON + timedelta(seconds=60), 60, 960_000)
    assert ledger.close("relay:a:1", NOON + timedelta(seconds=95))
    assert not ledger.close("relay:a:1", NOON + timedelta(seconds=99))
    [row] = rows(db)
    assert (row.seconds, row.bytes, row.ended_at) == (95, 960_000, NOON + timedelta(seconds=95))
    assert (row.country, row.player, row.device, row.os) == ("AZ", "Mobile Safari", "iPhone", "iOS")


def test_no_address_is_written_and_a_visitor_is_one_all_day_and_new_the_next(
    db: Database,
) -> None:
    ledger = Ledger(db)
    ledger.open(arrival("k1", BAKU, IPHONE))
    ledger.open(arrival("k2", BAKU, IPHONE, NOON + timedelta(hours=5)))
    ledger.open(arrival("k3", BAKU, VLC))
    ledger.open(arrival("k4", BERLIN, IPHONE))
    ledger.open(arrival("k5", BAKU, IPHONE, NOON + timedelta(days=1)))
    found = rows(db)
    v = [r.visitor for r in found]
    assert v[0] == v[1] and len({v[0], v[2], v[3], v[4]}) == 4
    assert [r.country for r in found] == ["AZ", "AZ", "AZ", "DE", "AZ"]
    with db.session() as s:
        tables = (SessionRow.__table__, DayKeyRow.__table__)
        dumped = " ".join(repr(tuple(r)) for t in tables for r in s.execute(select(t)))
    assert BAKU not in dumped and BERLIN not in dumped
    # Once the day is over its key goes, and with it any way back to the address.
    assert ledger.days.forget_before((NOON + timedelta(days=1)).date()) == 1
    with db.session() as s:
        days = [d for (d,) in s.execute(select(DayKeyRow.day))]
    assert days == [(NOON + timedelta(days=1)).date()]


def test_sessions_of_a_process_that_died_end_where_they_were_last_known(db: Database) -> None:
    ledger = Ledger(db)
    ledger.open(arrival("gone"))
    ledger.progress("gone", NOON + timedelta(seconds=120), 120)
    ledger.open(arrival("alive", at=NOON + timedelta(minutes=9)))
    assert ledger.close_abandoned(NOON + timedelta(minutes=10)) == 1
    gone, alive = rows(db)
    assert (gone.ended_at, gone.seconds) == (NOON + timedelta(seconds=120), 120)
    assert alive.ended_at is None


def test_private_and_unknown_addresses_are_zz(db: Database) -> None:
    ledger = Ledger(db)
    ledger.open(arrival("p", "10.1.2.3"))
    ledger.open(arrival("q", "not an address"))
    assert [r.country for r in rows(db)] == ["ZZ", "ZZ"]


def test_sessions_known_only_afterwards_are_recorded_in_bulk_once(db: Database) -> None:
    ledger = Ledger(db)
    whole = [
        (
            arrival(f"log:{i}", at=NOON + timedelta(minutes=i)),
            NOON + timedelta(minutes=i + 5),
            300,
            0,
        )
        for i in range(3)
    ]
    assert ledger.record_many(whole) == 3
    assert ledger.record_many(whole[1:]) == 0  # the same log read again
    found = rows(db)
    assert [(r.seconds, r.ended_at, r.country) for r in found] == [
        (300, NOON + timedelta(minutes=i + 5), "AZ") for i in range(3)
    ]
    assert BAKU not in repr([tuple(vars(r).values()) for r in found])


def test_a_length_its_source_measured_puts_right_a_session_ended_as_abandoned(
    db: Database,
) -> None:
    """icecast2 says nothing while a listener listens: a long session may be ended as
    abandoned before its `listener_remove` comes with the true length."""
    ledger = Ledger(db)
    ledger.open(arrival("icecast:h:8000:7:1"))
    assert ledger.close_abandoned(NOON + timedelta(minutes=10)) == 1
    assert ledger.settle("icecast:h:8000:7:1", NOON + timedelta(minutes=25), 1500)
    [row] = rows(db)
    assert (row.seconds, row.ended_at) == (1500, NOON + timedelta(minutes=25))
    assert not ledger.settle("icecast:h:8000:8:1", NOON, 5)  # never opened


def test_a_visitors_open_session_on_a_channel_is_found_while_it_is_recent(db: Database) -> None:
    ledger = Ledger(db)
    a = Arrival("hls:1", Surface.RADIO_HLS, NOON, BAKU, IPHONE, channel="diaspor-fm")
    ledger.open(a)
    ledger.progress("hls:1", NOON + timedelta(seconds=30), 30)
    visitor = ledger.visitor(NOON, BAKU, IPHONE)
    later = NOON + timedelta(seconds=90)
    assert ledger.find_open(Surface.RADIO_HLS, "diaspor-fm", visitor, later, 120) == ("hls:1", 30)
    assert ledger.find_open(Surface.TV_HLS, "diaspor-fm", visitor, later, 120) is None
    assert ledger.find_open(Surface.RADIO_HLS, "diaspor-fm", visitor, later, 30) is None
    other = ledger.visitor(NOON, BERLIN, IPHONE)
    assert ledger.find_open(Surface.RADIO_HLS, "diaspor-fm", other, later, 120) is None


def test_an_icecast2_listener_is_not_ended_for_its_silence_but_after_a_week(db: Database) -> None:
    """icecast2 reports a listener only as they come and go; a long listen is not abandoned."""
    ledger = Ledger(db)
    ledger.open(Arrival("icecast:h:8000:9:1", Surface.ICECAST, NOON, BAKU, VLC, "diaspor-fm"))
    ledger.open(arrival("relay:x:1"))
    assert ledger.close_abandoned(NOON + timedelta(hours=5)) == 1  # the relay's, not icecast2's
    assert ledger.close("icecast:h:8000:9:1", NOON + timedelta(hours=5))
    ledger.open(Arrival("icecast:h:8000:9:2", Surface.ICECAST, NOON, BAKU, VLC, "diaspor-fm"))
    assert ledger.close_abandoned(NOON + timedelta(days=8)) == 1
