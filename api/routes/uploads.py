"""Resumable uploads into the library over tus 1.0.0 (core, creation, termination): a large
file goes in parts, and a broken connection costs only the part in flight (editors).

The parts are kept by `media/partial_uploads.py`; when the last byte arrives the file enters
the library exactly as a `POST /api/v1/media` one does (`api/upload.py: take_in`).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from api.auth import Allowed, ServicesDep
from api.problems import Problem, problems
from api.schemas import UploadStateOut
from api.services import Services
from api.tus import (
    OFFSET_OCTET_STREAM,
    TUS_EXTENSIONS,
    TUS_VERSION,
    http_date,
    parse_metadata,
)
from api.upload import take_in
from media.errors import FileTooLarge, MediaError, StorageError, ToolKilled, ToolMissing
from media.library import IngestOptions, check_kind
from media.names import check_file_name, media_suffix
from media.partial_uploads import UPLOAD_ID_PATTERN, PartialUpload, PartialUploads
from station.errors import Invalid

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/uploads", tags=["media"])

UploadId = Annotated[str, Path(pattern=UPLOAD_ID_PATTERN, description="as `Location` gave it")]
TusHeader = Annotated[str | None, Header(description="1.0.0")]


def _header(description: str, kind: str = "string") -> dict[str, Any]:
    return {"description": description, "schema": {"type": kind}}


OFFSET = _header("the bytes the station has", "integer")
EXPIRES = _header("when it is removed if no byte arrives before (RFC 9110 date)")
TUS_ANSWERS = problems(
    412, why={412: "`Tus-Resumable` is missing or not 1.0.0 (`Tus-Version` says what is)"}
)


def partial_uploads(svc: Services) -> PartialUploads:
    s = svc.settings
    return PartialUploads(s.partial_uploads_dir, svc.clock, timedelta(hours=s.upload_expiry_hours))


def check_tus(version: str | None) -> None:
    if version != TUS_VERSION:
        raise Problem(
            412,
            "Precondition failed",
            f"send Tus-Resumable: {TUS_VERSION} (the tus protocol version this station speaks)",
            "tus-version",
            {"Tus-Version": TUS_VERSION},
        )


def state_headers(up: PartialUpload) -> dict[str, str]:
    headers = {"Upload-Offset": str(up.offset), "Upload-Length": str(up.length)}
    if not up.finished:
        headers["Upload-Expires"] = http_date(up.expires_at)
    if up.media_id is not None:
        headers["Diaspor-Media-Id"] = str(up.media_id)
    if up.job_id is not None:
        headers["Diaspor-Job-Id"] = str(up.job_id)
    return headers


@router.options(
    "",
    status_code=204,
    response_class=Response,
    summary="What the station's tus server supports",
    responses={
        204: {
            "description": "the protocol's version, extensions and largest upload",
            "headers": {
                "Tus-Version": _header("1.0.0"),
                "Tus-Extension": _header(TUS_EXTENSIONS),
                "Tus-Max-Size": _header("the largest upload, in bytes", "integer"),
            },
        }
    },
)
async def describe_uploads(svc: ServicesDep, who: Allowed) -> Response:
    return Response(
        status_code=204,
        headers={
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": TUS_EXTENSIONS,
            "Tus-Max-Size": str(svc.library.max_upload_bytes),
        },
    )


@router.post(
    "",
    status_code=201,
    response_class=Response,
    summary="Start a resumable upload",
    responses={
        201: {
            "description": "started: send its bytes with PATCH to `Location`",
            "headers": {
                "Location": _header("/api/v1/uploads/{upload_id}"),
                "Upload-Expires": EXPIRES,
            },
        },
        **TUS_ANSWERS,
        **problems(
            413,
            422,
            why={
                413: "`Upload-Length` is over the upload limit (`Tus-Max-Size`)",
                422: "no `Upload-Length`, no `filename` in `Upload-Metadata`, a file name or "
                "kind the library refuses",
            },
        ),
    },
)
async def create_upload(
    svc: ServicesDep,
    who: Allowed,
    tus_resumable: TusHeader = None,
    upload_length: Annotated[
        str | None, Header(description="the file's size in bytes (required)")
    ] = None,
    upload_metadata: Annotated[
        str | None,
        Header(description="`filename <base64>` (required), `kind <base64>` (optional)"),
    ] = None,
) -> Response:
    check_tus(tus_resumable)
    if upload_length is None or not upload_length.isdigit():
        raise Invalid("send Upload-Length: the file's size in bytes (it cannot be deferred)")
    length = int(upload_length)
    limit = svc.library.max_upload_bytes
    if length > limit:
        raise FileTooLarge(
            f"the file is {length / 2**20:.0f} MiB; the limit is {limit / 2**20:.0f} MiB"
        )
    meta = parse_metadata(upload_metadata)
    if "filename" not in meta:
        raise Invalid("send the file's name in Upload-Metadata: filename <base64>")
    filename = check_file_name(meta["filename"])
    media_suffix(filename)  # a playlist is refused before a byte of it is sent
    kind = check_kind(meta["kind"]) if meta.get("kind") else None
    up = await run_in_threadpool(partial_uploads(svc).create, filename, kind, length, who.name)
    return Response(
        status_code=201,
        headers={
            "Location": f"/api/v1/uploads/{up.id}",
            "Upload-Expires": http_date(up.expires_at),
        },
    )


@router.head(
    "/{upload_id}",
    response_class=Response,
    summary="How much of a resumable upload the station has",
    responses={
        200: {
            "description": "its offset and length (no body)",
            "headers": {
                "Upload-Offset": OFFSET,
                "Upload-Length": _header("the announced size", "integer"),
                "Upload-Expires": EXPIRES,
                "Cache-Control": _header("no-store"),
            },
        },
        **TUS_ANSWERS,
        **problems(404, 409),
    },
)
async def get_upload_offset(
    upload_id: UploadId, svc: ServicesDep, who: Allowed, tus_resumable: TusHeader = None
) -> Response:
    check_tus(tus_resumable)
    uploads = partial_uploads(svc)
    up = await run_in_threadpool(uploads.get, upload_id)
    if not up.finished:
        # Under the writers' lock: a part still being written (its client just vanished)
        # is waited for, so the offset given is the one a resumed PATCH will meet.
        async with uploads.writing(upload_id) as part:
            up = part.upload
    return Response(status_code=200, headers={**state_headers(up), "Cache-Control": "no-store"})


@router.patch(
    "/{upload_id}",
    status_code=204,
    response_class=Response,
    summary="Send bytes of a resumable upload, from its offset",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {OFFSET_OCTET_STREAM: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
    responses={
        204: {
            "description": "kept; with the last byte the file entered the library, and "
            "`Diaspor-Media-Id` and `Diaspor-Job-Id` (its analysis) say where",
            "headers": {
                "Upload-Offset": OFFSET,
                "Upload-Expires": EXPIRES,
                "Diaspor-Media-Id": _header("the media item, once the file is whole", "integer"),
                "Diaspor-Job-Id": _header("its analysis job, once the file is whole", "integer"),
            },
        },
        **TUS_ANSWERS,
        **problems(
            404,
            409,
            413,
            415,
            422,
            503,
            why={
                409: "`Upload-Offset` is not the station's offset (ask with HEAD), or another "
                "request is sending this upload",
                413: "more bytes than `Upload-Length` announced",
                415: "the body is not application/offset+octet-stream",
                422: "no `Upload-Offset`, or the whole file is not usable media (it is then "
                "removed; problem+json says why)",
            },
        ),
    },
)
async def send_upload_part(
    upload_id: UploadId,
    request: Request,
    svc: ServicesDep,
    who: Allowed,
    tus_resumable: TusHeader = None,
    upload_offset: Annotated[
        str | None, Header(description="where these bytes go: the offset HEAD gives")
    ] = None,
    content_type: Annotated[str | None, Header(description=OFFSET_OCTET_STREAM)] = None,
) -> Response:
    check_tus(tus_resumable)
    if (content_type or "").split(";")[0].strip().lower() != OFFSET_OCTET_STREAM:
        raise Problem(
            415,
            "Unsupported media type",
            f"send the bytes as Content-Type: {OFFSET_OCTET_STREAM}",
            "unsupported-content-type",
        )
    if upload_offset is None or not upload_offset.isdigit():
        raise Invalid("send Upload-Offset: the offset (in bytes) these bytes start at")
    uploads = partial_uploads(svc)
    async with uploads.writing(upload_id) as part:
        part.check_offset(int(upload_offset))
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and part.offset + int(declared) > part.upload.length:
            raise FileTooLarge(
                f"{declared} bytes from offset {part.offset} would pass the "
                f"{part.upload.length} announced for {part.upload.filename}"
            )
        try:
            async for chunk in request.stream():
                part.write(chunk)
        except ClientDisconnect:
            await run_in_threadpool(uploads.touch, upload_id)  # what arrived keeps it alive
            log.info(
                "resumable upload interrupted; its client may go on from where it stopped",
                extra={"upload": upload_id, "bytes": part.offset, "of": part.upload.length},
            )
            return Response(status_code=204)  # nobody is listening
        up = await run_in_threadpool(uploads.touch, upload_id)
        if up.offset == up.length:
            up = await _into_library(svc, uploads, up)
    return Response(status_code=204, headers=state_headers(up))


async def _into_library(svc: Services, uploads: PartialUploads, up: PartialUpload) -> PartialUpload:
    """The last byte arrived: the file goes in as an upload in one request would. A file the
    library refuses is removed with its upload; any other failure (storage) leaves the whole
    part, and an empty PATCH at its end tries again."""
    try:
        result, job = await take_in(
            svc, uploads.part_path(up.id), up.filename, IngestOptions(kind=up.kind)
        )
    except MediaError as exc:
        if not isinstance(exc, StorageError | ToolMissing | ToolKilled):
            await run_in_threadpool(uploads.forget, up.id, f"refused: {exc.message}")
        raise
    return await run_in_threadpool(uploads.finish, up.id, result.item.id, job.id if job else None)


@router.delete(
    "/{upload_id}",
    status_code=204,
    response_class=Response,
    summary="End a resumable upload and remove what was sent",
    responses={**TUS_ANSWERS, **problems(404)},
)
async def terminate_upload(
    upload_id: UploadId, svc: ServicesDep, who: Allowed, tus_resumable: TusHeader = None
) -> Response:
    check_tus(tus_resumable)
    await run_in_threadpool(partial_uploads(svc).terminate, upload_id)
    return Response(status_code=204)


@router.get(
    "/{upload_id}",
    response_model=UploadStateOut,
    summary="A resumable upload's progress, and the media item it became",
    responses=problems(404),
)
async def get_upload(upload_id: UploadId, svc: ServicesDep, who: Allowed) -> UploadStateOut:
    return UploadStateOut.of(await run_in_threadpool(partial_uploads(svc).get, upload_id))
