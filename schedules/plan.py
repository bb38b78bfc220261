"""The plain data the timeline is resolved from: channel, entries, catalogue. No I/O here.

The persistence layer converts its rows into these; tests build them by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from station.clock import from_ms as from_ms
from station.clock import to_ms as to_ms

Target = Literal["programme", "playlist", "clock", "media"]
ActionKind = Literal["skip", "play-now"]
KIND_PROGRAMME = "programme"


@dataclass(frozen=True, slots=True)
class MediaRef:
    id: int
    kind: str
    title: str
    artist: str
    duration_ms: int
    cue_in_ms: int = 0
    cue_out_ms: int | None = None
    titles: Mapping[str, str] = field(default_factory=dict)
    play_ms: int = field(init=False)  # how long it plays between its cue points

    def __post_init__(self) -> None:
        out = self.cue_out_ms if self.cue_out_ms is not None else self.duration_ms
        object.__setattr__(self, "play_ms", max(0, out - self.cue_in_ms))


@dataclass(frozen=True, slots=True)
class PlaylistSpec:
    id: int
    name: str
    media_ids: tuple[int, ...]
    shuffle: bool = False
    artist_separation_ms: int = 0
    track_separation_ms: int = 0


@dataclass(frozen=True, slots=True)
class ClockSlot:
    """One line of an hour template: at minute X, play this (once, or until the next slot)."""

    at_ms: int
    source: Literal["media", "playlist"]
    ref_id: int
    fill: bool = False  # repeat from the source until the next slot begins
    hard: bool = False
    title: str = ""


@dataclass(frozen=True, slots=True)
class ClockSpec:
    id: int
    name: str
    slots: tuple[ClockSlot, ...]


@dataclass(frozen=True, slots=True)
class EpisodeSpec:
    id: int
    programme_id: int
    media_id: int | None
    number: int | None = None
    season: int | None = None
    air_date: date | None = None
    titles: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProgrammeSpec:
    id: int
    slug: str
    titles: Mapping[str, str]
    episodes: tuple[EpisodeSpec, ...] = ()
    categories: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EntrySpec:
    """A schedule rule: this target on this channel, once or recurring, in the channel's zone."""

    id: int
    target: Target
    target_id: int
    start_local: datetime  # naive, in the channel's time zone
    duration_ms: int | None = None  # None: as long as the content
    rrule: str | None = None
    exdates: tuple[datetime, ...] = ()  # naive local starts that are skipped
    hard: bool = True
    episode_id: int | None = None
    title: Mapping[str, str] = field(default_factory=dict)
    # The rule holds from here: an occurrence in progress at this moment joins at it.
    effective_from_ms: int | None = None
    effective_until_ms: int | None = None


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """An operator's order for the air, taking effect at `at_ms`: "skip" cuts the item on
    air there and what follows starts at once; "play-now" plays `media_id` from there, then
    what it interrupted goes on. Data like an entry, so every process resolves it alike."""

    id: int
    kind: ActionKind
    at_ms: int
    media_id: int | None = None


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A channel's settings as everyone outside `schedules` sees them: one frozen value,
    read again when the schedule changes (an edited loudness target is heard without a
    restart)."""

    id: int
    slug: str
    kind: Literal["radio", "tv"]
    timezone: str = "Asia/Baku"
    crossfade_ms: int = 0
    filler_playlist_id: int | None = None
    slate_media_id: int | None = None
    loudness_target_lufs: float = -16.0
    true_peak_max_dbtp: float = -1.0
    names: Mapping[str, str] = field(default_factory=dict)
    filler_ids: tuple[int, ...] = ()  # the filler playlist's media, in order

    def name(self, lang: str = "az") -> str:
        return self.names.get(lang) or self.names.get("az") or self.slug


@dataclass(frozen=True, slots=True)
class Catalogue:
    media: Mapping[int, MediaRef] = field(default_factory=dict)
    playlists: Mapping[int, PlaylistSpec] = field(default_factory=dict)
    clocks: Mapping[int, ClockSpec] = field(default_factory=dict)
    programmes: Mapping[int, ProgrammeSpec] = field(default_factory=dict)


class Span:
    """Something with start_ms and end_ms (epoch ms), seen as aware datetimes."""

    __slots__ = ()
    start_ms: int
    end_ms: int

    @property
    def start(self) -> datetime:
        return from_ms(self.start_ms)

    @property
    def end(self) -> datetime:
        return from_ms(self.end_ms)


@dataclass(frozen=True, slots=True)
class TimelineItem(Span):
    """One thing on air. [start_ms, end_ms) is when it is the current item; its audio is
    cue_in..cue_out of the file, which runs crossfade_ms past `end_ms` into the next item."""

    start_ms: int
    end_ms: int
    kind: str
    media_id: int | None
    cue_in_ms: int
    cue_out_ms: int
    crossfade_ms: int = 0
    fade_out_ms: int = 0
    hard: bool = False
    cut: bool = False  # shortened to make way for a hard start (or by an operator's action)
    title: str = ""
    artist: str = ""
    entry_id: int | None = None
    block_ms: int | None = None  # planned start of the guide block this item belongs to
    programme_id: int | None = None
    episode_id: int | None = None
    # The operator's action that made this item what it is: "skip" on the item a skip cut,
    # "play-now" on the media a play-now put on air; action_id is that action's id.
    action: str = ""
    action_id: int | None = None

    @property
    def length_ms(self) -> int:
        return self.end_ms - self.start_ms
