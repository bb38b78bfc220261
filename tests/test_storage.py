"""Stored files: a local folder and an S3 bucket behind one interface. A write is all or
nothing, keys never leave the storage root, and big files go to S3 in parts."""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from media.binaries import Tools
from media.errors import NotFound, StorageError
from media.storage import LocalStorage, S3Storage, build_storage, check_key, original_key
from station.settings import Settings
from tests.support import tone

MiB = 1024 * 1024


def leftovers(root: Path) -> list[Path]:
    """Temporary files a write may have left anywhere under root."""
    return [p for p in root.rglob("*") if p.name.endswith(".part")]


@pytest.fixture
def local(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "storage")


# --- local folder -------------------------------------------------------------------------


def test_bytes_written_to_the_folder_read_back_the_same(local: LocalStorage) -> None:
    data = "Xoş gəlmisiniz!\n".encode() * 1000
    local.put_bytes("artwork/ab/cover.jpg", data, mime="image/jpeg")

    assert local.exists("artwork/ab/cover.jpg")
    assert local.size("artwork/ab/cover.jpg") == len(data)
    with local.open("artwork/ab/cover.jpg") as fh:
        assert fh.read() == data
    with local.local_path("artwork/ab/cover.jpg") as p:
        assert p == local.root / "artwork" / "ab" / "cover.jpg"
        assert p.read_bytes() == data
    assert leftovers(local.root) == []


def test_a_copied_file_reads_back_the_same_and_the_source_stays(
    local: LocalStorage, tmp_path: Path
) -> None:
    src = tmp_path / "upload.mp3"
    src.write_bytes(os.urandom(300_000))
    local.put_file("originals/song.mp3", src)

    assert src.exists()  # copied, not taken
    assert (local.root / "originals" / "song.mp3").read_bytes() == src.read_bytes()
    assert leftovers(local.root) == []


def test_a_moved_file_is_taken_from_its_source(local: LocalStorage, tmp_path: Path) -> None:
    src = tmp_path / "staged.wav"
    data = os.urandom(50_000)
    src.write_bytes(data)
    local.put_file("originals/staged.wav", src, move=True)

    assert not src.exists()
    with local.open("originals/staged.wav") as fh:
        assert fh.read() == data
    assert leftovers(local.root) == []


@pytest.mark.parametrize("durable", [True, False], ids=["flushed", "left-to-the-system"])
def test_writing_a_key_again_replaces_the_whole_file(local: LocalStorage, durable: bool) -> None:
    local.put_bytes("playlist.m3u8", b"a much longer first version of the file\n")
    local.put_bytes("playlist.m3u8", b"short\n", durable=durable)
    with local.open("playlist.m3u8") as fh:
        assert fh.read() == b"short\n"
    assert leftovers(local.root) == []


@pytest.mark.parametrize("move", [False, True], ids=["copy", "move"])
def test_a_source_that_vanished_stores_nothing(
    local: LocalStorage, tmp_path: Path, move: bool
) -> None:
    with pytest.raises(FileNotFoundError):
        local.put_file("originals/gone.mp3", tmp_path / "gone.mp3", move=move)

    assert not local.exists("originals/gone.mp3")
    assert list(local.keys()) == []
    assert leftovers(local.root) == []


@pytest.mark.parametrize("move", [False, True], ids=["copy", "move"])
def test_a_folder_given_as_the_source_stores_nothing(
    local: LocalStorage, tmp_path: Path, move: bool
) -> None:
    folder = tmp_path / "not-a-file"
    folder.mkdir()
    (folder / "inside.mp3").write_bytes(b"ID3")

    with pytest.raises(OSError):
        local.put_file("originals/folder.mp3", folder, move=move)

    assert not (local.root / "originals" / "folder.mp3").exists()
    assert (folder / "inside.mp3").read_bytes() == b"ID3"  # the source is left alone
    assert list(local.keys()) == []
    assert leftovers(local.root) == []


def test_a_copy_that_cannot_be_put_in_place_leaves_no_temporary_file(
    local: LocalStorage, tmp_path: Path
) -> None:
    # The bytes are copied beside the destination, then the final rename fails: a folder
    # already sits where the file should go.
    (local.root / "originals" / "taken.mp3").mkdir(parents=True)
    src = tmp_path / "taken.mp3"
    src.write_bytes(os.urandom(100_000))

    with pytest.raises(OSError):
        local.put_file("originals/taken.mp3", src)

    assert not local.exists("originals/taken.mp3")
    assert leftovers(local.root) == []
    assert src.exists()


