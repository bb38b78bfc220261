"""Times for listeners abroad: `?tz=` on the guide and the calendars gives the same instants
in the listener's zone (ISO 8601 with its offset), and "today" is the listener's day."""

from __future__ import annotations

from datetime import datetime

from icalendar import Calendar

from tests.schedule_support import Desk, build_radio_week

GUIDE = "/api/v1/channels/diaspor-fm/schedule"
TORONTO = "America/Toronto"


def instants(body: dict[str, object]) -> list[tuple[datetime, datetime, str]]:
    return [
        (datetime.fromisoformat(b["start"]), datetime.fromisoformat(b["end"]), b["title"])
        for b in body["blocks"]  # type: ignore[attr-defined]
    ]


def test_the_guide_in_a_listeners_zone_gives_the_same_instants_with_their_offset(
    desk: Desk,
) -> None:
    build_radio_week(desk)
    window = {"from": "2026-11-29T18:00:00+04:00", "to": "2026-11-29T22:00:00+04:00"}
    plain = desk.client.get(GUIDE, params=window).json()
    assert plain["timezone"] == "Asia/Baku" and plain["tz"] is None
    assert plain["blocks"][0]["start"].endswith("Z")  # UTC when no zone is asked for
    abroad = desk.client.get(GUIDE, params={**window, "tz": TORONTO}).json()
    assert abroad["timezone"] == "Asia/Baku" and abroad["tz"] == TORONTO
    starts = [b["start"] for b in abroad["blocks"]]
    assert starts and all(s.endswith("-05:00") for s in starts)  # EST in late November
    assert instants(abroad) == instants(plain)
    # The monthly programme at 20:00 in Baku is at 11:00 in Toronto.
    show = next(b for b in abroad["blocks"] if b["kind"] == "programme")
    assert show["start"] == "2026-11-29T11:00:00-05:00"
    with_items = desk.client.get(GUIDE, params={**window, "tz": TORONTO, "items": "true"})
    items = [i for b in with_items.json()["blocks"] for i in b["items"]]
    assert items and all(i["start"].endswith("-05:00") for i in items)


def test_a_day_is_the_listeners_day(desk: Desk) -> None:
    build_radio_week(desk)
    baku = desk.client.get(GUIDE, params={"date": "2026-11-29"}).json()
    toronto = desk.client.get(GUIDE, params={"date": "2026-11-29", "tz": TORONTO}).json()
    assert datetime.fromisoformat(baku["start"]) == datetime.fromisoformat(
        "2026-11-29T00:00:00+04:00"
    )
    assert toronto["start"] == "2026-11-29T00:00:00-05:00"  # nine hours later than Baku's
    assert toronto["end"] == "2026-11-30T00:00:00-05:00"
    # "today" (NOW is Thursday 26 November, 12:00 in Baku: 03:00 in Toronto, the same day)
    today = desk.client.get(GUIDE, params={"tz": TORONTO}).json()
    assert today["start"] == "2026-11-26T00:00:00-05:00"
    tokyo = desk.client.get(GUIDE, params={"tz": "Asia/Tokyo"}).json()
    assert tokyo["start"] == "2026-11-26T00:00:00+09:00"


def test_an_unknown_zone_is_a_clear_problem(desk: Desk) -> None:
    build_radio_week(desk)
    for bad in ("Mars/Olympus", "../../etc/passwd", "EST5EDT,M3"):
        r = desk.client.get(GUIDE, params={"tz": bad})
        assert r.status_code == 422, bad
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["reason"] == "unknown-time-zone" and "IANA" in r.json()["detail"]


def events(ics: bytes) -> dict[str, tuple[datetime, datetime]]:
    cal = Calendar.from_ical(ics)
    return {str(e["uid"]): (e.decoded("dtstart"), e.decoded("dtend")) for e in cal.walk("VEVENT")}


def test_calendars_in_a_listeners_zone_hold_the_same_events(desk: Desk) -> None:
    build_radio_week(desk)
    for path in (
        "/api/v1/channels/diaspor-fm/schedule.ics?days=4",
        "/api/v1/programmes/veten-uzaqda-deyil/schedule.ics?days=4",
    ):
        utc = desk.client.get(path)
        local = desk.client.get(f"{path}&tz={TORONTO}")
        assert utc.status_code == local.status_code == 200
        assert b"DTSTART;TZID=America/Toronto:" in local.content
        assert (
            b"BEGIN:VTIMEZONE" in local.content
            and b"X-WR-TIMEZONE:America/Toronto" in local.content
        )
        assert b"TZID=" not in utc.content
        mine, theirs = events(local.content), events(utc.content)
        # The same events at the same instants; Toronto's four days end nine hours later.
        common = set(mine) & set(theirs)
        assert len(common) >= 0.8 * len(theirs) and all(mine[u] == theirs[u] for u in common)
        assert all(start.utcoffset().total_seconds() == -5 * 3600 for start, _ in mine.values())
