"""The TV sequencer's restart state and its JSON (`hls/tv/<channel>/sequencer.json`): what a
new process needs to go on exactly where the last one stopped, and the version check that
keeps it from reading a state it does not understand. Pure: values in, JSON out and back, so
the format is tested alone and the state machine never spells a key.

The state holds the window, the sequence numbers, where the line stands, how far the timeline
is laid, the items laid but not yet announced (with the next ones), and whether the line is
live and which feed segment it took last. The live fields, the upcoming items and a run's
live fields are read with a default when absent, so a state written without them resumes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

from playout.tv_line import LineSegment, LiveSpan, Run, SequencerError
from schedules.plan import TimelineItem

STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class SequencerState:
    """Where the sequencer stands, as it is saved before every write of the playlists (so the
    playlists are never ahead of it, and their numbers never go back)."""

    target_s: int
    next_seq: int
    dseq: int  # discontinuity sequence of the window's first segment
    position: Fraction  # end of the last published segment
    sched_ms: int  # the timeline is laid up to here
    window: Sequence[LineSegment]
    runs: Sequence[Run]
    upcoming: Sequence[TimelineItem]  # the items being laid, and the next ones
    on_live: bool = False
    live_last: int | None = None  # the feed's segment number last laid
    live_session: int | None = None
    live_disc: bool = False  # the next live segment opens with a discontinuity
    after_live: LiveSpan | None = None  # for the next run laid after a live

    @property
    def media_sequence(self) -> int:
        return self.window[0].seq if self.window else self.next_seq


def to_json(state: SequencerState, channel: str, saved_at_ms: int) -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
        "channel": channel,
        "saved_at_ms": saved_at_ms,
        "target_duration_s": state.target_s,
        "media_sequence": state.media_sequence,
        "discontinuity_sequence": state.dseq,
        "next_seq": state.next_seq,
        "position": str(state.position),
        "scheduled_ms": state.sched_ms,
        "segments": [segment_to_json(s) for s in state.window],
        "runs": [run_to_json(r) for r in state.runs],
        "upcoming": [asdict(i) for i in state.upcoming],
        "live": {
            "on": state.on_live,
            "last_index": state.live_last,
            "session": state.live_session,
            "discontinuity": state.live_disc,
            "after_live": asdict(state.after_live) if state.after_live else None,
        },
    }


def from_json(raw: dict[str, Any]) -> SequencerState:
    """The state as `to_json` wrote it (a missing key raises KeyError, as a damaged state
    should: the sequencer does not start from it)."""
    target_s = int(raw["target_duration_s"])
    next_seq = int(raw["next_seq"])
    dseq = int(raw["discontinuity_sequence"])
    position = Fraction(raw["position"])
    sched_ms = int(raw["scheduled_ms"])
    window = [segment_from_json(s) for s in raw["segments"]]
    runs = [run_from_json(r) for r in raw["runs"]]
    upcoming = [TimelineItem(**item) for item in raw.get("upcoming", [])]
    live = raw.get("live") or {}
    span = live.get("after_live")
    return SequencerState(
        target_s,
        next_seq,
        dseq,
        position,
        sched_ms,
        window,
        runs,
        upcoming,
        on_live=bool(live.get("on", False)),
        live_last=live.get("last_index"),
        live_session=live.get("session"),
        live_disc=bool(live.get("discontinuity", False)),
        after_live=LiveSpan(**span) if span else None,
    )


def dumps(raw: dict[str, Any]) -> bytes:
    return json.dumps(raw, ensure_ascii=False).encode()


def loads(data: bytes) -> dict[str, Any]:
    """The state file's JSON (ValueError if it is not JSON); `check_version` before use."""
    raw: dict[str, Any] = json.loads(data)
    return raw


def check_version(raw: dict[str, Any], key: str) -> None:
    """A state of another version is not guessed at: the numbers would go back."""
    if raw.get("version") != STATE_VERSION:
        raise SequencerError(f"the sequencer state {key} has version {raw.get('version')}")


def segment_to_json(s: LineSegment) -> list[Any]:
    """A list, not an object: the window is most of the file, written at every change."""
    return [
        s.seq,
        int(s.discontinuity),
        str(s.start),
        str(s.duration),
        s.pdt_ms,
        s.source,
        s.index,
        list(s.langs),
    ]


def segment_from_json(raw: Sequence[Any]) -> LineSegment:
    seq, disc, start, duration, pdt, source, index, langs = raw
    return LineSegment(
        Fraction(start),
        Fraction(duration),
        int(pdt),
        str(source),
        int(index),
        tuple(langs),
        bool(disc),
        int(seq),
    )


def run_to_json(run: Run) -> dict[str, Any]:
    return {
        "item": asdict(run.item),
        "origin": str(run.origin),
        "outcome": run.outcome,
        "first_seq": run.first_seq,
        "count": run.count,
        "published": run.published,
        "actual_ms": run.actual_ms,
        "announced": run.announced,
        "synthetic": run.synthetic,
        "live": run.live,
        "resumed": run.resumed,
        "after_live": asdict(run.after_live) if run.after_live else None,
        "live_item": asdict(run.live_item) if run.live_item else None,
    }


def run_from_json(raw: dict[str, Any]) -> Run:
    span, via = raw.get("after_live"), raw.get("live_item")
    return Run(
        TimelineItem(**raw["item"]),
        Fraction(raw["origin"]),
        raw["outcome"],
        raw["first_seq"],
        raw["count"],
        raw["published"],
        raw["actual_ms"],
        raw["announced"],
        raw["synthetic"],
        bool(raw.get("live", False)),
        bool(raw.get("resumed", False)),
        LiveSpan(**span) if span else None,
        TimelineItem(**via) if via else None,
    )
