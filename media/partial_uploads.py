"""Resumable uploads in progress: each one a part file, written at the offsets a client
sends, and a small description beside it, in one folder of the data dir.

The part's size on disk is its offset: bytes that reached the station before a connection
broke are kept, and the client goes on from there. The description (file name, kind,
announced length, who started it, when it expires, and once finished the media item it
became) is replaced whole, by rename, so a reader never sees half of it. Writers of one upload
take an exclusive `flock` on its part, which holds across the processes sharing the folder.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from media.errors import FileTooLarge, NotFound, UploadBusy, UploadOffsetMismatch
from station.clock import Clock

log = logging.getLogger(__name__)

UPLOAD_ID_PATTERN = "^[0-9a-f]{32}$"
LOCK_WAIT_S = 10.0  # a writer whose client vanished lets go once the server notices


@dataclass(frozen=True, slots=True)
class PartialUpload:
    id: str
    filename: str
    kind: str | None
    length: int
    owner: str
    created_at: datetime
    expires_at: datetime
    offset: int = 0
    media_id: int | None = None
    job_id: int | None = None

    @property
    def finished(self) -> bool:
        return self.media_id is not None


def _encode(up: PartialUpload) -> str:
    data: dict[str, Any] = asdict(up)
    data.pop("offset")  # the part's size says it
    data["created_at"] = up.created_at.isoformat()
    data["expires_at"] = up.expires_at.isoformat()
    return json.dumps(data, ensure_ascii=False)


def _decode(text: str, offset: int) -> PartialUpload:
    data = json.loads(text)
    data["created_at"] = datetime.fromisoformat(data["created_at"])
    data["expires_at"] = datetime.fromisoformat(data["expires_at"])
    return PartialUpload(offset=offset, **data)


class PartWriter:
    """One request's hold on an upload's part: it writes at the part's end and nowhere else."""

    def __init__(self, up: PartialUpload, fh: IO[bytes]) -> None:
        self.upload = up
        self._fh = fh

    @property
    def offset(self) -> int:
        return os.fstat(self._fh.fileno()).st_size

    def check_offset(self, offset: int) -> None:
        if self.upload.finished or offset != self.offset:
            raise UploadOffsetMismatch(
                f"this part was sent for offset {offset}, but the station has "
                f"{self.upload.length if self.upload.finished else self.offset} bytes of "
                f"{self.upload.filename}: ask (HEAD) and send from there"
            )

    def write(self, chunk: bytes) -> None:
        if self.offset + len(chunk) > self.upload.length:
            raise FileTooLarge(
                f"more bytes were sent than the {self.upload.length} announced for "
                f"{self.upload.filename}"
            )
        self._fh.seek(0, os.SEEK_END)
        self._fh.write(chunk)
        self._fh.flush()  # what arrived is kept if the connection breaks next