def test_a_stored_file_copied_to_another_key_reads_the_same_and_both_stay(
    local: LocalStorage,
) -> None:
    data = os.urandom(50_000)
    local.put_bytes("hls/assets/3/old/720p/seg-00000.ts", data)
    local.copy("hls/assets/3/old/720p/seg-00000.ts", "hls/assets/3/new/720p/seg-00000.ts")
    for key in ("hls/assets/3/old/720p/seg-00000.ts", "hls/assets/3/new/720p/seg-00000.ts"):
        with local.open(key) as fh:
            assert fh.read() == data, key
    local.delete("hls/assets/3/old/720p/seg-00000.ts")  # the copy does not go with it
    assert local.size("hls/assets/3/new/720p/seg-00000.ts") == len(data)
    with pytest.raises(NotFound):
        local.copy("hls/assets/3/old/720p/seg-00000.ts", "hls/assets/3/x/seg.ts")
    assert not local.exists("hls/assets/3/x/seg.ts") and leftovers(local.root) == []


def test_a_write_in_progress_is_not_listed(local: LocalStorage) -> None:
    local.put_bytes("hls/ep1/seg0.ts", b"done")
    # What a writer looks like half-way: a temporary file beside the destination.
    (local.root / "hls" / "ep1" / ".seg1.ts.0123abcd.part").write_bytes(b"half")

    assert list(local.keys()) == ["hls/ep1/seg0.ts"]
    assert not local.exists("hls/ep1/seg1.ts")


def test_keys_are_listed_by_prefix(local: LocalStorage) -> None:
    for key in ("hls/a/0.ts", "hls/b/0.ts", "hls-old/0.ts", "originals/x.mp3"):
        local.put_bytes(key, b"x")

    assert sorted(local.keys()) == ["hls-old/0.ts", "hls/a/0.ts", "hls/b/0.ts", "originals/x.mp3"]
    assert list(local.keys("hls/")) == ["hls/a/0.ts", "hls/b/0.ts"]
    assert list(local.keys("originals")) == ["originals/x.mp3"]


def test_deleting_removes_the_file_and_a_missing_file_is_not_found(local: LocalStorage) -> None:
    local.put_bytes("tmp/x.bin", b"x")
    local.delete("tmp/x.bin")
    local.delete("tmp/x.bin")  # twice is fine

    assert not local.exists("tmp/x.bin")
    with pytest.raises(NotFound):
        local.open("tmp/x.bin")
    with pytest.raises(NotFound):
        local.size("tmp/x.bin")
    with pytest.raises(NotFound), local.local_path("tmp/x.bin"):
        pass


@pytest.mark.parametrize(
    "key",
    ["../x", "/abs", "/etc/passwd", "a/../../b", "a/..", "..", "a\\b", "..\\x", "a\x00b", ""],
)
def test_a_key_that_could_leave_the_storage_root_is_refused(
    local: LocalStorage, tmp_path: Path, key: str
) -> None:
    with pytest.raises(StorageError):
        check_key(key)
    with pytest.raises(StorageError):
        local.put_bytes(key, b"escape")
    with pytest.raises(StorageError):
        local.open(key)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_ordinary_keys_are_kept_as_given() -> None:
    assert check_key("originals/ab/cd/abcd.mp3") == "originals/ab/cd/abcd.mp3"
    assert check_key("hls/Vətən/seg 01.ts") == "hls/Vətən/seg 01.ts"
    assert check_key("a/./b") == "a/b"


# --- content-addressed keys ---------------------------------------------------------------


def test_the_same_bytes_always_get_the_same_key() -> None:
    sha = hashlib.sha256("Aşıq Ələsgər".encode()).hexdigest()
    other = hashlib.sha256("Qarabağ".encode()).hexdigest()

    assert original_key(sha, ".mp3") == original_key(sha, ".mp3")
    assert original_key(sha, ".mp3") == f"originals/{sha[:2]}/{sha[2:4]}/{sha}.mp3"
    assert original_key(sha, ".mp3") != original_key(other, ".mp3")
    check_key(original_key(sha, ".mp3"))


def test_the_suffix_is_lower_cased_and_any_other_than_a_media_one_is_dropped() -> None:
    sha = hashlib.sha256(b"x").hexdigest()
    base = f"originals/{sha[:2]}/{sha[2:4]}/{sha}"

    assert original_key(sha, ".MP3") == base + ".mp3"
    assert original_key(sha, ".Mp4") == base + ".mp4"
    assert original_key(sha, "") == base
    assert original_key(sha, ".") == base
    # Only the suffix of a container the library accepts: never a playlist's or a script's.
    for odd in (".a b", ".mp3/../x", ".tar.gz", ".verylongsuffix", ".mp3\x00", "./", ".m3u8"):
        assert original_key(sha, odd) == base, odd


