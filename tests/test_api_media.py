"""Editors upload media over HTTP, read back what the station measured, and delete what nothing
uses; on SQLite and PostgreSQL, on local storage and on an S3 server."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from accounts.tokens import create_token
from api.app import create_app
from diaspor.compose import Station
from media.library import EDITABLE
from schedules.models import AuditRow
from tests.conftest import AZ_ARTIST, AZ_TITLE
from tests.support import ebur128_integrated, make_media, run, serve_app, tone


@pytest.fixture
def api(any_station: Station) -> Iterator[httpx.Client]:
    token = create_token(any_station.db, any_station.clock, "Leyla (editor)", "editor")
    with (
        serve_app(create_app(any_station)) as base,
        httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as client,
    ):
        yield client


def upload(
    client: httpx.Client, path: Path, name: str | None = None, **fields: str
) -> httpx.Response:
    with open(path, "rb") as fh:
        return client.post("/api/v1/media", files={"file": (name or path.name, fh)}, data=fields)


def test_an_editor_uploads_a_song_and_reads_back_what_the_station_measured(
    api: httpx.Client, any_station: Station, media_dir: Path, tools: object
) -> None:
    r = upload(api, media_dir / "tone.mp3", kind="music")
    assert r.status_code == 201, r.text
    body = r.json()
    media, job = body["media"], body["job"]
    assert body["created"] is True
    assert media["status"] == "pending" and job["status"] == "queued"
    assert r.headers["location"] == f"/api/v1/media/{media['id']}"

    assert run(any_station.worker().drain()) == 1
    assert api.get(f"/api/v1/jobs/{job['id']}").json()["status"] == "done"

    m = api.get(f"/api/v1/media/{media['id']}").json()
    assert m["status"] == "ready"
    assert m["title"] == AZ_TITLE and m["artist"] == AZ_ARTIST and m["album"] == "Qarabağ"
    assert m["languages"] == ["az"]
    assert m["kind"] == "music"
    assert m["duration_ms"] == 10_500  # 1 s silence + 8 s tone + 1.5 s silence
    reference = ebur128_integrated(any_station.tools.ffmpeg, media_dir / "tone.mp3")
    assert abs(m["loudness_lufs"] - reference) <= 0.5
    assert m["true_peak_dbtp"] < -1
    assert abs(m["cue_in_ms"] - 1000) <= 50
    assert abs(m["cue_out_ms"] - 9000) <= 50
    assert m["sample_rate"] == 48000 and m["channels"] == 2 and m["audio_codec"] == "mp3"
    # The stored original is byte for byte what was sent.
    key = f"originals/{m['sha256'][:2]}/{m['sha256'][2:4]}/{m['sha256']}.mp3"
    with any_station.storage.open(key) as fh:
        assert fh.read() == (media_dir / "tone.mp3").read_bytes()


def test_stored_files_are_served_from_either_storage(
    api: httpx.Client, any_station: Station
) -> None:
    """`/files/` (the embedded default's file server): a live playlist and a media file read
    back byte for byte from the folder or the bucket, and a missing key is a problem."""
    playlist = b"#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.000,\nseg-00001.ts\n"
    segment = bytes(range(256)) * 700  # larger than one read block
    any_station.storage.put_bytes("hls/tv/kanal/720p.m3u8", playlist, durable=False)
    any_station.storage.put_bytes("hls/tv/kanal/seg-00001.ts", segment)
    r = api.get("/files/hls/tv/kanal/720p.m3u8")
    assert r.status_code == 200 and r.content == playlist
    assert r.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    s = api.get("/files/hls/tv/kanal/seg-00001.ts")
    assert s.status_code == 200 and s.content == segment
    gone = api.get("/files/hls/tv/kanal/yoxdur.m3u8")
    assert gone.status_code == 404
    assert gone.headers["content-type"] == "application/problem+json"


def test_a_video_episode_gets_a_poster_and_its_subtitles(
    api: httpx.Client, any_station: Station, media_dir: Path
) -> None:
    r = upload(api, media_dir / "episode.mp4", title="Vətən uzaqda deyil — 1-ci buraxılış")
    assert r.status_code == 201, r.text
    mid = r.json()["media"]["id"]
    for lang in ("az", "en"):
        put = api.put(
            f"/api/v1/media/{mid}/subtitles/{lang}",
            content=(media_dir / f"episode.{lang}.vtt").read_bytes(),
            headers={"Content-Type": "text/vtt"},
        )
        assert put.status_code == 200, put.text
    run(any_station.worker().drain())
    m = api.get(f"/api/v1/media/{mid}").json()
    assert m["kind"] == "programme" and m["status"] == "ready"
    assert (m["width"], m["height"], m["frame_rate"], m["video_codec"]) == (640, 360, 25.0, "h264")
    assert m["title"] == "Vətən uzaqda deyil — 1-ci buraxılış"
    assert abs(m["duration_ms"] - 6000) <= 30
    assert [s["lang"] for s in m["subtitles"]] == ["az", "en"]
    poster = api.get(httpx.URL(m["artwork_url"]).path)
    assert poster.status_code == 200 and poster.content[:3] == b"\xff\xd8\xff"  # a JPEG
    sub = api.get(httpx.URL(m["subtitles"][0]["url"]).path)
    assert "Xoş gəlmisiniz!" in sub.text


def test_the_same_file_uploaded_twice_is_stored_once(
    api: httpx.Client, any_station: Station, media_dir: Path
) -> None:
    first = upload(api, media_dir / "short.wav")
    again = upload(api, media_dir / "short.wav", "another-name.wav")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["created"] is False
    assert again.json()["media"]["id"] == first.json()["media"]["id"]
    assert len([k for k in any_station.storage.keys("originals/")]) == 1


@pytest.fixture
def local_api(station: Station) -> Iterator[tuple[httpx.Client, str]]:
    token = create_token(station.db, station.clock, "Leyla (editor)", "editor")
    with serve_app(create_app(station)) as base, httpx.Client(base_url=base, timeout=60) as c:
        yield c, token


def test_the_library_lists_filters_searches_and_pages(
    local_api: tuple[httpx.Client, str], station: Station, media_dir: Path
) -> None:
    client, token = local_api
    client.headers["Authorization"] = f"Bearer {token}"
    upload(client, media_dir / "tone.mp3", kind="music")
    upload(client, media_dir / "short.wav", kind="jingle", title="Diaspor.FM nişanı")
    upload(client, media_dir / "episode.mp4")
    everything = client.get("/api/v1/media").json()
    assert len(everything["items"]) == 3 and everything["next_cursor"] is None
    assert [m["kind"] for m in client.get("/api/v1/media?kind=jingle").json()["items"]] == [
        "jingle"
    ]
    found = client.get("/api/v1/media", params={"q": "VƏTƏN"}).json()["items"]
    assert {m["title"] for m in found} == {AZ_TITLE}  # case-folded Azerbaijani search
    assert len(client.get("/api/v1/media", params={"q": "aşıq"}).json()["items"]) == 1
    page1 = client.get("/api/v1/media?limit=2").json()
    page2 = client.get("/api/v1/media", params={"limit": 2, "cursor": page1["next_cursor"]}).json()
    ids = [m["id"] for m in page1["items"] + page2["items"]]
    assert len(ids) == 3 and len(set(ids)) == 3 and page2["next_cursor"] is None
    bad = client.get("/api/v1/media?cursor=bm9wZQ")
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"


@pytest.fixture
def song(local_api: tuple[httpx.Client, str], media_dir: Path) -> tuple[httpx.Client, int]:
    """An editor's client, and the id of a song they uploaded."""
    client, token = local_api
    client.headers["Authorization"] = f"Bearer {token}"
    return client, upload(client, media_dir / "tone.mp3").json()["media"]["id"]


def test_edits_need_the_current_etag_and_a_stale_one_changes_nothing(
    song: tuple[httpx.Client, int],
) -> None:
    client, mid = song
    got = client.get(f"/api/v1/media/{mid}")
    etag = got.headers["etag"]
    change = {"title": "Sarı gəlin", "kind": "music", "titles": {"en": "Yellow bride"}}
    assert client.patch(f"/api/v1/media/{mid}", json=change).status_code == 428
    ok = client.patch(f"/api/v1/media/{mid}", json=change, headers={"If-Match": etag})
    assert ok.status_code == 200 and ok.json()["title"] == "Sarı gəlin"
    assert ok.headers["etag"] != etag
    stale = client.patch(f"/api/v1/media/{mid}", json={"title": "X"}, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    assert client.get(f"/api/v1/media/{mid}").json()["title"] == "Sarı gəlin"
    cues = client.patch(
        f"/api/v1/media/{mid}",
        json={"cue_in_ms": 5000, "cue_out_ms": 4000},
        headers={"If-Match": ok.headers["etag"]},
    )
    assert cues.status_code == 422 and "cue_out_ms" in cues.json()["detail"]


def test_an_edit_may_clear_only_what_an_item_may_lack(song: tuple[httpx.Client, int]) -> None:
    client, mid = song
    before = client.get(f"/api/v1/media/{mid}")
    for field in (f for f in EDITABLE if not f.startswith("cue_")):  # cues alone may be null
        r = client.patch(
            f"/api/v1/media/{mid}", json={field: None}, headers={"If-Match": before.headers["etag"]}
        )
        assert r.status_code == 422, (field, r.text)
        assert r.json()["errors"][0]["where"] == f"body.{field}"
    assert client.get(f"/api/v1/media/{mid}").json() == before.json()
    cleared = client.patch(
        f"/api/v1/media/{mid}",
        json={"cue_in_ms": None, "cue_out_ms": None},  # the whole file again
        headers={"If-Match": before.headers["etag"]},
    )
    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["cue_in_ms"], cleared.json()["cue_out_ms"]) == (None, None)


def test_an_editor_describes_a_song_in_three_languages_and_retags_it(
    song: tuple[httpx.Client, int],
) -> None:
    client, mid = song
    before = client.get(f"/api/v1/media/{mid}")
    assert before.json()["descriptions"] == {}
    descriptions = {
        "az": "Şuşa dağlarında çalınan köhnə xalq mahnısı, ağır ritmdə.",
        "en": "An old folk song played in the mountains of Shusha.",
        "ru": "Старая народная песня из гор Шуши.",
    }
    tags = {"mood": "sakit", "region": "Qarabağ"}
    change = {"descriptions": descriptions, "tags": tags}
    ok = client.patch(
        f"/api/v1/media/{mid}", json=change, headers={"If-Match": before.headers["etag"]}
    )
    assert ok.status_code == 200, ok.text
    got = client.get(f"/api/v1/media/{mid}").json()
    assert (got["descriptions"], got["tags"]) == (descriptions, tags)
    # a description is found by the library's search
    found = client.get("/api/v1/media", params={"q": "şuşa dağlarında"}).json()["items"]
    assert [m["id"] for m in found] == [mid]
    # the new tags replace the old ones; the version read before is stale now
    stale = client.patch(
        f"/api/v1/media/{mid}", json={"tags": {}}, headers={"If-Match": before.headers["etag"]}
    )
    assert stale.status_code == 412
    retagged = client.patch(
        f"/api/v1/media/{mid}",
        json={"tags": {"tempo": "ağır"}},
        headers={"If-Match": ok.headers["etag"]},
    )
    assert retagged.status_code == 200 and retagged.json()["tags"] == {"tempo": "ağır"}
    assert retagged.json()["descriptions"] == descriptions
    now = retagged.headers["etag"]
    for bad in (
        {"descriptions": {"de": "Ein altes Lied"}},
        {"descriptions": {"az": "ə" * 5001}},
        {"tags": {f"t{i}": "x" for i in range(51)}},
        {"tags": {"": "x"}},
        {"tags": {"k" * 41: "x"}},
        {"tags": {"mood": "x" * 501}},
    ):
        r = client.patch(f"/api/v1/media/{mid}", json=bad, headers={"If-Match": now})
        assert r.status_code == 422, (bad, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    assert client.get(f"/api/v1/media/{mid}").json() == retagged.json()


def test_routes_refuse_anonymous_and_wrong_role_callers(
    local_api: tuple[httpx.Client, str], station: Station, media_dir: Path
) -> None:
    client, token = local_api
    presenter = create_token(station.db, station.clock, "Rauf (presenter)", "presenter")
    anon = client.get("/api/v1/media")
    assert anon.status_code == 401 and anon.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/v1/media", headers={"Authorization": "Bearer nope"}).status_code == 401
    as_presenter = {"Authorization": f"Bearer {presenter}"}
    assert client.get("/api/v1/media", headers=as_presenter).status_code == 200
    with httpx.Client(base_url=client.base_url, headers=as_presenter) as as_them:
        assert upload(as_them, media_dir / "short.wav").status_code == 403
    assert (
        client.get("/api/v1/media", headers={"Authorization": f"Bearer {token}"}).json()["items"]
        == []
    )
    assert client.get("/health").json()["status"] == "ok"


def test_a_subtitle_over_5_mib_is_refused_while_it_is_still_arriving(
    local_api: tuple[httpx.Client, str], station: Station, media_dir: Path
) -> None:
    client, token = local_api
    client.headers["Authorization"] = f"Bearer {token}"
    mid = upload(client, media_dir / "episode.mp4").json()["media"]["id"]
    cue = "00:00:01.000 --> 00:00:02.000\nXoş gəlmisiniz!\n\n".encode()
    chunk = cue * (64 * 1024 // len(cue))
    url = client.base_url

    # 6 MiB sent in chunks, with no length announced; then the sender holds the last chunk
    # back. The server has to answer from what it has read: it may not wait for the rest.
    with socket.create_connection((url.host, url.port), timeout=10) as sock:
        sock.sendall(
            f"PUT /api/v1/media/{mid}/subtitles/az HTTP/1.1\r\nHost: {url.host}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: text/vtt\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        sent = 0
        for part in [b"WEBVTT\n\n", *[chunk] * (6 * 1024 * 1024 // len(chunk))]:
            sock.sendall(b"%x\r\n%b\r\n" % (len(part), part))
            sent += len(part)
        assert sent > 6 * 1000 * 1000
        answer = http.client.HTTPResponse(sock)
        answer.begin()  # on a server that reads the whole body first: a timeout here
        assert answer.status == 413
        assert answer.getheader("content-type") == "application/problem+json"
        problem = json.loads(answer.read())
        assert problem["reason"] == "file-too-large" and "5 MiB" in problem["detail"]

    assert list(station.storage.keys("subtitles/")) == []
    staging = station.settings.staging_dir
    assert not staging.exists() or list(staging.iterdir()) == []
    # A subtitle of an ordinary size still goes on.
    put = client.put(
        f"/api/v1/media/{mid}/subtitles/az",
        content=(media_dir / "episode.az.vtt").read_bytes(),
        headers={"Content-Type": "text/vtt"},
    )
    assert put.status_code == 200, put.text


def stored_keys(station: Station) -> list[str]:
    return sorted(station.storage.keys(""))


def test_a_media_item_in_use_is_kept_and_an_unused_one_goes_with_all_its_files(
    api: httpx.Client, any_station: Station, media_dir: Path
) -> None:
    with open(media_dir / "episode.mp4", "rb") as fh:
        up = api.post("/api/v1/media", files={"file": ("Vətən — 1.mp4", fh)})
    assert up.status_code == 201, up.text
    mid = up.json()["media"]["id"]
    put = api.put(
        f"/api/v1/media/{mid}/subtitles/az",
        content=(media_dir / "episode.az.vtt").read_bytes(),
        headers={"Content-Type": "text/vtt"},
    )
    assert put.status_code == 200, put.text
    run(any_station.worker().drain())  # analysis, artwork, then the HLS package
    m = api.get(f"/api/v1/media/{mid}").json()
    assert m["status"] == "ready" and m["artwork_url"]
    keys = stored_keys(any_station)
    assert any(k.startswith(f"hls/assets/{mid}/") for k in keys)
    assert any(k.startswith("artwork/") for k in keys) and any("subtitles/" in k for k in keys)

    ch = api.post(
        "/api/v1/manage/channels", json={"slug": "tv", "kind": "tv", "names": {"az": "TV"}}
    ).json()
    pl = api.post("/api/v1/manage/playlists", json={"name": "Gecə", "media_ids": [mid]}).json()
    pr = api.post(
        "/api/v1/manage/programmes", json={"slug": "veten", "titles": {"az": "Vətən"}}
    ).json()
    ep = api.post("/api/v1/manage/episodes", json={"programme_id": pr["id"], "media_id": mid})
    assert ep.status_code == 201, ep.text
    entry = api.post(
        "/api/v1/manage/entries",
        json={
            "channel_id": ch["id"],
            "target_type": "media",
            "target_id": mid,
            "start_local": "2027-03-01T20:00:00",
        },
    )
    assert entry.status_code == 201, entry.text

    refused = api.delete(f"/api/v1/media/{mid}")
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["reason"] == "media-in-use"
    assert problem["used_by"] == {
        "schedule_entries": [entry.json()["id"]],
        "playlists": [pl["id"]],
        "episodes": [ep.json()["id"]],
    }
    assert f"playlists {pl['id']}" in problem["detail"]
    assert api.get(f"/api/v1/media/{mid}").status_code == 200
    assert stored_keys(any_station) == keys

    for path, made in (
        ("entries", entry),
        ("episodes", ep),
    ):
        r = api.delete(
            f"/api/v1/manage/{path}/{made.json()['id']}",
            headers={"If-Match": made.headers["etag"]},
        )
        assert r.status_code == 204, r.text
    pl_now = api.get(f"/api/v1/manage/playlists/{pl['id']}")
    assert (
        api.patch(
            f"/api/v1/manage/playlists/{pl['id']}",
            json={"media_ids": []},
            headers={"If-Match": pl_now.headers["etag"]},
        ).status_code
        == 200
    )

    assert api.delete(f"/api/v1/media/{mid}").status_code == 204
    assert api.get(f"/api/v1/media/{mid}").status_code == 404
    assert api.delete(f"/api/v1/media/{mid}").status_code == 404
    left = stored_keys(any_station)
    assert not [k for k in left if m["sha256"] in k or k.startswith(f"hls/assets/{mid}/")]
    with any_station.db.session() as s:
        audit = s.scalars(
            select(AuditRow).where(AuditRow.resource == "media", AuditRow.resource_id == mid)
        ).one()
        assert (audit.action, audit.actor) == ("delete", "Leyla (editor)")
        assert audit.before is not None and audit.before["sha256"] == m["sha256"]


def test_the_waveform_shows_silence_then_sound_and_is_measured_again_when_missing(
    api: httpx.Client, any_station: Station, tmp_path: Path
) -> None:
    path = tone(
        any_station.tools.ffmpeg,
        tmp_path / "sükut-səs.wav",
        seconds=2,
        lead=1.0,
        volume=0.5,
        codec=("-c:a", "pcm_s16le"),
    )
    r = upload(api, path)
    assert r.status_code == 201, r.text
    media = r.json()["media"]
    run(any_station.worker().drain())

    peaks = api.get(f"/api/v1/media/{media['id']}/peaks")
    assert peaks.status_code == 200, peaks.text
    body = peaks.json()
    assert body["peaks_per_second"] == 50
    assert abs(body["duration_ms"] - 3000) <= 30
    steps = body["peaks"]
    assert abs(len(steps) - 150) <= 2
    silence, sound = steps[2:45], steps[55:145]
    assert all(-0.001 <= lo <= hi <= 0.001 for lo, hi in silence)
    # lavfi's sine is at 1/8 of full scale; at half volume and folded to mono (-3 dB), its
    # crests are at 0.044 of it, in every step.
    assert all(-0.05 < lo < -0.04 and 0.04 < hi < 0.05 for lo, hi in sound)

    # An item analysed before waveforms were measured: the first ask measures it.
    key = f"peaks/{media['sha256']}.json"
    assert any_station.storage.exists(key)
    any_station.storage.delete(key)
    again = api.get(f"/api/v1/media/{media['id']}/peaks")
    assert again.status_code == 200 and again.json() == body
    assert any_station.storage.exists(key)


def test_an_editor_gives_a_song_its_cover_and_a_file_that_is_not_one_is_refused(
    api: httpx.Client, any_station: Station, media_dir: Path, tmp_path: Path
) -> None:
    r = upload(api, media_dir / "short.wav")
    assert r.status_code == 201, r.text
    mid = r.json()["media"]["id"]
    assert r.json()["media"]["artwork_url"] is None
    cover = make_media(
        any_station.tools.ffmpeg, tmp_path / "üz.png", "-f", "lavfi", "-i",
        "testsrc2=s=320x320:d=1", "-frames:v", "1",
    )  # fmt: skip

    put = api.put(
        f"/api/v1/media/{mid}/artwork",
        content=cover.read_bytes(),
        headers={"Content-Type": "image/png"},
    )
    assert put.status_code == 200, put.text
    url = put.json()["artwork_url"]
    assert url and url.endswith(".png")
    assert api.get(httpx.URL(url).path).content == cover.read_bytes()

    run(any_station.worker().drain())  # the analysis keeps the editor's cover
    assert api.get(f"/api/v1/media/{mid}").json()["artwork_url"] == url

    fake = api.put(
        f"/api/v1/media/{mid}/artwork",
        content=b"\x89PNG\r\n\x1a\n" + b"not really" * 100,
        headers={"Content-Type": "image/png"},
    )
    assert fake.status_code == 422, fake.text
    assert fake.json()["reason"] == "unusable-media"
    wrong_type = api.put(
        f"/api/v1/media/{mid}/artwork", content=b"GIF89a", headers={"Content-Type": "image/gif"}
    )
    assert wrong_type.status_code == 415
    assert wrong_type.json()["reason"] == "unsupported-content-type"
    assert api.get(f"/api/v1/media/{mid}").json()["artwork_url"] == url


def test_a_channel_gets_its_logo_against_the_version_it_was_read_at(
    api: httpx.Client, any_station: Station, tmp_path: Path
) -> None:
    ch = api.post(
        "/api/v1/manage/channels", json={"slug": "radio", "kind": "radio", "names": {"az": "Radio"}}
    )
    assert ch.status_code == 201, ch.text
    logo = make_media(
        any_station.tools.ffmpeg, tmp_path / "loqo.jpg", "-f", "lavfi", "-i",
        "testsrc2=s=256x256:d=1", "-frames:v", "1",
    )  # fmt: skip
    path = f"/api/v1/manage/channels/{ch.json()['id']}/logo"
    jpeg = {"Content-Type": "image/jpeg"}
    put = api.put(path, content=logo.read_bytes(), headers={**jpeg, "If-Match": ch.headers["etag"]})
    assert put.status_code == 200, put.text
    assert put.headers["etag"] != ch.headers["etag"]
    url = put.json()["logo_url"]
    assert url.endswith(".jpg") and api.get(httpx.URL(url).path).content == logo.read_bytes()
    assert api.get(f"/api/v1/manage/channels/{ch.json()['id']}").json()["logo_url"] == url

    stale = api.put(
        path, content=logo.read_bytes(), headers={**jpeg, "If-Match": ch.headers["etag"]}
    )
    assert stale.status_code == 412 and stale.json()["reason"] == "stale-version"
    assert len(list(any_station.storage.keys("logos/"))) == 1  # the refused one was not kept