class PartialUploads:
    def __init__(self, folder: Path, clock: Clock, lifetime: timedelta) -> None:
        self.folder = folder
        self.clock = clock
        self.lifetime = lifetime

    def _info(self, upload_id: str) -> Path:
        return self.folder / f"{upload_id}.json"

    def part_path(self, upload_id: str) -> Path:
        return self.folder / f"{upload_id}.part"

    def _save(self, up: PartialUpload) -> None:
        tmp = self.folder / f".{up.id}.{uuid.uuid4().hex}.tmp"
        tmp.write_text(_encode(up), encoding="utf-8")
        os.replace(tmp, self._info(up.id))

    def create(self, filename: str, kind: str | None, length: int, owner: str) -> PartialUpload:
        self.expire()
        self.folder.mkdir(parents=True, exist_ok=True)
        now = self.clock.now()
        up = PartialUpload(
            id=uuid.uuid4().hex,
            filename=filename,
            kind=kind,
            length=length,
            owner=owner,
            created_at=now,
            expires_at=now + self.lifetime,
        )
        self.part_path(up.id).touch(exist_ok=False)
        self._save(up)
        log.info(
            "resumable upload started",
            extra={"upload": up.id, "file": filename, "bytes": length, "by": owner},
        )
        return up

    def _read(self, upload_id: str) -> PartialUpload | None:
        try:
            text = self._info(upload_id).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        up = _decode(text, 0)
        try:
            size = self.part_path(upload_id).stat().st_size
        except FileNotFoundError:
            size = up.length  # moved into the library
        return replace(up, offset=up.length if up.finished else size)

    def get(self, upload_id: str) -> PartialUpload:
        """The upload as it stands; an expired one is removed and, like a terminated one,
        not found."""
        up = self._read(upload_id)
        if up is not None and up.expires_at <= self.clock.now():
            self._remove(up, "expired")
            up = None
        if up is None:
            raise NotFound(f"there is no upload {upload_id} (finished long ago, ended or expired)")
        return up

    @asynccontextmanager
    async def writing(self, upload_id: str) -> AsyncIterator[PartWriter]:
        """Hold the upload's part for writing, waiting a little for another writer to let go
        (a connection that broke is noticed by the server within moments)."""
        up = self.get(upload_id)
        try:
            fh = open(self.part_path(upload_id), "r+b")  # noqa: SIM115 (closed below)
        except FileNotFoundError:
            up = self.get(upload_id)  # not found if it was ended meanwhile
            raise UploadOffsetMismatch(
                f"{up.filename} is whole already (media item {up.media_id}): nothing more "
                "can be sent"
            ) from None
        try:
            waited = 0.0
            while True:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if waited >= LOCK_WAIT_S:
                        raise UploadBusy(
                            f"another request is still sending {up.filename}; try again in a moment"
                        ) from None
                    await asyncio.sleep(0.05)
                    waited += 0.05
            # Read again under the lock: the writer before may have finished it.
            yield PartWriter(self.get(upload_id), fh)
        finally:
            fh.close()  # and with it the lock

    def touch(self, upload_id: str) -> PartialUpload:
        """Bytes arrived: the upload lives another full lifetime from now."""
        up = self.get(upload_id)
        up = replace(up, expires_at=self.clock.now() + self.lifetime)
        self._save(up)
        return up

    def finish(self, upload_id: str, media_id: int, job_id: int | None) -> PartialUpload:
        """The whole file is in the library: remember which item it became (the part is gone)."""
        up = replace(self.get(upload_id), media_id=media_id, job_id=job_id)
        self._save(up)
        self.part_path(upload_id).unlink(missing_ok=True)
        log.info(
            "resumable upload finished",
            extra={"upload": up.id, "file": up.filename, "media": media_id, "job": job_id},
        )
        return replace(up, offset=up.length)

    def terminate(self, upload_id: str) -> None:
        self._remove(self.get(upload_id), "ended by its client")

    def forget(self, upload_id: str, why: str) -> None:
        """Remove an upload that cannot go on (its file was refused)."""
        up = self._read(upload_id)
        if up is not None:
            self._remove(up, why)

    def _remove(self, up: PartialUpload, why: str) -> None:
        self.part_path(up.id).unlink(missing_ok=True)
        self._info(up.id).unlink(missing_ok=True)
        log.info(
            "resumable upload removed",
            extra={"upload": up.id, "file": up.filename, "bytes": up.offset, "why": why},
        )

    def expire(self) -> int:
        """Remove every upload that has expired; returns how many."""
        if not self.folder.is_dir():
            return 0
        now, removed = self.clock.now(), 0
        for info in self.folder.glob("*.json"):
            try:
                up = self._read(info.stem)
            except (ValueError, KeyError, TypeError) as exc:
                log.warning(
                    "unreadable resumable upload description left alone",
                    extra={"file": str(info), "error": str(exc)},
                )
                continue
            if up is not None and up.expires_at <= now:
                self._remove(up, "expired")
                removed += 1
        return removed
