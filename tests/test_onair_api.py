"""An operator at the console skips the item on air and plays an urgent announcement now:
each is an action the timeline takes in, audited with who gave it."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from sqlalchemy import select, update

from accounts.tokens import create_token
from media.models import MediaRow
from schedules.models import AuditRow
from schedules.plan import to_ms
from tests.schedule_support import Desk, build_radio_week

PROBLEM = "application/problem+json"


def test_a_skip_cuts_the_item_on_air_seconds_from_now_and_is_audited(desk: Desk) -> None:
    build_radio_week(desk)
    desk.clock.advance(timedelta(minutes=10).total_seconds())
    r = desk.client.post("/api/v1/manage/channels/diaspor-fm/skip")
    assert r.status_code == 202, r.text
    body = r.json()
    at = datetime.fromisoformat(body["at"])
    assert at == desk.clock.now() + timedelta(seconds=3)  # now, plus the lead
    items = desk.station.schedules.timeline(
        "diaspor-fm", at - timedelta(minutes=5), at + timedelta(minutes=5)
    )
    cut = next(i for i in items if i.end_ms == to_ms(at))
    assert (cut.action, cut.action_id, cut.cut) == ("skip", body["action_id"], True)
    assert any(i.start_ms == to_ms(at) for i in items)  # what follows starts then
    with desk.station.db.session() as s:
        row = s.scalars(select(AuditRow).where(AuditRow.resource == "action")).one()
    assert (row.actor, row.action, row.resource_id) == ("Günay (editor)", "skip", body["action_id"])
    assert row.after is not None and row.after["channel"] == "diaspor-fm"
    assert datetime.fromisoformat(row.after["at"]) == at and row.at == desk.clock.now()


def test_play_now_puts_the_announcement_on_air_then_the_schedule_resumes(desk: Desk) -> None:
    build_radio_week(desk)
    desk.clock.advance(timedelta(minutes=10).total_seconds())
    news = desk.media["news"]
    r = desk.client.post("/api/v1/manage/channels/diaspor-fm/play-now", json={"media_id": news})
    assert r.status_code == 202, r.text
    at = datetime.fromisoformat(r.json()["at"])
    items = desk.station.schedules.timeline("diaspor-fm", at, at + timedelta(minutes=5))
    assert (items[0].media_id, items[0].start_ms, items[0].action) == (news, to_ms(at), "play-now")
    assert items[1].start_ms == items[0].end_ms and items[1].media_id != news
    with desk.station.db.session() as s:
        row = s.scalars(select(AuditRow).where(AuditRow.resource == "action")).one()
    assert row.action == "play-now" and row.after == {
        "channel": "diaspor-fm",
        "kind": "play-now",
        "at": at.isoformat(),
        "media_id": news,
    }


def test_presenters_may_not_touch_the_air(desk: Desk) -> None:
    build_radio_week(desk)
    token = create_token(desk.station.db, desk.clock, "Aysel", "presenter")
    headers = {"Authorization": f"Bearer {token}"}
    base = str(desk.client.base_url)
    with httpx.Client(base_url=base, headers=headers, timeout=30) as presenter:
        for path, body in (("skip", None), ("play-now", {"media_id": desk.media["news"]})):
            r = presenter.post(f"/api/v1/manage/channels/diaspor-fm/{path}", json=body)
            assert r.status_code == 403 and r.headers["content-type"] == PROBLEM
    with httpx.Client(base_url=base, timeout=30) as anonymous:
        assert anonymous.post("/api/v1/manage/channels/diaspor-fm/skip").status_code == 401
    with desk.station.db.session() as s:
        assert s.scalars(select(AuditRow).where(AuditRow.resource == "action")).first() is None


def test_bad_orders_are_refused_with_a_problem_and_change_nothing(desk: Desk) -> None:
    week = build_radio_week(desk)
    base = "/api/v1/manage/channels"

    def refused(path: str, body: object, status: int, reason: str) -> None:
        r = desk.client.post(f"{base}/{path}", json=body)
        assert r.status_code == status, r.text
        assert r.headers["content-type"] == PROBLEM and r.json()["reason"] == reason

    refused("no-such-channel/skip", None, 404, "not-found")
    refused("no-such-channel/play-now", {"media_id": desk.media["news"]}, 404, "not-found")
    refused("diaspor-fm/play-now", {"media_id": 987654}, 422, "media-not-airable")
    refused("diaspor-fm/play-now", {}, 422, "invalid-request")
    with desk.station.db.session() as s:
        s.execute(update(MediaRow).where(MediaRow.id == desk.media["bed"]).values(status="pending"))
    refused("diaspor-fm/play-now", {"media_id": desk.media["bed"]}, 409, "media-not-ready")
    # TV: the sequencer does not follow operators' actions; refused, whatever the media.
    desk.post("channels", {"slug": "diaspor-tv", "kind": "tv", "names": {"az": "Diaspor TV"}})
    refused("diaspor-tv/play-now", {"media_id": desk.media["news"]}, 409, "not-on-tv")
    refused("diaspor-tv/skip", None, 409, "not-on-tv")
    # Nothing scheduled on a radio channel: a gap's slate, nothing to skip.
    desk.post("channels", {"slug": "diaspor-bos", "kind": "radio", "names": {"az": "Boş"}})
    refused("diaspor-bos/skip", None, 409, "nothing-on-air")
    assert week  # the radio's schedule was there all along
    with desk.station.db.session() as s:
        assert s.scalars(select(AuditRow).where(AuditRow.resource == "action")).first() is None
