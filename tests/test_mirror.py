"""The radio's HLS, written by ffmpeg on local disk, copied into storage (S3 in production)
as it grows: segments before the playlist that names them, old segments removed later."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from media.binaries import Tools
from media.storage import LocalStorage
from streamer.encoder import Encoder, HlsOutput, leftover_segments
from streamer.mirror import HlsMirror, playlist_segments
from tests.radio_support import Playout, music_station
from tests.support import free_port, run


class Recording(LocalStorage):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.puts: list[str] = []

    def put_file(self, key: str, src: Path, *, move: bool = False) -> None:
        self.puts.append(key)
        super().put_file(key, src, move=move)

    def put_bytes(
        self, key: str, data: bytes, mime: str | None = None, *, durable: bool = True
    ) -> None:
        self.puts.append(key)
        super().put_bytes(key, data, mime, durable=durable)


def write_playlist(folder: Path, first: int, last: int) -> None:
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:6", f"#EXT-X-MEDIA-SEQUENCE:{first}"]
    for i in range(first, last + 1):
        (folder / f"seg-{i:06d}.ts").write_bytes(b"segment %d" % i)
        lines += ["#EXTINF:6.000,", f"seg-{i:06d}.ts"]
    # ffmpeg's temp_file: a segment being written is not named yet.
    (folder / f"seg-{last + 1:06d}.ts.tmp").write_bytes(b"half")
    (folder / "index.m3u8").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_segments_go_up_before_the_playlist_and_old_ones_are_removed(tmp_path: Path) -> None:
    folder = tmp_path / "hls"
    folder.mkdir()
    store = Recording(tmp_path / "bucket")
    mirror = HlsMirror(folder, store, "hls/radio/diaspor-fm", keep=2)

    write_playlist(folder, 0, 2)
    assert mirror.sync_once() == 4
    assert store.puts[-1] == "hls/radio/diaspor-fm/index.m3u8"
    assert set(store.puts[:-1]) == {f"hls/radio/diaspor-fm/seg-{i:06d}.ts" for i in range(3)}

    for last in range(3, 9):  # the window slides on
        store.puts.clear()
        write_playlist(folder, last - 2, last)
        mirror.sync_once()
        assert store.puts == [
            f"hls/radio/diaspor-fm/seg-{last:06d}.ts",
            "hls/radio/diaspor-fm/index.m3u8",
        ]
    kept = sorted(store.keys("hls/radio/diaspor-fm/"))
    # The three in the playlist, and the last two that left it (players may still want them).
    assert kept == ["hls/radio/diaspor-fm/index.m3u8"] + [
        f"hls/radio/diaspor-fm/seg-{i:06d}.ts" for i in range(4, 9)
    ]
    assert not any(k.endswith(".tmp") for k in kept)
    assert (tmp_path / "bucket/hls/radio/diaspor-fm/index.m3u8").read_text().count("seg-") == 3


def test_a_storage_failure_is_retried_on_the_next_pass(tmp_path: Path) -> None:
    folder = tmp_path / "hls"
    folder.mkdir()
    store = Recording(tmp_path / "bucket")
    failing: dict[str, Any] = {"left": 1}
    real_put = store.put_file

    def flaky(key: str, src: Path, *, move: bool = False) -> None:
        if failing["left"]:
            failing["left"] -= 1
            raise OSError("bucket unreachable")
        real_put(key, src, move=move)

    store.put_file = flaky  # type: ignore[method-assign]
    mirror = HlsMirror(folder, store, "hls/x")
    write_playlist(folder, 0, 1)
    with pytest.raises(OSError):
        mirror.sync_once()
    assert not store.exists("hls/x/index.m3u8")  # no playlist naming a missing segment
    mirror.sync_once()
    assert store.exists("hls/x/index.m3u8") and store.exists("hls/x/seg-000000.ts")


def pcm(seconds: int, freq: int) -> bytes:
    """Stereo 16-bit PCM at 48 kHz, what the mixer hands the encoder: a tone, or silence."""
    t = np.arange(48_000 * seconds) / 48_000
    mono = (0.3 * 32767 * np.sin(2 * np.pi * freq * t)).astype("<i2")
    return np.repeat(mono, 2).tobytes()


@pytest.mark.slow
def test_an_encoder_restart_writes_new_segment_names_so_no_cache_replays_old_audio(
    tmp_path: Path, tools: Tools
) -> None:
    """Segments are served as never changing: a name used again after a restart would give
    players (and the copy in storage) the audio of the run before."""
    folder = tmp_path / "hls"
    store = LocalStorage(tmp_path / "bucket")
    mirror = HlsMirror(folder, store, "hls/radio/diaspor-fm")

    async def encoder_run(audio: bytes) -> list[str]:
        encoder = Encoder(tools.ffmpeg, [HlsOutput(folder, segment_s=1)], restart=False)
        for at in range(0, len(audio), 19_200):  # a tenth of a second at a time
            await encoder.write(audio[at : at + 19_200])
        await encoder.close()
        return playlist_segments((folder / "index.m3u8").read_text(encoding="utf-8"))

    first = run(encoder_run(pcm(2, freq=440)))
    mirror.sync_once()
    second = run(encoder_run(pcm(2, freq=0)))  # restarted: now silence
    mirror.sync_once()

    assert first and second and not set(first) & set(second)
    assert all(name.startswith("seg-") and name.endswith(".ts") for name in first + second)
    for name in second:  # storage holds the new run's audio, not the old run's
        stored = store.path(f"hls/radio/diaspor-fm/{name}").read_bytes()
        assert stored == (folder / name).read_bytes()


def test_a_new_encoder_run_clears_what_the_runs_before_the_last_one_left() -> None:
    """The last run's segments stay (its playlist names them until the new run writes its
    own); older runs', and those named before runs were, go."""
    folder = [
        "index.m3u8",
        "seg-000007.ts",
        "seg-1767225600000-000001.ts",
        "seg-1767225600000-000002.ts",
        "seg64-1767225600000-000002.ts",  # the low rung of the ladder alike
        "seg-1767225660000-000000.ts",
        "seg64-1767225660000-000000.ts",
        "seg-1767225660000-000001.ts.tmp",
    ]
    assert leftover_segments(folder) == [
        "seg-000007.ts",
        "seg-1767225600000-000001.ts",
        "seg-1767225600000-000002.ts",
        "seg64-1767225600000-000002.ts",
    ]
    assert leftover_segments(["index.m3u8", "seg-000007.ts"]) == []


