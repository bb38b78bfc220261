"""Kept answers sent again (`api/replay.py`): exactly what the route would send now, headers
included, and never once what it was made from has changed."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import text

from tests.schedule_support import Desk, build_radio_week

GUIDE = "/api/v1/channels/diaspor-fm/schedule"
PLAYLIST = "hls/tv/diaspor-tv/180p.m3u8"


def replayed(desk: Desk) -> int:
    n: int = desk.app.state.replays.replayed
    return n


def test_a_guide_is_sent_again_as_it_went_out_with_cors_and_304_as_asked(desk: Desk) -> None:
    build_radio_week(desk)
    day: dict[str, Any] = {"date": "2026-11-29", "lang": "en"}
    first = desk.client.get(GUIDE, params=day)
    assert first.status_code == 200, first.text
    n = replayed(desk)

    again = desk.client.get(GUIDE, params=day)
    assert replayed(desk) == n + 1
    assert again.content == first.content
    own = ("date", "x-request-id")  # each answer's own: when it was sent, and its id
    assert {k: v for k, v in again.headers.items() if k not in own} == {
        k: v for k, v in first.headers.items() if k not in own
    }
    assert again.headers["x-request-id"] != first.headers["x-request-id"]

    # A partner's page (another origin) gets the CORS label; the next reader without an
    # Origin does not, and the labels do not pile up from one answer to the next.
    site = {"Origin": "https://icma.example"}
    cross = desk.client.get(GUIDE, params=day, headers=site)
    assert cross.headers["access-control-allow-origin"] == "*"
    cross2 = desk.client.get(GUIDE, params=day, headers=site)
    assert cross2.headers.get_list("vary") == cross.headers.get_list("vary")
    plain = desk.client.get(GUIDE, params=day)
    assert "access-control-allow-origin" not in plain.headers
    assert replayed(desk) == n + 4

    # Revalidation: 304 with the tag; another language or gzip is another answer.
    tag = first.headers["etag"]
    same = desk.client.get(GUIDE, params=day, headers={"If-None-Match": tag})
    assert same.status_code == 304 and same.headers["etag"] == tag and not same.content
    # A player that only ever revalidates (its tag from elsewhere): its second 304 is sent
    # again as the first went out.
    monday = {"date": "2026-11-30", "lang": "en"}
    tag = desk.client.get(GUIDE, params=monday, headers={"Accept-Language": "ru"}).headers["etag"]
    n = replayed(desk)
    for _ in range(2):
        same = desk.client.get(GUIDE, params=monday, headers={"If-None-Match": tag})
        assert same.status_code == 304 and same.headers["etag"] == tag and not same.content
    assert replayed(desk) == n + 1
    az = desk.client.get(GUIDE, params={**day, "lang": "az"})
    assert az.headers["content-language"] == "az" and az.content != first.content
    assert desk.client.get(GUIDE, params=day, headers={"Accept-Language": "ru"}).content == (
        first.content  # ?lang= wins over the header, as the route says
    )


def test_a_replaced_playlist_is_sent_at_once_never_the_kept_one(desk: Desk) -> None:
    storage = desk.station.storage
    url = f"/files/{PLAYLIST}"
    text = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{}\n"
    for seq in range(1, 6):
        storage.put_bytes(PLAYLIST, text.format(seq).encode(), durable=False)
        for _ in range(3):  # each reload after a new version is its body, at once
            r = desk.client.get(url)
            assert r.status_code == 200 and f"SEQUENCE:{seq}\n" in r.text, (seq, r.text)
    assert replayed(desk) >= 10  # the second and third reads of each version
    storage.delete(PLAYLIST)
    assert desk.client.get(url).status_code == 404


def test_now_playing_is_sent_again_with_each_readers_own_progress(desk: Desk) -> None:
    build_radio_week(desk)
    desk.clock.advance(3 * 86_400)  # Sunday 12:00 Baku: music on air
    desk.played_before(range(1, 5))  # a body over gzip's 1 KiB
    path = "/api/v1/channels/diaspor-fm/now-playing"
    for encoding in ("identity", "gzip"):
        ask = {"Accept-Encoding": encoding}
        first = desk.client.get(path, headers=ask)
        assert first.status_code == 200, first.text
        n = replayed(desk)
        desk.clock.advance(0.25)
        again = desk.client.get(path, headers=ask)
        assert replayed(desk) == n + 1
        assert again.headers.get("content-encoding") == first.headers.get("content-encoding")
        assert again.headers["etag"] == first.headers["etag"]
        a, b = first.json(), again.json()
        assert b["current"]["elapsed_ms"] == a["current"]["elapsed_ms"] + 250
        assert b["current"]["remaining_ms"] == a["current"]["remaining_ms"] - 250
        assert {**b, "current": None} == {**a, "current": None}
        desk.clock.advance(1)  # (so the next round starts from a body made anew)
    assert desk.client.get(path).headers.get("content-encoding") == "gzip"  # it was gzipped


def test_now_playing_goes_on_while_its_body_cannot_be_made_again(desk: Desk) -> None:
    """Once a second the body is made again (history and listeners move). Readers get the last
    one meanwhile, and while the database cannot make a new one, rather than an error."""
    build_radio_week(desk)
    desk.clock.advance(3 * 86_400)
    path = "/api/v1/channels/diaspor-fm/now-playing"
    first = desk.client.get(path).json()
    with desk.station.db.engine.begin() as c:  # the as-run log cannot be read
        c.execute(text("ALTER TABLE as_run RENAME TO as_run_away"))
    try:
        time.sleep(1.1)  # the body is over a second old
        desk.clock.advance(2)
        for _ in range(3):
            r = desk.client.get(path)
            assert r.status_code == 200, r.text
            assert r.json()["current"]["elapsed_ms"] == first["current"]["elapsed_ms"] + 2000
            time.sleep(0.2)
    finally:
        with desk.station.db.engine.begin() as c:
            c.execute(text("ALTER TABLE as_run_away RENAME TO as_run"))
    desk.played_before([1])
    time.sleep(1.1)  # the last renewal failed; the next one may run, and then does
    deadline = time.monotonic() + 5
    while not desk.client.get(path).json()["history"]:
        assert time.monotonic() < deadline, "the body was never made again"
        time.sleep(0.2)
