"""The radio's HLS is dated by the air, not by the moment ffmpeg's muxer started; the rungs of
its ladder alike."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from media.binaries import Tools
from streamer.encoder import Encoder, HlsOutput
from streamer.hls_dates import (
    ENCODER_PLAYLIST,
    PUBLIC_PLAYLIST,
    HlsDates,
    air_offsets,
    first_dates,
    redated,
)
from tests.support import run

START_MS = 1_796_223_600_400  # 2026-12-02T15:00:00.400Z, the run's first sample on air
FFMPEG_PLAYLIST = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:6
#EXT-X-MEDIA-SEQUENCE:0
#EXTINF:6.016000,
#EXT-X-PROGRAM-DATE-TIME:2026-12-02T14:59:59.000+0000
seg-1796223600400-000000.ts
#EXTINF:5.994667,
#EXT-X-PROGRAM-DATE-TIME:2026-12-02T15:00:05.016+0000
seg-1796223600400-000001.ts
"""


def dates(text: str) -> list[float]:
    prefix = "#EXT-X-PROGRAM-DATE-TIME:"
    return [
        datetime.fromisoformat(line[len(prefix) :]).timestamp()
        for line in text.splitlines()
        if line.startswith(prefix)
    ]


def offsets_of(text: str) -> dict[tuple[int, int], int]:
    return air_offsets(text, {}, first_dates(text))


def test_every_date_of_a_run_moves_to_the_air_time_of_its_first_sample() -> None:
    firsts = first_dates(FFMPEG_PLAYLIST)
    assert firsts == {START_MS: datetime(2026, 12, 2, 14, 59, 59, tzinfo=UTC).timestamp()}
    offsets = air_offsets(FFMPEG_PLAYLIST, {}, firsts)
    # In samples at 48 kHz from the run's first: each segment where the last one ended.
    assert offsets == {(START_MS, 0): 0, (START_MS, 1): 288_768, (START_MS, 2): 576_512}
    text, undated = redated(FFMPEG_PLAYLIST, offsets)
    assert undated == set()
    assert dates(text) == pytest.approx([START_MS / 1000, START_MS / 1000 + 6.016], abs=1e-6)
    assert "#EXT-X-PROGRAM-DATE-TIME:2026-12-02T15:00:00.400Z" in text
    # Everything else is ffmpeg's, line for line.
    assert [x for x in text.splitlines() if "DATE" not in x] == [
        x for x in FFMPEG_PLAYLIST.splitlines() if "DATE" not in x
    ]


def test_a_run_whose_first_segment_was_not_seen_keeps_ffmpeg_dates() -> None:
    later = FFMPEG_PLAYLIST.replace(
        "#EXTINF:6.016000,\n#EXT-X-PROGRAM-DATE-TIME:2026-12-02T14:59:59.000+0000\n"
        "seg-1796223600400-000000.ts\n",
        "",
    )
    text, undated = redated(later, offsets_of(later))
    assert undated == {START_MS}
    assert dates(text) == dates(later)


def test_dates_go_on_from_what_was_seen_when_the_window_has_slid() -> None:
    """Segment 0 has left ffmpeg's window, but was seen before: later segments are still
    dated from it, by the durations summed in samples."""
    seen = offsets_of(FFMPEG_PLAYLIST)
    slid = FFMPEG_PLAYLIST.split("seg-1796223600400-000000.ts\n", 1)[1] + (
        "#EXTINF:6.016000,\n#EXT-X-PROGRAM-DATE-TIME:2026-12-02T15:00:11.011+0000\n"
        "seg-1796223600400-000002.ts\n"
    )
    text, undated = redated(slid, air_offsets(slid, seen, {}))
    assert undated == set()
    assert dates(text) == pytest.approx(
        [START_MS / 1000 + 6.016, START_MS / 1000 + 6.016 + 5.994667], abs=0.0006
    )


def test_a_segment_whose_predecessor_was_missed_is_dated_by_ffmpeg_from_segment_0() -> None:
    gap = FFMPEG_PLAYLIST.replace(
        "seg-1796223600400-000001.ts",
        "seg-1796223600400-000003.ts",  # 1 and 2 never seen
    )
    offsets = offsets_of(gap)
    assert offsets[(START_MS, 3)] == round(6.016 * 48_000)  # ffmpeg's date less segment 0's
    text, _ = redated(gap, offsets)
    assert dates(text)[1] == pytest.approx(START_MS / 1000 + 6.016, abs=0.0006)


def test_two_rungs_dated_from_their_own_muxers_get_the_same_dates() -> None:
    """Each rung's muxer took its own wall-clock moment (and ffmpeg rounds each date to the
    millisecond from there); the same frames give the same dates in every rung."""
    low = FFMPEG_PLAYLIST.replace("seg-", "seg64-").replace(
        "14:59:59.000+0000", "14:59:59.757+0000"
    )
    low = low.replace("15:00:05.016+0000", "15:00:05.774+0000")  # 5.773 + 1 ms of rounding
    top, _ = redated(FFMPEG_PLAYLIST, offsets_of(FFMPEG_PLAYLIST))
    other, _ = redated(low, offsets_of(low))
    assert dates(other) == dates(top)
    assert other == top.replace("seg-", "seg64-")


def test_a_real_encoder_run_is_dated_from_its_first_sample(tmp_path: Path, tools: Tools) -> None:
    """ffmpeg encodes 14 s of PCM (as fast as it comes); the public playlist's first date is
    the on-air time the engine gave the run's first sample, to the millisecond, and each
    next one follows by the segment's duration."""
    folder = tmp_path / "hls"
    written = [0]

    def on_air_ms() -> int:
        return START_MS + written[0] // (48 * 4)

    async def go() -> None:
        enc = Encoder(
            tools.ffmpeg,
            [HlsOutput(folder, segment_s=2, window=10, playlist=ENCODER_PLAYLIST)],
            on_air_ms=on_air_ms,
        )
        t = np.arange(48_000 * 14) / 48_000
        tone = (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2")
        pcm = np.repeat(tone[:, None], 2, axis=1).tobytes()
        for k in range(0, len(pcm), 19_200):
            await enc.write(pcm[k : k + 19_200])
            written[0] += len(pcm[k : k + 19_200])
        await enc.close()

    run(go())
    ffmpeg_text = (folder / ENCODER_PLAYLIST).read_text()
    dater = HlsDates(folder)
    assert dater.once()
    public = (folder / PUBLIC_PLAYLIST).read_text()
    got = dates(public)
    assert len(got) >= 6
    assert abs(got[0] - START_MS / 1000) < 0.0005
    durations = [float(x[8:].rstrip(",")) for x in public.splitlines() if x.startswith("#EXTINF:")]
    for k in range(1, len(got)):
        assert abs(got[k] - (got[k - 1] + durations[k - 1])) < 0.002
    assert dates(ffmpeg_text)[0] != got[0]  # ffmpeg's own date was the wall clock's second
    assert not dater.once()  # nothing new: the public playlist is not written again
