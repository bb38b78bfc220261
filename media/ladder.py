"""The TV ladder: its rungs and packaging options, frame and sample counts at its rates, and
the ffmpeg arguments that every encode into it shares.

Packaging and the live input (`streamer/tvlive.py`) encode into the same ladder with these
same arguments, so that the sequencer can splice an asset's segments and a live feed's alike:
every rung is libx264 with the same fixed GOP (`-g`/`-keyint_min` = segment × fps,
`-sc_threshold 0`, keyframes forced by frame number), so segment i starts on the same frame in
every rung; every rung is letterboxed to its exact size, so the channel never changes
resolution between items; every rendition carries the same AAC-LC 48 kHz stereo.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from media.errors import MediaError

if TYPE_CHECKING:
    from station.settings import Settings

AUDIO = "audio"  # the audio-only rendition's name (and folder)
AAC_CODECS = "mp4a.40.2"  # AAC-LC
SAMPLE_RATE = 48_000

_RUNG = re.compile(r"^([a-z0-9][a-z0-9_-]{0,31}):(\d{2,5})x(\d{2,5}):(\d{2,6})$")


@dataclass(frozen=True, slots=True)
class Rung:
    name: str
    width: int
    height: int
    video_kbps: int

    @classmethod
    def parse(cls, text: str) -> Rung:
        """`name:WIDTHxHEIGHT:kbit/s`, as in DIASPOR_TV_LADDER."""
        m = _RUNG.match(text.strip())
        if not m:
            raise MediaError(f"ladder rung {text!r} is not like '720p:1280x720:2500'")
        rung = cls(m[1], int(m[2]), int(m[3]), int(m[4]))
        if rung.name in (AUDIO, "subs"):
            raise MediaError(f"ladder rung {text!r}: the name {rung.name!r} is taken")
        if rung.width % 2 or rung.height % 2:
            raise MediaError(f"ladder rung {text!r}: H.264 4:2:0 needs even width and height")
        return rung


def parse_ladder(items: Sequence[str]) -> tuple[Rung, ...]:
    ladder = tuple(Rung.parse(t) for t in items)
    if not ladder:
        raise MediaError("the TV ladder has no rungs")
    if len({r.name for r in ladder}) != len(ladder):
        raise MediaError("the TV ladder names a rung twice")
    return ladder


DEFAULT_LADDER = parse_ladder(["720p:1280x720:2500", "480p:854x480:1200", "360p:640x360:700"])


@dataclass(frozen=True, slots=True)
class PackagingOptions:
    ladder: tuple[Rung, ...] = DEFAULT_LADDER
    audio_kbps: int = 128
    segment_s: int = 6
    fps: int = 25
    threads: int = 0  # 0: let ffmpeg use every core
    target_lufs: float = -16.0
    max_true_peak_dbtp: float = -1.0
    preset: str = "veryfast"
    thumb_interval_s: int = 5
    thumb_width: int = 160
    max_thumbs: int = 1000  # a longer asset gets a wider thumbnail interval
    slate_text: str = "Diaspor TV"

    def __post_init__(self) -> None:
        if not self.ladder:
            raise MediaError("the TV ladder has no rungs")
        if self.fps <= 0 or self.segment_s <= 0 or self.thumb_interval_s <= 0:
            raise MediaError("fps, segment length and thumbnail interval must be positive")

    @classmethod
    def from_settings(cls, settings: Settings) -> PackagingOptions:
        return cls(
            ladder=parse_ladder(settings.tv_ladder),
            audio_kbps=settings.tv_audio_kbps,
            segment_s=settings.tv_segment_s,
            fps=settings.tv_fps,
            threads=settings.tv_threads,
        )

    @property
    def gop(self) -> int:
        """Frames per full segment: the fixed GOP of every rung."""
        return self.segment_s * self.fps

    @property
    def top(self) -> Rung:
        return max(self.ladder, key=lambda r: r.width * r.height)


DEFAULT_PACKAGING = PackagingOptions()


# --- frames and samples at the ladder's rates ---------------------------------------------


def frames_of(ms: int, fps: int) -> int:
    """Whole frames nearest to ms milliseconds (at least one)."""
    return max(1, (2 * ms * fps + 1000) // 2000)


def ms_of(frames: int, fps: int) -> int:
    """Milliseconds of `frames` frames, rounded (exact at 25 and 50 fps)."""
    return (2 * frames * 1000 + fps) // (2 * fps)


def samples_of(frames: int, fps: int) -> int:
    return (2 * frames * SAMPLE_RATE + fps) // (2 * fps)


def split_frames(total: int, gop: int) -> list[int]:
    """Frames in each segment: full GOPs, then what is left."""
    full, rest = divmod(total, gop)
    return [gop] * full + ([rest] if rest else [])


# --- ffmpeg arguments ---------------------------------------------------------------------


def fit_filter(w: int, h: int) -> str:
    """Scale into w×h keeping the picture's shape, and letterbox/pillarbox to exactly w×h."""
    return (
        f"scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2,"
        f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1"
    )


