"""Errors of schedules and the timeline."""

from __future__ import annotations

from typing import Any

from station.errors import StationError


class ScheduleError(StationError):
    reason = "invalid-schedule"


class ScheduleConflict(ScheduleError):
    """Two hard starts would overlap on one channel."""

    reason = "schedule-conflict"

    def __init__(self, message: str, entries: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.extra = {"conflicting": entries}


class Frozen(ScheduleError):
    """The change would touch what has aired or airs within the freeze horizon."""

    reason = "frozen"


class InUse(ScheduleError):
    """Something still refers to what was to be deleted."""

    reason = "in-use"


class MediaInUse(InUse):
    """A media item to be deleted is still used; `used_by` names by what."""

    reason = "media-in-use"

    def __init__(self, message: str, used_by: dict[str, list[int]]) -> None:
        super().__init__(message)
        self.extra = {"used_by": used_by}


class NothingOnAir(ScheduleError):
    """A skip was asked for while nothing (no media: a gap's slate) is on air."""

    reason = "nothing-on-air"


class NotOnTv(ScheduleError):
    """Skip and play-now asked of a TV channel: its sequencer lays each item's plan once and
    does not follow an operator's action until its next item, so the order is refused rather
    than shown in the guide while the picture goes on."""

    reason = "not-on-tv"


class MediaNotReady(ScheduleError):
    """A play-now names media that has not been analysed (or failed): it cannot air yet."""

    reason = "media-not-ready"


class MediaNotAirable(ScheduleError):
    """A play-now names media the channel cannot air: none such, or video on the radio,
    sound alone on TV."""

    reason = "media-not-airable"
