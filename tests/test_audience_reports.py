"""Audience reports on SQLite and PostgreSQL: a morning whose truth is known, counted to the
second, from the rollups and from raw sessions alike."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import asdict
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import OperationalError

from audience.ledger import Surface
from audience.reports import Grouping, InvalidReport, Query, Reports, period
from audience.rollups import Rollups
from station.db import Database
from tests.audience_support import DAY0, PROGRAMME_TITLE, at, audience, catalogue, listen

MORNING = Query(at(0), at(180))


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    d = Database(db_url)
    yield d
    d.dispose()


def by_key(db: Database, q: Query, use_rollups: bool = True) -> dict[str, dict[str, object]]:
    r = Reports(db).report(q, use_rollups)
    return {f.key: {**asdict(f), "label": f.label} for f in [*r.rows, r.total]} | {
        "total": asdict(r.total)
    }


def test_a_morning_reports_its_true_figures_to_the_second(db: Database) -> None:
    morning = catalogue(db)
    audience(db, morning)
    assert Rollups(db).roll_up() == 5  # every closed session; the open one waits
    report = Reports(db).report(MORNING)
    t = report.total
    assert (t.sessions, t.seconds, t.uniques, t.peak_concurrent) == (5, 7200, 4, 2)
    assert t.hours == 2.0 and t.average_session_s == 1440.0
    assert t.average_concurrent == 7200 / (3 * 3600)

    countries = {f.key: (f.sessions, f.seconds, f.uniques) for f in Reports(db).report(
        Query(at(0), at(180), Grouping.COUNTRY)).rows}  # fmt: skip
    assert countries == {"AZ": (2, 1800, 1), "DE": (2, 4800, 2), "US": (1, 600, 1)}

    hours = Reports(db).report(Query(at(0), at(180), Grouping.HOUR))
    assert [(f.key, f.sessions, f.seconds, f.uniques, f.peak_concurrent) for f in hours.rows] == [
        ("2026-11-02T11:00:00+00:00", 2, 1800, 2, 1),
        ("2026-11-02T12:00:00+00:00", 1, 3000, 2, 2),
        ("2026-11-02T13:00:00+00:00", 2, 2400, 2, 1),
    ]


def test_listening_is_attributed_to_the_programme_on_air_across_its_boundaries(
    db: Database,
) -> None:
    morning = catalogue(db)
    audience(db, morning)
    Rollups(db).roll_up()
    rows = Reports(db).report(Query(at(0), at(180), Grouping.PROGRAMME)).rows
    # A: 10 min of music then 10 of the programme; B: 40 min of it then music; the podcast
    # download is the programme's episode; C and F heard music and then nothing known.
    got = {f.label: (f.sessions, f.seconds, f.uniques) for f in rows}
    assert got == {PROGRAMME_TITLE: (3, 600 + 2400 + 1800, 3), "—": (4, 600 + 600 + 600 + 600, 3)}
    assert all(f.peak_concurrent is None for f in rows)
    [episode] = [
        f
        for f in Reports(db).report(Query(at(0), at(180), Grouping.EPISODE)).rows
        if f.key == str(morning.episode_id)
    ]
    assert (episode.seconds, episode.label) == (4800, "Toronto azərbaycanlıları")
    # downloads from its release (12:40): one that day, another eight days on
    assert (episode.downloads_7d, episode.downloads_30d) == (1, 2)
    only = Reports(db).report(
        Query(at(0), at(180), Grouping.SURFACE, programme=morning.programme_id)
    )
    assert {f.key: f.seconds for f in only.rows} == {"relay": 600, "icecast": 2400, "podcast": 1800}


@pytest.mark.parametrize("grouping", list(Grouping))
def test_rollups_give_the_same_figures_as_raw_sessions(db: Database, grouping: Grouping) -> None:
    morning = catalogue(db)
    ledger = audience(db, morning)
    rollups = Rollups(db)
    queries = [
        Query(at(0), at(180), grouping),
        Query(at(60), at(120), grouping, channel="diaspor-fm"),
        Query(at(0), at(180), grouping, country="DE"),
        Query(at(0), at(180), grouping, surface=Surface.RELAY),
        Query(at(0), at(180), grouping, programme=morning.programme_id),
        Query(DAY0, DAY0 + timedelta(days=9), grouping, tz=ZoneInfo("Asia/Kolkata")),
    ]
    raw = [by_key(db, q, use_rollups=False) for q in queries]
    assert [by_key(db, q) for q in queries] == raw  # nothing rolled up yet
    rollups.roll_up(batch=2)
    assert [by_key(db, q) for q in queries] == raw
    # the open session ends and is rolled up; a new one begins inside the same hours
    ledger.close("relay:f", at(135))
    listen(ledger, "relay:g", Surface.RELAY, "24.114.0.1", "VLC/3.0.18 LibVLC/3.0.18", 100, 700)
    raw = [by_key(db, q, use_rollups=False) for q in queries]
    assert [by_key(db, q) for q in queries] == raw
    assert rollups.roll_up() == 2 and rollups.roll_up() == 0  # once each, never twice
    assert [by_key(db, q) for q in queries] == raw


def test_days_in_a_time_zone_are_the_utc_hours_whose_start_falls_in_them(db: Database) -> None:
    morning = catalogue(db)
    audience(db, morning)
    Rollups(db).roll_up()
    q = Query(
        DAY0 - timedelta(days=1),
        DAY0 + timedelta(days=2),
        Grouping.DAY,
        tz=ZoneInfo("America/Toronto"),
    )
    rows = Reports(db).report(q).rows
    # Every day of the period is listed, heard in or not; the clocks went back on 1 November.
    assert [(f.key, f.seconds, f.length_s // 3600) for f in rows] == [
        ("2026-10-31T00:00:00-04:00", 0, 4),
        ("2026-11-01T00:00:00-04:00", 0, 25),
        ("2026-11-02T00:00:00-05:00", 7200, 24),
        ("2026-11-03T00:00:00-05:00", 0, 19),
    ]


def test_a_period_is_whole_hours_forward_and_at_most_400_days() -> None:
    assert period(at(0) + timedelta(seconds=1), at(120)) == (at(60), at(120))
    for start, end in ((at(60), at(0)), (at(0), at(0)), (at(0), at(0) + timedelta(days=401))):
        with pytest.raises(InvalidReport):
            period(start, end)


class PowerCut(Rollups):
    """Rollups whose process dies after adding a batch's figures, before it commits."""

    def _upsert(self, s: Any, facts: Any) -> None:
        super()._upsert(s, facts)
        raise RuntimeError("the power went out")


