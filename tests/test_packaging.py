"""HLS packaging of video assets and of the slate, against the real ffmpeg/ffprobe.

One episode is ingested through the real library and packaged by the real job once per module
(a small two-rung ladder keeps it quick); the tests then read what was published the way a
player, the VOD API and the TV sequencer would: ffprobe on segments, the master and media
playlists line by line, the subtitle pieces, the manifest.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from diaspor import migrate
from diaspor.compose import Station, build_station
from media.binaries import Tools
from media.errors import StorageError
from media.ladder import AUDIO, PackagingOptions, parse_ladder
from media.library import PACKAGE_JOB, IngestOptions
from media.models import MediaItem
from media.packaged import Package, asset_prefix, slate_prefix
from media.packaging import package_asset, package_slate
from media.segments import (
    probe_segment,
)
from media.storage import LocalStorage
from station.clock import SimulatedClock
from station.settings import Settings
from tests.conftest import settings_for
from tests.support import H264_AAC, ebur128_integrated, make_media, need_program, run

slow = pytest.mark.slow  # real media work; the pure parts are tested beside their modules

# A ladder small enough for a 2-core test machine: two rungs and the audio-only rendition.
OPTIONS = PackagingOptions(
    ladder=parse_ladder(["180p:320x180:300", "90p:160x90:120"]),
    segment_s=4,
    fps=25,
    thumb_interval_s=2,
)
RUNGS = ("180p", "90p")
SECONDS = 17.5  # 4 full segments of 4 s and a short one; the source runs at 30 fps
CUES = {  # (start, end, text) per language; the fourth crosses the 12 s boundary
    "az": [
        (1.0, 3.0, "Xoş gəlmisiniz!"),
        (5.0, 7.5, "Vətən uzaqda deyil"),
        (9.0, 10.0, "Qarabağ"),
        (11.5, 12.5, "sərhəddə"),
        (16.5, 17.4, "Sağ olun!"),
    ],
    "en": [
        (1.0, 3.0, "Welcome!"),
        (5.0, 7.5, "Homeland is not far"),
        (9.0, 10.0, "Karabakh"),
        (11.5, 12.5, "across"),
        (16.5, 17.4, "Thank you!"),
    ],
    "ru": [
        (1.0, 3.0, "Добро пожаловать!"),
        (5.0, 7.5, "Родина недалеко"),
        (9.0, 10.0, "Карабах"),
        (11.5, 12.5, "на границе"),
        (16.5, 17.4, "Спасибо!"),
    ],
}
CUE_SEGMENTS = [[0], [1], [2], [2, 3], [4]]  # where each cue must show
NAMES = {"az": "Azərbaycanca", "en": "English", "ru": "Русский"}


def vtt(cues: list[tuple[float, float, str]]) -> str:
    def clock(s: float) -> str:
        ms = round(s * 1000)
        return f"00:{ms // 60000:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"

    blocks = [f"{i}\n{clock(a)} --> {clock(b)}\n{t}" for i, (a, b, t) in enumerate(cues, 1)]
    return "WEBVTT\n\nNOTE made by the test\n\n" + "\n\n".join(blocks) + "\n"


def ffprobe_json(*args: str) -> dict[str, Any]:
    """The checks read with the system's ffprobe, also when the station runs without it."""
    res = subprocess.run(
        [need_program("ffprobe"), "-v", "error", "-of", "json", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    data: dict[str, Any] = json.loads(res.stdout)
    return data


def packets(path: Path, stream: str) -> list[dict[str, Any]]:
    data = ffprobe_json(
        "-f",
        "mpegts",
        "-select_streams",
        stream,
        "-show_entries",
        "packet=pts,duration,flags",
        str(path),
    )
    result: list[dict[str, Any]] = data["packets"]
    return result


def stream_info(path: Path) -> list[dict[str, Any]]:
    data = ffprobe_json("-show_streams", str(path))
    result: list[dict[str, Any]] = data["streams"]
    return result


def attributes(line: str) -> dict[str, str]:
    """An EXT-X-STREAM-INF / EXT-X-MEDIA attribute list (RFC 8216 §4.2), quotes removed."""
    body = line.split(":", 1)[1]
    found = re.findall(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', body)
    return {k: v.strip('"') for k, v in found}


def extinf_ms(playlist: str) -> list[int]:
    return [round(float(m) * 1000) for m in re.findall(r"^#EXTINF:([\d.]+),", playlist, re.M)]


# --- one packaged episode for the module ----------------------------------------------------


@dataclass
class Packaged:
    station: Station
    item: MediaItem
    package: Package
    prefix: str  # hls/assets/<id>/<token>, the publication
    root: Path  # that folder in the local storage


@pytest.fixture(scope="module")
def episode(tmp_path_factory: pytest.TempPathFactory, tools: Tools) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("episode")
    picture = (
        f"testsrc2=s=640x360:r=30:d={SECONDS},"
        "drawtext=timecode='00\\:00\\:00\\:00':rate=30:fontsize=28:fontcolor=white:"
        "box=1:boxcolor=black@0.6:x=8:y=8"
    )
    # drawtext needs fonts; without them the picture is the bare test pattern.
    ok = (
        subprocess.run(
            [
                tools.ffmpeg,
                "-v",
                "error",
                "-f",
                "lavfi",
                "-i",
                picture.replace(f"d={SECONDS}", "d=0.1"),
                "-f",
                "null",
                "-",
            ],
            capture_output=True,
        ).returncode
        == 0
    )
    video = make_media(
        tools.ffmpeg,
        d / "dunyada-yasayan-azerbaycanlilar.mp4",
        "-f",
        "lavfi",
        "-i",
        picture if ok else f"testsrc2=s=640x360:r=30:d={SECONDS}",
        "-f",
        "lavfi",
        "-i",
        f"sine=f=440:sample_rate=48000:d={SECONDS}",
        "-af",
        "volume=0.1",
        "-ac",
        "2",
        *H264_AAC,
        "-b:a",
        "96k",
        "-shortest",
        "-metadata",
        "title=Dünyada yaşayan azərbaycanlıları tanıyaq-tanıdaq",
    )
    files = {"video": video}
    for lang, cues in CUES.items():
        files[lang] = d / f"episode.{lang}.vtt"
        files[lang].write_text(vtt(cues), encoding="utf-8")
    return files


@pytest.fixture(scope="module")
def packaged(
    tmp_path_factory: pytest.TempPathFactory, tools: Tools, episode: dict[str, Path]
) -> Iterator[Packaged]:
    d = tmp_path_factory.mktemp("station")
    url = f"sqlite:///{d / 'test.db'}"
    migrate.upgrade(url)
    st = build_station(Settings(data_dir=d / "data", database_url=url), tools=tools)
    st.library.packaging = OPTIONS
    try:
        res = run(
            st.library.ingest(
                episode["video"],
                options=IngestOptions(subtitles={k: episode[k] for k in CUES}),
            )
        )
        run(st.worker().drain())
        item = st.library.get(res.item.id)
        published = st.library.package_of(item.id)
        assert published is not None, item.package_error
        assert isinstance(st.storage, LocalStorage)
        prefix = published.prefix
        yield Packaged(st, item, published.package, prefix, st.storage.path(prefix))
    finally:
        st.close()


# --- the episode ------------------------------------------------------------------------------


@slow
def test_an_analysed_video_is_packaged_by_a_job_and_its_row_says_so(packaged: Packaged) -> None:
    item, package = packaged.item, packaged.package
    assert (item.status, item.package_status, item.package_error) == ("ready", "ready", None)
    jobs = packaged.station.queue.list()
    assert [j.kind for j in jobs if j.kind == PACKAGE_JOB] == [PACKAGE_JOB]
    assert all(j.status == "done" for j in jobs)
    assert package.media_id == item.id
    assert [r.name for r in package.renditions] == [*RUNGS, AUDIO]
    assert package.segment_target_s == 4 and package.frame_rate == 25.0
    assert package.segments_ms[:4] == (4000, 4000, 4000, 4000)
    assert item.duration_ms is not None
    assert abs(package.duration_ms - item.duration_ms) <= 40  # to the frame
    assert package.duration_ms == sum(package.segments_ms)
    assert [s.lang for s in package.subtitles] == ["az", "en", "ru"]


@slow
def test_every_rung_has_the_codecs_and_size_of_the_ladder(packaged: Packaged) -> None:
    for rung in OPTIONS.ladder:
        streams = stream_info(packaged.root / rung.name / "seg-00000.ts")
        video = next(s for s in streams if s["codec_type"] == "video")
        audio = next(s for s in streams if s["codec_type"] == "audio")
        assert (video["codec_name"], video["profile"]) == ("h264", "High")
        assert (video["width"], video["height"]) == (rung.width, rung.height)
        assert video["r_frame_rate"] == "25/1"
        assert (audio["codec_name"], audio["profile"]) == ("aac", "LC")
        assert (audio["sample_rate"], audio["channels"]) == ("48000", 2)
    only = stream_info(packaged.root / AUDIO / "seg-00000.ts")
    assert [s["codec_type"] for s in only] == ["audio"]


@slow
def test_keyframes_line_up_across_rungs_and_segments_never_pass_the_target(
    packaged: Packaged,
) -> None:
    root = packaged.root
    n = len(packaged.package.segments_ms)
    gop_ticks = OPTIONS.gop * 90_000 // OPTIONS.fps
    starts: dict[str, list[int]] = {}
    frames: dict[str, list[int]] = {}
    for rung in RUNGS:
        segs = sorted((root / rung).glob("seg-*.ts"))
        assert len(segs) == n
        starts[rung], frames[rung] = [], []
        for seg in segs:
            video = packets(seg, "v:0")
            assert video[0]["flags"].startswith("K"), f"{seg} does not start with a keyframe"
            keys = [int(p["pts"]) for p in video if p["flags"].startswith("K")]
            assert len(keys) == 1  # one GOP per segment: the fixed GOP is the segment
            starts[rung].append(keys[0])
            frames[rung].append(len(video))
            assert len(video) <= OPTIONS.gop  # never longer than the target
    assert starts["180p"] == starts["90p"]  # same PTS for every keyframe in every rung
    assert frames["180p"] == frames["90p"] == packaged.package.extra["segment_frames"]
    assert [b - a for a, b in zip(starts["180p"], starts["180p"][1:], strict=False)] == [
        gop_ticks
    ] * (n - 1)
    assert [f * 40 for f in frames["180p"]] == list(packaged.package.segments_ms)
    audio_segs = sorted((root / AUDIO).glob("seg-*.ts"))
    assert len(audio_segs) == n
    for i, seg in enumerate(audio_segs):
        aac = packets(seg, "a:0")
        length = sum(int(p["duration"]) for p in aac) / 90  # ms
        assert abs(length - packaged.package.segments_ms[i]) <= 40 + 1024 / 48  # a frame + AAC


@slow
def test_the_master_playlist_describes_what_was_measured(packaged: Packaged) -> None:
    root, package = packaged.root, packaged.package
    lines = (root / "master.m3u8").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#EXTM3U"
    media = [attributes(ln) for ln in lines if ln.startswith("#EXT-X-MEDIA:")]
    assert [(m["TYPE"], m["GROUP-ID"], m["LANGUAGE"], m["NAME"], m["URI"]) for m in media] == [
        ("SUBTITLES", "subs", lang, NAMES[lang], f"subs/{lang}/index.m3u8") for lang in NAMES
    ]
    variants = {
        lines[i + 1]: attributes(ln)
        for i, ln in enumerate(lines)
        if ln.startswith("#EXT-X-STREAM-INF:")
    }
    assert list(variants) == [f"{r}/index.m3u8" for r in (*RUNGS, AUDIO)]
    seconds = package.duration_ms / 1000
    for rung in OPTIONS.ladder:
        v = variants[f"{rung.name}/index.m3u8"]
        assert v["RESOLUTION"] == f"{rung.width}x{rung.height}"
        assert v["FRAME-RATE"] == "25.000" and v["SUBTITLES"] == "subs"
        video = next(
            s for s in stream_info(root / rung.name / "seg-00000.ts") if s["codec_type"] == "video"
        )
        assert video["profile"] == "High"
        assert v["CODECS"] == f"avc1.6400{video['level']:02x},mp4a.40.2"
    for name in (*RUNGS, AUDIO):
        v = variants[f"{name}/index.m3u8"]
        sizes = [p.stat().st_size for p in sorted((root / name).glob("seg-*.ts"))]
        measured = sum(sizes) * 8 / seconds
        average, peak = int(v["AVERAGE-BANDWIDTH"]), int(v["BANDWIDTH"])
        assert measured <= average <= measured * 1.02  # plus the subtitles, a few bytes
        single = max(s * 8000 / ms for s, ms in zip(sizes, package.segments_ms, strict=True))
        assert average <= peak <= single * 1.02
        playlist = (root / name / "index.m3u8").read_text(encoding="utf-8")
        assert extinf_ms(playlist) == list(package.segments_ms)
        assert "#EXT-X-TARGETDURATION:4\n" in playlist and playlist.endswith("#EXT-X-ENDLIST\n")
    assert variants["audio/index.m3u8"]["CODECS"] == "mp4a.40.2"
    assert "RESOLUTION" not in variants["audio/index.m3u8"]


@slow
def test_subtitles_are_cut_at_the_video_boundaries_and_mapped_to_its_clock(
    packaged: Packaged,
) -> None:
    root, package = packaged.root, packaged.package
    first_pts = int(packets(root / "180p" / "seg-00000.ts", "v:0")[0]["pts"])
    n = len(package.segments_ms)
    for lang, cues in CUES.items():
        playlist = (root / "subs" / lang / "index.m3u8").read_text(encoding="utf-8")
        assert extinf_ms(playlist) == list(package.segments_ms)
        pieces = [(root / "subs" / lang / f"seg-{i:05d}.vtt").read_text("utf-8") for i in range(n)]
        assert not (root / "subs" / lang / f"seg-{n:05d}.vtt").exists()
        for piece in pieces:
            head = piece.splitlines()
            assert head[0] == "WEBVTT"
            assert head[1] == f"X-TIMESTAMP-MAP=MPEGTS:{first_pts},LOCAL:00:00:00.000"
            assert "NOTE" not in piece
        for (_, _, text), where in zip(cues, CUE_SEGMENTS, strict=True):
            assert [i for i, p in enumerate(pieces) if text in p] == where, (lang, text)


@slow
def test_the_packaged_audio_is_at_the_channel_loudness(packaged: Packaged) -> None:
    item = packaged.item
    assert item.loudness_lufs is not None and item.loudness_lufs < -26  # quiet at ingest
    ff = packaged.station.tools.ffmpeg
    for name in (f"{AUDIO}/index.m3u8", "90p/index.m3u8", "audio.m4a"):
        measured = ebur128_integrated(ff, packaged.root / name)
        assert abs(measured - OPTIONS.target_lufs) <= 1.0, (name, measured)
    assert packaged.package.extra["gain_db"] == pytest.approx(-16 - item.loudness_lufs, abs=0.01)
    # The podcast file: the same sound, whole, as AAC-LC 48 kHz stereo, as long as the package.
    [m4a] = stream_info(packaged.root / "audio.m4a")
    assert (m4a["codec_name"], m4a["profile"], m4a["sample_rate"], m4a["channels"]) == (
        "aac",
        "LC",
        "48000",
        2,
    )
    assert abs(float(m4a["duration"]) * 1000 - packaged.package.duration_ms) <= 50


@slow
def test_a_poster_and_a_thumbnail_strip_come_with_the_package(packaged: Packaged) -> None:
    root = packaged.root
    poster = stream_info(root / "poster.jpg")[0]
    assert (poster["codec_name"], poster["width"], poster["height"]) == ("mjpeg", 320, 180)
    sprite = stream_info(root / "thumbs.jpg")[0]
    cues = (root / "thumbs.vtt").read_text(encoding="utf-8").split("\n\n")[1:]
    cues = [c for c in cues if c.strip()]
    count = math.ceil(packaged.package.duration_ms / 2000)
    assert len(cues) == count
    assert (sprite["width"], sprite["height"]) == (160 * min(10, count), 90 * math.ceil(count / 10))
    previous_end = "00:00:00.000"
    for i, cue in enumerate(cues):
        timing, ref = cue.strip().splitlines()
        start, _, end = timing.partition(" --> ")
        assert start == previous_end
        previous_end = end
        x, y, w, h = (int(v) for v in ref.removeprefix("thumbs.jpg#xywh=").split(","))
        assert (x, y, w, h) == (160 * (i % 10), 90 * (i // 10), 160, 90)
    ms = packaged.package.duration_ms
    assert previous_end == f"00:00:{ms // 1000:02d}.{ms % 1000:03d}"


@slow
def test_the_manifest_names_only_files_that_exist(packaged: Packaged) -> None:
    storage, package = packaged.station.storage, packaged.package
    prefix = packaged.prefix
    with storage.open(f"{prefix}/package.json") as fh:
        raw = fh.read()
    assert Package.from_json(raw) == package
    names = [r.playlist for r in package.renditions] + [s.playlist for s in package.subtitles]
    for i in range(len(package.segments_ms)):
        names += [r.segment(i) for r in package.renditions]
        names += [s.segment(i) for s in package.subtitles]
    names += [package.master, "poster.jpg", "thumbs.jpg", "thumbs.vtt", "audio.m4a"]
    assert package.audio_file == "audio.m4a"
    assert package.extra["audio_file_bytes"] == storage.size(f"{prefix}/audio.m4a")
    assert {f"{prefix}/{n}" for n in names} | {f"{prefix}/package.json"} == set(
        storage.keys(prefix + "/")
    )


@slow
def test_without_ffprobe_the_segments_read_the_same(packaged: Packaged) -> None:
    ffmpeg = packaged.station.tools.ffmpeg
    with_ffprobe = Tools(ffmpeg=ffmpeg, ffprobe=need_program("ffprobe"))
    wheel_like = Tools(ffmpeg=ffmpeg, ffprobe=None)  # the imageio-ffmpeg wheel has no ffprobe
    for name in ("180p", AUDIO):
        for seg in sorted((packaged.root / name).glob("seg-*.ts"))[:2]:
            assert run(probe_segment(wheel_like, seg)) == run(probe_segment(with_ffprobe, seg))


# --- failure, S3, slate, audio ------------------------------------------------------------------


class FlakyStorage(LocalStorage):
    """Local storage whose Nth upload into hls/ fails, as a full disk or a dropped link would."""

    def __init__(self, root: Path, fail_on: int) -> None:
        super().__init__(root)
        self.fail_on = fail_on
        self.hls_puts = 0

    def put_file(self, key: str, src: Path, *, move: bool = False) -> None:
        if key.startswith("hls/"):
            self.hls_puts += 1
            if self.hls_puts == self.fail_on:
                raise StorageError(f"upload of {key} failed: no space left on device")
        super().put_file(key, src, move=move)


@slow
def test_a_failed_upload_publishes_nothing_and_a_retry_or_repackaging_publishes_it_whole(
    tmp_path: Path, db_url: str, tools: Tools, media_dir: Path
) -> None:
    settings = settings_for(tmp_path, db_url)
    assert settings.storage_dir is not None
    storage = FlakyStorage(settings.storage_dir, fail_on=5)
    clock = SimulatedClock(datetime(2026, 11, 26, 8, 0, tzinfo=UTC))
    st = build_station(settings, clock=clock, tools=tools, storage=storage)
    st.library.packaging = OPTIONS
    try:
        res = run(
            st.library.ingest(
                media_dir / "episode.mp4",
                options=IngestOptions(subtitles={"az": media_dir / "episode.az.vtt"}),
            )
        )
        root = asset_prefix(res.item.id)
        run(st.worker().drain())
        item = st.library.get(res.item.id)
        assert item.status == "ready"  # the analysis stands
        assert item.package_status == "failed"
        assert item.package_error and "no space left on device" in item.package_error
        assert storage.hls_puts >= 5  # it failed half-way through the upload
        assert list(storage.keys(root + "/")) == []  # no master, no manifest, no segment
        assert st.library.package_of(item.id) is None
        job = next(j for j in st.queue.list() if j.kind == PACKAGE_JOB)
        assert job.status == "queued"  # a storage fault is worth a retry

        clock.advance(60)
        run(st.worker().drain())
        item = st.library.get(res.item.id)
        assert (item.package_status, item.package_error) == ("ready", None)
        published = st.library.package_of(item.id)
        assert published is not None and storage.exists(published.key("master.m3u8"))
        assert published.prefix.startswith(root + "/")
        assert [s.lang for s in published.package.subtitles] == ["az"]

        # A new ladder: the item is packaged again into a publication of its own; once the
        # old one's grace is over, nothing of the old rungs stays.
        st.library.packaging = replace(OPTIONS, ladder=parse_ladder(["144p:256x144:200"]))
        st.library.request_packaging(item.id)
        assert st.library.get(item.id).package_status == "queued"
        run(st.worker().drain())
        again = st.library.package_of(item.id)
        assert again is not None and [r.name for r in again.package.renditions] == ["144p", AUDIO]
        assert again.prefix != published.prefix and storage.exists(published.key("package.json"))
        clock.advance(st.settings.package_retire_s)
        run(st.worker().drain())
        assert {k.split("/")[3] for k in storage.keys(root + "/")} == {again.prefix.split("/")[3]}
        folders = {
            k.removeprefix(again.prefix + "/").split("/")[0] for k in storage.keys(root + "/")
        }
        assert folders == {
            "144p",
            AUDIO,
            "subs",
            "master.m3u8",
            "package.json",
            "poster.jpg",
            "thumbs.jpg",
            "thumbs.vtt",
            "audio.m4a",
        }
    finally:
        st.close()


@slow
@pytest.mark.parametrize("storage_kind", [pytest.param("s3", marks=pytest.mark.s3)])
def test_a_video_is_packaged_into_the_bucket(any_station: Station, media_dir: Path) -> None:
    any_station.library.packaging = OPTIONS
    res = run(any_station.library.ingest(media_dir / "episode.mp4"))
    run(any_station.worker().drain())
    item = any_station.library.get(res.item.id)
    assert item.package_status == "ready", item.package_error
    published = any_station.library.package_of(item.id)
    assert published is not None and len(published.package.segments_ms) == 2
    prefix, package = published.prefix, published.package
    assert package.segments_ms[0] == 4000
    keys = set(any_station.storage.keys("hls/"))
    assert {f"{prefix}/master.m3u8", f"{prefix}/180p/seg-00001.ts"} <= keys
    assert not any(k.startswith("hls/") and not k.startswith(prefix + "/") for k in keys)
    # What a player fetches from the bucket is a segment that starts on a keyframe.
    url = any_station.storage.read_url(f"{prefix}/90p/seg-00001.ts")
    data = ffprobe_json(
        "-f",
        "mpegts",
        "-select_streams",
        "v:0",
        "-show_entries",
        "packet=flags",
        url,
    )
    assert data["packets"][0]["flags"].startswith("K")
    assert len(data["packets"]) == package.extra["segment_frames"][1]


@slow
def test_sound_files_are_not_packaged(station: Station, media_dir: Path) -> None:
    res = run(station.library.ingest(media_dir / "tone.mp3"))
    assert run(station.worker().drain()) == 1  # the analysis only
    assert station.library.get(res.item.id).package_status == "none"


@slow
def test_the_slate_has_a_segment_for_every_power_of_two_frames(
    tmp_path: Path, tools: Tools
) -> None:
    storage = LocalStorage(tmp_path / "storage")
    opts = replace(OPTIONS, segment_s=6)  # 150-frame segments: 128 is below them
    package = run(
        package_slate(tools, storage, "diaspor-tv", options=opts, staging_dir=tmp_path / "staging")
    )
    frames = (1, 2, 4, 8, 16, 32, 64, 128, 150)
    assert package.slate_frames == frames and package.media_id is None
    assert package.segments_ms == tuple(f * 40 for f in frames)
    root = storage.path(slate_prefix("diaspor-tv"))
    assert Package.from_json((root / "package.json").read_bytes()) == package
    for name in RUNGS:
        playlist = (root / name / "index.m3u8").read_text(encoding="utf-8")
        assert playlist.count("#EXT-X-DISCONTINUITY") == len(frames) - 1
        for i, want in enumerate(frames):
            seg = root / name / f"seg-{i:05d}.ts"
            video = packets(seg, "v:0")
            assert len(video) == want, (name, i)
            assert video[0]["flags"].startswith("K")
            audio = packets(seg, "a:0")
            ms = sum(int(p["duration"]) for p in audio) / 90
            assert want * 40 <= ms <= want * 40 + 2 * 1024 / 48  # AAC frames cover the picture
    assert len(list((root / AUDIO).glob("seg-*.ts"))) == len(frames)
    assert (root / "poster.jpg").read_bytes()[:3] == b"\xff\xd8\xff"
    assert package.thumbnails is None and not (root / "thumbs.vtt").exists()
    assert (root / "master.m3u8").read_text(encoding="utf-8").count("#EXT-X-STREAM-INF:") == 3


def short_clip(tools: Tools, dest: Path, seconds: float, *, sound: bool) -> Path:
    args = ["-f", "lavfi", "-i", f"testsrc2=s=320x180:r=25:d={seconds}"]
    if sound:
        args += ["-f", "lavfi", "-i", f"sine=f=660:sample_rate=44100:d={seconds}", "-ac", "1"]
    return make_media(
        tools.ffmpeg,
        dest,
        *args,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        *(["-c:a", "aac", "-shortest"] if sound else []),
    )


@slow
def test_a_video_ending_on_a_segment_boundary_has_no_stray_audio_segment(
    tmp_path: Path, tools: Tools
) -> None:
    # 8 s = two segments exactly; the AAC priming frame pushes the audio's last frame past
    # the end, which must not open a third audio-only segment.
    clip = short_clip(tools, tmp_path / "iki-seqment.mp4", 8, sound=True)
    storage = LocalStorage(tmp_path / "storage")
    reports: list[tuple[float, str]] = []

    async def progress(fraction: float, message: str) -> None:
        reports.append((fraction, message))

    published = run(
        package_asset(
            tools,
            storage,
            clip,
            media_id=41,
            duration_ms=8000,
            loudness_lufs=None,
            true_peak_dbtp=None,
            has_audio=True,
            options=OPTIONS,
            staging_dir=tmp_path / "st",
            on_progress=progress,
        )
    )
    assert any(m == "encoding the ladder" and 0 < f <= 0.85 for f, m in reports)
    assert [f for f, _ in reports] == sorted(f for f, _ in reports)
    assert reports[-1][1] == "publishing"
    package = published.package
    assert package.segments_ms == (4000, 4000)
    assert published.prefix.startswith("hls/assets/41/")  # a publication of its own
    root = storage.path(published.prefix)
    for name in (*RUNGS, AUDIO):
        assert len(list((root / name).glob("seg-*.ts"))) == 2, name
    audio = stream_info(root / AUDIO / "seg-00000.ts")[0]  # 44.1 kHz mono in
    assert (audio["sample_rate"], audio["channels"]) == ("48000", 2)
    assert package.extra["gain_db"] == 0.0  # unmeasured: left as it is


@slow
def test_a_video_without_sound_gets_silence_in_every_rendition(
    tmp_path: Path, tools: Tools
) -> None:
    clip = short_clip(tools, tmp_path / "sessiz.mp4", 5, sound=False)
    storage = LocalStorage(tmp_path / "storage")
    published = run(
        package_asset(
            tools,
            storage,
            clip,
            media_id=42,
            duration_ms=5000,
            loudness_lufs=None,
            true_peak_dbtp=None,
            has_audio=False,
            options=OPTIONS,
            staging_dir=tmp_path / "st",
        )
    )
    assert published.package.segments_ms == (4000, 1000)
    root = storage.path(published.prefix)
    for name in (*RUNGS, AUDIO):
        kinds = [s["codec_type"] for s in stream_info(root / name / "seg-00001.ts")]
        assert "audio" in kinds, name
    res = subprocess.run(
        [
            tools.ffmpeg,
            "-hide_banner",
            "-nostats",
            "-i",
            str(root / AUDIO / "index.m3u8"),
            "-af",
            "volumedetect",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "max_volume: -91" in res.stderr  # digital silence
    assert not list((tmp_path / "st").iterdir())  # the staging folder is cleaned up
