"""Bad uploads get a clear problem+json, leave nothing behind, and the queue keeps working."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from accounts.tokens import create_token
from api.app import create_app
from diaspor.compose import Station, build_station
from media.binaries import Tools
from media.errors import NotMedia
from playout.asrun import Outcome
from playout.decoder import ItemReader
from tests.conftest import settings_for
from tests.support import RecordingServer, make_media, run, serve_app, tone


@pytest.fixture
def small_station(tmp_path: Path, db_url: str, tools: Tools) -> Iterator[Station]:
    """A station whose upload limit is 1 MiB, so 'too large' is cheap to reach."""
    st = build_station(settings_for(tmp_path, db_url, max_upload_mb=1), tools=tools)
    yield st
    st.close()


@pytest.fixture
def client(small_station: Station) -> Iterator[httpx.Client]:
    token = create_token(small_station.db, small_station.clock, "editor", "editor")
    with (
        serve_app(create_app(small_station)) as base,
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c,
    ):
        yield c


def post(client: httpx.Client, name: str, data: bytes) -> httpx.Response:
    return client.post("/api/v1/media", files={"file": (name, data)})


def assert_refused(r: httpx.Response, status: int, reason: str, station: Station) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["reason"] == reason and problem["status"] == status
    assert problem["detail"]  # a sentence an editor can act on
    # Nothing half-written: no stored object, no database row, no staged upload.
    assert list(station.storage.keys()) == []
    assert station.library.list().items == []
    staging = station.settings.staging_dir
    assert not staging.exists() or list(staging.iterdir()) == []


@pytest.fixture(scope="module")
def good_mp3(tmp_path_factory: pytest.TempPathFactory, tools: Tools) -> bytes:
    d = tmp_path_factory.mktemp("good")
    return tone(tools.ffmpeg, d / "good.mp3", seconds=6, volume=0.4).read_bytes()


@pytest.fixture(scope="module")
def episodes(tmp_path_factory: pytest.TempPathFactory, tools: Tools) -> dict[str, bytes]:
    """The same short episode with its index at the front (faststart) and at the end."""
    d = tmp_path_factory.mktemp("video")
    common = [
        tools.ffmpeg,
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=320x180:r=25:d=8",
        "-f",
        "lavfi",
        "-i",
        "sine=d=8",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "25",
        "-c:a",
        "aac",
        "-shortest",
    ]
    subprocess.run([*common, "-movflags", "+faststart", str(d / "front.mp4")], check=True)
    subprocess.run([*common, str(d / "end.mp4")], check=True)
    return {k: (d / f"{k}.mp4").read_bytes() for k in ("front", "end")}


def then_a_good_file_still_goes_through(
    client: httpx.Client, station: Station, data: bytes
) -> None:
    r = post(client, "yaxşı.mp3", data)
    assert r.status_code == 201, r.text
    assert run(station.worker().drain()) == 1
    assert client.get(f"/api/v1/media/{r.json()['media']['id']}").json()["status"] == "ready"


def test_a_text_file_is_refused_as_not_media(
    client: httpx.Client, small_station: Station, good_mp3: bytes
) -> None:
    r = post(client, "mahnı.mp3", "Bu mahnı deyil.\n".encode() * 200)
    assert_refused(r, 422, "not-media", small_station)
    assert "mahnı.mp3" in r.json()["detail"]
    then_a_good_file_still_goes_through(client, small_station, good_mp3)


def test_an_empty_file_is_refused(client: httpx.Client, small_station: Station) -> None:
    assert_refused(post(client, "boş.mp3", b""), 422, "empty-file", small_station)


def test_a_truncated_mp3_is_refused(
    client: httpx.Client, small_station: Station, good_mp3: bytes
) -> None:
    r = post(client, "yarımçıq.mp3", good_mp3[: len(good_mp3) // 2])
    assert_refused(r, 422, "truncated-media", small_station)
    then_a_good_file_still_goes_through(client, small_station, good_mp3)


@pytest.mark.parametrize("layout", ["front", "end"])
def test_a_truncated_mp4_is_refused(
    layout: str, client: httpx.Client, small_station: Station, episodes: dict[str, bytes]
) -> None:
    data = episodes[layout]
    r = post(client, "veriliş.mp4", data[: len(data) * 2 // 3])
    assert_refused(r, 422, "truncated-media", small_station)


@pytest.mark.parametrize(
    "name", ["../../etc/passwd.mp3", "..", "a/b.mp3", "zəng\x07.mp3", "sətir\nsonu.mp3"]
)
def test_a_file_name_with_a_path_or_control_characters_is_refused(
    name: str, client: httpx.Client, small_station: Station, good_mp3: bytes
) -> None:
    # Build the multipart body by hand: clients would otherwise tidy such names up.
    boundary = "diaspor-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: audio/mpeg\r\n\r\n"
        ).encode()
        + good_mp3
        + f"\r\n--{boundary}--\r\n".encode()
    )
    r = client.post(
        "/api/v1/media",
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert_refused(r, 422, "invalid-file-name", small_station)


def test_an_upload_over_the_limit_is_stopped(
    client: httpx.Client, small_station: Station, good_mp3: bytes
) -> None:
    big = good_mp3 * (2 * 1024 * 1024 // len(good_mp3) + 1)  # > 2 MiB, the limit is 1 MiB
    assert_refused(post(client, "böyük.mp3", big), 413, "file-too-large", small_station)
    then_a_good_file_still_goes_through(client, small_station, good_mp3)


def test_a_file_damaged_inside_fails_analysis_and_its_bytes_are_kept_unpublished(
    client: httpx.Client, small_station: Station, episodes: dict[str, bytes], good_mp3: bytes
) -> None:
    data = bytearray(episodes["front"])
    n = len(data)
    data[n // 4 : n * 3 // 4] = bytes(range(256)) * ((n * 3 // 4 - n // 4) // 256) + bytes(
        (n * 3 // 4 - n // 4) % 256
    )
    r = post(client, "zədəli.mp4", bytes(data))
    assert r.status_code == 201, r.text  # looks fine from the outside...
    mid = r.json()["media"]["id"]
    run(small_station.worker().drain())
    m = client.get(f"/api/v1/media/{mid}").json()
    assert m["status"] == "failed" and m["error"]  # ...and the decode tells the truth
    assert m["original_url"] is None  # not served...
    # ...but never deleted automatically: the upload may be the only copy there is.
    assert list(small_station.storage.keys("originals/")) == [
        small_station.library.get(mid).storage_key
    ]
    job = client.get(f"/api/v1/jobs/{r.json()['job']['id']}").json()
    assert job["status"] == "failed" and job["attempts"] == 1  # not retried: it stays broken
    then_a_good_file_still_goes_through(client, small_station, good_mp3)


def test_a_file_longer_than_the_duration_limit_is_refused_before_analysis(
    client: httpx.Client, small_station: Station, tmp_path: Path
) -> None:
    # Six hours and five minutes of silence: a few KiB, hours of a worker's time.
    silence = ("-f", "lavfi", "-i", "anullsrc=r=1000:cl=mono", "-t", str(6 * 3600 + 300))
    silence += ("-c:a", "flac", "-frame_size", "65535")  # long frames: a tiny file
    long = make_media(small_station.tools.ffmpeg, tmp_path / "bütün gecə.flac", *silence)
    r = post(client, "bütün gecə.flac", long.read_bytes())
    assert_refused(r, 422, "too-long", small_station)
    assert "6 h" in r.json()["detail"] and "bütün gecə.flac" in r.json()["detail"]
    assert small_station.queue.list() == []
    assert small_station.settings.max_duration_s == 6 * 3600  # the default limit


# --- files that only point at other files ----------------------------------------------------


@pytest.fixture(scope="module")
def private_segment(tmp_path_factory: pytest.TempPathFactory, tools: Tools) -> Path:
    """A recording elsewhere on the server's disk that no upload may reach (MPEG-TS, the kind
    of file a playlist names)."""
    d = tmp_path_factory.mktemp("private")
    sine = "sine=f=660:sample_rate=48000:d=4"
    return make_media(tools.ffmpeg, d / "gizli.ts", "-f", "lavfi", "-i", sine, "-c:a", "aac")


def playlist(*entries: str) -> bytes:
    """An HLS media playlist of 4-second entries."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:4", "#EXT-X-MEDIA-SEQUENCE:0"]
    for entry in entries:
        lines += ["#EXTINF:4.0,", entry]
    return "\n".join([*lines, "#EXT-X-ENDLIST", ""]).encode()


