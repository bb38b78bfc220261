"""Segments: what one holds (frames, keyframes, timestamps, sound, its H.264 profile and level),
read with ffprobe or ffmpeg; the check that a ladder's renditions line up segment by segment;
and the bit rates HLS declares, from the segments' sizes.

Nothing is published on the encoder's word. With ffprobe (or, on a machine with only the
imageio-ffmpeg wheel, `ffmpeg -f framecrc`), every rendition must have the same number of
segments; every video segment must start with a keyframe; rung segments must hold the same
frames at the same PTS; the audio-only segments must match them to within a frame. That is
what lets a player switch rungs, and the sequencer splice any segment, without a glitch.
CODECS comes from the SPS of the first segment (the real profile and level, not the asked-for
ones), BANDWIDTH and AVERAGE-BANDWIDTH from the segment sizes (RFC 8216's peak segment bit
rate), so that a player's choice of rung rests on what it will download.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from media.binaries import Tools
from media.containers import input_args
from media.errors import PackagingError
from media.ladder import AUDIO, SAMPLE_RATE
from media.process import run_tool

TS_HZ = 90_000  # the MPEG-TS clock
AAC_FRAME_TICKS = 1024 * TS_HZ // SAMPLE_RATE


# --- what is in a segment -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SegmentProbe:
    video_frames: int
    first_video_pts: int | None  # 90 kHz
    starts_with_key: bool  # the first video packet is a keyframe
    audio_pts: int | None
    audio_ticks: int  # the audio's length, summed over its packets


def _probe_of(packets: Sequence[tuple[str, int | None, int, bool]]) -> SegmentProbe:
    video = [p for p in packets if p[0] == "video"]
    audio = [p for p in packets if p[0] == "audio"]
    return SegmentProbe(
        video_frames=len(video),
        first_video_pts=video[0][1] if video else None,
        starts_with_key=bool(video) and video[0][3],
        audio_pts=min((p[1] for p in audio if p[1] is not None), default=None),
        audio_ticks=sum(p[2] for p in audio),
    )


def parse_ffprobe_packets(data: Mapping[str, Any]) -> SegmentProbe:
    """`ffprobe -show_entries packet=codec_type,pts,duration,flags -of json`."""
    packets = []
    for p in data.get("packets", []):
        pts = p.get("pts")
        packets.append(
            (
                str(p.get("codec_type", "")),
                int(pts) if isinstance(pts, int | str) and str(pts).lstrip("-").isdigit() else None,
                int(p.get("duration") or 0),
                str(p.get("flags", "")).startswith("K"),
            )
        )
    return _probe_of(packets)


def parse_framecrc(text: str) -> SegmentProbe:
    """`ffmpeg -copyts -i seg.ts -c copy -f framecrc -`: the same facts without ffprobe.
    Packet lines are `stream, dts, pts, duration, size, crc[, F=0xFLAGS][, S=...]`; a packet
    without F= has exactly the keyframe flag."""
    kinds: dict[int, str] = {}
    packets = []
    for line in text.splitlines():
        if line.startswith("#media_type"):
            head, _, kind = line.partition(":")
            kinds[int(head.split()[1])] = kind.strip()
            continue
        if not line or line.startswith("#"):
            continue
        cols = [c.strip() for c in line.split(",")]
        flags = next((c for c in cols[6:] if c.startswith("F=")), None)
        key = flags is None or bool(int(flags[2:], 16) & 1)
        pts = int(cols[2]) if cols[2].lstrip("-").isdigit() else None
        packets.append((kinds.get(int(cols[0]), ""), pts, int(cols[3]), key))
    return _probe_of(packets)


def segment_probe_args(ffprobe: str | None, path: Path, *, ffmpeg: str = "ffmpeg") -> list[str]:
    """The packets of one segment: ffprobe's JSON, or without ffprobe ffmpeg's framecrc.
    -f mpegts: a segment of a frame or two is too short for format probing to recognise."""
    if ffprobe:
        return [
            ffprobe,
            "-v",
            "error",
            "-show_entries",
            "packet=codec_type,pts,duration,flags",
            "-of",
            "json",
            *input_args(path, demuxer="mpegts"),
        ]
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-v",
        "error",
        "-copyts",
        *input_args(path, demuxer="mpegts"),
        "-map",
        "0",
        "-c",
        "copy",
        "-f",
        "framecrc",
        "-",
    ]


def segment_codec_args(ffmpeg: str, path: Path) -> list[str]:
    """The first H.264 access unit of a segment, as an Annex B stream on stdout."""
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-v",
        "error",
        *input_args(path, demuxer="mpegts"),
        "-map",
        "0:v:0",
        "-c",
        "copy",
        "-frames:v",
        "1",
        "-f",
        "h264",
        "-",
    ]


async def probe_segment(tools: Tools, path: Path) -> SegmentProbe:
    args = segment_probe_args(tools.ffprobe, path, ffmpeg=tools.ffmpeg)
    res = await run_tool(args, timeout=120)
    if tools.ffprobe:
        if not res.ok:
            raise PackagingError(f"ffprobe cannot read {path.name}: {res.last_error_line()}")
        return parse_ffprobe_packets(json.loads(res.stdout or b"{}"))
    if not res.ok:
        raise PackagingError(f"ffmpeg cannot read {path.name}: {res.last_error_line()}")
    return parse_framecrc(res.stdout.decode("utf-8", "replace"))


async def video_codec_of(tools: Tools, path: Path) -> str:
    """RFC 6381 string of the H.264 in a segment, from its SPS (the real profile and level)."""
    res = await run_tool(segment_codec_args(tools.ffmpeg, path), timeout=120)
    if not res.ok:
        raise PackagingError(f"cannot read the video of {path.name}: {res.last_error_line()}")
    return avc_codec(res.stdout)


def check_ladder(
    probes: Mapping[str, Sequence[SegmentProbe]],
    *,
    rungs: Sequence[str],
    fps: int,
    gop: int,
    expected_frames: Sequence[int] | None = None,
    continuous: bool = True,
) -> list[int]:
    """Raise PackagingError unless the renditions line up; return the frames of each segment.

    Every rendition has the same number of segments; every video segment starts with a
    keyframe; the rungs' segments hold the same frames at the same PTS; no segment is longer
    than the target; the audio-only segments start and last as the video's to within a video
    frame plus an AAC frame (priming, and AAC's 1024-sample grid). With `continuous`, segment
    i starts exactly where the frames before it end (constant frame rate, nothing dropped).
    """
    counts = {name: len(segs) for name, segs in probes.items()}
    if len(set(counts.values())) != 1 or 0 in counts.values():
        raise PackagingError(f"renditions have different numbers of segments: {counts}")
    first = probes[rungs[0]]
    frames = [p.video_frames for p in first]
    frame_ticks = TS_HZ / fps
    for name in rungs:
        for i, p in enumerate(probes[name]):
            where = f"{name} segment {i}"
            if not p.starts_with_key or p.first_video_pts is None:
                raise PackagingError(f"{where} does not start with a keyframe")
            if p.video_frames != frames[i] or p.first_video_pts != first[i].first_video_pts:
                raise PackagingError(
                    f"{where} holds {p.video_frames} frames from PTS {p.first_video_pts}; "
                    f"{rungs[0]} holds {frames[i]} from {first[i].first_video_pts}"
                )
    if expected_frames is not None and frames != list(expected_frames):
        raise PackagingError(f"segments hold {frames} frames, not {list(expected_frames)}")
    if expected_frames is None and any(f > gop for f in frames):
        raise PackagingError(f"a segment is longer than the target ({gop} frames): {frames}")
    if continuous:
        origin = first[0].first_video_pts or 0
        done = 0
        for i, p in enumerate(first):
            want = origin + round(done * frame_ticks)
            if abs((p.first_video_pts or 0) - want) > 1:
                raise PackagingError(
                    f"segment {i} starts at PTS {p.first_video_pts}, not {want}: frames were "
                    "dropped or duplicated"
                )
            done += p.video_frames
    tolerance = frame_ticks + AAC_FRAME_TICKS
    for i, p in enumerate(probes.get(AUDIO, ())):
        video_ticks = frames[i] * frame_ticks
        if p.audio_pts is None or abs(p.audio_ticks - video_ticks) > tolerance:
            raise PackagingError(
                f"audio segment {i} lasts {p.audio_ticks / TS_HZ:.3f} s against the video's "
                f"{video_ticks / TS_HZ:.3f} s"
            )
        if abs(p.audio_pts - (first[i].first_video_pts or 0)) > tolerance:
            raise PackagingError(f"audio segment {i} does not start with the video's segment")
    return frames


# --- bit rates and codecs -----------------------------------------------------------------


def peak_bit_rate(sizes: Sequence[int], durations_ms: Sequence[int], target_s: int) -> int:
    """RFC 8216 §4.3.4.2: the largest bit rate of any run of consecutive segments lasting
    between half and one and a half target durations (the whole, if nothing qualifies)."""
    lo, hi = target_s * 500, target_s * 1500
    best = 0.0
    for i in range(len(sizes)):
        size = dur = 0
        for j in range(i, len(sizes)):
            size += sizes[j]
            dur += durations_ms[j]
            if dur > hi:
                break
            if dur >= lo:
                best = max(best, size * 8000 / dur)
    if best == 0.0:
        return average_bit_rate(sizes, durations_ms)
    return math.ceil(best)


def average_bit_rate(sizes: Sequence[int], durations_ms: Sequence[int]) -> int:
    total_ms = sum(durations_ms)
    return math.ceil(sum(sizes) * 8000 / total_ms) if total_ms else 0


def avc_codec(annexb: bytes) -> str:
    """RFC 6381 `avc1.PPCCLL` from the first SPS in an Annex B H.264 stream."""
    i = 0
    while True:
        i = annexb.find(b"\x00\x00\x01", i)
        if i < 0 or i + 6 > len(annexb):
            raise PackagingError("no H.264 sequence parameter set in the first segment")
        if annexb[i + 3] & 0x1F == 7:
            profile, constraints, level = annexb[i + 4 : i + 7]
            return f"avc1.{profile:02x}{constraints:02x}{level:02x}"
        i += 3
