"""Every ffmpeg and ffprobe run over stored or uploaded media names the demuxers and protocols
it may use, so a file that is a list of other files (HLS, ffconcat) cannot lead it elsewhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from media.analysis import analysis_args, tail_check_args
from media.artwork import artwork_args
from media.containers import DEMUXERS, SUFFIXES, input_args
from media.encodes import asset_args
from media.errors import NotMedia
from media.ladder import PackagingOptions
from media.names import media_suffix
from media.probe import banner_args, probe_args
from media.segments import segment_codec_args, segment_probe_args
from media.thumbnails import thumb_grid
from playout.decoder import decode_args
from playout.live import decode_live_args

FILE = Path("/srv/diaspor/storage/originals/ab/cd/abcd.mp3")
URL = "https://s3.example/bucket/originals/ab/cd/abcd.mp3?X-Amz-Signature=f00"


def the_input(args: list[str], source: str) -> list[str]:
    """The options given to `-i source`, back to the previous input or output."""
    i = args.index(source)
    assert args[i - 1] == "-i"
    start = max((k for k in range(i - 1) if args[k] in ("-hide_banner", "-y")), default=0)
    return args[start : i - 1]


def option(opts: list[str], name: str) -> str | None:
    return opts[opts.index(name) + 1] if name in opts else None


def test_a_local_file_is_read_over_file_only_by_a_media_demuxer() -> None:
    opts = input_args(FILE)
    assert opts[-2:] == ["-i", str(FILE)]
    assert option(opts, "-protocol_whitelist") == "file,pipe"
    allowed = set((option(opts, "-format_whitelist") or "").split(","))
    assert {"mp3", "mov", "wav", "flac", "ogg", "matroska", "aac"} <= allowed
    assert not allowed & {"hls", "concat", "ffconcat", "image2", "tty", "dash", "data", "lavfi"}


def test_a_presigned_url_is_read_over_http_only() -> None:
    opts = input_args(URL)
    assert option(opts, "-protocol_whitelist") == "http,https,tcp,tls"
    assert option(opts, "-format_whitelist") == ",".join(DEMUXERS)


def test_a_format_we_made_ourselves_is_forced() -> None:
    opts = input_args(FILE.with_suffix(".ts"), demuxer="mpegts")
    assert option(opts, "-f") == "mpegts"
    assert option(opts, "-format_whitelist") is None
    assert option(opts, "-protocol_whitelist") == "file,pipe"


def builders() -> dict[str, tuple[list[str], str]]:
    opts = PackagingOptions()
    packaging: dict[str, Any] = {"frames": 75, "gain": -2.0, "has_audio": False}
    packaging |= {"poster_frame": 25, "grid": thumb_grid(75, opts)}
    f = str(FILE)
    return {
        "probe": (probe_args("ffprobe", FILE), f),
        "banner": (banner_args("ffmpeg", FILE), f),
        "analysis": (
            analysis_args("ffmpeg", FILE, has_audio=True, silence_db=-50, silence_min_ms=100),
            f,
        ),
        "tail": (tail_check_args("ffmpeg", FILE, 12.0), f),
        "artwork": (artwork_args("ffmpeg", FILE, Path("/tmp/a.jpg"), "cover", 60_000), f),
        "package": (asset_args("ffmpeg", FILE, Path("/o"), opts, **packaging), f),
        "segment probe": (segment_probe_args("ffprobe", FILE), f),
        "segment probe without ffprobe": (segment_probe_args(None, FILE, ffmpeg="ffmpeg"), f),
        "segment codec": (segment_codec_args("ffmpeg", FILE), f),
        "radio, local": (decode_args("ffmpeg", f, 20_000, 5_000, loop=False), f),
        "radio, pre-signed": (decode_args("ffmpeg", URL, 0, 5_000, loop=True), URL),
        "live": (decode_live_args("ffmpeg"), "pipe:0"),
    }


@pytest.mark.parametrize("name", list(builders()))
def test_every_run_over_media_holds_ffmpeg_to_the_allowed_demuxers_and_protocols(
    name: str,
) -> None:
    args, source = builders()[name]
    opts = the_input(args, source)
    # The input's last options are the ones the one builder makes (a seek may come before).
    expected = input_args(source, demuxer=option(opts, "-f"))[:-2]
    assert opts[-len(expected) :] == expected
    assert option(opts, "-format_whitelist") or option(opts, "-f") == "mpegts"


@pytest.mark.parametrize("name", ["efir.m3u8", "efir.ffconcat", "efir.txt", "efir", "efir.mp3."])
def test_a_name_without_a_media_suffix_is_refused(name: str) -> None:
    with pytest.raises(NotMedia, match="not an audio or video file"):
        media_suffix(name)


@pytest.mark.parametrize("name", ["Şikəstə.MP3", "veriliş.Mp4", "a.b.flac", "səs.WebM"])
def test_a_media_suffix_is_lower_cased(name: str) -> None:
    suffix = media_suffix(name)
    assert suffix == "." + name.rsplit(".", 1)[1].lower()
    assert suffix in SUFFIXES
