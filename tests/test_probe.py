"""Probing: ffprobe's JSON and ffmpeg's own banner (the imageio-ffmpeg path) tell the same story."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from media.binaries import Tools, find_tools
from media.errors import NotMedia, TruncatedMedia
from media.probe import parse_ffmpeg_banner, probe
from tests.conftest import AZ_ARTIST, AZ_TITLE
from tests.support import run

BANNER = """Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'x.mp4':
  Metadata:
    major_brand     : isom
    title           : Vətən uzaqda deyil
    artist          : Aşıq Ələsgər
  Duration: 00:01:02.48, start: 0.000000, bitrate: 1200 kb/s
  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive), \
1280x720 [SAR 1:1 DAR 16:9], 1083 kb/s, 25 fps, 25 tbr, 12800 tbn (default)
    Metadata:
      handler_name    : VideoHandler
  Stream #0:1[0x2](aze): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, stereo, fltp, \
128 kb/s (default)
"""


def test_the_banner_parser_reads_streams_tags_and_duration() -> None:
    p = parse_ffmpeg_banner(BANNER)
    assert p.container == "mov,mp4,m4a,3gp,3g2,mj2"
    assert p.duration_ms == 62_480
    assert p.bit_rate == 1_200_000
    assert p.tags == {"title": "Vətən uzaqda deyil", "artist": "Aşıq Ələsgər"}
    (v,) = p.video
    assert (v.codec, v.width, v.height, v.frame_rate) == ("h264", 1280, 720, 25.0)
    (a,) = p.audio
    assert (a.codec, a.sample_rate, a.channels, a.language) == ("aac", 48000, 2, "aze")


def test_the_banner_parser_refuses_what_ffmpeg_could_not_open() -> None:
    with pytest.raises(NotMedia, match="does not recognise"):
        parse_ffmpeg_banner("x.txt: Invalid data found when processing input\n")


@pytest.fixture(scope="module")
def wheel_tools() -> Tools:
    """Only the imageio-ffmpeg wheel's ffmpeg, and no ffprobe: a fresh user's machine."""
    return find_tools(use_system=False, ffprobe_path="")


def test_the_wheel_ffmpeg_is_found_without_a_system_ffmpeg(wheel_tools: Tools) -> None:
    assert wheel_tools.source == "wheel"
    assert wheel_tools.ffprobe is None
    assert Path(wheel_tools.ffmpeg).is_file()


@pytest.mark.parametrize("name", ["tone.mp3", "episode.mp4", "short.wav"])
def test_probing_without_ffprobe_agrees_with_ffprobe(
    name: str, media_dir: Path, tools: Tools, wheel_tools: Tools
) -> None:
    if tools.ffprobe is None or shutil.which("ffprobe") is None:
        pytest.skip("no ffprobe to compare with (apt-get install ffmpeg)")
    a = run(probe(tools, media_dir / name))
    b = run(probe(wheel_tools, media_dir / name))
    # ffmpeg's banner never prints a container's "language" tag (only a stream's "(aze)").
    assert b.tags == {k: v for k, v in a.tags.items() if k != "language"}
    assert [(x.codec, x.channels, x.sample_rate) for x in b.audio] == [
        (x.codec, x.channels, x.sample_rate) for x in a.audio
    ]
    assert [(x.codec, x.width, x.height, x.frame_rate) for x in b.video] == [
        (x.codec, x.width, x.height, x.frame_rate) for x in a.video
    ]
    # Header durations are estimates (MP3's include the encoder delay differently in the two
    # tools); the exact duration comes from decoding, in the analysis.
    assert a.duration_ms is not None and b.duration_ms is not None
    assert abs(a.duration_ms - b.duration_ms) <= 50


def test_azerbaijani_tags_survive_probing(media_dir: Path, tools: Tools) -> None:
    p = run(probe(tools, media_dir / "tone.mp3"))
    assert p.tags["title"] == AZ_TITLE
    assert p.tags["artist"] == AZ_ARTIST
    assert p.language == "aze"


def test_a_text_file_is_not_media(tmp_path: Path, tools: Tools, wheel_tools: Tools) -> None:
    f = tmp_path / "notes.mp3"
    f.write_text("Bu mahnı deyil, sadəcə mətndir.\n" * 50, encoding="utf-8")
    for t in (tools, wheel_tools):
        with pytest.raises(NotMedia):
            run(probe(t, f))


def test_an_unfinished_mp4_is_called_truncated(
    tmp_path: Path, media_dir: Path, tools: Tools
) -> None:
    # Without faststart the index is at the end: cut the file and the index is gone.
    import subprocess

    src = tmp_path / "slow.mp4"
    subprocess.run(
        [
            tools.ffmpeg,
            "-v",
            "error",
            "-i",
            str(media_dir / "episode.mp4"),
            "-c",
            "copy",
            "-movflags",
            "-faststart",
            str(src),
        ],
        check=True,
    )
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    with pytest.raises(TruncatedMedia, match="moov"):
        run(probe(tools, cut))
