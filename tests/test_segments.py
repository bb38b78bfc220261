"""What a segment holds, the check that renditions line up, and the bit rates and codecs
declared from segments."""

from __future__ import annotations

from dataclasses import replace

import pytest

from media.errors import PackagingError
from media.ladder import AUDIO
from media.segments import SegmentProbe, avc_codec, check_ladder, parse_framecrc, peak_bit_rate


def test_the_peak_bandwidth_is_the_busiest_run_of_about_one_target() -> None:
    # Target 4 s: runs of 2–6 s count. A 1 s burst alone does not set the peak.
    sizes = [500_000, 500_000, 2_000_000, 100_000]
    durations = [4000, 4000, 4000, 1000]
    assert peak_bit_rate(sizes, durations, 4) == 4_000_000  # the third segment
    assert peak_bit_rate([10_000], [1000], 4) == 80_000  # nothing qualifies: the whole


def test_codecs_come_from_the_sps() -> None:
    sps = bytes.fromhex("00000001 0910 00000001 6764001f acd9")
    assert avc_codec(sps) == "avc1.64001f"
    assert avc_codec(bytes.fromhex("000001 674d401e 00")) == "avc1.4d401e"
    with pytest.raises(PackagingError):
        avc_codec(b"\x00\x00\x01\x09\x10")


def test_framecrc_lines_are_read_like_ffprobe() -> None:
    text = (
        "#tb 0: 1/90000\n#media_type 0: video\n#tb 1: 1/90000\n#media_type 1: audio\n"
        "0,     486000,     493200,     3600,     7740, 0xb6c02bc6, S=1,        1\n"
        "1,     486480,     486480,     1920,      349, 0x7726b961\n"
        "0,     489600,     496800,     3600,     2112, 0xb7492394, F=0x0\n"
    )
    assert parse_framecrc(text) == SegmentProbe(2, 493200, True, 486480, 1920)


def test_misaligned_renditions_are_refused() -> None:
    good = SegmentProbe(100, 133200, True, 131280, 100 * 3600)
    late = SegmentProbe(100, 133200 + 3600, True, 131280, 100 * 3600)
    with pytest.raises(PackagingError, match="holds"):
        check_ladder({"a": [good], "b": [late]}, rungs=["a", "b"], fps=25, gop=100)
    with pytest.raises(PackagingError, match="numbers of segments"):
        check_ladder({"a": [good], "b": [good, good]}, rungs=["a", "b"], fps=25, gop=100)
    open_gop = replace(good, starts_with_key=False)
    with pytest.raises(PackagingError, match="keyframe"):
        check_ladder({"a": [open_gop]}, rungs=["a"], fps=25, gop=100)
    assert check_ladder({"a": [good], AUDIO: [good]}, rungs=["a"], fps=25, gop=100) == [100]