# --- S3 -----------------------------------------------------------------------------------


@pytest.fixture
def s3(s3_bucket: dict[str, Any], tmp_path: Path) -> S3Storage:
    """Storage under a key prefix, with 5 MiB parts; the fixture closes the client."""
    return S3Storage(
        s3_bucket["client"],
        s3_bucket["bucket"],
        prefix="station",
        part_size=5 * MiB,
        scratch=tmp_path / "scratch",
    )


def raw_keys(b: dict[str, Any]) -> list[str]:
    """Object keys as the bucket itself lists them."""
    res = b["client"].list_objects_v2(Bucket=b["bucket"])
    return sorted(o["Key"] for o in res.get("Contents", []))


@pytest.mark.s3
def test_an_object_is_written_read_listed_and_deleted(
    s3: S3Storage, s3_bucket: dict[str, Any]
) -> None:
    data = "Vətən uzaqda deyil\n".encode() * 500
    s3.put_bytes("artwork/cover.jpg", data, mime="image/jpeg")
    s3.put_bytes("hls/ep1/0.ts", b"segment 0")
    s3.put_bytes("hls/ep1/1.ts", b"segment 1")
    s3.put_bytes("hls-old/0.ts", b"old")

    assert s3.exists("artwork/cover.jpg")
    assert not s3.exists("artwork/missing.jpg")
    assert s3.size("artwork/cover.jpg") == len(data)
    with s3.open("artwork/cover.jpg") as body:
        assert body.read() == data
    head = s3_bucket["client"].head_object(
        Bucket=s3_bucket["bucket"], Key="station/artwork/cover.jpg"
    )
    assert head["ContentType"] == "image/jpeg"

    # Keys are stored under the prefix and listed without it.
    assert raw_keys(s3_bucket) == [
        "station/artwork/cover.jpg",
        "station/hls-old/0.ts",
        "station/hls/ep1/0.ts",
        "station/hls/ep1/1.ts",
    ]
    assert sorted(s3.keys()) == [
        "artwork/cover.jpg",
        "hls-old/0.ts",
        "hls/ep1/0.ts",
        "hls/ep1/1.ts",
    ]
    assert sorted(s3.keys("hls/")) == ["hls/ep1/0.ts", "hls/ep1/1.ts"]
    assert sorted(s3.keys("hls/ep1")) == ["hls/ep1/0.ts", "hls/ep1/1.ts"]

    s3.delete("hls/ep1/0.ts")
    assert not s3.exists("hls/ep1/0.ts")
    assert sorted(s3.keys("hls/")) == ["hls/ep1/1.ts"]


@pytest.mark.s3
def test_an_object_is_copied_inside_the_bucket_with_its_type(
    s3: S3Storage, s3_bucket: dict[str, Any]
) -> None:
    s3.put_bytes("hls/assets/3/old/master.m3u8", b"#EXTM3U\n")
    s3.copy("hls/assets/3/old/master.m3u8", "hls/assets/3/new/master.m3u8")
    with s3.open("hls/assets/3/new/master.m3u8") as body:
        assert body.read() == b"#EXTM3U\n"
    head = s3_bucket["client"].head_object(
        Bucket=s3_bucket["bucket"], Key="station/hls/assets/3/new/master.m3u8"
    )
    assert head["ContentType"] == "application/vnd.apple.mpegurl"
    assert s3.exists("hls/assets/3/old/master.m3u8")
    with pytest.raises(NotFound):
        s3.copy("hls/assets/3/gone/master.m3u8", "hls/assets/3/x/master.m3u8")


@pytest.mark.s3
def test_a_missing_object_is_not_found(s3: S3Storage) -> None:
    with pytest.raises(NotFound):
        s3.open("originals/nothing.mp3")
    with pytest.raises(NotFound):
        s3.size("originals/nothing.mp3")
    with pytest.raises(NotFound), s3.local_path("originals/nothing.mp3"):
        pass
    assert s3.scratch is not None
    assert list(s3.scratch.iterdir()) == []  # the temporary download was removed


