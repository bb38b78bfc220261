"""HLS text for the linear TV channel and for packaged assets: media and master playlists,
program date-times, durations in frames, relative URIs. Pure: numbers and strings in,
strings out.

Durations are exact fractions of a millisecond (a frame at 29.97 fps is 1001/30 ms), so
the channel's line never drifts however many segments are summed; they are rounded only
where they are written (EXTINF to the microsecond, PROGRAM-DATE-TIME to the millisecond).
"""

from __future__ import annotations

import math
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction

# EXTINF as decimal-floating-point needs version 3; nothing else we write needs more
# (EXT-X-MEDIA, DISCONTINUITY-SEQUENCE, PROGRAM-DATE-TIME, INDEPENDENT-SEGMENTS have no
# version requirement in RFC 8216 §7).
VERSION = 3
EMPTY_VTT = b"WEBVTT\n\n"  # a subtitle segment without cues: its EXTINF gives its length
SUBTITLE_GROUP = "subs"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HALF = Fraction(1, 2)
_NTSC = {24: Fraction(24000, 1001), 30: Fraction(30000, 1001), 60: Fraction(60000, 1001)}


def frame_rate(fps: float) -> Fraction:
    """The exact rate behind a manifest's float: 29.97 is 30000/1001, 25.0 is 25."""
    if fps <= 0:
        raise ValueError(f"frame rate must be positive, not {fps}")
    for n, exact in _NTSC.items():
        if abs(fps - float(exact)) < 0.005 and abs(fps - n) > 0.005:
            return exact
    return Fraction(fps).limit_denominator(1001)


def round_half_up(x: Fraction) -> int:
    return math.floor(x + _HALF)


def frame_ms(frames: int, fps: Fraction) -> Fraction:
    """How long `frames` frames last, in exact milliseconds."""
    return Fraction(frames * 1000) / fps


def frames_in(ms: Fraction, fps: Fraction) -> int:
    """The whole number of frames nearest to a span (a half frame rounds up)."""
    return round_half_up(ms * fps / 1000)


def decompose(frames: int, sizes: Sequence[int]) -> list[int]:
    """Frame counts from `sizes` (each usable any number of times) summing exactly to
    `frames`, largest first: with full-length segments and 1, 2, 4 … 128 this is the
    full-length ones, then the binary digits of the remainder."""
    if frames < 0:
        raise ValueError(f"cannot fill {frames} frames")
    out: list[int] = []
    left = frames
    for size in sorted({s for s in sizes if s > 0}, reverse=True):
        n, left = divmod(left, size)
        out += [size] * n
    if left:
        raise ValueError(f"{frames} frames cannot be made from segments of {sorted(sizes)}")
    return out


def seconds(ms: Fraction) -> str:
    """An EXTINF value: seconds to the microsecond, at least three decimals."""
    us = round_half_up(ms * 1000)
    text = f"{us // 1_000_000}.{us % 1_000_000:06d}"
    while text.endswith("0") and len(text.split(".")[1]) > 3:
        text = text[:-1]
    return text


def rounded_seconds(ms: Fraction) -> int:
    """A duration in whole seconds, as RFC 8216 compares an EXTINF with the target."""
    return round_half_up(ms / 1000)


def program_date_time(ms: int) -> str:
    """ISO 8601 in UTC with milliseconds: 2025-03-01T12:00:00.040Z."""
    secs, milli = divmod(ms, 1000)
    t = _EPOCH + timedelta(seconds=secs)
    return f"{t:%Y-%m-%dT%H:%M:%S}.{milli:03d}Z"


def relative_uri(from_dir: str, key: str) -> str:
    """A storage key as seen from a playlist in `from_dir`: the same relative path works on
    local files, the API's /files/, nginx, S3 and a CDN."""
    return posixpath.relpath(key, from_dir)


def _quoted(text: str) -> str:
    """A quoted-string attribute may hold neither a double quote nor a line break."""
    return '"' + "".join(c for c in text if c not in '"\r\n') + '"'


