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
