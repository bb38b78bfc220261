"""The media library's errors; each message is meant for the operator who sees it."""

from __future__ import annotations

from station.errors import Invalid as Invalid
from station.errors import NotFound as NotFound
from station.errors import StaleVersion as StaleVersion
from station.errors import StationError


class MediaError(StationError):
    """Base of every media library error. `reason` is a short machine-readable slug."""

    reason = "media-error"


class InvalidFileName(MediaError):
    reason = "invalid-file-name"


class EmptyFile(MediaError):
    reason = "empty-file"


class FileTooLarge(MediaError):
    reason = "file-too-large"


class TooLong(MediaError):
    """Longer than the station takes (DIASPOR_MAX_DURATION_S)."""

    reason = "too-long"


class AnalysisTimedOut(MediaError):
    """Analysis took longer than a file of its duration should: stopped, to be tried again."""

    reason = "analysis-timeout"


class UnusableMedia(MediaError):
    """A verdict on the file itself: ffmpeg read it to the end and it cannot be aired as it
    is. Trying again cannot help; every other failure of a job may be passing."""

    reason = "unusable-media"


class NotMedia(UnusableMedia):
    reason = "not-media"


class TruncatedMedia(UnusableMedia):
    reason = "truncated-media"


class CorruptMedia(UnusableMedia):
    reason = "corrupt-media"


class ToolKilled(MediaError):
    """ffmpeg was stopped by a signal (the out-of-memory killer, an operator): no verdict."""

    reason = "tool-killed"


class ToolMissing(MediaError):
    reason = "tool-missing"


class StorageError(MediaError):
    reason = "storage-error"


class PackagingError(MediaError):
    """Packaging could not produce a sound package; nothing of it was published."""

    reason = "packaging-failed"


class UploadOffsetMismatch(MediaError):
    """A resumable upload's part was sent for another offset than the one the station has."""

    reason = "upload-offset-mismatch"


class UploadBusy(MediaError):
    """Another request is writing the same resumable upload."""

    reason = "upload-busy"