@pytest.mark.parametrize("name", ["efir.m3u8", "efir.mp3"])
def test_an_uploaded_playlist_is_refused_and_what_it_names_is_never_fetched(
    name: str,
    client: httpx.Client,
    small_station: Station,
    private_segment: Path,
    good_mp3: bytes,
) -> None:
    with RecordingServer({"/daxili/seg.ts": private_segment.read_bytes()}) as web:
        secret_url = web.url.replace("http://", "http://redaktor:gizli-parol@") + "/daxili/seg.ts"
        body = playlist(str(private_segment), secret_url, str(private_segment))
        r = post(client, name, body)
        assert_refused(r, 422, "not-media", small_station)
        assert name in r.json()["detail"]
        assert web.requests == []
    then_a_good_file_still_goes_through(client, small_station, good_mp3)


def test_an_ffconcat_script_named_like_an_mp3_is_refused_at_import(
    small_station: Station, tmp_path: Path, private_segment: Path
) -> None:
    # `diaspor media import yükləmə/mahnı.mp3`: the script names a file beside it.
    folder = tmp_path / "yükləmə"
    folder.mkdir()
    (folder / "gizli.ts").write_bytes(private_segment.read_bytes())
    script = folder / "mahnı.mp3"
    script.write_text("ffconcat version 1.0\nfile gizli.ts\n", encoding="utf-8")

    with pytest.raises(NotMedia, match=r"mahnı\.mp3"):
        run(small_station.library.ingest(script))
    assert list(small_station.storage.keys()) == []
    assert small_station.library.list().items == []