@pytest.mark.s3
def test_a_key_that_could_leave_the_prefix_is_refused_on_s3(
    s3: S3Storage, s3_bucket: dict[str, Any]
) -> None:
    for key in ("../escape", "/abs", "a/../../b", "a\\b", ""):
        with pytest.raises(StorageError):
            s3.put_bytes(key, b"x")
    assert raw_keys(s3_bucket) == []


@pytest.mark.s3
def test_a_file_larger_than_one_part_goes_up_in_parts_and_reads_back_whole(
    s3: S3Storage, s3_bucket: dict[str, Any], tmp_path: Path
) -> None:
    src = tmp_path / "episode.mp4"
    data = os.urandom(12 * MiB + 12345)
    src.write_bytes(data)

    s3.put_file("originals/episode.mp4", src, move=True)

    assert not src.exists()
    head = s3_bucket["client"].head_object(
        Bucket=s3_bucket["bucket"], Key="station/originals/episode.mp4"
    )
    etag = head["ETag"].strip('"')
    assert "-" in etag, f"{etag} is not the ETag of a multipart upload"
    assert int(etag.rsplit("-", 1)[1]) >= 2
    assert s3.size("originals/episode.mp4") == len(data)
    with s3.open("originals/episode.mp4") as body:
        assert hashlib.sha256(body.read()).digest() == hashlib.sha256(data).digest()


@pytest.mark.s3
def test_a_small_file_goes_up_in_one_piece(
    s3: S3Storage, s3_bucket: dict[str, Any], tmp_path: Path
) -> None:
    src = tmp_path / "jingle.mp3"
    data = os.urandom(64 * 1024)
    src.write_bytes(data)
    s3.put_file("originals/jingle.mp3", src)

    assert src.exists()  # copied, not taken
    head = s3_bucket["client"].head_object(
        Bucket=s3_bucket["bucket"], Key="station/originals/jingle.mp3"
    )
    assert head["ETag"].strip('"') == hashlib.md5(data).hexdigest()


@pytest.mark.s3
def test_playout_reads_a_stored_object_where_it_is_through_a_presigned_url(
    s3: S3Storage, local: LocalStorage, tools: Tools, tmp_path: Path
) -> None:
    """The radio engine hands ffmpeg read_url(): a path locally, a pre-signed URL on S3."""
    song = tone(tools.ffmpeg, tmp_path / "song.mp3", seconds=3)
    for storage in (s3, local):
        storage.put_file("originals/song.mp3", song)
        url = storage.read_url("originals/song.mp3")
        assert url.startswith("http") == (storage is s3)
        got = subprocess.run(
            [tools.ffmpeg, "-v", "error", "-i", url, "-f", "null", "-"],
            capture_output=True,
            text=True,
        )
        assert got.returncode == 0, got.stderr
    # Without the signature the bucket says no: the URL is what grants the read.
    bare = url_without_query(s3.read_url("originals/song.mp3"))
    refused = subprocess.run(
        [tools.ffmpeg, "-v", "error", "-i", bare, "-f", "null", "-"], capture_output=True, text=True
    )
    assert refused.returncode != 0


def url_without_query(url: str) -> str:
    return url.split("?", 1)[0]


@pytest.mark.s3
def test_a_local_path_is_a_real_file_that_is_removed_afterwards(s3: S3Storage) -> None:
    data = os.urandom(6 * MiB)
    s3.put_bytes("originals/song.flac", data)

    with s3.local_path("originals/song.flac") as p:
        assert p.is_file()
        assert p.suffix == ".flac"
        assert s3.scratch is not None and p.parent == s3.scratch
        assert p.read_bytes() == data
        kept = p
    assert not kept.exists()
    assert list(s3.scratch.iterdir()) == []


@pytest.mark.s3
def test_an_interrupted_multipart_upload_leaves_no_object(
    s3: S3Storage, s3_bucket: dict[str, Any]
) -> None:
    client, bucket = s3_bucket["client"], s3_bucket["bucket"]
    key = "station/originals/half.mp4"
    upload = client.create_multipart_upload(Bucket=bucket, Key=key)
    client.upload_part(
        Bucket=bucket,
        Key=key,
        UploadId=upload["UploadId"],
        PartNumber=1,
        Body=os.urandom(5 * MiB),
    )
    try:
        in_flight = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        assert [u["Key"] for u in in_flight] == [key]  # the upload really is under way

        with pytest.raises(ClientError) as err:
            client.head_object(Bucket=bucket, Key=key)
        assert err.value.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound")
        assert not s3.exists("originals/half.mp4")
        assert list(s3.keys()) == []
        with pytest.raises(NotFound):
            s3.open("originals/half.mp4")
    finally:
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"])
    assert raw_keys(s3_bucket) == []


