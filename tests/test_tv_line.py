"""Laying one item on the channel's line (playout/tv_line.py): any slot is filled to the
frame, and a line that joins an item late waits for its next segment boundary. Pure: no
storage, no clock; the stand-in packages are test_sequencer's."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from media import hls
from media.packaged import asset_prefix
from playout.tv_line import Content, Slate, lay_item
from tests.test_sequencer import FRAME_MS, asset, item, slate_package

# --- the frame arithmetic, for any slot -----------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    segments=st.lists(st.integers(1, 150), min_size=1, max_size=6),
    slot_ms=st.integers(0, 60_000),
    late=st.integers(-19, 20),
)
def test_any_slot_is_filled_to_the_frame(segments: list[int], slot_ms: int, late: int) -> None:
    slate = Slate.of("hls/slate/x", slate_package())
    pkg = asset(5, [f * FRAME_MS for f in segments])
    it = item(0, slot_ms, 5)
    origin = Fraction(it.start_ms + late)  # the line may stand up to half a frame off
    segs, complete = lay_item(it, origin, Content(pkg, asset_prefix(5)), slate, frozenset())
    pos = origin
    for s in segs:
        assert s.start == pos
        pos = s.end
    assert abs(pos - it.end_ms) <= FRAME_MS / 2  # the next item starts on its frame
    whole = [s for s in segs if s.source == asset_prefix(5)]
    assert [s.index for s in whole] == list(range(len(whole)))
    eligible = sum(1 for i in range(len(segments)) if sum(segments[:i]) * FRAME_MS < slot_ms - 20)
    assert complete == (len(whole) == eligible)  # all that the cue points ask for fitted
    fill = [hls.frames_in(s.duration, slate.fps) for s in segs if s.source != asset_prefix(5)]
    assert fill == sorted(fill, reverse=True) and all(s.discontinuity for s in segs[len(whole) :])
    if segs:
        assert segs[0].pdt_ms == it.start_ms


def test_joining_mid_item_waits_for_the_next_segment_boundary() -> None:
    slate = Slate.of("hls/slate/x", slate_package())
    pkg = asset(5, [6000, 6000, 6000])
    it = item(0, 18_000, 5)
    full, _ = lay_item(it, Fraction(it.start_ms), Content(pkg, "a"), slate, frozenset())
    same, _ = lay_item(
        it, Fraction(it.start_ms), Content(pkg, "a"), slate, frozenset(), join_at=full[1].start
    )
    assert same == full[1:]  # a restart on a segment boundary goes on as planned
    late, _ = lay_item(
        it,
        Fraction(it.start_ms),
        Content(pkg, "a"),
        slate,
        frozenset(),
        join_at=Fraction(it.start_ms + 2000),
    )
    assert [hls.frames_in(s.duration, slate.fps) for s in late[:3]] == [64, 32, 4]
    assert late[3] == replace(full[1], discontinuity=True)
