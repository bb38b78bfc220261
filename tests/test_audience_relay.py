"""The built-in relay's listeners in the audience ledger: each listener one session, with its
mount, channel, player, the seconds it listened and the bytes it was sent; heartbeats while
it listens; and when the database is away the audio goes on and the reports wait for it."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text

from audience.ledger import Ledger
from audience.models import SessionRow
from audience.relay_sessions import RelaySessions
from audience.report_queue import Reports
from media.binaries import Tools
from station.backoff import Backoff
from station.clock import SimulatedClock
from station.db import Database
from tests.radio_support import Playout, music_station, wait_for_mount
from tests.support import free_port, run
from tests.test_relay import BINARY, connect, listener, mount_stats, pattern, relay_running, source
from tests.test_relay import until as until_true

NOON = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
IPHONE = "AppleCoreMedia/1.0.0.21A329 (iPhone; U; CPU OS 17_0 like Mac OS X; az_az)"


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


def sessions(db: Database) -> list[SessionRow]:
    with db.session() as s:
        return list(s.execute(select(SessionRow).order_by(SessionRow.id)).scalars())


def test_each_relay_listener_is_one_session_with_its_mount_seconds_and_bytes(
    db: Database,
) -> None:
    clock = SimulatedClock(NOON)
    reports = Reports(Ledger(db))
    sink = RelaySessions(reports, {"/diaspor-fm.mp3": "diaspor-fm"}.get)
    sink.every_s = 0.2  # heartbeats every 0.2 s of real time, for the story

    async def story() -> None:
        async with relay_running(clock=clock, listener_sessions=sink, burst_bytes=0) as relay:
            src, status = await source(relay, "/diaspor-fm.mp3", content_type=BINARY)
            assert status == 200
            vlc, status, _ = await listener(relay, "/diaspor-fm.mp3")
            phone = await connect(
                relay, f"GET /diaspor-fm.mp3 HTTP/1.0\r\nUser-Agent: {IPHONE}\r\n\r\n"
            )
            assert (await phone.head())[0] == 200
            await until_true(lambda: mount_stats(relay, "/diaspor-fm.mp3").listeners == 2)
            src.writer.write(pattern(32_000))
            await vlc.read_exactly(32_000)
            await phone.read_exactly(32_000)
            clock.advance(90)
            await reports.drain()
            # While they listen: open, and brought up to date by the heartbeat.
            await until_true(lambda: all(r.seconds == 90 for r in sessions(db)), 5)
            assert [r.ended_at for r in sessions(db)] == [None, None]
            await vlc.close()  # the VLC listener leaves after 90 s
            await until_true(lambda: mount_stats(relay, "/diaspor-fm.mp3").listeners == 1)
            clock.advance(30)
            src.writer.write(pattern(16_000))
            await phone.read_exactly(16_000)
        # the relay stopped: the phone's session ended with it
        await reports.drain()
        await reports.aclose()

    run(story())
    first, second = sessions(db)
    assert (first.mount, first.channel, first.surface) == ("/diaspor-fm.mp3", "diaspor-fm", "relay")
    assert (first.player, first.seconds, first.bytes) == ("VLC", 90, 32_000)
    assert first.ended_at == NOON.replace(minute=1, second=30)
    assert (second.seconds, second.bytes, second.device) == (120, 48_000, "iPhone")
    assert second.ended_at == NOON.replace(minute=2)
    assert first.source_key != second.source_key and first.source_key.startswith("relay:")
    assert first.country == "ZZ"  # from the loopback: no country


def move_table(db: Database, old: str, new: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))


def test_while_the_database_refuses_the_audio_goes_on_and_the_session_is_written_later(
    db: Database,
) -> None:
    clock = SimulatedClock(NOON)
    reports = Reports(Ledger(db), backoff=Backoff(base_s=0.05, max_s=0.1, first_s=0.05))
    reports.ledger.days.key(NOON.date())  # the day's key exists: only the sessions are away
    sink = RelaySessions(reports, lambda mount: "diaspor-fm")

    async def story() -> None:
        async with relay_running(clock=clock, listener_sessions=sink, burst_bytes=0) as relay:
            move_table(db, "audience_sessions", "audience_sessions_away")
            src, _ = await source(relay, "/diaspor-fm.mp3")
            ear, status, _ = await listener(relay, "/diaspor-fm.mp3")
            assert status == 200
            await until_true(lambda: mount_stats(relay, "/diaspor-fm.mp3").listeners == 1)
            src.writer.write(pattern(20_000))
            assert len(await ear.read_exactly(20_000)) == 20_000  # the audio goes on
            assert not await reports.drain(0.5)  # the report waits
            clock.advance(42)
            move_table(db, "audience_sessions_away", "audience_sessions")  # back
            assert await reports.drain(5)
            await ear.close()
            await until_true(lambda: mount_stats(relay, "/diaspor-fm.mp3").listeners == 0)
            assert await reports.drain(5)
        await reports.aclose()

    run(story())
    [row] = sessions(db)
    assert (row.seconds, row.bytes, row.ended_at is not None) == (42, 20_000, True)
    assert reports.dropped == 0


def test_a_full_queue_drops_reports_with_a_warning_and_a_count(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    from station.metrics import Metrics

    metrics = Metrics()
    reports = Reports(Ledger(db), metrics=metrics, max_queued=2)

    async def story() -> list[bool]:
        done = [reports.put(lambda ledger: None) for _ in range(3)]
        await reports.aclose()
        return done

    assert run(story()) == [True, True, False]
    assert reports.dropped == 1
    assert metrics.audience_dropped._value.get() == 1
    assert "audience reports dropped" in caplog.text


@pytest.mark.slow
def test_the_stations_relay_reports_its_listeners_and_ends_them_when_playout_stops(
    tmp_path: Path, tools: Tools
) -> None:
    """As `diaspor playout` runs the radio on the built-in relay: the real encoder on air, a
    listener for three seconds, another until playout stops."""
    port = free_port()
    st = music_station(tmp_path, tools, relay_port=port)
    playout = Playout(st)
    try:
        wait_for_mount(port, "/diaspor-fm.mp3", 20)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as stays:
            stays.sendall(
                b"GET /diaspor-fm.aac HTTP/1.0\r\nUser-Agent: " + IPHONE.encode() + b"\r\n\r\n"
            )
            assert stays.recv(4096).startswith(b"HTTP/1.0 200")
            with socket.create_connection(("127.0.0.1", port), timeout=10) as brief:
                brief.sendall(b"GET /diaspor-fm.mp3 HTTP/1.0\r\nUser-Agent: VLC/3.0.18\r\n\r\n")
                end, heard = time.monotonic() + 3, 0
                while time.monotonic() < end:
                    heard += len(brief.recv(65536))
            assert heard > 3 * 16_000 * 0.7
            time.sleep(1)
            playout.close()
            playout = None
        found = {r.mount: r for r in sessions(st.db)}
        assert set(found) == {"/diaspor-fm.mp3", "/diaspor-fm.aac"}
        brief_row, stays_row = found["/diaspor-fm.mp3"], found["/diaspor-fm.aac"]
        assert {brief_row.channel, stays_row.channel} == {"diaspor-fm"}
        assert brief_row.seconds == 3 and brief_row.player == "VLC" and brief_row.bytes > 40_000
        assert stays_row.ended_at is not None and stays_row.seconds >= 4
        assert stays_row.device == "iPhone"
    finally:
        if playout is not None:
            playout.close()
        st.close()


def test_reports_the_database_refuses_too_long_are_dropped_and_counted(db: Database) -> None:
    from station.metrics import Metrics

    metrics = Metrics()
    fast = Backoff(base_s=0.05, max_s=0.05, first_s=0.05)
    reports = Reports(Ledger(db), metrics=metrics, give_up_s=0.3, backoff=fast)
    reports.ledger.days.key(NOON.date())
    sink = RelaySessions(reports, lambda mount: "diaspor-fm")

    async def story() -> None:
        move_table(db, "audience_sessions", "audience_sessions_away")
        try:
            sink.joined("relay:x:1", "/diaspor-fm.mp3", "85.132.1.1", "VLC/3.0", NOON)
            assert await reports.drain(5)  # given up on, not waiting for ever
        finally:
            move_table(db, "audience_sessions_away", "audience_sessions")
        await reports.aclose()

    run(story())
    assert reports.dropped == 1 and metrics.audience_dropped._value.get() == 1
    assert sessions(db) == []