def test_a_stored_playlist_read_by_url_makes_playout_fetch_nothing_it_names(
    tools: Tools, private_segment: Path
) -> None:
    """On S3 the radio reads originals through pre-signed URLs. A playlist stored before
    uploads were checked must not make its ffmpeg fetch what it names, credentials and all."""
    with RecordingServer({"/daxili/seg.ts": private_segment.read_bytes()}) as web:
        secret_url = web.url.replace("http://", "http://redaktor:gizli-parol@") + "/daxili/seg.ts"
        web.files["/originals/ab/cd/efir.mp3"] = playlist(secret_url)
        reader = ItemReader(tools.ffmpeg, f"{web.url}/originals/ab/cd/efir.mp3", 0, 3000)

        async def air() -> Outcome | None:
            try:
                await reader.open()
                return reader.failure
            finally:
                await reader.close()

        assert run(air()) == Outcome.CORRUPT
        assert [path for path, _ in web.requests] == ["/originals/ab/cd/efir.mp3"]


@pytest.fixture(scope="module")
def formats(tmp_path_factory: pytest.TempPathFactory, tools: Tools) -> dict[str, bytes]:
    d = tmp_path_factory.mktemp("formats")
    sine = ("-f", "lavfi", "-i", "sine=f=520:sample_rate=44100:d=5")
    made = {
        "wav": make_media(tools.ffmpeg, d / "s.wav", *sine),
        "flac": make_media(tools.ffmpeg, d / "s.flac", *sine),
        "mp4": make_media(
            tools.ffmpeg,
            d / "s.mp4",
            *("-f", "lavfi", "-i", "testsrc2=s=160x90:r=25:d=5", *sine),
            *("-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest"),
        ),
    }
    return {k: p.read_bytes() for k, p in made.items()}


@pytest.mark.parametrize("fmt", ["MP3", "wav", "flac", "mp4"])
def test_ordinary_audio_and_video_files_still_go_in(
    fmt: str,
    client: httpx.Client,
    small_station: Station,
    formats: dict[str, bytes],
    good_mp3: bytes,
) -> None:
    data = good_mp3 if fmt == "MP3" else formats[fmt]
    r = post(client, f"Qarabağ şikəstəsi.{fmt}", data)
    assert r.status_code == 201, r.text
    assert run(small_station.worker().drain()) >= 1
    item = client.get(f"/api/v1/media/{r.json()['media']['id']}").json()
    assert item["status"] == "ready", item
    (key,) = small_station.storage.keys("originals/")
    assert key.endswith(f".{fmt.lower()}")


def test_a_subtitle_that_is_not_webvtt_is_refused(
    client: httpx.Client, small_station: Station, good_mp3: bytes
) -> None:
    mid = post(client, "yaxşı.mp3", good_mp3).json()["media"]["id"]
    r = client.put(f"/api/v1/media/{mid}/subtitles/az", content=b"1\n00:00:01,000 --> x\n")
    assert r.status_code == 422 and "WebVTT" in r.json()["detail"]
    assert list(small_station.storage.keys("subtitles/")) == []
