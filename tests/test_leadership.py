"""Who may air: the PostgreSQL advisory lock of station/leadership.py, on a real server. One
process leads and the other stands by; a lock freed is taken at the next ask; a leader that
can no longer prove it holds the lock stops before another can have it, unless nobody waits
to take over (then it stays on air and takes the lock again)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import create_engine, make_url, text

from station.leadership import (
    CHECK_S,
    LEASE_S,
    PLAYOUT_LOCK,
    STEP_BACK_S,
    Holder,
    Leadership,
    lock_connection_options,
    lock_halves,
)
from tests.conftest import fresh_pg_database
from tests.faults_support import Proxy
from tests.support import run

pytestmark = pytest.mark.runs(seconds=30)

A = Holder("standby", 101, "studio-a")
B = Holder("standby", 202, "studio-b")


def test_a_playout_is_named_so_that_others_can_say_who_leads() -> None:
    for h in (A, Holder("leader", 7, "ə" * 80)):  # a long name is cut to PostgreSQL's 63 bytes
        name = h.connection_name
        assert len(name.encode()) <= 63
        parsed = Holder.parse(name)
        assert parsed is not None and (parsed.role, parsed.pid) == (h.role, h.pid)
        assert h.host.startswith(parsed.host)
    assert Holder.parse(A.as_("leader").connection_name) == Holder("leader", 101, "studio-a")
    for other in (
        "psql",
        "diaspor-playout",
        "diaspor-playout boss 1@x",
        "diaspor-playout leader x@y",
    ):
        assert Holder.parse(other) is None
    assert lock_halves(PLAYOUT_LOCK) == (0x00444941, 0x53504F52)  # "DIASPOR"
    # The server ends a silent session after RELEASE_S: later than the leader gives up.
    options = lock_connection_options("x")["options"]
    assert "-c idle_session_timeout=4000" in options and "-c tcp_user_timeout=4000" in options


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with fresh_pg_database("diaspor_lead") as url:
        yield url


def dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def holder_name(url: str, session_of: Holder | None = None) -> str | None:
    """The application_name of the session that holds the playout lock, as pg_locks says
    (with `session_of`: that playout's session, holding the lock or not)."""
    engine = create_engine(url)
    lock = (
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a "
        "USING (pid) WHERE l.locktype = 'advisory' AND l.granted "
        "AND l.classid::bigint = :hi AND l.objid::bigint = :lo "
        "AND a.datname = current_database()"
    )
    session = (
        "SELECT application_name FROM pg_stat_activity "
        "WHERE application_name = :name AND datname = current_database()"
    )
    try:
        with engine.connect() as c:
            if session_of is not None:
                row = c.execute(text(session), {"name": session_of.connection_name}).first()
            else:
                hi, lo = lock_halves(PLAYOUT_LOCK)
                row = c.execute(text(lock), {"hi": hi, "lo": lo}).first()
    finally:
        engine.dispose()
    return row[0] if row else None


def terminate(url: str, holder: Holder) -> None:
    """An operator ends a playout's lock session (it is told nothing until it next asks)."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as c:
            ended = c.execute(
                text(
                    "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                    "WHERE application_name = :name AND datname = current_database()"
                ),
                {"name": holder.connection_name},
            ).all()
    finally:
        engine.dispose()
    assert ended == [(True,)], ended


async def until(what: str, check: object, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


@asynccontextmanager
async def playouts(*dsns: str) -> AsyncIterator[tuple[list[Leadership], asyncio.Event]]:
    """A, B … each asking for the lock over its DSN; their sessions end at the end."""
    every = [Leadership(d, me=who) for d, who in zip(dsns, (A, B), strict=False)]
    stop = asyncio.Event()
    try:
        yield every, stop
    finally:
        stop.set()
        for p in every:
            await p.close()


async def lead_with_standby(
    a: Leadership, b: Leadership, stop: asyncio.Event
) -> tuple[asyncio.Task[bool], asyncio.Task[str | None]]:
    """A leads and keeps its lead, B waits (B's wait and A's keep, as tasks), and A has
    counted B: losing its session now means stopping."""
    assert await a.wait_to_lead(stop)
    waiting = asyncio.create_task(b.wait_to_lead(stop))
    keeping = asyncio.create_task(a.keep(stop))
    await until("a counts the standby", lambda: a.standbys == 1, 5)
    return waiting, keeping


@pytest.mark.postgres
def test_one_leads_and_the_other_stands_by_until_the_lock_is_freed(pg_url: str) -> None:
    async def story() -> None:
        async with playouts(dsn(pg_url), dsn(pg_url)) as ([a, b], stop):
            assert await a.wait_to_lead(stop)
            assert (a.health.role, a.health.leader) == ("leader", "101@studio-a")
            waiting = asyncio.create_task(b.wait_to_lead(stop))
            await until("b says who leads", lambda: b.health.leader == "101@studio-a", 5)
            await asyncio.sleep(3 * CHECK_S)
            assert not waiting.done()
            assert (b.health.role, b.health.status) == ("standby", "standby")
            terminate(pg_url, B)  # the standby's own connection dies: it opens another
            await until("b asks again", lambda: holder_name(pg_url, B) is not None, 5)
            assert not waiting.done()
            assert holder_name(pg_url) == A.as_("leader").connection_name
            await a.close()  # the session ends: the lock is free at once
            freed = time.monotonic()
            assert await asyncio.wait_for(waiting, 5)
            assert time.monotonic() - freed <= CHECK_S + 0.5
            assert holder_name(pg_url) == B.as_("leader").connection_name
            assert b.health.role == "leader"

    run(story())


@pytest.mark.postgres
def test_a_leader_whose_session_ends_stops_at_its_next_ask_when_a_standby_waits(
    pg_url: str,
) -> None:
    async def story() -> None:
        async with playouts(dsn(pg_url), dsn(pg_url)) as ([a, b], stop):
            waiting, keeping = await lead_with_standby(a, b, stop)
            terminate(pg_url, A.as_("leader"))
            ended = time.monotonic()
            why = await asyncio.wait_for(keeping, 5)
            assert why is not None and "AdminShutdown" in why, why
            assert time.monotonic() - ended <= CHECK_S + 0.5
            assert a.health.role == "standby"
            # It stands by again at once, as diaspor playout does, but lets B take over.
            again = asyncio.create_task(a.wait_to_lead(stop))
            assert await asyncio.wait_for(waiting, 5)
            await asyncio.sleep(STEP_BACK_S)
            assert not again.done()
            assert holder_name(pg_url) == B.as_("leader").connection_name

    run(story())


@pytest.mark.postgres
def test_a_leader_alone_stays_on_air_and_takes_the_lock_again(pg_url: str) -> None:
    """Nobody waits to take over: stopping would only silence the station (the database
    blinked), so the leader keeps the air and its lock comes back on a new session."""

    async def story() -> None:
        async with playouts(dsn(pg_url)) as ([a], stop):
            assert await a.wait_to_lead(stop)
            keeping = asyncio.create_task(a.keep(stop))
            await asyncio.sleep(2 * CHECK_S)
            terminate(pg_url, A.as_("leader"))
            await until("a holds the lock again", lambda: holder_name(pg_url) is not None, 5)
            assert holder_name(pg_url) == A.as_("leader").connection_name
            await asyncio.sleep(LEASE_S + 1)
            assert not keeping.done()
            assert a.health.role == "leader" and a.health.status == "ok", a.health.to_json()
            stop.set()
            assert await asyncio.wait_for(keeping, 5) is None

    run(story())


@pytest.mark.postgres
def test_a_leader_alone_that_finds_the_lock_taken_when_it_comes_back_stops(pg_url: str) -> None:
    async def story() -> None:
        other = create_engine(pg_url)
        try:
            async with playouts(dsn(pg_url)) as ([a], stop):
                assert await a.wait_to_lead(stop)
                keeping = asyncio.create_task(a.keep(stop))
                await asyncio.sleep(2 * CHECK_S)
                with other.connect() as c:  # a playout started meanwhile takes the freed lock
                    terminate(pg_url, A.as_("leader"))
                    got = c.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": PLAYOUT_LOCK})
                    assert got.scalar() is True
                    why = await asyncio.wait_for(keeping, 5)
                assert why is not None and "took the lead" in why, why
        finally:
            other.dispose()

    run(story())


@pytest.mark.postgres
def test_a_leader_the_server_no_longer_hears_stops_before_the_lock_is_freed(pg_url: str) -> None:
    """The network between the leader and the server goes silent (nothing refused, nothing
    closed): the leader stops LEASE_S after its last answered ask; the server ends its
    session only later (idle_session_timeout), and only then does the standby lead."""
    url = make_url(pg_url)
    proxy = Proxy(url.host or "127.0.0.1", url.port or 5432)
    through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)

    async def story() -> None:
        async with playouts(dsn(through), dsn(pg_url)) as ([a, b], stop):
            waiting, keeping = await lead_with_standby(a, b, stop)
            proxy.quiet()
            silent = time.monotonic()
            why = await asyncio.wait_for(keeping, 10)
            fenced = time.monotonic()
            assert why is not None and "no answer" in why, why
            assert await asyncio.wait_for(waiting, 15)
            took = time.monotonic()
            print(f"\nleader stopped {fenced - silent:.2f} s, standby led {took - silent:.2f} s")
            assert fenced - silent <= LEASE_S + 0.3
            assert took - fenced >= 1.0  # never both

    try:
        run(story())
    finally:
        proxy.close()