def x264_args(opts: PackagingOptions, *, gop: int) -> list[str]:
    return [
        "-c:v",
        "libx264",
        "-preset",
        opts.preset,
        "-profile:v",
        "high",
        "-pix_fmt",
        "yuv420p",
        "-g",
        str(gop),
        "-keyint_min",
        str(gop),
        "-sc_threshold",
        "0",
        "-forced-idr",
        "1",
    ]


def aac_args(opts: PackagingOptions) -> list[str]:
    return [
        "-c:a",
        "aac",
        "-profile:a",
        "aac_low",
        "-b:a",
        f"{opts.audio_kbps}k",
        "-ar",
        str(SAMPLE_RATE),
        "-ac",
        "2",
    ]


def thread_args(opts: PackagingOptions) -> list[str]:
    return ["-threads", str(opts.threads)] if opts.threads else []


def ladder_outputs(ladder: Sequence[Rung]) -> tuple[list[str], list[str], str]:
    """For a graph labelled [v0] [a0] … [vN-1] [aN-1] [aN]: the -map arguments, each rung's
    video rate limits, and the hls muxer's -var_stream_map (the rungs, then audio-only)."""
    n = len(ladder)
    maps: list[str] = []
    rates: list[str] = []
    for i, r in enumerate(ladder):
        maps += ["-map", f"[v{i}]", "-map", f"[a{i}]"]
        rates += [
            f"-b:v:{i}",
            f"{r.video_kbps}k",
            f"-maxrate:v:{i}",
            f"{r.video_kbps * 11 // 10}k",
            f"-bufsize:v:{i}",
            f"{r.video_kbps * 2}k",
        ]
    maps += ["-map", f"[a{n}]"]
    streams = " ".join(
        [f"v:{i},a:{i},name:{r.name}" for i, r in enumerate(ladder)] + [f"a:{n},name:{AUDIO}"]
    )
    return maps, rates, streams


def ladder_hls_args(opts: PackagingOptions) -> tuple[list[str], str]:
    """For a graph labelled as `ladder_outputs` says: every rendition mapped and encoded (x264
    with the fixed GOP and keyframes forced on the frame count, each rung's rates, AAC) into
    the hls muxer cutting at the segment target; and the muxer's -var_stream_map. The muxer's
    other options and its output are the caller's."""
    maps, rates, streams = ladder_outputs(opts.ladder)
    args = [
        *maps,
        *x264_args(opts, gop=opts.gop),
        *rates,
        *aac_args(opts),
        *thread_args(opts),
        "-force_key_frames",
        f"expr:gte(n,n_forced*{opts.gop})",
        "-f",
        "hls",
        "-hls_time",
        str(opts.segment_s),
    ]
    return args, streams
