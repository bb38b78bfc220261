"""Editors send large files in resumable parts (tus 1.0.0): a broken connection costs only
the part in flight, and the finished file enters the library as a one-request upload does;
on SQLite and PostgreSQL, against a real server."""

from __future__ import annotations

import base64
import hashlib
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from accounts.tokens import create_token
from api.app import create_app
from diaspor.compose import Station, build_station
from media.binaries import Tools
from station.clock import SimulatedClock
from tests.conftest import settings_for
from tests.support import run, serve_app

TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = "application/offset+octet-stream"


@dataclass
class Desk:
    station: Station
    clock: SimulatedClock
    base: str
    editor: httpx.Client
    presenter: httpx.Client


@pytest.fixture
def desk(tmp_path: Path, db_url: str, tools: Tools) -> Iterator[Desk]:
    clock = SimulatedClock(datetime(2026, 12, 3, 9, 0, tzinfo=UTC))
    station = build_station(
        settings_for(tmp_path, db_url, max_upload_mb=2), tools=tools, clock=clock
    )
    editor = create_token(station.db, clock, "Leyla (editor)", "editor")
    presenter = create_token(station.db, clock, "Rəşad (presenter)", "presenter")
    try:
        with (
            serve_app(create_app(station)) as base,
            httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {editor}", **TUS}, timeout=60
            ) as ed,
            httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {presenter}", **TUS}, timeout=60
            ) as pr,
        ):
            yield Desk(station, clock, base, ed, pr)
    finally:
        station.close()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def start(client: httpx.Client, length: int, filename: str, kind: str | None = None) -> str:
    meta = f"filename {b64(filename)}" + (f",kind {b64(kind)}" if kind else "")
    r = client.post(
        "/api/v1/uploads", headers={"Upload-Length": str(length), "Upload-Metadata": meta}
    )
    assert r.status_code == 201, r.text
    assert r.headers["tus-resumable"] == "1.0.0"
    assert r.headers["upload-expires"].endswith(" GMT")
    return r.headers["location"]


def send(client: httpx.Client, url: str, offset: int, data: bytes) -> httpx.Response:
    return client.patch(
        url, content=data, headers={"Upload-Offset": str(offset), "Content-Type": OCTETS}
    )


def offset_of(client: httpx.Client, url: str) -> int:
    r = client.head(url)
    assert r.status_code == 200, r.status_code
    assert r.headers["cache-control"] == "no-store"
    return int(r.headers["upload-offset"])


