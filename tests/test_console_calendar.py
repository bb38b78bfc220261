"""The console's calendar module (api/static/console/calendar.js), run by Node.js: the
occurrences it draws for an entry's rule are the ones the server resolves
(schedules/recurrence.py), across a daylight-saving change, and a series moved by a day
turns its weekdays with it."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from schedules.plan import EntrySpec, to_ms
from schedules.recurrence import local_starts, local_to_ms
from tests.support import need_program

CALENDAR = Path(__file__).resolve().parent.parent / "api/static/console/calendar.js"
ZONE = "Europe/Berlin"
# Four weeks over the spring change (28 March 2027: 02:00 becomes 03:00 in Berlin).
FROM, TO = datetime(2027, 3, 15), datetime(2027, 4, 12)
RULES = [
    ("2027-01-04T20:00:00", "FREQ=WEEKLY;BYDAY=MO,WE", ["2027-03-31T20:00:00"]),
    ("2027-01-03T02:30:00", "FREQ=WEEKLY;INTERVAL=2;BYDAY=SU", []),
    ("2027-01-10T06:00:00", "FREQ=DAILY;COUNT=90", []),
    ("2027-03-01T23:30:00", "FREQ=DAILY;UNTIL=20270401T000000", ["2027-03-20T23:30:00"]),
    ("2027-02-02T09:15:00", "FREQ=WEEKLY;BYDAY=TU,FR;UNTIL=20270330T235959", []),
    ("2027-03-20T12:00:00", None, []),
    ("2027-03-17T07:00:00", "FREQ=WEEKLY;BYDAY=SA,MO;COUNT=5", []),
]


def run_calendar(script: str) -> Any:
    """Runs `script` (an ES module body with `cal` imported) in Node; answers its JSON."""
    node = need_program("node")
    source = f"import * as cal from {json.dumps(CALENDAR.as_uri())};\n{script}"
    done = subprocess.run(
        [node, "--input-type=module", "-e", source],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def server_starts(start: str, rule: str | None, exdates: list[str]) -> list[str]:
    spec = EntrySpec(
        id=1,
        target="playlist",
        target_id=1,
        start_local=datetime.fromisoformat(start),
        rrule=rule,
        exdates=tuple(datetime.fromisoformat(x) for x in exdates),
    )
    zone = ZoneInfo(ZONE)
    lo = to_ms(FROM.replace(tzinfo=zone) - timedelta(days=1))
    hi = to_ms(TO.replace(tzinfo=zone) + timedelta(days=1))
    return [t.isoformat() for t in local_starts(spec, zone, lo, hi) if FROM <= t < TO]


def test_the_calendar_draws_the_occurrences_the_server_resolves() -> None:
    entries = [{"start_local": s, "rrule": r, "exdates": x} for s, r, x in RULES]
    drawn = run_calendar(
        f"const from = cal.parseWall({json.dumps(FROM.isoformat())});\n"
        f"const to = cal.parseWall({json.dumps(TO.isoformat())});\n"
        f"const entries = {json.dumps(entries)};\n"
        f"console.log(JSON.stringify(entries.map((e) => "
        f"cal.occurrences(e, {json.dumps(ZONE)}, from, to).map(cal.wallIso))));"
    )
    for (start, rule, exdates), mine in zip(RULES, drawn, strict=True):
        assert mine == server_starts(start, rule, exdates), rule
    assert any("2027-03-28T02:30:00" in starts for starts in drawn)  # the skipped hour


def test_a_rule_the_calendar_does_not_expand_is_left_to_the_guide() -> None:
    assert run_calendar(
        "console.log(JSON.stringify([cal.occurrences({start_local: '2027-01-01T10:00:00', "
        "rrule: 'FREQ=MONTHLY;BYMONTHDAY=1'}, 'Asia/Baku', 0, 1e13)]));"
    ) == [None]


@pytest.mark.parametrize(
    ("wall", "instant"),
    [
        ("2027-03-28T02:30:00", "2027-03-28T00:30:00Z"),  # skipped: as the server places it
        ("2027-10-31T02:30:00", "2027-10-31T00:30:00Z"),  # twice: the first (summer) one
        ("2027-07-01T20:00:00", "2027-07-01T18:00:00Z"),
    ],
)
def test_a_wall_clock_time_in_the_channels_zone_is_the_instant_the_server_computes(
    wall: str, instant: str
) -> None:
    (ms,) = run_calendar(
        f"console.log(JSON.stringify([cal.instantOf({json.dumps(ZONE)}, "
        f"cal.parseWall({json.dumps(wall)}))]));"
    )
    assert ms == local_to_ms(datetime.fromisoformat(wall), ZoneInfo(ZONE))
    assert datetime.fromisoformat(instant) == datetime.fromtimestamp(ms / 1000, ZoneInfo("UTC"))


def test_a_series_moved_by_a_day_turns_its_weekdays_with_it() -> None:
    assert run_calendar(
        "console.log(JSON.stringify([cal.shiftRule('FREQ=WEEKLY;BYDAY=MO,SU', 1), "
        "cal.shiftRule('FREQ=WEEKLY;BYDAY=MO;COUNT=4', -1), cal.shiftRule('FREQ=DAILY', 3)]));"
    ) == ["FREQ=WEEKLY;BYDAY=TU,MO", "FREQ=WEEKLY;BYDAY=SU;COUNT=4", "FREQ=DAILY"]
