"""Receiving an upload: the body (multipart, or a plain file) is streamed to a staging file
as it arrives, and a received file is handed to the library (`take_in`).

Nothing of the file is held in memory beyond one network chunk; its SHA-256 and size are
computed on the way, and the size limit stops the transfer as soon as it is crossed. A file
sent in one request (`POST /api/v1/media`) and one sent in resumable parts
(`/api/v1/uploads`) enter the library the same way, through `take_in`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import unquote

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from python_multipart.multipart import MultipartParser, parse_options_header

from api.problems import Problem
from api.services import Services
from jobs.queue import Job
from media.artwork import IMAGE_TYPES
from media.errors import FileTooLarge, MediaError
from media.library import IngestOptions, IngestResult
from media.names import check_file_name, media_suffix

MAX_FIELD_BYTES = 64 * 1024


@dataclass
class StagedUpload:
    path: Path | None = None
    filename: str | None = None
    size: int = 0
    sha256: str = ""
    fields: dict[str, str] = field(default_factory=dict)

    def discard(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


@dataclass
class _Part:
    """The multipart part being parsed."""

    name: str = ""
    is_file: bool = False
    buf: bytes = b""
    header: bytes = b""
    value: bytes = b""
    headers: dict[bytes, bytes] = field(default_factory=dict)

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]


def _filename(params: dict[bytes, bytes]) -> str | None:
    if b"filename*" in params:  # RFC 5987: UTF-8''percent-encoded
        raw = params[b"filename*"].decode("latin-1")
        charset, _, rest = raw.partition("''")
        return unquote(rest or raw, encoding=charset or "utf-8")
    if b"filename" in params:
        return params[b"filename"].decode("utf-8", "replace")
    return None


def _too_large(what: str, max_bytes: int) -> FileTooLarge:
    return FileTooLarge(f"{what} may be at most {max_bytes / 2**20:.0f} MiB")


async def receive_body(request: Request, dest: Path, max_bytes: int, what: str) -> int:
    """Stream a plain request body into `dest`; refuse it (and keep nothing) as soon as it is
    longer than `max_bytes`, announced or not. Returns its size."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(what, max_bytes)
    size = 0
    try:
        with open(dest, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_bytes:
                    raise _too_large(what, max_bytes)
                out.write(chunk)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return size


async def receive_upload(
    request: Request, new_staging_path: Callable[[], Path], max_bytes: int
) -> StagedUpload:
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or b"boundary" not in params:
        raise MediaError("send the file as multipart/form-data with a 'file' part")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + 1024 * 1024:
        raise FileTooLarge(
            f"the upload is {int(declared) / 2**20:.0f} MiB; "
            f"the limit is {max_bytes / 2**20:.0f} MiB"
        )

    up = StagedUpload()
    hasher = hashlib.sha256()
    part = _Part()
    out: list[IO[bytes]] = []

    def on_part_begin() -> None:
        part.reset()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        part.header += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        part.value += data[start:end]

    def on_header_end() -> None:
        part.headers[part.header.lower()] = part.value
        part.header = part.value = b""

    def on_headers_finished() -> None:
        _, disp = parse_options_header(part.headers.get(b"content-disposition", b""))
        part.name = disp.get(b"name", b"").decode("utf-8", "replace")
        filename = _filename(disp)
        if filename is not None and part.name == "file":
            if up.path is not None:
                raise MediaError("send one file per upload")
            up.filename = check_file_name(filename)
            media_suffix(up.filename)  # a playlist is refused before a byte of it is staged
            up.path = new_staging_path()
            out.append(open(up.path, "wb"))  # noqa: SIM115 (closed in on_part_end)
            part.is_file = True

    def on_part_data(data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if part.is_file:
            up.size += len(chunk)
            if up.size > max_bytes:
                raise FileTooLarge(
                    f"{up.filename} is larger than the limit of {max_bytes / 2**20:.0f} MiB"
                )
            hasher.update(chunk)
            out[-1].write(chunk)
        else:
            part.buf += chunk
            if len(part.buf) > MAX_FIELD_BYTES:
                raise MediaError(f"the form field {part.name!r} is too long")

    def on_part_end() -> None:
        if part.is_file:
            out[-1].close()
        elif part.name:
            up.fields[part.name] = part.buf.decode("utf-8", "replace")

    parser = MultipartParser(
        params[b"boundary"],
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
        if up.path is None:
            raise MediaError("the upload has no 'file' part")
    except BaseException:
        for fh in out:
            fh.close()
        up.discard()
        raise
    up.sha256 = hasher.hexdigest()
    return up


async def take_in(
    svc: Services,
    path: Path,
    filename: str,
    options: IngestOptions,
    sha256: str | None = None,
) -> tuple[IngestResult, Job | None]:
    """A received file into the library (moved, not copied): the same checks, the same
    analysis job, whichever way it came. Returns the result and its analysis job, if any."""
    result = await svc.library.ingest(
        path, original_name=filename, options=options, sha256=sha256, move=True
    )
    job = await run_in_threadpool(svc.queue.get, result.job_id) if result.job_id else None
    return result, job


IMAGE_MAX_BYTES = 10 * 1024 * 1024


def image_type(request: Request) -> str:
    """The body's image type, if it is one the station keeps (artwork, logos); else 415."""
    mime = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if mime not in IMAGE_TYPES:
        raise Problem(
            415,
            "Unsupported media type",
            f"send the image as one of {', '.join(IMAGE_TYPES)}",
            "unsupported-content-type",
        )
    return mime


IMAGE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            mime: {"schema": {"type": "string", "format": "binary"}} for mime in IMAGE_TYPES
        },
    }
}
IMAGE_ANSWERS = {
    413: "larger than 10 MiB: refused as soon as that many bytes arrived",
    415: "not image/jpeg, image/png or image/webp",
    422: "not a whole picture of the type it claims (problem+json says why)",
}
