"""The HTTP contract of every public GET: 200, a strong ETag and 304, Cache-Control, CORS,
gzip for large JSON, problem+json for bad input; and now-playing as readers see it."""

from __future__ import annotations

import gzip
import re
from typing import Any

import httpx
import pytest

from api.http import cache_control_for, etag_matches, strong_etag
from playout.nowplaying import NowPlaying
from schedules.plan import to_ms
from tests.schedule_support import Desk, build_radio_week

STREAMS = {"/api/v1/channels/{slug}/now-playing/events", "/api/v1/now-playing/events"}


def public_paths(desk: Desk, week: dict[str, Any]) -> list[str]:
    """Every GET path of the OpenAPI document, path parameters filled from the demo-like week."""
    spec = desk.client.get("/openapi.json").json()
    media = desk.station.library.get(desk.media["song1"])
    fill = {
        "/api/v1/channels/": {"slug": "diaspor-fm"},
        "/api/v1/programmes/": {"slug": "veten-uzaqda-deyil"},
        "/api/v1/episodes/": {"episode_id": str(week["episode"]["id"])},
        "/files/": {"key": media.storage_key},
    }
    out = []
    for path, ops in spec["paths"].items():
        if "get" not in ops or path in STREAMS:
            continue
        params = next((v for k, v in fill.items() if path.startswith(k)), {})
        names = re.findall(r"{(\w+)}", path)
        if any(n not in params for n in names):
            continue  # an editor's route (media, manage, jobs): not public
        out.append(path.format(**params))
    return out


@pytest.fixture
def week(desk: Desk) -> dict[str, Any]:
    w = build_radio_week(desk)
    desk.clock.advance(3 * 86_400)  # Sunday 29 November, 12:00 Baku: the episode has aired
    return w


def test_every_public_get_has_an_etag_a_304_and_cache_control(desk: Desk, week: Any) -> None:
    checked = []
    with httpx.Client(base_url=desk.client.base_url, timeout=30) as anon:
        for path in public_paths(desk, week):
            r = anon.get(path)
            if r.status_code in (401, 403):
                continue  # not public
            assert r.status_code == 200, (path, r.text[:300])
            assert r.headers.get("cache-control"), path
            etag = r.headers.get("etag")
            assert etag, path
            again = anon.get(path, headers={"If-None-Match": etag})
            assert again.status_code == 304 and again.content == b"", path
            assert again.headers["etag"] == etag
            checked.append(path)
    assert "/api/v1/channels/diaspor-fm/now-playing" in checked
    assert "/epg.xml" in checked and "/api/v1/programmes/veten-uzaqda-deyil/podcast.xml" in checked
    assert any(p.startswith("/files/") for p in checked)


def test_cache_lifetimes_fit_each_resource() -> None:
    assert cache_control_for("/api/v1/channels/diaspor-fm/now-playing") == "public, max-age=5"
    assert cache_control_for("/files/hls/tv/diaspor-tv/720p/index.m3u8") == "public, max-age=2"
    assert cache_control_for("/files/hls/radio/diaspor-fm/index.m3u8") == "public, max-age=2"
    assert "immutable" in (cache_control_for("/files/hls/assets/3/720p/seg-00001.ts") or "")
    assert "31536000" in (cache_control_for("/static/vendor/hls.min.js") or "")
    assert cache_control_for("/api/v1/channels/diaspor-fm/schedule") == "public, max-age=60"
    # Now-playing as a stored file changes with every item, as the API's answer does.
    for path in ("/files/nowplaying/diaspor-fm.json", "/files/onair/diaspor-fm.json"):
        assert re.search(r"max-age=[0-5]\b", cache_control_for(path) or ""), path
    assert etag_matches('W/"abc", "x"', '"abc-gzip"') and not etag_matches('"abd"', '"abc"')
    assert strong_etag(b"a") == strong_etag(b"a") != strong_etag(b"b")


def test_live_radio_segments_are_cached_briefly_and_packaged_segments_for_good() -> None:
    """The radio's live segments come from an encoder that may restart; packaged assets and
    slates are written once under their names."""
    radio = cache_control_for("/files/hls/radio/diaspor-fm/seg-1767225600000-000042.ts") or ""
    assert "immutable" not in radio and "max-age=60" in radio
    for path in (
        "/files/hls/assets/3/720p/seg-00001.ts",
        "/files/hls/slate/diaspor-tv/720p/seg-00000.ts",
    ):
        assert "immutable" in (cache_control_for(path) or ""), path


def test_browsers_may_read_from_other_origins(desk: Desk, week: Any) -> None:
    r = desk.client.options(
        "/api/v1/channels/diaspor-fm/now-playing",
        headers={"Origin": "https://player.example", "Access-Control-Request-Method": "GET"},
    )
    assert r.status_code == 200
    assert "GET" in r.headers["access-control-allow-methods"]
    assert r.headers["access-control-allow-origin"] in ("*", "https://player.example")
    got = desk.client.get("/api/v1/channels", headers={"Origin": "https://player.example"})
    assert "etag" in got.headers["access-control-expose-headers"].lower()


