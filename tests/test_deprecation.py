"""A deprecated part of the API keeps working until its sunset and says so on every answer
(Deprecation, Sunset, Link to its successor and the changelog; `deprecated` in the
document); after the sunset it answers 410 with what replaced it (docs/api.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from tests.schedule_support import Desk, build_radio_week


def test_the_old_tv_page_works_says_it_is_deprecated_and_goes_at_its_sunset(desk: Desk) -> None:
    build_radio_week(desk)
    desk.post("channels", {"slug": "diaspor-tv", "kind": "tv", "names": {"az": "Diaspor TV"}})
    base = desk.station.settings.base_url
    r = desk.client.get("/static/tv.html", params={"src": "/files/hls/tv/diaspor-tv/master.m3u8"})
    assert r.status_code == 200 and "<video" in r.text
    since = datetime.fromtimestamp(int(r.headers["deprecation"].removeprefix("@")), UTC)
    sunset = parsedate_to_datetime(r.headers["sunset"])
    assert since == datetime(2026, 12, 3, tzinfo=UTC)
    assert (sunset - since).days >= 180  # the policy: at least six months
    assert f'<{base}/embed/tv/diaspor-tv>; rel="successor-version"' in r.headers["link"]
    assert f'<{base}/static/api-changelog.md>; rel="deprecation"' in r.headers["link"]
    changelog = desk.client.get("/static/api-changelog.md")
    assert changelog.status_code == 200 and "/static/tv.html" in changelog.text
    op = desk.client.get("/openapi.json").json()["paths"]["/static/tv.html"]["get"]
    assert op["deprecated"] is True and "2027-06-01" in op["description"]
    assert "410" in op["responses"]
    # After the sunset: gone, saying what to use instead.
    desk.clock.advance((sunset - desk.clock.now()).total_seconds() + 1)
    gone = desk.client.get("/static/tv.html")
    assert gone.status_code == 410
    assert gone.headers["content-type"] == "application/problem+json"
    assert gone.json()["reason"] == "sunset" and "/embed/tv/diaspor-tv" in gone.json()["detail"]
