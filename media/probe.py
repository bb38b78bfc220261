"""What a media file is: container, streams, duration, tags. Pure parsers plus a thin runner.

Two sources give the same ProbeResult: ffprobe's JSON, or, where only ffmpeg exists (the
imageio-ffmpeg wheel), the banner `ffmpeg -i` prints on stderr.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from media.binaries import Tools
from media.containers import input_args
from media.errors import NotMedia, TruncatedMedia
from media.process import run_tool

# Demuxers and codecs of still images: ffmpeg opens them, but they are not audio or video.
IMAGE_CONTAINERS = {"image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "gif", "webp_pipe", "tiff_pipe"}
IMAGE_CODECS = {"png", "mjpeg", "bmp", "gif", "webp", "tiff"}
TAG_KEYS = ("title", "artist", "album", "album_artist", "genre", "date", "language", "comment")


@dataclass(frozen=True, slots=True)
class AudioStream:
    codec: str
    channels: int | None
    sample_rate: int | None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class VideoStream:
    codec: str
    width: int | None
    height: int | None
    frame_rate: float | None
    attached_pic: bool = False


@dataclass(frozen=True, slots=True)
class ProbeResult:
    container: str
    duration_ms: int | None
    bit_rate: int | None
    audio: tuple[AudioStream, ...] = ()
    video: tuple[VideoStream, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def main_video(self) -> VideoStream | None:
        """The first real picture stream, not cover art."""
        return next((v for v in self.video if not v.attached_pic), None)

    @property
    def cover_art(self) -> VideoStream | None:
        return next((v for v in self.video if v.attached_pic), None)

    @property
    def is_video(self) -> bool:
        return self.main_video is not None

    @property
    def language(self) -> str | None:
        return self.tags.get("language") or next(
            (a.language for a in self.audio if a.language), None
        )


def _rate(text: str | None) -> float | None:
    if not text or text in ("0/0", "0"):
        return None
    try:
        value = float(Fraction(text))
    except (ValueError, ZeroDivisionError):
        return None
    return round(value, 3) if value > 0 else None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _clean_tags(raw: dict[str, Any]) -> dict[str, str]:
    tags = {str(k).lower(): str(v).strip() for k, v in raw.items() if str(v).strip()}
    return {k: tags[k] for k in TAG_KEYS if k in tags}


def probe_args(ffprobe: str, path: Path) -> list[str]:
    return [
        ffprobe,
        "-v",
        "error",
        "-hide_banner",
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
        *input_args(path),
    ]


def banner_args(ffmpeg: str, path: Path) -> list[str]:
    """`ffmpeg -i FILE` without an output: it prints what it reads of the input, and exits 1."""
    return [ffmpeg, "-hide_banner", "-nostdin", *input_args(path)]


def parse_ffprobe_json(data: dict[str, Any]) -> ProbeResult:
    fmt = data.get("format") or {}
    audio: list[AudioStream] = []
    video: list[VideoStream] = []
    tags = _clean_tags(fmt.get("tags") or {})
    for s in data.get("streams") or []:
        kind = s.get("codec_type")
        stags = {str(k).lower(): v for k, v in (s.get("tags") or {}).items()}
        lang = stags.get("language")
        lang = None if lang in (None, "und") else str(lang)
        if kind == "audio":
            audio.append(
                AudioStream(
                    codec=s.get("codec_name", "unknown"),
                    channels=_int(s.get("channels")),
                    sample_rate=_int(s.get("sample_rate")),
                    language=lang,
                )
            )
        elif kind == "video":
            video.append(
                VideoStream(
                    codec=s.get("codec_name", "unknown"),
                    width=_int(s.get("width")),
                    height=_int(s.get("height")),
                    frame_rate=_rate(s.get("avg_frame_rate")) or _rate(s.get("r_frame_rate")),
                    attached_pic=bool((s.get("disposition") or {}).get("attached_pic")),
                )
            )
        for k, v in _clean_tags(stags).items():
            tags.setdefault(k, v)
    duration = fmt.get("duration")
    return ProbeResult(
        container=str(fmt.get("format_name", "unknown")),
        duration_ms=round(float(duration) * 1000) if duration not in (None, "N/A") else None,
        bit_rate=_int(fmt.get("bit_rate")),
        audio=tuple(audio),
        video=tuple(video),
        tags=tags,
    )


_INPUT = re.compile(r"^Input #0, (?P<fmt>[^,]+(?:,[^,\s][^,]*)*), from ", re.M)
_DURATION = re.compile(
    r"^\s*Duration: (?:(?P<h>\d+):(?P<m>\d+):(?P<s>\d+(?:\.\d+)?)|N/A)"
    r"(?:, start: [-\d.]+)?, bitrate: (?:(?P<br>\d+) kb/s|N/A)",
    re.M,
)
_STREAM = re.compile(
    r"^\s*Stream #0:\d+(?:\[\w+\])?(?:\((?P<lang>\w+)\))?: (?P<kind>Audio|Video): (?P<rest>.*)$",
    re.M,
)
_META_LINE = re.compile(r"^(?P<indent>\s+)(?P<key>[^:\s][^:]*?)\s*: (?P<value>.*)$")


def _banner_tags(stderr: str) -> dict[str, str]:
    """Container-level tags: the Metadata block right under `Input #0`."""
    tags: dict[str, str] = {}
    lines = stderr.splitlines()
    in_input = in_meta = False
    for ln in lines:
        if ln.startswith("Input #0"):
            in_input = True
            continue
        if not in_input:
            continue
        if ln.strip() == "Metadata:" and ln.startswith("  ") and not ln.startswith("    "):
            in_meta = True
            continue
        if in_meta:
            m = _META_LINE.match(ln)
            if m and len(m.group("indent")) >= 4:
                tags[m.group("key").strip().lower()] = m.group("value").strip()
                continue
            break
    return _clean_tags(tags)


def parse_ffmpeg_banner(stderr: str) -> ProbeResult:
    """Read what `ffmpeg -i FILE` prints about its input (used when ffprobe is absent)."""
    m = _INPUT.search(stderr)
    if not m:
        raise NotMedia(_reason_from_stderr(stderr))
    duration_ms: int | None = None
    bit_rate: int | None = None
    d = _DURATION.search(stderr)
    if d:
        if d.group("h") is not None:
            secs = int(d.group("h")) * 3600 + int(d.group("m")) * 60 + float(d.group("s"))
            duration_ms = round(secs * 1000)
        if d.group("br"):
            bit_rate = int(d.group("br")) * 1000
    audio: list[AudioStream] = []
    video: list[VideoStream] = []
    for s in _STREAM.finditer(stderr):
        rest = s.group("rest")
        lang = s.group("lang")
        lang = None if lang in (None, "und") else lang
        codec = rest.split(",")[0].split()[0]
        if s.group("kind") == "Audio":
            hz = re.search(r"(\d+) Hz", rest)
            layout = re.search(r"Hz, ([^,]+)", rest)
            audio.append(
                AudioStream(
                    codec=codec,
                    channels=_channels(layout.group(1).strip()) if layout else None,
                    sample_rate=int(hz.group(1)) if hz else None,
                    language=lang,
                )
            )
        else:
            size = re.search(r"(?:,|\s)(\d{2,5})x(\d{2,5})(?:[\s,]|$)", rest)
            fps = re.search(r"([\d.]+)(k?) (?:fps|tbr)", rest)
            rate = None
            if fps:
                rate = round(float(fps.group(1)) * (1000 if fps.group(2) else 1), 3)
            video.append(
                VideoStream(
                    codec=codec,
                    width=int(size.group(1)) if size else None,
                    height=int(size.group(2)) if size else None,
                    frame_rate=rate,
                    attached_pic="(attached pic)" in rest,
                )
            )
    return ProbeResult(
        container=m.group("fmt"),
        duration_ms=duration_ms,
        bit_rate=bit_rate,
        audio=tuple(audio),
        video=tuple(video),
        tags=_banner_tags(stderr),
    )


def _channels(layout: str) -> int | None:
    named = {"mono": 1, "stereo": 2, "2.1": 3, "quad": 4, "5.0": 5, "5.1": 6, "7.1": 8}
    if layout in named:
        return named[layout]
    m = re.match(r"(\d+) channels", layout)
    if m:
        return int(m.group(1))
    base = layout.split("(")[0]
    return named.get(base)


# ffmpeg's words, and what they mean to someone who just uploaded a file.
_KNOWN_FAILURES = (
    (
        "Format not on whitelist",
        NotMedia,
        "it is not an audio or video file the library accepts (a playlist, a list of other "
        "files or an image is refused)",
    ),
    (
        "moov atom not found",
        TruncatedMedia,
        "the MP4/MOV index (moov atom) is missing: the file "
        "is truncated or its recording was never finished",
    ),
    ("partial file", TruncatedMedia, "the file ends before its data does: it is truncated"),
    (
        "Invalid data found when processing input",
        NotMedia,
        "ffmpeg does not recognise it as audio or video",
    ),
    ("could not find codec parameters", NotMedia, "ffmpeg cannot find any playable stream in it"),
)


def _reason_from_stderr(stderr: str) -> str:
    for needle, _cls, words in _KNOWN_FAILURES:
        if needle.lower() in stderr.lower():
            return words
    last = [ln for ln in stderr.splitlines() if ln.strip()]
    return f"ffmpeg cannot read it ({last[-1].strip() if last else 'no output'})"


def failure_from_stderr(stderr: str) -> NotMedia | TruncatedMedia:
    for needle, cls, words in _KNOWN_FAILURES:
        if needle.lower() in stderr.lower():
            return cls(words)
    return NotMedia(_reason_from_stderr(stderr))


def check_is_media(result: ProbeResult) -> None:
    """Reject what ffmpeg can open but a station cannot air: still images, streamless files."""
    if not result.audio and not result.main_video:
        if result.video or result.container in IMAGE_CONTAINERS:
            raise NotMedia("it is a still image, not audio or video")
        raise NotMedia("it has no audio or video stream")
    mv = result.main_video
    if (
        not result.audio
        and mv is not None
        and (mv.codec in IMAGE_CODECS or result.container in IMAGE_CONTAINERS)
    ):
        raise NotMedia("it is a still image, not audio or video")


async def probe(tools: Tools, path: Path) -> ProbeResult:
    """Probe a file; raises NotMedia/TruncatedMedia with a reason an editor understands."""
    if tools.ffprobe:
        res = await run_tool(probe_args(tools.ffprobe, path), timeout=120)
        if not res.ok:
            raise failure_from_stderr(res.stderr)
        try:
            result = parse_ffprobe_json(json.loads(res.stdout or b"{}"))
        except json.JSONDecodeError as exc:
            raise NotMedia(f"ffprobe gave unreadable output ({exc})") from exc
    else:
        res = await run_tool(banner_args(tools.ffmpeg, path), timeout=120)
        # `ffmpeg -i` without an output always exits 1; the banner is what we want.
        if "Input #0" not in res.stderr:
            raise failure_from_stderr(res.stderr)
        result = parse_ffmpeg_banner(res.stderr)
        if "moov atom not found" in res.stderr:
            raise failure_from_stderr(res.stderr)
    check_is_media(result)
    return result
