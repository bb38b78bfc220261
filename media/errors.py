"""The media library's errors; each message is meant for the operator who sees it."""

from __future__ import annotations


class MediaError(Exception):
    """Base of every media library error. `reason` is a short machine-readable slug."""

    reason = "media-error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidFileName(MediaError):
    reason = "invalid-file-name"


class EmptyFile(MediaError):
    reason = "empty-file"


class FileTooLarge(MediaError):
    reason = "file-too-large"


class NotMedia(MediaError):
    reason = "not-media"


class TruncatedMedia(MediaError):
    reason = "truncated-media"


class CorruptMedia(MediaError):
    reason = "corrupt-media"


class ToolMissing(MediaError):
    reason = "tool-missing"


class StorageError(MediaError):
    reason = "storage-error"


class NotFound(MediaError):
    reason = "not-found"


class StaleVersion(MediaError):
    """The caller's If-Match names a version that is no longer current."""

    reason = "stale-version"