@dataclass(frozen=True, slots=True)
class MediaSegment:
    uri: str
    duration_ms: Fraction
    program_date_time_ms: int
    discontinuity: bool = False


def media_playlist(
    segments: Sequence[MediaSegment],
    *,
    target_duration_s: int,
    media_sequence: int,
    discontinuity_sequence: int,
) -> str:
    """A live media playlist (no ENDLIST): every segment carries its program date-time."""
    head = playlist_head(
        target_duration_s=target_duration_s,
        media_sequence=media_sequence,
        discontinuity_sequence=discontinuity_sequence,
    )
    return head + "".join(segment_entry(s) for s in segments)


def playlist_head(
    *, target_duration_s: int, media_sequence: int, discontinuity_sequence: int
) -> str:
    """The tags that open a live media playlist, each line ended."""
    return (
        f"#EXTM3U\n#EXT-X-VERSION:{VERSION}\n#EXT-X-TARGETDURATION:{target_duration_s}\n"
        f"#EXT-X-MEDIA-SEQUENCE:{media_sequence}\n"
        f"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_sequence}\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
    )


def segment_entry(s: MediaSegment) -> str:
    """One segment's lines in a live media playlist, each ended: the same in every playlist
    the segment is in while the window slides, so a writer may keep it."""
    disc = "#EXT-X-DISCONTINUITY\n" if s.discontinuity else ""
    return (
        f"{disc}#EXT-X-PROGRAM-DATE-TIME:{program_date_time(s.program_date_time_ms)}\n"
        f"#EXTINF:{seconds(s.duration_ms)},\n{s.uri}\n"
    )


def vod_playlist(
    uris: Sequence[str], segments_ms: Sequence[int], target_s: int, *, discontinuous: bool = False
) -> str:
    """A packaged asset's media playlist (VOD: the whole list, ended). `discontinuous`: every
    segment has its own timeline (the slate)."""
    target = max(target_s, *(rounded_seconds(Fraction(ms)) for ms in segments_ms))
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{VERSION}",
        f"#EXT-X-TARGETDURATION:{target}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    for i, (uri, ms) in enumerate(zip(uris, segments_ms, strict=True)):
        if discontinuous and i:
            lines.append("#EXT-X-DISCONTINUITY")
        lines += [f"#EXTINF:{seconds(Fraction(ms))},", uri]
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class Variant:
    uri: str
    bandwidth: int
    average_bandwidth: int
    codecs: str
    width: int | None = None
    height: int | None = None
    frame_rate: float | None = None


@dataclass(frozen=True, slots=True)
class SubtitleTrack:
    uri: str
    lang: str
    name: str


def master_playlist(variants: Sequence[Variant], subtitles: Sequence[SubtitleTrack]) -> str:
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{VERSION}", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for t in subtitles:
        lines.append(
            f"#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID={_quoted(SUBTITLE_GROUP)},"
            f"NAME={_quoted(t.name or t.lang)},LANGUAGE={_quoted(t.lang)},"
            f"DEFAULT=NO,AUTOSELECT=YES,URI={_quoted(t.uri)}"
        )
    for v in variants:
        attrs = [
            f"BANDWIDTH={v.bandwidth}",
            f"AVERAGE-BANDWIDTH={v.average_bandwidth}",
            f"CODECS={_quoted(v.codecs)}",
        ]
        if v.width and v.height:
            attrs.append(f"RESOLUTION={v.width}x{v.height}")
        if v.frame_rate:
            attrs.append(f"FRAME-RATE={v.frame_rate:.3f}")
        if subtitles:
            attrs.append(f"SUBTITLES={_quoted(SUBTITLE_GROUP)}")
        lines.append("#EXT-X-STREAM-INF:" + ",".join(attrs))
        lines.append(v.uri)
    return "\n".join(lines) + "\n"
