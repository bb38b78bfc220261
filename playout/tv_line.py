"""The TV channel's line in time, and how one timeline item is laid on it to the frame: the
line's segments, the slate that fills it, what fills a slot, the items laid and the live
stretches on it, and `lay_item`. Pure values and arithmetic (no storage, no clock), so that
the sequencer's state machine, its state file and its playlists all speak of the same things
and each can be tested alone.

The line. The channel is one line in time, counted in exact fractions of a millisecond
from the Unix epoch (so it never drifts, however many segments are summed). An item of the
timeline owns [start_ms, end_ms). Its asset's segments are laid whole, in order, while they
fit in the slot (a segment may overrun the slot by less than half a frame); the rest of the
slot is slate, in segments whose frame counts add up to the remaining frames exactly
(full-length slate segments first, then the binary digits of the remainder: 128, 64 … 1).
So the next item's first frame begins within half a frame of its scheduled instant — to
the frame. Cue points are honoured to the segment: from the first segment boundary at or
after cue_in, up to the segment in which cue_out falls. A sub-frame remainder (a slot that
is not a whole number of frames long, or an asset at another frame rate) rounds to the
nearest frame at the end of each item, and since every item is measured from where the line
really is, these roundings never add up.

Discontinuities. `#EXT-X-DISCONTINUITY` opens every item, and also every slate segment: a
fill takes the slate's segments out of their order (150, 150, 16, 1 …), so their timestamps
do not follow one another and a player must re-base at each. The asset's own consecutive
segments carry none.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from media import hls
from media.packaged import Package
from playout.asrun import Outcome
from schedules.plan import TimelineItem
from station.errors import StationError


class SequencerError(StationError):
    """The channel cannot be sequenced (no usable slate, unreadable state). Beside the line,
    which every part of the sequencer imports, so that each can raise it; `playout.sequencer`
    exports it."""


@dataclass(frozen=True, slots=True)
class LineSegment:
    """One segment on the channel's line: which packaged segment, where, how long."""

    start: Fraction  # epoch ms on the line, exact
    duration: Fraction  # ms, exact
    pdt_ms: int  # the scheduled instant: item start + offset within the item
    source: str  # storage prefix of the package it comes from
    index: int  # segment number in that package
    langs: tuple[str, ...]  # subtitle languages that package has
    discontinuity: bool
    seq: int = -1  # media sequence number, once published

    @property
    def end(self) -> Fraction:
        return self.start + self.duration


@dataclass(frozen=True, slots=True)
class LiveSpan:
    """A live stretch on the line, once it is over: its segments, where it began and ended."""

    first_seq: int
    last_seq: int
    start_ms: int
    end_ms: int


@dataclass(frozen=True, slots=True)
class Slate:
    """The channel's slate: its package and, per frame count, a segment holding that many."""

    prefix: str
    package: Package
    fps: Fraction
    by_frames: dict[int, int]  # frames -> segment index

    @classmethod
    def of(cls, prefix: str, package: Package) -> Slate:
        fps = hls.frame_rate(package.frame_rate)
        frames = package.slate_frames
        if len(frames) != len(package.segments_ms):
            frames = tuple(hls.frames_in(Fraction(ms), fps) for ms in package.segments_ms)
        by_frames: dict[int, int] = {}
        for i, f in enumerate(frames):
            if f > 0:
                by_frames.setdefault(f, i)
        return cls(prefix, package, fps, by_frames)

    @property
    def frame(self) -> Fraction:
        return hls.frame_ms(1, self.fps)


@dataclass(frozen=True, slots=True)
class Content:
    """What fills an item's slot before the slate: a package's segments, or nothing."""

    package: Package | None
    prefix: str = ""
    loop: bool = False  # a filler standing in for a missing asset: repeated while it fits
    outcome: Outcome = Outcome.PLAYED