@pytest.mark.slow
@pytest.mark.s3
def test_on_s3_storage_the_radios_hls_is_in_the_bucket_and_plays(
    tmp_path: Path, tools: Tools, s3_bucket: dict[str, Any]
) -> None:
    """Production storage: media read from the bucket by pre-signed URL, HLS copied into it."""
    st = music_station(
        tmp_path,
        tools,
        relay_port=free_port(),
        storage_backend="s3",
        s3_bucket=s3_bucket["bucket"],
        s3_endpoint_url=s3_bucket["endpoint"],
        s3_access_key_id="test",
        s3_secret_access_key="test",
        public_storage_url="https://cdn.example/files",
    )
    playout = Playout(st)
    try:
        prefix = "hls/radio/diaspor-fm"
        key = f"{prefix}/master.m3u8"  # written once both rungs' playlists are
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not st.storage.exists(key):
            time.sleep(0.5)
        time.sleep(8)  # a few segments
        hls = next(x for x in st.on_air["diaspor-fm"] if x["format"] == "hls")
        assert hls["url"] == f"https://cdn.example/files/{key}"
        with st.storage.open(key) as fh:
            rungs = playlist_segments(fh.read().decode())
        assert rungs == ["index-64.m3u8", "index.m3u8"]  # the ladder, both in the bucket
        names = []
        for rung in rungs:
            with st.storage.open(f"{prefix}/{rung}") as fh:
                names += playlist_segments(fh.read().decode())
    finally:
        playout.close()
    try:
        assert len(names) >= 4 and any(name.startswith("seg64-") for name in names)
        for name in names:
            with st.storage.local_path(f"hls/radio/diaspor-fm/{name}") as seg:
                decoded = subprocess.run(
                    [tools.ffmpeg, "-v", "error", "-i", str(seg), "-f", "null", "-"],
                    capture_output=True,
                    text=True,
                )
                assert decoded.returncode == 0 and not decoded.stderr, decoded.stderr
    finally:
        st.close()
