"""The root of every package's errors: a message for the operator and a short reason slug.

Each package derives its own (`MediaError`, `ScheduleError`); the API and the CLI translate
them once, by class.
"""

from __future__ import annotations


class StationError(Exception):
    reason = "error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason:
            self.reason = reason


class NotFound(StationError):
    reason = "not-found"


class StaleVersion(StationError):
    """The caller's If-Match names a version that is no longer current."""

    reason = "stale-version"


class Invalid(StationError):
    """The request is understood but its content cannot be accepted."""

    reason = "invalid"