@pytest.fixture
def built_s3(s3_bucket: dict[str, Any], tmp_path: Path) -> Iterator[S3Storage]:
    settings = Settings(
        storage_backend="s3",
        s3_bucket=s3_bucket["bucket"],
        s3_endpoint_url=s3_bucket["endpoint"],
        s3_access_key_id="test",
        s3_secret_access_key="test",
        data_dir=tmp_path,
    )
    storage = build_storage(settings)
    assert isinstance(storage, S3Storage)
    yield storage
    storage.close()


@pytest.mark.s3
def test_settings_for_s3_build_a_working_bucket_storage(
    built_s3: S3Storage, s3_bucket: dict[str, Any], tmp_path: Path
) -> None:
    assert built_s3.bucket == s3_bucket["bucket"]
    assert built_s3.part_size == 16 * MiB
    assert built_s3.describe() == f"s3://{s3_bucket['bucket']}/"

    built_s3.put_bytes("originals/x.mp3", b"ID3 from settings")

    # The object is in the bucket the settings named, as another client sees it.
    obj = s3_bucket["client"].get_object(Bucket=s3_bucket["bucket"], Key="originals/x.mp3")
    with obj["Body"] as body:
        assert body.read() == b"ID3 from settings"
    assert list(built_s3.keys()) == ["originals/x.mp3"]
    with built_s3.local_path("originals/x.mp3") as p:
        assert p.parent == tmp_path / "staging"
        assert p.read_bytes() == b"ID3 from settings"
    built_s3.delete("originals/x.mp3")
    assert raw_keys(s3_bucket) == []


def test_settings_without_s3_build_a_local_folder(tmp_path: Path) -> None:
    storage = build_storage(Settings(storage_backend="local", data_dir=tmp_path))
    try:
        assert isinstance(storage, LocalStorage)
        assert storage.root == (tmp_path / "storage").resolve()
        storage.put_bytes("a/b.txt", b"ok")
        assert (tmp_path / "storage" / "a" / "b.txt").read_bytes() == b"ok"
    finally:
        storage.close()


class FailingS3(ThreadingHTTPServer):
    """An S3 endpoint that answers every request with one error (status, S3 error code)."""

    def __init__(self, status: int, code: str) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                outer.requests += 1  # counted before answering: the client may check at once
                body = (
                    f"<?xml version='1.0'?><Error><Code>{code}</Code>"
                    f"<Message>{code}</Message></Error>"
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_PUT = do_HEAD = do_DELETE = _answer

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.requests = 0
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.mark.parametrize(
    ("status", "code"),
    [(503, "SlowDown"), (500, "InternalError"), (403, "AccessDenied")],
)
def test_only_no_such_key_is_not_found_other_s3_errors_are_storage_errors(
    tmp_path: Path, status: int, code: str
) -> None:
    """A reader that took a refusal or a server error for "missing" would start afresh (the
    TV sequencer would renumber its playlists): only 404 NoSuchKey is NotFound."""
    server = FailingS3(status, code)
    settings = Settings(
        data_dir=tmp_path,
        storage_backend="s3",
        s3_bucket="b",
        s3_endpoint_url=server.url,
        s3_access_key_id="test",
        s3_secret_access_key="test",
    )
    storage = build_storage(settings)
    try:
        for read in (storage.open, storage.exists, storage.size, storage.delete):
            with pytest.raises(StorageError) as caught:
                read("hls/tv/diaspor-tv/sequencer.json")
            assert not isinstance(caught.value, NotFound)
            assert code in str(caught.value) or str(status) in str(caught.value)
        assert server.requests >= 4
    finally:
        storage.close()
        server.shutdown()
        server.server_close()


def test_no_such_key_is_not_found_on_s3(tmp_path: Path) -> None:
    server = FailingS3(404, "NoSuchKey")
    settings = Settings(
        data_dir=tmp_path,
        storage_backend="s3",
        s3_bucket="b",
        s3_endpoint_url=server.url,
        s3_access_key_id="test",
        s3_secret_access_key="test",
    )
    storage = build_storage(settings)
    try:
        with pytest.raises(NotFound):
            storage.open("hls/tv/diaspor-tv/sequencer.json")
        assert storage.exists("hls/tv/diaspor-tv/sequencer.json") is False
    finally:
        storage.close()
        server.shutdown()
        server.server_close()