def test_a_rollup_cut_short_counts_nothing_and_the_next_counts_everything_once(
    db: Database,
) -> None:
    morning = catalogue(db)
    audience(db, morning)
    queries = [Query(at(0), at(180), g) for g in (Grouping.TOTAL, Grouping.HOUR, Grouping.COUNTRY)]
    truth = [by_key(db, q, use_rollups=False) for q in queries]
    with pytest.raises(RuntimeError):
        PowerCut(db).roll_up()
    assert [by_key(db, q) for q in queries] == truth
    assert Rollups(db).roll_up() == 5
    assert [by_key(db, q) for q in queries] == truth


def test_two_processes_rolling_up_at_once_count_each_session_once(db: Database) -> None:
    morning = catalogue(db)
    ledger = audience(db, morning)
    for i in range(40):
        listen(ledger, f"relay:many:{i}", Surface.RELAY, "24.114.0.1", "Winamp/5.9", i, 60 + i)
    truth = by_key(db, Query(at(0), at(180), Grouping.HOUR), use_rollups=False)
    done: list[int] = []

    def roll() -> None:
        while True:
            try:
                done.append(Rollups(db).roll_up(batch=3))
                return
            except OperationalError:  # the other one held the database: as upkeep, again
                continue

    threads = [threading.Thread(target=roll) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(done) == 45
    assert by_key(db, Query(at(0), at(180), Grouping.HOUR)) == truth


def test_grouped_by_nothing_the_one_row_is_the_total(db: Database) -> None:
    audience(db, catalogue(db))
    report = Reports(db).report(MORNING)
    assert [(f.key, f.seconds, f.peak_concurrent) for f in report.rows] == [("total", 7200, 2)]
    assert report.rows[0] == report.total
