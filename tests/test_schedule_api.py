"""Editors plan the week over the API; the guide shows exactly what the timeline airs."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import httpx
import schemathesis
from sqlalchemy import select

from schedules.models import AuditRow, EntryRow
from schedules.plan import to_ms
from schedules.service import Schedules, columns
from station.db import Database
from tests.schedule_support import BAKU, NOW, Desk, build_radio_week


def test_the_guide_shows_the_monthly_programme_on_the_last_sunday_at_20(desk: Desk) -> None:
    build_radio_week(desk)
    day = desk.client.get(
        "/api/v1/channels/diaspor-fm/schedule", params={"date": "2026-11-29", "lang": "en"}
    ).json()
    assert day["timezone"] == "Asia/Baku" and day["lang"] == "en"
    blocks = day["blocks"]
    assert blocks[0]["start"] == "2026-11-28T20:00:00Z"  # local midnight, in UTC
    assert blocks[-1]["end"] == "2026-11-29T20:00:00Z"
    for a, b in pairwise(blocks):
        assert a["end"] == b["start"]
    show = [b for b in blocks if b["kind"] == "programme"]
    assert len(show) == 1
    assert show[0]["start"] == "2026-11-29T16:00:00Z"  # 20:00 in Baku
    assert show[0]["title"] == "Homeland Is Not Far" and show[0]["subtitle"] == "Berlin"
    assert (show[0]["season"], show[0]["episode"]) == (1, 3)
    assert show[0]["programme"] == "veten-uzaqda-deyil"
    # A day without it: the clock's hours, each an hour long, titled by the clock.
    other = desk.client.get(
        "/api/v1/channels/diaspor-fm/schedule", params={"date": "2026-11-27"}
    ).json()["blocks"]
    assert all(b["kind"] != "programme" for b in other)
    assert {b["title"] for b in other} == {"Musiqi saatı"}
    assert len(other) == 24


def test_titles_follow_the_language_asked_for_and_fall_back_to_azerbaijani(desk: Desk) -> None:
    build_radio_week(desk)
    params = {"date": "2026-11-29"}

    def show(**kw: str) -> dict[str, str]:
        blocks = desk.client.get("/api/v1/channels/diaspor-fm/schedule", **kw).json()["blocks"]  # type: ignore[arg-type]
        return next(b for b in blocks if b["kind"] == "programme")

    assert show(params=params, headers={"Accept-Language": "ru-RU,ru;q=0.9"})["title"] == (
        "Родина недалеко"
    )
    assert show(params=params)["title"] == "Vətən uzaqda deyil"  # no preference: az
    ru = show(params={**params, "lang": "ru"})
    assert ru["subtitle"] == "Berlin icması"  # no Russian episode title: the Azerbaijani one
    channels = desk.client.get("/api/v1/channels", params={"lang": "ru"}).json()["items"]
    base = desk.station.settings.base_url
    assert channels == [
        {
            "slug": "diaspor-fm",
            "kind": "radio",
            "name": "Диаспор.FM",
            "description": "Dünya azərbaycanlılarının radiosu",
            "logo": None,
            "timezone": "Asia/Baku",
            "streams": [
                {"url": "http://radio.example/diaspor.mp3", "format": "mp3", "bitrate": 128}
            ],
            "relays": [],  # none on this station (and the channel is not on air)
            "links": {
                "self": f"{base}/api/v1/channels/diaspor-fm",
                "now_playing": f"{base}/api/v1/channels/diaspor-fm/now-playing",
                "now_playing_events": f"{base}/api/v1/channels/diaspor-fm/now-playing/events",
                "schedule": f"{base}/api/v1/channels/diaspor-fm/schedule",
                "calendar": f"{base}/api/v1/channels/diaspor-fm/schedule.ics",
                "logo": None,
                "player": f"{base}/",
                "embed": f"{base}/embed/radio/diaspor-fm",
            },
        }
    ]
    bad = desk.client.get("/api/v1/channels/diaspor-fm/schedule", params={"lang": "fr"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"


def test_an_edit_is_in_the_very_next_guide_and_an_unchanged_day_is_sent_as_kept(
    desk: Desk, db_url: str
) -> None:
    week = build_radio_week(desk)
    url = "/api/v1/channels/diaspor-fm/schedule"
    day = {"date": "2026-11-29", "lang": "en", "items": "true"}
    kept = desk.app.state.renderings

    def show(r: httpx.Response) -> dict[str, Any]:
        assert r.status_code == 200, r.text
        blocks: list[dict[str, Any]] = r.json()["blocks"]
        return next(b for b in blocks if b["kind"] == "programme")

    first = desk.client.get(url, params=day)
    made = kept.made
    again = desk.client.get(url, params=day)
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    assert kept.made == made  # sent as kept, not made again
    zipped = desk.client.get(url, params=day, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.content == first.content
    assert kept.made == made

    # An editor renames the programme: the next read has the new title.
    path = f"programmes/{week['programme']['id']}"
    titles = {"az": "Vətən uzaqda deyil", "en": "Home Is Near"}
    r = desk.client.patch(
        f"/api/v1/manage/{path}", json={"titles": titles}, headers={"If-Match": desk.etag(path)}
    )
    assert r.status_code == 200, r.text
    assert show(desk.client.get(url, params=day))["title"] == "Home Is Near"
    assert kept.made == made + 1
    stale = desk.client.get(url, params=day, headers={"If-None-Match": first.headers["etag"]})
    assert stale.status_code == 200  # the old tag no longer matches

    # An edit in the library (the episode's file retitled) is in the next read too.
    media = f"/api/v1/media/{desk.media['show']}"
    etag = desk.client.get(media).headers["etag"]
    r = desk.client.patch(media, json={"title": "Berlin, yeni"}, headers={"If-Match": etag})
    assert r.status_code == 200, r.text
    items = show(desk.client.get(url, params=day))["items"]
    assert [i["title"] for i in items if i["media_id"] == desk.media["show"]] == ["Berlin, yeni"]

    # Another process (its own connections, as `diaspor serve` beside another replica) edits
    # the schedule: this one's next read has it.
    other = Schedules(Database(db_url), desk.clock)
    try:
        prog = other.get("programme", week["programme"]["id"])
        titles = {"az": "Vətən uzaqda deyil", "en": "Home Is Here"}
        other.update("programme", prog.id, prog.version, {"titles": titles}, "another process")
    finally:
        other.db.dispose()
    assert show(desk.client.get(url, params=day))["title"] == "Home Is Here"

    # Today's guide (no date asked) holds until the day ends in the channel's zone.
    today = desk.client.get(url).json()
    assert today["start"] == "2026-11-26T00:00:00+04:00"
    assert desk.client.get(url).json() == today
    desk.clock.advance(13 * 3600)  # 01:00 on the 27th in Baku
    assert desk.client.get(url).json()["start"] == "2026-11-27T00:00:00+04:00"


def test_the_items_of_the_guide_are_the_timeline_to_the_millisecond(desk: Desk) -> None:
    build_radio_week(desk)
    body = desk.client.get(
        "/api/v1/channels/diaspor-fm/schedule",
        params={"from": "2026-11-29T19:00:00", "to": "2026-11-29T21:00:00", "items": "true"},
    ).json()
    items = [i for b in body["blocks"] for i in b["items"]]
    timeline = desk.station.schedules.timeline(
        "diaspor-fm",
        datetime(2026, 11, 29, 19, tzinfo=BAKU),
        datetime(2026, 11, 29, 21, tzinfo=BAKU),
    )
    assert [(datetime.fromisoformat(i["start"]), i["media_id"]) for i in items] == [
        (t.start, t.media_id) for t in timeline
    ]
    ids = [i for i in items if i["start"].endswith(("16:00:00Z", "15:00:00Z"))]
    assert len(ids) == 2  # the programme at 20:00 and the station ID at 19:00, on the second


def test_two_hard_starts_that_overlap_are_refused_naming_both(desk: Desk) -> None:
    week = build_radio_week(desk)
    before = desk.client.get("/api/v1/manage/entries").json()["items"]
    r = desk.client.post(
        "/api/v1/manage/entries",
        json={
            "channel_id": week["channel"]["id"],
            "target_type": "media",
            "target_id": desk.media["news"],
            "start_local": "2026-12-27T20:00:30",
        },
    )
    assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["reason"] == "schedule-conflict"
    assert [c["id"] for c in problem["conflicting"]] == [None, week["monthly"]["id"]]
    assert "2026-12-27T20:00:30+04:00" in problem["detail"]
    assert (
        desk.client.get("/api/v1/manage/entries").json()["items"] == before
    )  # nothing was written
    # A soft start at the same moment is fine: it waits for the programme to end.
    desk.post(
        "entries",
        {
            "channel_id": week["channel"]["id"],
            "target_type": "media",
            "target_id": desk.media["news"],
            "start_local": "2026-12-27T20:00:30",
            "hard": False,
        },
    )


def test_a_station_id_every_few_minutes_is_checked_against_the_monthly_programme(
    desk: Desk,
) -> None:
    """A hard rule that starts thousands of times is compared over a week: a jingle every 3
    minutes from 20:00 on 27 December runs into the monthly programme there (refused, with
    when); one from 23:00 that day, after the programme, is taken."""
    week = build_radio_week(desk)
    jingle = {
        "channel_id": week["channel"]["id"],
        "target_type": "media",
        "target_id": desk.media["id"],
        "rrule": "FREQ=MINUTELY;INTERVAL=3",
    }
    desk.clock.advance(30 * 86_400)  # 26 December: the programme is tomorrow, within a week
    r = desk.client.post(
        "/api/v1/manage/entries", json={**jingle, "start_local": "2026-12-27T20:00:00"}
    )
    assert r.status_code == 409 and r.json()["reason"] == "schedule-conflict", r.text
    assert "2026-12-27T20:00:00+04:00" in r.json()["detail"]
    desk.post(
        "entries",
        {
            **jingle,
            "start_local": "2026-12-27T23:00:00",
            "rrule": "FREQ=MINUTELY;INTERVAL=3;UNTIL=20261228T000000",
        },
    )


def test_a_stale_write_gets_412_and_changes_nothing(desk: Desk) -> None:
    week = build_radio_week(desk)
    path = f"/api/v1/manage/programmes/{week['programme']['id']}"
    etag = desk.client.get(path).headers["etag"]
    assert desk.client.patch(path, json={"categories": ["News"]}).status_code == 428
    ok = desk.client.patch(path, json={"categories": ["Talk"]}, headers={"If-Match": etag})
    assert ok.status_code == 200 and ok.json()["version"] == 2
    stale = desk.client.patch(path, json={"categories": ["News"]}, headers={"If-Match": etag})
    assert stale.status_code == 412 and stale.json()["reason"] == "stale-version"
    assert desk.client.get(path).json()["categories"] == ["Talk"]
    gone = desk.client.delete(path, headers={"If-Match": etag})
    assert gone.status_code == 412
    in_use = desk.client.delete(path, headers={"If-Match": ok.headers["etag"]})
    assert in_use.status_code == 409 and in_use.json()["reason"] == "in-use"


def test_the_past_is_frozen_and_an_edit_takes_effect_after_the_horizon(desk: Desk) -> None:
    week = build_radio_week(desk)
    channel = week["channel"]["id"]
    # A one-off inside the 2-minute horizon cannot be scheduled.
    soon = (NOW + timedelta(seconds=90)).replace(tzinfo=None).isoformat()
    r = desk.client.post(
        "/api/v1/manage/entries",
        json={
            "channel_id": channel,
            "target_type": "media",
            "target_id": desk.media["id"],
            "start_local": soon,
        },
    )
    assert r.status_code == 409 and r.json()["reason"] == "frozen"

    # A day later the music clock has aired for a day.
    desk.clock.advance(86_400)
    now = NOW + timedelta(days=1)
    aired = desk.station.schedules.timeline("diaspor-fm", now - timedelta(hours=12), now)
    assert any(i.kind == "music" for i in aired)
    # Make the music clock a day programme, 06:00 to 18:00: the series splits where the
    # freeze horizon ends.
    bg = f"/api/v1/manage/entries/{week['background']['id']}"
    r = desk.client.patch(
        bg,
        json={"start_local": "2026-11-01T06:00:00", "duration_ms": 12 * 3_600_000},
        headers={"If-Match": desk.client.get(bg).headers["etag"]},
    )
    assert r.status_code == 200, r.text
    cutoff = now + timedelta(minutes=2)
    assert datetime.fromisoformat(r.json()["effective_from"]) == cutoff
    # What was planned (and aired) before is untouched ...
    assert desk.station.schedules.timeline("diaspor-fm", now - timedelta(hours=12), now) == aired
    # ... and the new rule holds from then on: the clock runs 06:00-18:00 Baku.
    nextday = desk.client.get(
        "/api/v1/channels/diaspor-fm/schedule", params={"date": "2026-11-28"}
    ).json()["blocks"]
    clock_blocks = [b for b in nextday if b["title"] == "Musiqi saatı"]
    first = datetime.fromisoformat(clock_blocks[0]["start"])
    last = datetime.fromisoformat(clock_blocks[-1]["end"])
    six = datetime(2026, 11, 28, 6, tzinfo=BAKU)
    assert six <= first < six + timedelta(seconds=15)  # soft: after the filler item at 06:00
    assert six + timedelta(hours=12) <= last < six + timedelta(hours=12, minutes=2)
    assert all(b["kind"] == "filler" for b in nextday if b not in clock_blocks)
    # The audit log says who changed what, with the before and after.
    audit = desk.station.schedules.audit("entry").items
    assert [a["action"] for a in audit[:2]] == ["update", "split"]
    assert audit[0]["actor"] == "Günay (editor)"
    assert audit[0]["before"]["start_local"] == "2026-11-01T00:00:00"
    assert audit[0]["after"]["start_local"] == "2026-11-01T06:00:00"
    assert audit[0]["after"]["duration_ms"] == 12 * 3_600_000
    assert audit[1]["after"]["retired"] is True
    assert datetime.fromisoformat(audit[1]["after"]["effective_until"]) == cutoff
    # A one-off that has aired cannot be edited at all.
    later = desk.post(
        "entries",
        {
            "channel_id": channel,
            "target_type": "media",
            "target_id": desk.media["id"],
            "start_local": "2026-11-27T13:00:00",
        },
    )
    desk.clock.advance(3600)
    one = f"/api/v1/manage/entries/{later['id']}"
    r = desk.client.patch(
        one,
        json={"start_local": "2026-11-27T18:00:00"},
        headers={"If-Match": desk.client.get(one).headers["etag"]},
    )
    assert r.status_code == 409 and r.json()["reason"] == "frozen"


def test_deleting_a_series_that_has_aired_keeps_its_past(desk: Desk) -> None:
    week = build_radio_week(desk)
    bg = f"/api/v1/manage/entries/{week['background']['id']}"
    before = desk.station.schedules.timeline("diaspor-fm", NOW - timedelta(hours=3), NOW)
    assert (
        desk.client.delete(
            bg, headers={"If-Match": desk.etag(f"entries/{week['background']['id']}")}
        ).status_code
        == 204
    )
    assert desk.client.get(bg).status_code == 404
    assert desk.station.schedules.timeline("diaspor-fm", NOW - timedelta(hours=3), NOW) == before
    later = desk.station.schedules.timeline(
        "diaspor-fm", NOW + timedelta(hours=3), NOW + timedelta(hours=4)
    )
    assert {i.kind for i in later} <= {"filler", "slate"}  # the music clock no longer runs


def test_invalid_schedule_input_is_refused_with_a_reason(desk: Desk) -> None:
    week = build_radio_week(desk)
    base = {
        "channel_id": week["channel"]["id"],
        "target_type": "playlist",
        "target_id": week["music"]["id"],
        "start_local": "2026-12-01T10:00:00",
    }
    cases = [
        ({**base, "rrule": "FREQ=SOMETIMES"}, "not valid"),
        ({**base, "target_id": 9999}, "no playlist 9999"),
        ({**base, "start_local": "2026-12-01T10:00:00+04:00"}, "without offset"),
        ({**base, "target_type": "clock", "target_id": week["clock"]["id"]}, "needs a duration"),
    ]
    for body, words in cases:
        r = desk.client.post("/api/v1/manage/entries", json=body)
        assert r.status_code == 422, r.text
        assert words in r.json()["detail"]
    r = desk.client.post(
        "/api/v1/manage/channels",
        json={
            "slug": "diaspor-tv",
            "kind": "tv",
            "names": {"az": "Diaspor TV"},
            "timezone": "Mars/Base",
        },
    )
    assert r.status_code == 422 and "Mars/Base" in r.json()["detail"]
    assert (
        desk.client.post("/api/v1/manage/clocks", json={"name": "boş", "slots": []}).status_code
        == 422
    )
    # Renaming to a slug another channel has: refused with a reason, nothing changed.
    tv = desk.client.post(
        "/api/v1/manage/channels",
        json={
            "slug": "diaspor-tv",
            "kind": "tv",
            "names": {"az": "Diaspor TV"},
            "timezone": "Asia/Baku",
        },
    )
    assert tv.status_code == 201, tv.text
    path = f"/api/v1/manage/channels/{tv.json()['id']}"
    taken = desk.client.patch(
        path, json={"slug": week["channel"]["slug"]}, headers={"If-Match": tv.headers["etag"]}
    )
    assert taken.status_code == 422 and "is taken" in taken.json()["detail"], taken.text
    assert desk.client.get(path).json()["slug"] == "diaspor-tv"


def test_schedule_editing_needs_an_editor(desk: Desk) -> None:
    build_radio_week(desk)
    with httpx.Client(base_url=desk.client.base_url) as anon:
        assert anon.get("/api/v1/channels").status_code == 200  # public
        assert anon.get("/api/v1/manage/entries").status_code == 401
        r = anon.post("/api/v1/manage/playlists", json={"name": "x"})
        assert r.status_code == 401
    assert len(desk.client.get("/api/v1/manage/playlists").json()["items"]) == 3
    audit = desk.client.get("/api/v1/manage/audit")
    assert audit.status_code == 403  # editors cannot read the audit log; admins can


def test_time_windows_are_checked(desk: Desk) -> None:
    build_radio_week(desk)
    url = "/api/v1/channels/diaspor-fm/schedule"
    assert desk.client.get(url, params={"from": "2026-11-29T10:00:00"}).status_code == 422
    assert (
        desk.client.get(
            url, params={"from": "2026-11-29T10:00:00", "to": "2026-12-29T10:00:00"}
        ).status_code
        == 422
    )
    assert desk.client.get("/api/v1/channels/no-such").status_code == 404
    far = desk.client.get(url, params={"date": "9867-03-30"})  # not computed for centuries
    assert far.status_code == 422 and far.json()["reason"] == "out-of-range"
    assert desk.client.get(url, params={"date": "2027-11-29"}).status_code == 200
    huge = desk.client.get("/api/v1/jobs/9223372036854775808")  # past 64-bit: not a 500
    assert huge.status_code == 422 and huge.json()["reason"] == "out-of-range"
    start = to_ms(datetime(2026, 11, 29, 10, tzinfo=BAKU))
    assert start > 0


def test_an_entry_reads_back_as_its_documented_schema_says_a_local_time_without_offset(
    desk: Desk,
) -> None:
    week = build_radio_week(desk)
    api = schemathesis.openapi.from_dict(desk.client.get("/openapi.json").json())
    one = desk.client.get(f"/api/v1/manage/entries/{week['monthly']['id']}")
    assert one.json()["start_local"] == "2026-01-25T20:00:00"  # as given: no offset
    api["/api/v1/manage/entries/{rid}"]["GET"].validate_response(one)
    api["/api/v1/manage/entries"]["GET"].validate_response(
        desk.client.get("/api/v1/manage/entries")
    )


def test_a_list_filter_takes_any_integer_and_refuses_what_is_not_one(desk: Desk) -> None:
    build_radio_week(desk)
    episodes = "/api/v1/manage/episodes"
    assert desk.client.get(episodes, params={"programme_id": -1}).json()["items"] == []
    assert len(desk.client.get(episodes).json()["items"]) == 1
    r = desk.client.get(episodes, params={"programme_id": "bir"})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["where"] == "query.programme_id"


def test_a_change_refuses_a_start_with_an_offset_as_a_new_entry_does(desk: Desk) -> None:
    week = build_radio_week(desk)
    path = f"entries/{week['monthly']['id']}"
    for start in ("2026-02-22T20:00:00+04:00", "2026-02-22T20:00:00Z"):
        r = desk.client.patch(
            f"/api/v1/manage/{path}",
            json={"start_local": start, "exdates": [start]},
            headers={"If-Match": desk.etag(path)},
        )
        assert r.status_code == 422 and "without offset" in r.json()["detail"], r.text
    assert desk.client.get(f"/api/v1/manage/{path}").json()["start_local"] == (
        "2026-01-25T20:00:00"
    )


def test_a_change_is_held_to_the_rules_of_a_new_record(desk: Desk) -> None:
    week = build_radio_week(desk)
    cases = [
        (f"episodes/{week['episode']['id']}", {"programme_id": None}, "programme_id"),
        (f"episodes/{week['episode']['id']}", {"titles": None}, "titles"),
        (f"channels/{week['channel']['id']}", {"crossfade_ms": -5}, "crossfade_ms"),
        (f"channels/{week['channel']['id']}", {"slug": "Böyük Hərflər"}, "slug"),
    ]
    for path, body, field in cases:
        before = desk.client.get(f"/api/v1/manage/{path}").json()
        r = desk.client.patch(
            f"/api/v1/manage/{path}", json=body, headers={"If-Match": desk.etag(path)}
        )
        assert r.status_code == 422, (body, r.text)
        assert r.json()["errors"][0]["where"] == f"body.{field}"
        assert desk.client.get(f"/api/v1/manage/{path}").json() == before
    ok = desk.client.patch(
        f"/api/v1/manage/episodes/{week['episode']['id']}",
        json={"season": None, "number": 4},  # null where a new episode may have it
        headers={"If-Match": desk.etag(f"episodes/{week['episode']['id']}")},
    )
    assert ok.status_code == 200 and (ok.json()["season"], ok.json()["number"]) == (None, 4)


def test_a_change_naming_something_that_is_not_there_is_refused_naming_it(desk: Desk) -> None:
    week = build_radio_week(desk)
    cases = [
        (f"episodes/{week['episode']['id']}", {"media_id": 48_000}, "no media item 48000"),
        (f"entries/{week['monthly']['id']}", {"channel_id": 9_999}, "no channel 9999"),
        (f"channels/{week['channel']['id']}", {"filler_playlist_id": 77}, "no playlist 77"),
    ]
    for path, body, words in cases:
        before = desk.client.get(f"/api/v1/manage/{path}").json()
        r = desk.client.patch(
            f"/api/v1/manage/{path}", json=body, headers={"If-Match": desk.etag(path)}
        )
        assert r.status_code == 422 and words in r.json()["detail"], (body, r.text)
        assert desk.client.get(f"/api/v1/manage/{path}").json() == before


def test_an_answer_in_the_language_of_accept_language_says_it_varies_by_it(desk: Desk) -> None:
    """A CDN or browser cache keys such an answer by Accept-Language too; one chosen by
    ?lang= does not vary, whatever the header says."""
    build_radio_week(desk)
    for path in (
        "/api/v1/channels",
        "/api/v1/channels/diaspor-fm",
        "/api/v1/channels/diaspor-fm/schedule",
        "/api/v1/now-playing",
        "/api/v1/programmes",
        "/api/v1/programmes/veten-uzaqda-deyil/podcast.xml",
    ):
        r = desk.client.get(path, headers={"Accept-Language": "en"})
        assert r.status_code == 200, path
        assert r.headers["content-language"] == "en", path
        varies = [v.strip().lower() for v in r.headers.get("vary", "").split(",")]
        assert varies.count("accept-language") == 1, (path, r.headers.get("vary"))
        asked = desk.client.get(path, params={"lang": "ru"}, headers={"Accept-Language": "en"})
        assert "accept-language" not in asked.headers.get("vary", "").lower(), path


def entries_and_audit(desk: Desk) -> tuple[list[Any], list[Any]]:
    """The schedule entries and the audit log, every row, as stored."""
    with desk.station.db.session() as s:
        entries = s.execute(select(EntryRow).order_by(EntryRow.id)).scalars()
        audit = s.execute(select(AuditRow).order_by(AuditRow.id)).scalars()
        return [columns(r) for r in entries], [columns(r) for r in audit]


def test_a_dry_run_answers_as_the_write_would_and_writes_nothing(desk: Desk) -> None:
    """An editor tries an entry before saving it: a clash with the monthly programme is the
    same 409 the save would get, a good one comes back as it would be stored, and neither
    leaves a row or an audit entry behind."""
    week = build_radio_week(desk)
    clash = {
        "channel_id": week["channel"]["id"],
        "target_type": "media",
        "target_id": desk.media["news"],
        "start_local": "2026-12-27T20:00:30",
    }
    before = entries_and_audit(desk)
    dry = desk.client.post("/api/v1/manage/entries", params={"dry_run": "true"}, json=clash)
    assert dry.status_code == 409 and dry.headers["content-type"] == "application/problem+json"
    assert entries_and_audit(desk) == before
    real = desk.client.post("/api/v1/manage/entries", json=clash)
    assert real.status_code == 409
    assert dry.json() == real.json()
    assert dry.json()["reason"] == "schedule-conflict"
    assert entries_and_audit(desk) == before

    good = {**clash, "start_local": "2026-12-27T23:00:00", "titles": {"az": "Gecə xəbərləri"}}
    ok = desk.client.post("/api/v1/manage/entries", params={"dry_run": "true"}, json=good)
    assert ok.status_code == 200, ok.text
    assert "location" not in ok.headers and "etag" not in ok.headers
    shown = ok.json()
    assert shown["start_local"] == "2026-12-27T23:00:00" and shown["version"] == 1
    assert shown["titles"] == {"az": "Gecə xəbərləri"}
    assert entries_and_audit(desk) == before
    listed = desk.client.get("/api/v1/manage/entries").json()["items"]
    assert all(e["start_local"] != "2026-12-27T23:00:00" for e in listed)
    saved = desk.post("entries", good)
    assert {k: v for k, v in saved.items() if k not in ("id", "created_at", "updated_at")} == {
        k: v for k, v in shown.items() if k not in ("id", "created_at", "updated_at")
    }


def test_a_dry_run_change_is_held_to_if_match_conflicts_and_the_frozen_past(desk: Desk) -> None:
    week = build_radio_week(desk)
    one = desk.post(
        "entries",
        {
            "channel_id": week["channel"]["id"],
            "target_type": "media",
            "target_id": desk.media["news"],
            "start_local": "2026-12-27T23:00:00",
        },
    )
    path = f"/api/v1/manage/entries/{one['id']}"
    etag = desk.client.get(path).headers["etag"]
    before = entries_and_audit(desk)

    def dry(body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
        return desk.client.patch(path, params={"dry_run": "true"}, json=body, headers=headers)

    assert dry({"start_local": "2026-12-27T22:00:00"}, {}).status_code == 428
    stale = dry({"start_local": "2026-12-27T22:00:00"}, {"If-Match": '"e1v9"'})
    assert stale.status_code == 412 and stale.json()["reason"] == "stale-version"
    clash = dry({"start_local": "2026-12-27T20:00:30"}, {"If-Match": etag})
    assert clash.status_code == 409 and clash.json()["reason"] == "schedule-conflict"
    moved = dry({"start_local": "2026-12-28T09:00:00"}, {"If-Match": etag})
    assert moved.status_code == 200, moved.text
    assert moved.json()["start_local"] == "2026-12-28T09:00:00" and moved.json()["version"] == 2
    assert "etag" not in moved.headers
    assert entries_and_audit(desk) == before
    assert desk.client.get(path).headers["etag"] == etag  # the same version: nothing written

    desk.clock.advance(32 * 86_400)  # 28 December: the entry aired last night
    frozen = dry({"start_local": "2026-12-29T09:00:00"}, {"If-Match": etag})
    real = desk.client.patch(
        path, json={"start_local": "2026-12-29T09:00:00"}, headers={"If-Match": etag}
    )
    assert frozen.status_code == real.status_code == 409
    assert frozen.json() == real.json() and frozen.json()["reason"] == "frozen"
    assert entries_and_audit(desk) == before
