"""Analysis: loudness equal to ffmpeg's own EBU R128, cue points from silence, exact duration."""

from __future__ import annotations

from pathlib import Path

import pytest

from media.analysis import (
    analyse,
    analysis_timeout_s,
    check_decode_run,
    judge_ending,
    judge_integrity,
    parse_analysis,
    silence_cues,
)
from media.binaries import Tools, find_tools
from media.errors import CorruptMedia, StorageError, ToolKilled, TruncatedMedia
from media.process import ToolResult
from tests.support import ebur128_integrated, run, tone


def test_silence_at_both_ends_becomes_cue_points() -> None:
    stderr = (
        "[silencedetect @ 0x1] silence_start: 0\n"
        "[silencedetect @ 0x1] silence_end: 1.2346 | silence_duration: 1.2346\n"
        "[silencedetect @ 0x1] silence_start: 8.5\n"
        "[silencedetect @ 0x1] silence_end: 10 | silence_duration: 1.5\n"
    )
    assert silence_cues(stderr, 10_000) == (1235, 8500)


def test_silence_in_the_middle_is_not_a_cue_point() -> None:
    stderr = "silence_start: 4.0\nsilence_end: 5.0 | silence_duration: 1.0\n"
    assert silence_cues(stderr, 10_000) == (0, 10_000)


def test_a_silent_file_keeps_its_whole_length() -> None:
    assert silence_cues("silence_start: 0\nsilence_end: 3 | silence_duration: 3\n", 3000) == (
        0,
        3000,
    )


def test_the_summary_parser_reads_loudness_and_true_peak() -> None:
    stderr = """[Parsed_ebur128_1 @ 0x1] Summary:

  Integrated loudness:
    I:         -16.3 LUFS
    Threshold: -26.4 LUFS

  Loudness range:
    LRA:         4.2 LU

  True peak:
    Peak:       -1.4 dBFS
"""
    a = parse_analysis(stderr, 10_000_000, has_audio=True)
    assert (a.loudness_lufs, a.loudness_range_lu, a.true_peak_dbtp) == (-16.3, 4.2, -1.4)
    assert a.duration_ms == 10_000


@pytest.mark.parametrize("ffmpeg_source", ["system", "wheel"])
def test_loudness_cues_and_duration_of_a_generated_tone(
    ffmpeg_source: str, tmp_path: Path, tools: Tools
) -> None:
    t = tools if ffmpeg_source == "system" else find_tools(use_system=False, ffprobe_path="")
    f = tone(
        t.ffmpeg,
        tmp_path / "t.wav",
        seconds=5,
        lead=0.75,
        tail=1.25,
        volume=0.3,
        codec=("-c:a", "pcm_s16le"),
    )
    a = run(analyse(t, f, has_audio=True, probed_ms=7000))
    assert a.duration_ms == 7000  # 0.75 + 5 + 1.25 s of 48 kHz PCM, to the millisecond
    assert a.loudness_lufs is not None
    assert abs(a.loudness_lufs - ebur128_integrated(t.ffmpeg, f)) <= 0.5
    assert a.true_peak_dbtp is not None and a.true_peak_dbtp < 0
    assert abs(a.cue_in_ms - 750) <= 30
    assert abs(a.cue_out_ms - 5750) <= 30


def test_a_file_that_decodes_shorter_than_it_claims_is_truncated(tools: Tools) -> None:
    a = parse_analysis("", 3_000_000, has_audio=True)
    with pytest.raises(TruncatedMedia):
        judge_integrity(a, probed_ms=10_000)
    judge_integrity(a, probed_ms=3_020)  # within tolerance: fine


def test_the_last_seconds_must_decode_whether_the_decode_began_there_or_at_the_start() -> None:
    # 100 s by its header, 98.3 s decoded: within the 2 % the length check allows...
    judge_integrity(parse_analysis("", 98_300_000, has_audio=True), probed_ms=100_000)
    # ...but its last two seconds are not there: the tail check's decode (from 98 s on) and
    # one decode of the whole file give the same verdict.
    for start_ms, decoded_us in [(98_000, 300_000), (0, 98_300_000)]:
        with pytest.raises(TruncatedMedia, match="last seconds cannot be decoded"):
            judge_ending(100_000, start_ms=start_ms, decoded_us=decoded_us, stderr="")
    for start_ms, decoded_us in [(98_000, 1_990_000), (0, 99_990_000)]:
        judge_ending(100_000, start_ms=start_ms, decoded_us=decoded_us, stderr="")
    with pytest.raises(TruncatedMedia):  # ffmpeg met the end of the file inside a packet
        judge_ending(100_000, start_ms=0, decoded_us=100_000_000, stderr="x: partial file\n")
    judge_ending(None, start_ms=0, decoded_us=0, stderr="")  # no length said: nothing to hold


def test_only_an_ffmpeg_that_ran_to_its_end_judges_the_file() -> None:
    def ended(code: int, stderr: str) -> ToolResult:
        return ToolResult(["ffmpeg"], code, b"", stderr)

    check_decode_run(ended(0, ""))
    with pytest.raises(ToolKilled, match="signal 9"):  # the out-of-memory killer
        check_decode_run(ended(-9, ""))
    with pytest.raises(ToolKilled, match="signal 15"):  # ffmpeg caught it and said so
        check_decode_run(ended(255, "Exiting normally, received signal 15.\n"))
    with pytest.raises(StorageError, match="Input/output error"):
        check_decode_run(ended(1, "/srv/originals/ab/cd/x.flac: Input/output error\n"))
    with pytest.raises(CorruptMedia, match="Invalid data"):
        check_decode_run(ended(1, "x.mp4: Invalid data found when processing input\n"))


def test_analysis_may_take_a_minute_plus_half_the_length_of_the_file() -> None:
    assert analysis_timeout_s(2 * 3600 * 1000, base_s=60, factor=0.5) == 3660
    assert analysis_timeout_s(0, base_s=60, factor=0.5) == 60