def lay_item(
    item: TimelineItem,
    origin: Fraction,
    content: Content,
    slate: Slate,
    langs: frozenset[str],
    *,
    join_at: Fraction | None = None,
) -> tuple[list[LineSegment], bool]:
    """The segments of one item, its first frame at `origin` on the line: the content's
    segments whole while they fit before item.end_ms, then slate to the frame. Returns them
    and whether all the content within its cue points fitted.

    With `join_at` (a restart, or a line running late into the item) only what lies from
    there is returned: if a planned segment starts exactly there, the plan goes on as it
    was; otherwise slate fills to the next planned segment and the plan resumes there."""
    end = Fraction(item.end_ms)
    half = slate.frame / 2
    # (duration, source, index, langs, discontinuity)
    pieces: list[tuple[Fraction, str, int, tuple[str, ...], bool]] = []
    pos = origin
    complete = True
    pkg = content.package
    if pkg is not None and pkg.segments_ms:
        own = tuple(s.lang for s in pkg.subtitles if s.lang in langs)
        offsets = [0]
        for ms in pkg.segments_ms:
            offsets.append(offsets[-1] + ms)
        n = len(pkg.segments_ms)
        if content.loop:
            first, stop = 0, n
        else:  # cue points, to the segment: from the boundary at cue_in, up to cue_out
            first = next((i for i in range(n) if offsets[i] >= item.cue_in_ms - half), n)
            stop = next((i for i in range(first, n) if offsets[i] >= item.cue_out_ms - half), n)
        i, opening = first, True
        while i < stop:
            d = Fraction(pkg.segments_ms[i])
            if pos + d - end > half:
                complete = False
                break
            pieces.append((d, content.prefix, i, own, opening))
            pos += d
            i, opening = i + 1, False
            if i == stop and content.loop:
                i, opening = first, True
    fill = hls.frames_in(end - pos, slate.fps)
    slate_langs = tuple(s.lang for s in slate.package.subtitles if s.lang in langs)

    def slate_pieces(frames: int) -> list[tuple[Fraction, str, int, tuple[str, ...], bool]]:
        return [
            (hls.frame_ms(f, slate.fps), slate.prefix, slate.by_frames[f], slate_langs, True)
            for f in hls.decompose(frames, tuple(slate.by_frames))
        ]

    pieces += slate_pieces(fill)
    starts = [origin]
    for p in pieces:
        starts.append(starts[-1] + p[0])
    at = origin if join_at is None else join_at
    if at != origin:
        k = next((j for j in range(len(pieces)) if starts[j] >= at), len(pieces))
        if k < len(pieces) and starts[k] == at:
            pieces = pieces[k:]
        else:
            gap = hls.frames_in(starts[k] - at, slate.fps)
            rest = pieces[k:]
            if rest:
                d, src, idx, lg, _ = rest[0]
                rest[0] = (d, src, idx, lg, True)
            pieces = slate_pieces(gap) + rest
    out: list[LineSegment] = []
    pos = at
    for d, src, idx, lg, disc in pieces:
        pdt = item.start_ms + hls.round_half_up(pos - origin)
        out.append(LineSegment(pos, d, pdt, src, idx, lg, disc))
        pos += d
    return out, complete


@dataclass
class Run:
    """An item laid on the line: its plan's place and size, and whether it has been told. The
    sequencer keeps one until the item is reported and all of it is published, and the state
    file carries them across a restart, so an item is told once however the process runs."""

    item: TimelineItem
    origin: Fraction
    outcome: str
    first_seq: int
    count: int
    published: int = 0
    actual_ms: int | None = None
    announced: bool = False
    synthetic: bool = False  # a gap in the timeline filled with slate: not an item to report
    live: bool = False  # the live feed's stretch: its count grows as segments arrive
    resumed: bool = False  # the schedule rejoined this item after live, in its middle
    after_live: LiveSpan | None = None  # the first run after a live: that live
    live_item: TimelineItem | None = None  # an overridden item: the live that overrode it