def send_half_and_hang_up(
    base: str, token: str, url: str, data: bytes, client: httpx.Client
) -> None:
    """A PATCH announcing the whole body, of which only the first half is sent before the
    connection is closed (a train going into a tunnel)."""
    host, port = base.removeprefix("http://").split(":")
    half = data[: len(data) // 2]
    head = (
        f"PATCH {url} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        f"Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: {OCTETS}\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(head + half)
        deadline = time.monotonic() + 10
        while client.get(url).json()["offset"] < len(half):  # the station has it on disk
            assert time.monotonic() < deadline, "the first half never reached the part"
            time.sleep(0.05)


def test_options_say_what_the_tus_server_supports(desk: Desk) -> None:
    r = desk.editor.options("/api/v1/uploads")
    assert r.status_code == 204
    assert r.headers["tus-version"] == "1.0.0"
    assert r.headers["tus-extension"] == "creation,termination"
    assert int(r.headers["tus-max-size"]) == 2 * 1024 * 1024


def test_an_upload_cut_halfway_resumes_where_it_stopped_and_enters_the_library(
    desk: Desk, media_dir: Path
) -> None:
    data = (media_dir / "tone.mp3").read_bytes()
    url = start(desk.editor, len(data), "Qarabağ — Sarı gəlin.mp3", kind="music")
    token = desk.editor.headers["authorization"].removeprefix("Bearer ")

    send_half_and_hang_up(desk.base, token, url, data, desk.editor)
    offset = offset_of(desk.editor, url)  # waits for the server to notice the hang-up
    assert offset == len(data) // 2

    r = send(desk.editor, url, offset, data[offset:])
    assert r.status_code == 204, r.text
    assert r.headers["upload-offset"] == str(len(data))
    media_id, job_id = r.headers["diaspor-media-id"], r.headers["diaspor-job-id"]
    state = desk.editor.get(url).json()
    assert state == {
        "id": url.rsplit("/", 1)[1],
        "filename": "Qarabağ — Sarı gəlin.mp3",
        "length": len(data),
        "offset": len(data),
        "media_id": int(media_id),
        "job_id": job_id,
    }

    assert run(desk.station.worker().drain()) == 1
    assert desk.editor.get(f"/api/v1/jobs/{job_id}").json()["status"] == "done"
    m = desk.editor.get(f"/api/v1/media/{media_id}").json()
    assert m["status"] == "ready" and m["kind"] == "music"
    assert m["original_name"] == "Qarabağ — Sarı gəlin.mp3"
    assert m["sha256"] == hashlib.sha256(data).hexdigest()
    assert m["duration_ms"] == 10_500
    with desk.station.storage.open(
        f"originals/{m['sha256'][:2]}/{m['sha256'][2:4]}/{m['sha256']}.mp3"
    ) as fh:
        assert fh.read() == data
    # Nothing of the upload is left beside the library's copy.
    assert not list(desk.station.settings.partial_uploads_dir.glob("*.part"))


def test_a_part_sent_for_the_wrong_offset_is_refused_and_changes_nothing(
    desk: Desk, media_dir: Path
) -> None:
    data = (media_dir / "short.wav").read_bytes()
    url = start(desk.editor, len(data), "short.wav")
    assert send(desk.editor, url, 0, data[:1000]).status_code == 204
    for wrong in (0, 500, 2000):
        r = send(desk.editor, url, wrong, data[wrong : wrong + 100])
        assert r.status_code == 409, r.text
        assert r.json()["reason"] == "upload-offset-mismatch"
        assert r.headers["tus-resumable"] == "1.0.0"
    assert offset_of(desk.editor, url) == 1000


def test_termination_deletes_what_was_sent(desk: Desk, media_dir: Path) -> None:
    data = (media_dir / "short.wav").read_bytes()
    url = start(desk.editor, len(data), "short.wav")
    assert send(desk.editor, url, 0, data[:4096]).status_code == 204
    assert desk.editor.delete(url).status_code == 204
    assert desk.editor.head(url).status_code == 404
    assert send(desk.editor, url, 4096, data[4096:]).status_code == 404
    assert not list(desk.station.settings.partial_uploads_dir.iterdir())


def test_a_presenter_may_not_upload(desk: Desk) -> None:
    r = desk.presenter.post(
        "/api/v1/uploads",
        headers={"Upload-Length": "100", "Upload-Metadata": f"filename {b64('a.mp3')}"},
    )
    assert r.status_code == 403 and r.json()["reason"] == "forbidden"
    assert r.headers["tus-resumable"] == "1.0.0"
    assert not desk.station.settings.partial_uploads_dir.exists()


def test_an_upload_left_unfinished_expires_and_is_removed(desk: Desk, media_dir: Path) -> None:
    data = (media_dir / "short.wav").read_bytes()
    stale = start(desk.editor, len(data), "short.wav")
    assert send(desk.editor, stale, 0, data[:1000]).status_code == 204
    desk.clock.advance(23 * 3600)
    assert send(desk.editor, stale, 1000, data[1000:2000]).status_code == 204  # alive again
    desk.clock.advance(23 * 3600)
    assert offset_of(desk.editor, stale) == 2000
    desk.clock.advance(3600 + 1)  # a full day with no byte
    fresh = start(desk.editor, len(data), "short.wav")  # starting one sweeps the folder
    folder = desk.station.settings.partial_uploads_dir
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{fresh.rsplit('/', 1)[1]}{ext}" for ext in (".json", ".part")
    )
    assert desk.editor.head(stale).status_code == 404


def test_a_file_over_the_limit_is_refused_at_creation(desk: Desk) -> None:
    r = desk.editor.post(
        "/api/v1/uploads",
        headers={
            "Upload-Length": str(2 * 1024 * 1024 + 1),
            "Upload-Metadata": f"filename {b64('uzun.wav')}",
        },
    )
    assert r.status_code == 413, r.text
    assert r.json()["reason"] == "file-too-large"
    assert not desk.station.settings.partial_uploads_dir.exists()


def test_a_request_without_the_tus_version_is_refused_with_the_version_spoken(desk: Desk) -> None:
    r = desk.editor.post(
        "/api/v1/uploads",
        headers={"Tus-Resumable": "0.2.2", "Upload-Length": "10", "Upload-Metadata": ""},
    )
    assert r.status_code == 412
    assert r.json()["reason"] == "tus-version" and r.headers["tus-version"] == "1.0.0"


def test_a_file_that_is_not_media_is_refused_when_whole_and_its_upload_removed(
    desk: Desk,
) -> None:
    data = b"this is not audio at all\n" * 400
    url = start(desk.editor, len(data), "qeyd.mp3")
    r = send(desk.editor, url, 0, data)
    assert r.status_code == 422, r.text
    assert r.json()["reason"] == "not-media"
    assert desk.editor.get(url).status_code == 404
    assert desk.editor.get("/api/v1/media").json()["items"] == []