def test_large_json_is_gzipped_and_its_etag_says_so(desk: Desk, week: Any) -> None:
    path = "/api/v1/channels/diaspor-fm/schedule?items=true"
    plain = desk.client.get(path, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and len(plain.content) > 1024
    with httpx.Client(base_url=desk.client.base_url, timeout=30) as raw:
        req = raw.build_request("GET", path, headers={"Accept-Encoding": "gzip"})
        r = raw.send(req, stream=True)
        body = b"".join(r.iter_raw())
    assert r.headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == plain.content
    assert r.headers["etag"] != plain.headers["etag"] and r.headers["etag"].endswith('-gzip"')
    assert "accept-encoding" in r.headers["vary"].lower()
    cond = desk.client.get(
        path, headers={"Accept-Encoding": "gzip", "If-None-Match": plain.headers["etag"]}
    )
    assert cond.status_code == 304


def test_a_stored_file_answers_byte_ranges(desk: Desk, week: Any) -> None:
    key = desk.station.library.get(desk.media["song1"]).storage_key
    whole = desk.client.get(f"/files/{key}")
    r = desk.client.get(f"/files/{key}", headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == whole.content[100:200]
    assert r.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
    assert "immutable" in whole.headers["cache-control"]  # originals are named by their hash


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/channels/diaspor-fm/schedule?date=notadate",
        "/api/v1/channels?lang=xx",
        "/api/v1/channels/no-such",
        "/api/v1/channels/no-such/now-playing",
        "/api/v1/programmes/no-such/podcast.xml",
        "/api/v1/episodes/notanumber",
    ],
)
def test_bad_requests_are_problems(desk: Desk, week: Any, path: str) -> None:
    r = desk.client.get(path)
    assert r.status_code in (404, 422)
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == r.status_code


def test_now_playing_says_how_far_in_what_played_before_and_the_artwork(
    desk: Desk, week: Any
) -> None:
    now = desk.clock.now()
    desk.played_before([1])  # what playout would have logged an hour ago
    body = desk.client.get("/api/v1/channels/diaspor-fm/now-playing").json()
    cur = body["current"]
    assert cur["elapsed_ms"] + cur["remaining_ms"] == cur["duration_ms"]
    started = to_ms(__import__("datetime").datetime.fromisoformat(cur["started_at"]))
    assert cur["elapsed_ms"] == to_ms(now) - started
    assert body["history"][0]["title"] == "Ayrılıq"
    assert body["listeners"] is None  # no relay in this process
    assert "artwork" in cur


def test_sse_resumes_without_repeating_the_event_the_client_has(desk: Desk, week: Any) -> None:
    path = "/api/v1/channels/diaspor-fm/now-playing/events"

    def first_line(headers: dict[str, str]) -> str:
        with desk.client.stream("GET", path, headers=headers) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            assert "content-encoding" not in r.headers and "etag" not in r.headers
            return next(r.iter_lines())

    assert first_line({"Accept-Encoding": "gzip"}) == "id: 0"
    assert first_line({"Last-Event-ID": "0"}) == ": resumed"
    assert first_line({"Last-Event-ID": "7"}) == "id: 0"  # not ours: send the current one


def test_now_playing_revalidates_within_an_item_and_changes_at_once(desk: Desk, week: Any) -> None:
    """One body per item for everyone: a client holding it gets 304 (its progress it advances
    itself), and a published change is answered at once, with a new tag and number."""
    path = "/api/v1/channels/diaspor-fm/now-playing"
    first = desk.client.get(path)
    tag = first.headers["etag"]
    assert tag.startswith('W/"')
    desk.clock.advance(2)  # two seconds later, the same item: elapsed moved, the tag did not
    again = desk.client.get(path)
    assert again.headers["etag"] == tag
    assert again.json()["current"]["elapsed_ms"] == first.json()["current"]["elapsed_ms"] + 2000
    assert desk.client.get(path, headers={"If-None-Match": tag}).status_code == 304
    hub = desk.station.now_playing
    changed = hub.publish(NowPlaying("diaspor-fm", None, live=True, presenter="Aysel Məmmədova"))
    now = desk.client.get(path, headers={"If-None-Match": tag})
    assert now.status_code == 200 and now.headers["etag"] != tag
    assert now.json()["seq"] == changed.seq and now.json()["presenter"] == "Aysel Məmmədova"


def test_sse_subscribers_each_get_a_change_and_one_that_leaves_is_let_go(
    desk: Desk, week: Any
) -> None:
    """Under a real uvicorn: three subscribers get the published change with its number, and
    the hub forgets one as soon as it closes its connection (not at the next heartbeat)."""
    import threading
    import time

    from api.app import create_app
    from tests.support import serve_app

    hub = desk.station.now_playing
    path = "/api/v1/channels/diaspor-fm/now-playing/events"

    def subscribers() -> int:
        return len(hub._subscribers.get("diaspor-fm", ()))

    with serve_app(create_app(desk.station)) as base, httpx.Client(base_url=base) as c:
        got: list[list[str]] = [[], [], []]
        ready = threading.Barrier(4, timeout=20)

        def listen(k: int) -> None:
            with c.stream("GET", path, timeout=20) as r:
                lines = r.iter_lines()
                got[k].append(next(lines))  # the current event's "id: N"
                ready.wait()
                for line in lines:
                    if line.startswith("id: ") and len(got[k]) == 1:
                        got[k].append(line)
                    if line.startswith("data: ") and len(got[k]) == 2:
                        got[k].append(line)
                        return

        threads = [threading.Thread(target=listen, args=(k,)) for k in range(3)]
        for t in threads:
            t.start()
        ready.wait()
        changed = hub.publish(NowPlaying("diaspor-fm", None, live=True, presenter="Aysel"))
        for t in threads:
            t.join(20)
        for lines in got:
            assert lines[0] == "id: 0"
            assert lines[1] == f"id: {changed.seq}" and '"presenter": "Aysel"' in lines[2]
        deadline = time.monotonic() + 5
        while subscribers() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert subscribers() == 0  # all three closed: none left to wake for the next change
