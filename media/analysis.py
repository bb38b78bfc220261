"""Loudness (EBU R128), true peak, silence cue points and decoded duration, in one decode.

The argument builders and the stderr parser are pure; `analyse` runs ffmpeg once over the file.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from media.binaries import Tools
from media.containers import input_args
from media.errors import AnalysisTimedOut, CorruptMedia, StorageError, ToolKilled, TruncatedMedia
from media.process import DecodedTime, ToolResult, run_tool

# ffmpeg's words for damaged input, at info level.
_DAMAGE = re.compile(
    r"partial file|Invalid NAL|missing picture|Header missing|Error while decoding|"
    r"invalid frame|corrupt|decode_slice_header error|error reading header|Invalid data",
    re.I,
)
_I = re.compile(r"^\s*I:\s+(-?[\d.]+|-?inf|nan) LUFS", re.M)
_LRA = re.compile(r"^\s*LRA:\s+(-?[\d.]+|nan) LU\b", re.M)
_PEAK = re.compile(r"^\s*Peak:\s+(-?[\d.]+|-?inf|nan) dBFS", re.M)
_SIL_START = re.compile(r"silence_start: (-?[\d.]+)")
_SIL_END = re.compile(r"silence_end: (-?[\d.]+)")

ProgressFn = Callable[[float, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Analysis:
    duration_ms: int
    loudness_lufs: float | None  # None: too short or silent to measure
    loudness_range_lu: float | None
    true_peak_dbtp: float | None
    cue_in_ms: int
    cue_out_ms: int
    damage_lines: int


def analysis_args(
    ffmpeg: str, path: Path, *, has_audio: bool, silence_db: float, silence_min_ms: int
) -> list[str]:
    base = [ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-v", "info", *input_args(path)]
    out = ["-f", "null", "-", "-progress", "pipe:1"]
    if not has_audio:
        return [*base, "-map", "0:v:0", "-an", "-sn", "-dn", *out]
    af = (
        f"silencedetect=noise={silence_db}dB:d={silence_min_ms / 1000:.3f},"
        "ebur128=peak=true:framelog=verbose"
    )
    return [*base, "-map", "0:a:0", "-vn", "-sn", "-dn", "-af", af, *out]


def _num(text: str) -> float | None:
    if text in ("nan", "inf", "-inf"):
        return None
    return float(text)


def silence_cues(stderr: str, duration_ms: int) -> tuple[int, int]:
    """Leading silence ends at cue-in; trailing silence (reaching the end) starts at cue-out."""
    starts = [float(x) for x in _SIL_START.findall(stderr)]
    ends = [float(x) for x in _SIL_END.findall(stderr)]
    cue_in, cue_out = 0, duration_ms
    spans = []
    for i, s in enumerate(starts):
        e = ends[i] if i < len(ends) else duration_ms / 1000
        spans.append((s, e))
    if spans and spans[0][0] <= 0.01:
        cue_in = round(spans[0][1] * 1000)
    if spans and spans[-1][1] * 1000 >= duration_ms - 50 and spans[-1][0] > 0.01:
        cue_out = round(spans[-1][0] * 1000)
    if cue_in >= cue_out:  # all silence: keep the whole thing rather than nothing
        return 0, duration_ms
    return cue_in, min(cue_out, duration_ms)


def parse_analysis(stderr: str, decoded_us: int | None, *, has_audio: bool) -> Analysis:
    duration_ms = round((decoded_us or 0) / 1000)
    loud = lra = peak = None
    if has_audio:
        # The summary is the last block; per-frame lines are at verbose level, not shown.
        if m := _I.findall(stderr):
            loud = _num(m[-1])
            if loud is not None and loud <= -70.0:
                loud = None
        if m := _LRA.findall(stderr):
            lra = _num(m[-1])
        if m := _PEAK.findall(stderr):
            peak = _num(m[-1])
    cue_in, cue_out = silence_cues(stderr, duration_ms) if has_audio else (0, duration_ms)
    return Analysis(
        duration_ms=duration_ms,
        loudness_lufs=loud,
        loudness_range_lu=lra,
        true_peak_dbtp=peak,
        cue_in_ms=cue_in,
        cue_out_ms=cue_out,
        damage_lines=len(_DAMAGE.findall(stderr)),
    )


# ffmpeg's words for a file it could not get at, as opposed to one it could not decode.
_UNREADABLE = re.compile(
    r"Input/output error|No such file or directory|Permission denied|Stale file handle|"
    r"Connection (?:reset|refused|timed out)|Server returned 5\d\d",
    re.I,
)


def check_decode_run(res: ToolResult) -> None:
    """Only an ffmpeg that ran to its end and says the file cannot be decoded gives a verdict
    on the file (CorruptMedia); a killed ffmpeg or an unreadable file is a passing fault."""
    if res.ok:
        return
    if res.signal is not None:
        raise ToolKilled(f"ffmpeg was stopped by signal {res.signal} while decoding the file")
    if _UNREADABLE.search(res.stderr):
        raise StorageError(f"the stored file could not be read: {res.last_error_line()}")
    raise CorruptMedia(f"decoding failed: {res.last_error_line()}")


def judge_integrity(analysis: Analysis, probed_ms: int | None) -> None:
    """Raise if the decode shows the file cannot be aired as it is."""
    if analysis.duration_ms <= 0:
        raise CorruptMedia("nothing in it could be decoded")
    if probed_ms and analysis.duration_ms < probed_ms - max(1000, probed_ms // 50):
        raise TruncatedMedia(
            f"it decodes to {analysis.duration_ms / 1000:.3f} s but says it lasts "
            f"{probed_ms / 1000:.3f} s: the file is truncated"
        )
    if analysis.damage_lines >= 10:
        raise CorruptMedia(f"ffmpeg reported {analysis.damage_lines} damaged frames while decoding")


def analysis_timeout_s(duration_ms: int, *, base_s: float, factor: float) -> float:
    """How long the analysis of a file this long may take: a fixed part for starting up, and
    a part in proportion to its duration (a decode runs many times faster than real time)."""
    return base_s + factor * duration_ms / 1000


async def analyse(
    tools: Tools,
    path: Path,
    *,
    has_audio: bool,
    probed_ms: int | None,
    silence_db: float = -50.0,
    silence_min_ms: int = 100,
    on_progress: ProgressFn | None = None,
    timeout_s: float | None = None,
    tail_check: bool = False,
) -> Analysis:
    """Decode the whole file once and measure it; raise UnusableMedia if it cannot be aired.

    `tail_check`: the file is not stored yet and no tail check was run, so this decode also
    gives the tail check's verdict (`judge_ending`) on top of its own.
    """
    decoded = DecodedTime()

    async def progress(block: dict[str, str]) -> None:
        decoded.update(block)
        if on_progress and probed_ms:
            await on_progress(min(decoded.us / 1000 / probed_ms, 1.0), "measuring loudness")

    args = analysis_args(
        tools.ffmpeg,
        path,
        has_audio=has_audio,
        silence_db=silence_db,
        silence_min_ms=silence_min_ms,
    )
    try:
        res = await run_tool(args, on_progress=progress, timeout=timeout_s)
    except TimeoutError as exc:
        raise AnalysisTimedOut(
            f"analysis took longer than {timeout_s:.1f} s and was stopped at "
            f"{decoded.us / 1e6:.0f} s of the file"
        ) from exc
    check_decode_run(res)
    result = parse_analysis(res.stderr, decoded.us, has_audio=has_audio)
    if tail_check:
        judge_ending(probed_ms, start_ms=0, decoded_us=decoded.us, stderr=res.stderr)
    judge_integrity(result, probed_ms)
    return result


def tail_check_args(ffmpeg: str, path: Path, start_s: float) -> list[str]:
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-v",
        "error",
        "-ss",
        f"{start_s:.3f}",
        *input_args(path),
        "-map",
        "0:a:0?",
        "-map",
        "0:v:0?",
        "-f",
        "null",
        "-",
        "-progress",
        "pipe:1",
    ]


def tail_window_ms(probed_ms: int) -> int:
    """How much of the end of a file must decode: two seconds, or half of a shorter file."""
    return min(2000, probed_ms // 2)


def judge_ending(probed_ms: int | None, *, start_ms: int, decoded_us: int, stderr: str) -> None:
    """Raise TruncatedMedia if the last seconds a file claims cannot be decoded.

    A decode that began at `start_ms` and reached `decoded_us` of output must get within a
    quarter of the tail window of where the file says it ends, and ffmpeg must not have met
    the end of the file inside a packet ("partial file"). The same rule serves the tail check
    (a decode of the last seconds only) and a whole decode of a file not yet stored.
    """
    if not probed_ms or probed_ms <= 0:
        return
    window_ms = tail_window_ms(probed_ms)
    reached_us = start_ms * 1000 + decoded_us
    short = reached_us < (probed_ms - window_ms) * 1000 + window_ms * 1000 // 4
    if "partial file" in stderr or (window_ms >= 200 and short):
        raise TruncatedMedia(
            f"it should last {probed_ms / 1000:.3f} s but its last seconds cannot be decoded: "
            "the file is truncated"
        )


async def check_tail(tools: Tools, path: Path, probed_ms: int | None) -> None:
    """Decode the last two seconds: a truncated file has nothing there, or errors.

    Cheap enough to run while the uploader waits, so an obviously broken file is refused at
    once instead of failing later in the background.
    """
    if not probed_ms or probed_ms <= 0:
        return
    start_ms = probed_ms - tail_window_ms(probed_ms)
    decoded = DecodedTime()
    res = await run_tool(
        tail_check_args(tools.ffmpeg, path, start_ms / 1000), on_progress=decoded.update
    )
    judge_ending(probed_ms, start_ms=start_ms, decoded_us=decoded.us, stderr=res.stderr)
